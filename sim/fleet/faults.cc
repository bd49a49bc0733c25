#include "sim/fleet/faults.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "sim/fleet/devices.h"
#include "sim/fleet/provisioning.h"
#include "sim/fleet/scheduler.h"
#include "sim/physics/random.h"

namespace edgeforge::sim {
namespace {

constexpr Micros kCloneRetry{1'000'000};  // a duplicate client reconnects a second after it was kicked
/// Counts of a window are taken this long after it closed: reconnects and
/// the resent backlog belong to it.
constexpr double kWindowSettleS = 5;

/// A bijective hash (SplitMix64, as the physics' noise uses it).
uint64_t Mix(uint64_t x) { return physics::Mix(x + physics::kGolden); }

std::string Seconds(Millis d) {
  std::ostringstream s;
  s << std::setprecision(4) << std::chrono::duration<double>(d).count() << " s";
  return s.str();
}

std::string Percent(double share) {
  std::ostringstream s;
  s << std::setprecision(3) << share * 100 << "%";
  return s.str();
}

const char* const kKindNames[] = {"broker-restart", "network",    "sensor",
                                  "power-cut",      "clock-skew", "duplicate-client-id"};

}  // namespace

const char* FleetFaultKindName(FleetFaultKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

Result<FleetFaultKind> ParseFleetFaultKind(const std::string& name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (name == kKindNames[i]) return static_cast<FleetFaultKind>(i);
  }
  std::string all;
  for (const char* k : kKindNames) all += std::string(all.empty() ? "" : ", ") + k;
  return InvalidArgument("unknown fault kind \"" + name + "\" (kinds: " + all + ")");
}

std::string FleetFault::Describe() const {
  std::string what = FleetFaultKindName(kind);
  switch (kind) {
    case FleetFaultKind::kBrokerRestart:
      return "broker killed (kill -9), restarted after " + Seconds(duration);
    case FleetFaultKind::kNetwork:
      what = std::string("network ") + transport::NetworkFaultName(network.mode);
      if (network.mode == transport::NetworkFault::Mode::kLatency) {
        what += " +" + std::to_string(network.latency.count()) + " ms";
      }
      break;
    case FleetFaultKind::kSensor:
      what = std::string("sensor ") + sensor + " " + FaultKindName(sensor_fault);
      break;
    case FleetFaultKind::kClockSkew:
      what = "clock skew " + std::string(skew.count() >= 0 ? "+" : "-") + Seconds(skew.count() >= 0 ? skew : -skew);
      break;
    default:
      break;
  }
  return what + ", " + Percent(share) + " of " + (group.empty() ? "the fleet" : group);
}

Status ValidateFaults(const std::vector<FleetFault>& faults, const Provisioned& p, bool local_broker,
                      std::chrono::milliseconds duration) {
  for (size_t i = 0; i < faults.size(); ++i) {
    const FleetFault& f = faults[i];
    const std::string where = "faults[" + std::to_string(i) + "] (" + f.name + ")";
    if (f.at + f.duration > duration) {
      return InvalidArgument(where + ": ends " + std::to_string((f.at + f.duration).count()) +
                             " ms after the fleet is up, after the run (" + std::to_string(duration.count()) + " ms)");
    }
    if (f.kind == FleetFaultKind::kBrokerRestart && !local_broker) {
      return InvalidArgument(where + ": broker-restart needs the embedded broker (no --broker / \"broker\")");
    }
    const ProvisionedGroup* group = nullptr;
    if (!f.group.empty()) {
      for (const ProvisionedGroup& g : p.groups) {
        if (g.name == f.group) group = &g;
      }
      if (group == nullptr) return InvalidArgument(where + ": group: no group \"" + f.group + "\" in the run");
    }
    if (f.kind == FleetFaultKind::kSensor) {
      if (group == nullptr) return InvalidArgument(where + ": a sensor fault names its group");
      const board::Board& b = p.boards[group->board];
      bool found = false;
      std::string names;
      for (const board::Device& d : b.devices) {
        found = found || d.name == f.sensor;
        names += (names.empty() ? "" : ", ") + d.name;
      }
      if (!found) {
        return InvalidArgument(where + ": sensor: no device \"" + f.sensor + "\" on board " + b.name +
                               " (devices: " + names + ")");
      }
    }
  }
  return Status::Ok();
}

std::vector<size_t> FaultTargets(const FleetFault& f, size_t index, const Provisioned& p, uint64_t seed) {
  if (f.kind == FleetFaultKind::kBrokerRestart) return {};
  std::vector<std::pair<uint64_t, size_t>> ranked;
  for (size_t i = 0; i < p.things.size(); ++i) {
    if (!f.group.empty() && p.GroupOf(i).name != f.group) continue;
    ranked.emplace_back(Mix(seed ^ Mix(index + 1) ^ Mix(0x5eed0000ULL + i)), i);
  }
  if (ranked.empty()) return {};
  const auto n = static_cast<size_t>(std::llround(f.share * static_cast<double>(ranked.size())));
  const size_t count = std::clamp<size_t>(n, 1, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<long>(count), ranked.end());
  std::vector<size_t> out;
  for (size_t k = 0; k < count; ++k) out.push_back(ranked[k].second);
  std::sort(out.begin(), out.end());
  return out;
}

FaultEngine::FaultEngine(const std::vector<FleetFault>& faults, const Provisioned& p, uint64_t seed,
                         std::vector<std::unique_ptr<VirtualDevice>>& devices, int workers, Hooks hooks)
    : faults_(faults),
      devices_(devices),
      hooks_(std::move(hooks)),
      seed_(seed),
      workers_(static_cast<size_t>(std::max(workers, 1))),
      phase_(faults.size(), 0),
      errors_(faults.size()),
      started_s_(faults.size(), -1),
      ended_s_(faults.size(), -1) {
  for (size_t k = 0; k < faults_.size(); ++k) {
    targets_.push_back(FaultTargets(faults_[k], k, p, seed));
    const Micros at = std::chrono::duration_cast<Micros>(faults_[k].at);
    const Micros end = at + std::chrono::duration_cast<Micros>(faults_[k].duration);
    for (size_t d : targets_[k]) {
      PerWorker& pw = workers_[WorkerOf(d, workers)];
      pw.actions.push_back({at, d, k, true});
      pw.actions.push_back({end, d, k, false});
    }
  }
  for (PerWorker& pw : workers_) {
    std::stable_sort(pw.actions.begin(), pw.actions.end(),
                     [](const Action& a, const Action& b) { return a.at < b.at; });
  }
}

FaultEngine::~FaultEngine() = default;

void FaultEngine::WorkerTick(int w, Micros now, Micros up, const std::function<void(std::string)>& log) {
  PerWorker& pw = workers_[static_cast<size_t>(w)];
  if (up.count() >= 0) {
    while (pw.next < pw.actions.size() && up + pw.actions[pw.next].at <= now) {
      Apply(pw.actions[pw.next++], now, pw, log);
    }
  }
  if (!pw.clones.empty()) PollClones(pw, now);
}

void FaultEngine::Apply(const Action& a, Micros now, PerWorker& pw, const std::function<void(std::string)>& log) {
  const FleetFault& f = faults_[a.fault];
  VirtualDevice& d = *devices_[a.device];
  Status s = Status::Ok();
  switch (f.kind) {
    case FleetFaultKind::kBrokerRestart:
      break;
    case FleetFaultKind::kNetwork: {
      std::vector<size_t>& active = pw.network[a.device];
      if (a.start) {
        active.push_back(a.fault);
      } else {
        active.erase(std::remove(active.begin(), active.end(), a.fault), active.end());
      }
      const transport::NetworkFault now_in_force =
          active.empty() ? transport::NetworkFault{} : faults_[active.back()].network;
      if (d.powered && hooks_.network) hooks_.network(a.device, now_in_force);
      break;
    }
    case FleetFaultKind::kSensor: {
      FaultSpec spec;
      if (a.start) {
        spec.kind = f.sensor_fault;
        spec.seed = seed_ ^ Mix(a.device);
      }
      s = d.world->InjectFault(f.sensor, spec);
      break;
    }
    case FleetFaultKind::kPowerCut:
      if (a.start) {
        if (d.started && d.powered) {
          PowerOff(d);
          d.off_since = now;
        }
      } else if (!d.powered && hooks_.power_on) {
        const Micros on = now == Micros::max() ? d.off_since : now;  // Finish: no time of its own
        d.off_total += on - d.off_since;
        d.clock.AdvanceTo(on);
        s = hooks_.power_on(a.device);
      }
      break;
    case FleetFaultKind::kClockSkew:
      d.clock.ShiftWall(a.start ? f.skew : -f.skew);
      break;
    case FleetFaultKind::kDuplicateClient:
      if (a.start) {
        if (!hooks_.clone_session) break;
        auto session = hooks_.clone_session(a.device);
        if (!session.ok()) {
          s = session.status();
          break;
        }
        Clone c;
        c.session = std::move(*session);
        pw.clones[a.device] = std::move(c);
      } else {
        auto it = pw.clones.find(a.device);
        if (it != pw.clones.end()) {
          it->second.session->Disconnect();
          (void)it->second.session->Dispatch();
          pw.clones.erase(it);
        }
      }
      break;
  }
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(errors_mu_);
    if (errors_[a.fault].empty()) {
      errors_[a.fault] = d.thing + ": " + s.ToString();
      log("fault " + f.name + ": " + errors_[a.fault]);
    }
  }
}

void FaultEngine::PollClones(PerWorker& pw, Micros now) {
  for (auto& [device, c] : pw.clones) {
    (void)c.session->Dispatch();
    if (c.connecting || c.session->IsConnected() || now < c.next_try) continue;
    Clone* raw = &c;
    c.connecting = true;
    c.next_try = now + kCloneRetry;
    const Status s = c.session->Connect([raw](const Status& done) {
      raw->connecting = false;
      if (done.ok()) ++raw->connects;
    });
    if (!s.ok()) c.connecting = false;
  }
}

void FaultEngine::FleetTick(Micros now, Micros up, std::ostream& log) {
  if (up.count() < 0) return;
  const double now_s = std::chrono::duration<double>(now).count();
  for (size_t k = 0; k < faults_.size(); ++k) {
    const FleetFault& f = faults_[k];
    const Micros start = up + std::chrono::duration_cast<Micros>(f.at);
    const Micros end = start + std::chrono::duration_cast<Micros>(f.duration);
    if (phase_[k] == 0 && now >= start) {
      phase_[k] = 1;
      started_s_[k] = now_s;
      log << "fault " << f.name << ": " << f.Describe() << " (" << targets_[k].size()
          << " devices) from t=" << std::fixed << std::setprecision(1) << now_s << "s\n";
      if (f.kind == FleetFaultKind::kBrokerRestart && hooks_.broker) {
        if (Status s = hooks_.broker(true); !s.ok()) {
          std::lock_guard<std::mutex> lock(errors_mu_);
          errors_[k] = s.ToString();
        }
      }
    }
    if (phase_[k] == 1 && now >= end) {
      phase_[k] = 2;
      ended_s_[k] = now_s;
      if (f.kind == FleetFaultKind::kBrokerRestart && hooks_.broker) {
        if (Status s = hooks_.broker(false); !s.ok()) {
          std::lock_guard<std::mutex> lock(errors_mu_);
          if (errors_[k].empty()) errors_[k] = s.ToString();
        }
      }
      log << "fault " << f.name << ": over at t=" << std::fixed << std::setprecision(1) << now_s << "s\n";
    }
  }
}

void FaultEngine::Finish(std::ostream& log) {
  const auto log_line = [&log](const std::string& l) { log << l << "\n"; };
  for (size_t w = 0; w < workers_.size(); ++w) {
    PerWorker& pw = workers_[w];
    // Only the ends: a start that never came is not applied now.
    for (; pw.next < pw.actions.size(); ++pw.next) {
      const Action& a = pw.actions[pw.next];
      if (!a.start) Apply(a, Micros::max(), pw, log_line);
    }
    for (auto& [device, c] : pw.clones) c.session->Disconnect();
    pw.clones.clear();
  }
  for (size_t k = 0; k < faults_.size(); ++k) {
    if (phase_[k] == 1) {
      if (faults_[k].kind == FleetFaultKind::kBrokerRestart && hooks_.broker) (void)hooks_.broker(false);
      phase_[k] = 2;
      log << "fault " << faults_[k].name << ": ended with the run\n";
    }
  }
}

std::vector<FaultWindowReport> FaultEngine::Windows() const {
  std::vector<FaultWindowReport> out;
  for (size_t k = 0; k < faults_.size(); ++k) {
    const FleetFault& f = faults_[k];
    FaultWindowReport w;
    w.name = f.name;
    w.kind = FleetFaultKindName(f.kind);
    w.detail = f.Describe();
    w.at_s = std::chrono::duration<double>(f.at).count();
    w.start_s = started_s_[k];
    w.end_s = ended_s_[k];
    w.devices = static_cast<int>(targets_[k].size());
    w.error = errors_[k];
    out.push_back(std::move(w));
  }
  return out;
}

void FillFaultWindows(std::vector<FaultWindowReport>& windows, const std::vector<FleetSnapshot>& series,
                      const WindowEvidence& evidence) {
  const auto at_or_before = [&series](double t) -> const FleetSnapshot* {
    const FleetSnapshot* best = nullptr;
    for (const FleetSnapshot& s : series) {
      if (s.elapsed_s <= t) best = &s;
    }
    return best;
  };
  const auto at_or_after = [&series](double t) -> const FleetSnapshot* {
    for (const FleetSnapshot& s : series) {
      if (s.elapsed_s >= t) return &s;
    }
    return series.empty() ? nullptr : &series.back();
  };
  for (FaultWindowReport& w : windows) {
    if (w.start_s < 0) continue;
    const double end = w.end_s < 0 ? (series.empty() ? w.start_s : series.back().elapsed_s) : w.end_s;
    const FleetSnapshot zero;  // the run's start: nothing counted yet
    const FleetSnapshot* a = at_or_before(w.start_s);
    if (a == nullptr) a = &zero;
    const FleetSnapshot* b = at_or_after(end + kWindowSettleS);
    if (a != nullptr && b != nullptr) {
      const auto delta = [](uint64_t after, uint64_t before) { return after > before ? after - before : 0; };
      w.published = delta(b->published, a->published);
      w.delivered = delta(b->delivered, a->delivered);
      w.dropped = delta(b->dropped, a->dropped);
      w.refused = delta(b->refused, a->refused);
      w.connections_lost = delta(b->connections_lost, a->connections_lost);
      w.connect_failures = delta(b->connect_failures, a->connect_failures);
    }
    if (evidence.verified) {
      w.lost = 0;
      for (double t : evidence.unreceived_s) {
        if (t >= w.start_s && t <= end) ++w.lost;
      }
      const auto in_span = [&w, end](const std::vector<double>& times) {
        uint64_t n = 0;
        for (double t : times) n += t >= w.start_s && t <= end + kWindowSettleS ? 1 : 0;
        return n;
      };
      w.duplicates = in_span(evidence.duplicates_s);
      w.conflicts = in_span(evidence.conflicts_s);
      w.invalid = in_span(evidence.invalid_s);
    }
  }
}

}  // namespace edgeforge::sim
