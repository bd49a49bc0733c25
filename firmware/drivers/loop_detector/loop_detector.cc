#include "firmware/drivers/loop_detector/loop_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <utility>

namespace edgeforge {
namespace {

constexpr double kMpsPerKmh = 1.0 / 3.6;

double Seconds(Micros d) { return static_cast<double>(d.count()) / 1e6; }

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool Positive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

const char* LoopLineName(LoopLine line) { return line == LoopLine::kUpstream ? "upstream" : "downstream"; }

const char* LengthClassName(LengthClass c) {
  switch (c) {
    case LengthClass::kShort:
      return "short";
    case LengthClass::kMedium:
      return "medium";
    case LengthClass::kLong:
      return "long";
    case LengthClass::kUnknown:
      break;
  }
  return "unknown";
}

const char* VehicleFlagName(VehicleFlag f) {
  switch (f) {
    case VehicleFlag::kOk:
      return "ok";
    case VehicleFlag::kImplausibleSpeed:
      return "implausible speed";
    case VehicleFlag::kInconsistent:
      return "inconsistent edge speeds";
    case VehicleFlag::kNoDownstream:
      return "no downstream presence";
    case VehicleFlag::kNoUpstream:
      return "no upstream presence";
    case VehicleFlag::kOverlong:
      return "presence longer than max_presence";
    case VehicleFlag::kEventsLost:
      return "edges lost";
  }
  return "?";
}

Status ValidateLoopConfig(const LoopConfig& c) {
  const std::string p = c.name + ": ";
  if (!Positive(c.spacing_m)) return InvalidArgument(p + "spacing_m must be > 0, got " + Fixed(c.spacing_m, 3));
  if (!Positive(c.loop_length_m)) {
    return InvalidArgument(p + "loop_length_m must be > 0, got " + Fixed(c.loop_length_m, 3));
  }
  if (c.max_presence.count() <= 0) return InvalidArgument(p + "max_presence must be > 0");
  if (!Positive(c.min_speed_kmh) || !Positive(c.max_speed_kmh) || c.min_speed_kmh >= c.max_speed_kmh) {
    return InvalidArgument(p + "speed range must satisfy 0 < min_speed_kmh < max_speed_kmh, got " +
                           Fixed(c.min_speed_kmh, 1) + ".." + Fixed(c.max_speed_kmh, 1));
  }
  if (!(c.max_estimate_mismatch >= 0 && c.max_estimate_mismatch < 1)) {
    return InvalidArgument(p + "max_estimate_mismatch must be in [0, 1)");
  }
  if (!Positive(c.short_max_m) || !Positive(c.medium_max_m) || c.short_max_m >= c.medium_max_m) {
    return InvalidArgument(p + "length classes must satisfy 0 < short_max_m < medium_max_m");
  }
  return Status::Ok();
}

LengthClass ClassifyLength(double length_m, const LoopConfig& config) {
  if (!std::isfinite(length_m) || length_m < 0) return LengthClass::kUnknown;
  if (length_m < config.short_max_m) return LengthClass::kShort;
  if (length_m <= config.medium_max_m) return LengthClass::kMedium;
  return LengthClass::kLong;
}

std::optional<double> TrapSpeedMps(double spacing_m, Micros dt) {
  if (dt.count() <= 0) return std::nullopt;
  return spacing_m / Seconds(dt);
}

double EffectiveLengthM(double speed_mps, Micros on_time, double loop_length_m) {
  // The loop is occupied from the front crossing its leading edge to the rear
  // crossing its trailing edge: on_time = (vehicle + loop) / speed.
  return std::max(0.0, speed_mps * Seconds(on_time) - loop_length_m);
}

// ---------------------------------------------------------------------------
// LoopPairTracker

LoopPairTracker::LoopPairTracker(LoopConfig config, Micros start)
    : config_(std::move(config)), period_start_(start), last_t_(start) {}

void LoopPairTracker::SetLevels(bool upstream_active, bool downstream_active, Micros at) {
  // The presence began at an unknown instant: count it from `at`.
  Line(LoopLine::kUpstream) = {upstream_active, at, Line(LoopLine::kUpstream).last_seqno};
  Line(LoopLine::kDownstream) = {downstream_active, at, Line(LoopLine::kDownstream).last_seqno};
}

Micros LoopPairTracker::PairWindow() const {
  // The slowest plausible vehicle needs spacing / min_speed to reach the downstream loop.
  return Micros(static_cast<int64_t>(std::ceil(config_.spacing_m / (config_.min_speed_kmh * kMpsPerKmh) * 1e6)));
}

Status LoopPairTracker::CheckSeqno(LoopLine line, const GpioEvent& e, Micros t) {
  LineState& ls = Line(line);
  const uint64_t expected = ls.last_seqno + 1;
  const uint64_t previous = ls.last_seqno;
  ls.last_seqno = std::max(ls.last_seqno, e.line_seqno);
  if (e.line_seqno <= expected) return Status::Ok();
  const uint64_t lost = e.line_seqno - expected;
  lost_ += lost;
  const std::string detail = std::to_string(lost) + " edge(s) lost on " + LoopLineName(line) + " (seqno " +
                             std::to_string(e.line_seqno) + " after " + std::to_string(previous) + ")";
  if (loss_detail_.empty()) loss_detail_ = detail;
  // The pairing state can no longer be trusted: the waiting vehicles are
  // counted without speed, and the line's level restarts from this edge.
  FlushPending(VehicleFlag::kEventsLost);
  if (line == LoopLine::kUpstream && ls.occupied) CloseUpstreamPresence(t);
  ls.occupied = e.edge == GpioEdge::kFalling;  // the level before this edge
  ls.on_since = t;                             // unknown start: counts nothing
  return DataLoss(config_.name + ": " + detail);
}

Status LoopPairTracker::OnEvent(LoopLine line, const GpioEvent& event) {
  // Lines are merged by timestamp; a straggler is processed at the last time
  // seen so that internal time never runs backwards.
  const Micros t = std::max(event.timestamp, last_t_);
  last_t_ = t;
  Status s = CheckSeqno(line, event, t);
  if (event.edge == GpioEdge::kRising) {
    OnRising(line, t);
  } else {
    OnFalling(line, t);
  }
  return s;
}

void LoopPairTracker::CloseUpstreamPresence(Micros t) {
  const LineState& ls = Line(LoopLine::kUpstream);
  const Micros from = std::max(ls.on_since, period_start_);
  if (t > from) occupied_ += t - from;
}

void LoopPairTracker::OnRising(LoopLine line, Micros t) {
  LineState& ls = Line(line);
  if (ls.occupied) {
    ++errors_;  // re-trigger while occupied: an off-edge went missing
    if (line == LoopLine::kUpstream) {
      // The presence in progress ends here (its vehicle can still be paired).
      CloseUpstreamPresence(t);
      for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        if (it->up_on && !it->up_off) {
          it->up_off = t;
          break;
        }
      }
    }
  }
  ls.occupied = true;
  ls.on_since = t;
  ExpirePending(t);
  Pending p;
  if (line == LoopLine::kUpstream) {
    p.up_on = t;
  } else {
    for (Pending& waiting : pending_) {
      if (waiting.up_on && !waiting.down_on) {
        waiting.down_on = t;
        return;
      }
    }
    p.down_on = t;  // downstream without upstream
  }
  if (pending_.size() >= kMaxPending) {
    // The other loop's channel is dead: give the oldest up.
    const Pending& oldest = pending_.front();
    Finalize(oldest, oldest.up_on ? VehicleFlag::kNoDownstream : VehicleFlag::kNoUpstream);
    pending_.pop_front();
  }
  pending_.push_back(p);
}

void LoopPairTracker::OnFalling(LoopLine line, Micros t) {
  LineState& ls = Line(line);
  if (!ls.occupied) {
    ++errors_;  // an off-edge on a free loop: an on-edge went missing
    return;
  }
  if (line == LoopLine::kUpstream) {
    CloseUpstreamPresence(t);
    ls.occupied = false;
    // The newest vehicle still on the upstream loop is the one leaving it.
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (!it->up_on || it->up_off) continue;
      it->up_off = t;
      if (it->down_off) {  // the downstream loop cleared first (it is the shorter loop)
        Finalize(*it, VehicleFlag::kOk);
        pending_.erase(std::next(it).base());
      }
      return;
    }
    return;
  }
  ls.occupied = false;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (!it->down_on || it->down_off) continue;
    it->down_off = t;
    if (it->up_on && !it->up_off) return;  // completes on the upstream off-edge
    Finalize(*it, VehicleFlag::kOk);
    pending_.erase(it);
    return;
  }
}

void LoopPairTracker::ExpirePending(Micros now) {
  const Micros window = PairWindow();
  for (auto it = pending_.begin(); it != pending_.end();) {
    // Still waiting for the downstream loop after the slowest plausible
    // vehicle would have reached it (and off the upstream loop, so that a
    // stuck upstream detector is reported as such, not as vehicles).
    if (it->up_on && it->up_off && !it->down_on && now - *it->up_on > window) {
      Finalize(*it, VehicleFlag::kNoDownstream);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void LoopPairTracker::FlushPending(VehicleFlag flag) {
  for (const Pending& p : pending_) Finalize(p, flag);
  pending_.clear();
}

void LoopPairTracker::ComputeSpeed(const Pending& p, LoopVehicle& v) const {
  const double lo = config_.min_speed_kmh * kMpsPerKmh;
  const double hi = config_.max_speed_kmh * kMpsPerKmh;
  auto plausible = [&](std::optional<double> s) { return s && *s >= lo && *s <= hi ? s : std::nullopt; };
  const std::optional<double> lead = plausible(TrapSpeedMps(config_.spacing_m, *p.down_on - *p.up_on));
  const std::optional<double> trail = plausible(TrapSpeedMps(config_.spacing_m, *p.down_off - *p.up_off));
  if (!lead && !trail) {
    v.flag = VehicleFlag::kImplausibleSpeed;
    return;
  }
  if (lead && trail && std::fabs(*lead - *trail) > config_.max_estimate_mismatch * std::max(*lead, *trail)) {
    v.flag = VehicleFlag::kInconsistent;
    return;
  }
  v.speed_mps = lead && trail ? (*lead + *trail) / 2 : (lead ? *lead : *trail);
  v.length_m = EffectiveLengthM(*v.speed_mps, v.on_time, config_.loop_length_m);
  v.length_class = ClassifyLength(*v.length_m, config_);
}

void LoopPairTracker::Finalize(const Pending& p, VehicleFlag flag) {
  LoopVehicle v;
  v.detected = p.up_on ? *p.up_on : p.down_on.value_or(last_t_);
  if (p.up_on && p.up_off) v.on_time = *p.up_off - *p.up_on;
  v.flag = flag;
  if (flag == VehicleFlag::kOk) {
    const bool overlong = v.on_time > config_.max_presence ||
                          (p.down_on && p.down_off && *p.down_off - *p.down_on > config_.max_presence);
    if (!p.up_on) {
      v.flag = VehicleFlag::kNoUpstream;
    } else if (overlong) {
      v.flag = VehicleFlag::kOverlong;
    } else {
      ComputeSpeed(p, v);
    }
  }
  if (v.flag != VehicleFlag::kOk) ++errors_;
  done_.push_back(v);
}

Status LoopPairTracker::Health(Micros now) const {
  for (LoopLine line : {LoopLine::kUpstream, LoopLine::kDownstream}) {
    const LineState& ls = lines_[static_cast<size_t>(line)];
    if (ls.occupied && now - ls.on_since > config_.max_presence) {
      return Unavailable(config_.name + " " + LoopLineName(line) + ": occupied for " +
                         Fixed(Seconds(now - ls.on_since), 1) + " s (max_presence " +
                         Fixed(Seconds(config_.max_presence), 1) + " s): stuck detector");
    }
  }
  return Status::Ok();
}

LoopPeriod LoopPairTracker::TakePeriod(Micros now) {
  if (now < last_t_) now = last_t_;
  ExpirePending(now);
  LoopPeriod p;
  p.start = period_start_;
  p.end = now;
  Micros occupied = occupied_;
  const LineState& up = Line(LoopLine::kUpstream);
  if (up.occupied) occupied += now - std::max(up.on_since, period_start_);
  const Micros length = now - period_start_;
  if (length.count() > 0) {
    p.occupancy_pct = std::clamp(100.0 * Seconds(occupied) / Seconds(length), 0.0, 100.0);
  }
  std::stable_sort(done_.begin(), done_.end(),
                   [](const LoopVehicle& a, const LoopVehicle& b) { return a.detected < b.detected; });
  p.vehicles = std::move(done_);
  p.errors = errors_;
  p.lost_events = lost_;
  Status health = Health(now);
  if (!health.ok()) {
    p.status = lost_ > 0 ? Status(health.code(), health.message() + "; " + loss_detail_) : health;
  } else if (lost_ > 0) {
    p.status =
        DataLoss(config_.name + ": " + std::to_string(lost_) + " edge(s) lost in the period, first: " + loss_detail_);
  }
  done_.clear();
  occupied_ = Micros{0};
  errors_ = 0;
  lost_ = 0;
  loss_detail_.clear();
  period_start_ = now;
  return p;
}

// ---------------------------------------------------------------------------
// LoopDetector

LoopDetector::LoopDetector(GpioLine& upstream, GpioLine& downstream, const Clock& clock, LoopConfig config)
    : upstream_(upstream), downstream_(downstream), clock_(clock), tracker_(std::move(config), clock.Monotonic()) {}

std::string LoopDetector::Context(LoopLine line) const {
  return tracker_.config().name + " " + LoopLineName(line) + ": ";
}

Status LoopDetector::Init() {
  EF_RETURN_IF_ERROR(ValidateLoopConfig(tracker_.config()));
  std::vector<Tagged> history;
  if (!seeded_) {
    EF_RETURN_IF_ERROR(Drain(upstream_, LoopLine::kUpstream, history));
    EF_RETURN_IF_ERROR(Drain(downstream_, LoopLine::kDownstream, history));
  }
  Result<bool> up = upstream_.Get();
  if (!up.ok()) return up.status().WithContext(Context(LoopLine::kUpstream) + "read level");
  Result<bool> down = downstream_.Get();
  if (!down.ok()) return down.status().WithContext(Context(LoopLine::kDownstream) + "read level");
  if (!seeded_) {
    tracker_.SetLevels(*up, *down, clock_.Monotonic());
    for (const Tagged& h : history) tracker_.SkipTo(h.line, h.event.line_seqno);
    seeded_ = true;
  }
  return Status::Ok();
}

Status LoopDetector::Drain(GpioLine& line, LoopLine which, std::vector<Tagged>& out) {
  GpioEvent batch[kReadBatch];
  for (int i = 0; i < kMaxBatchesPerPoll; ++i) {
    Result<size_t> n = line.ReadEvents(Span<GpioEvent>(batch), Millis{0});
    if (!n.ok()) return n.status().WithContext(Context(which) + "read edges");
    for (size_t k = 0; k < *n; ++k) out.push_back({which, batch[k]});
    if (*n < kReadBatch) break;
  }
  return Status::Ok();
}

Status LoopDetector::Poll() {
  std::vector<Tagged> events;
  EF_RETURN_IF_ERROR(Drain(upstream_, LoopLine::kUpstream, events));
  EF_RETURN_IF_ERROR(Drain(downstream_, LoopLine::kDownstream, events));
  // Each line's edges are already in order; interleave them by timestamp
  // (upstream first on a tie: a vehicle reaches it first).
  std::stable_sort(events.begin(), events.end(), [](const Tagged& a, const Tagged& b) {
    if (a.event.timestamp != b.event.timestamp) return a.event.timestamp < b.event.timestamp;
    return a.line < b.line;
  });
  for (const Tagged& t : events) {
    (void)tracker_.OnEvent(t.line, t.event);  // losses are reported by TakePeriod()
  }
  return Status::Ok();
}

LoopPeriod LoopDetector::TakePeriod(Micros now) { return tracker_.TakePeriod(now); }

}  // namespace edgeforge
