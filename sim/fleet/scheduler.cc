#include "sim/fleet/scheduler.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <queue>
#include <sstream>

#include "hal/linux/fs.h"
#include "sim/fleet/report.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// A worker never sleeps longer than this: devices still connecting, and
/// the fleet-up and stop flags, are looked at this often.
constexpr Micros kMaxIdle{10'000};
/// How often a device without power is looked at again.
constexpr Micros kPoweredOffPoll{250'000};
/// How often the fleet thread looks at the flags and flushes the log.
constexpr std::chrono::milliseconds kFleetTick{50};
constexpr Micros kProgressEvery{5'000'000};

}  // namespace

int ResolveWorkers(int requested, size_t devices) {
  int n = requested;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(n, 1);
  if (devices > 0 && static_cast<size_t>(n) > devices) n = static_cast<int>(devices);
  return n;
}

std::vector<std::vector<size_t>> PartitionDevices(size_t devices, int workers) {
  const size_t w = static_cast<size_t>(std::max(workers, 1));
  std::vector<std::vector<size_t>> parts(w);
  for (size_t i = 0; i < devices; ++i) parts[WorkerOf(i, workers)].push_back(i);
  return parts;
}

Micros ConnectRamp::SlotOf(size_t device) const {
  return start_ + Micros(static_cast<int64_t>(std::floor(static_cast<double>(device) * 1e6 / per_second_)));
}

size_t ConnectRamp::DueBy(Micros now) const {
  if (now < start_) return 0;
  // Slot i is due when floor(i * 1e6 / rate) <= now - start.
  const double elapsed_us = static_cast<double>((now - start_).count());
  size_t n = static_cast<size_t>(std::floor(elapsed_us * per_second_ / 1e6)) + 1;
  // Floating point at a slot's edge: settle on the exact slot test.
  while (n > 0 && SlotOf(n - 1) > now) --n;
  while (SlotOf(n) <= now) ++n;
  return n;
}

std::chrono::milliseconds DefaultConnectWindow(int devices, double connect_rate) {
  const double ramp_ms = static_cast<double>(devices) * 1000.0 / connect_rate;
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(ramp_ms))) + std::chrono::seconds(30);
}

Scheduler::Scheduler(std::vector<std::unique_ptr<VirtualDevice>>& devices, SchedulerOptions options, std::ostream& log)
    : devices_(devices), o_(std::move(options)), log_(log), t0_(SteadyClock::now()), ramp_(o_.connect_rate, Micros(0)) {
  for (auto& part : PartitionDevices(devices_.size(), o_.workers)) {
    auto w = std::make_unique<Worker>();
    w->index = static_cast<int>(workers_.size());
    w->devices = std::move(part);
    workers_.push_back(std::move(w));
  }
}

Scheduler::~Scheduler() {
  stop_ = true;
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

Micros Scheduler::Elapsed() const { return std::chrono::duration_cast<Micros>(SteadyClock::now() - t0_); }

void Scheduler::StartDevice(VirtualDevice& d, Micros now) {
  d.clock.AdvanceTo(now);
  d.world->Advance(d.clock.Monotonic());
  d.started = true;
  if (Status s = d.device->Start(); !s.ok()) {
    // Its link keeps retrying; the report counts it if it never connects.
    d.start_error = s.ToString();
  }
}

void Scheduler::WorkerLoop(Worker& w) {
  // Each device runs when its pipeline or its link is next due, on its own
  // clock brought up to the fleet's time. Before a device is scheduled
  // (connecting, or connected while the fleet comes up) its link is polled
  // every pass instead.
  using Due = std::pair<Micros, size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due;
  std::vector<size_t> waiting;  // started, not yet in the due-queue
  size_t next_start = 0;        // into w.devices
  const size_t n = devices_.size();
  Micros next_count = Micros(0);
  const Micros commit_every = std::chrono::duration_cast<Micros>(o_.group_commit_every);
  Micros next_commit = commit_every;
  for (;;) {
    Micros now = Elapsed();
    const int64_t up = up_us_.load();
    const int64_t end = end_us_.load();
    if (stop_.load() || (end >= 0 && now.count() >= end)) break;

    while (next_start < w.devices.size() && ramp_.SlotOf(w.devices[next_start]) <= now) {
      const size_t i = w.devices[next_start++];
      StartDevice(*devices_[i], now);
      waiting.push_back(i);
    }

    if (o_.worker_tick) o_.worker_tick(w.index, now, Micros(up));

    for (size_t k = 0; k < waiting.size();) {
      VirtualDevice& d = *devices_[waiting[k]];
      if (!d.powered) {
        ++k;
        continue;
      }
      d.clock.AdvanceTo(Elapsed());
      (void)d.link->Poll();
      if (d.connected_at.count() < 0 && d.connected()) {
        d.connected_at = Elapsed();
        connected_.fetch_add(1);
      }
      if (up >= 0 && d.connected_at.count() >= 0) {
        // The fleet is up: into the due-queue, at its staggered first step
        // (a device that connected after the fleet was up starts at once).
        d.late = d.connected_at.count() > up;
        const Micros first = Micros(up) + StaggerOffset(d.index, n, d.report);
        due.push({std::max(first, Elapsed()), d.index});
        d.scheduled = true;
        waiting[k] = waiting.back();
        waiting.pop_back();
        continue;
      }
      ++k;
    }

    const Micros stop_at = end >= 0 ? Micros(end) : Micros::max();
    // A worker behind its schedule still comes round to its connects, the
    // group commit and the flags every kMaxIdle.
    const Micros busy_until = Elapsed() + kMaxIdle;
    while (!due.empty() && due.top().first <= Elapsed() && due.top().first < stop_at && Elapsed() < busy_until) {
      auto [when, i] = due.top();
      due.pop();
      VirtualDevice& d = *devices_[i];
      now = Elapsed();
      if (!d.powered) {  // a power cut: its schedule resumes when it boots again
        due.push({now + kPoweredOffPoll, i});
        continue;
      }
      w.worst_lag = std::max(w.worst_lag, now - when);
      if (d.first_step.count() < 0) d.first_step = now;
      d.clock.AdvanceTo(now);
      d.world->Advance(d.clock.Monotonic());
      const Micros next = d.device->Step();
      if (const app::DeviceConfig* c = d.device->config(); c != nullptr && c->report_ms > 0) {
        const Micros period = std::chrono::duration_cast<Micros>(Millis(c->report_ms));
        if (period != d.report_now) {
          d.report_changes.emplace_back(when, period);  // the Step's due time: it applied the change before its report
          d.report_now = period;
        }
      }
      due.push({std::max(next, when + Micros(1000)), i});
    }

    now = Elapsed();
    if (now >= next_count) {
      // Totals for the progress line, from this worker's own devices.
      next_count = now + Micros(1'000'000);
      uint64_t published = 0, delivered = 0, queued = 0, dropped = 0, refused = 0, lost = 0, failures = 0;
      int online = 0;
      for (size_t i : w.devices) {
        const VirtualDevice& d = *devices_[i];
        const auto c = d.Counters();
        published += c.reports + c.alarms;
        delivered += c.delivered;
        queued += c.queued;
        dropped += c.dropped;
        refused += c.refused;
        lost += d.carried_connections_lost;
        failures += d.carried_connect_failures;
        if (d.link == nullptr) continue;
        const link::LinkStats& l = d.link->stats();
        lost += l.connections_lost;
        failures += l.connect_failures;
        if (l.connected) ++online;
      }
      w.published = published;
      w.delivered = delivered;
      w.queued = queued;
      w.dropped = dropped;
      w.refused = refused;
      w.connections_lost = lost;
      w.connect_failures = failures;
      w.online = online;
    }

    if (o_.group_commit && now >= next_commit) {
      o_.group_commit(w.index);
      next_commit = now + commit_every;
    }

    Micros wake = now + kMaxIdle;  // a worker behind its schedule does not sleep: wake <= now
    if (!due.empty()) wake = std::min(wake, due.top().first);
    if (next_start < w.devices.size()) wake = std::min(wake, ramp_.SlotOf(w.devices[next_start]));
    if (o_.wait) {
      // Rounded up, so a worker does not spin through the last microseconds.
      const Micros left = std::max(wake - now, Micros(0));
      o_.wait(w.index, std::chrono::ceil<Millis>(left));
    } else if (wake > now) {
      std::this_thread::sleep_until(t0_ + wake);
    }
  }
}

FleetSnapshot Scheduler::Snapshot() const {
  FleetSnapshot s;
  s.devices = static_cast<int>(devices_.size());
  s.connected = connected_.load();
  s.up = up_us_.load() >= 0;
  s.elapsed_s = std::chrono::duration<double>(Elapsed()).count();
  for (const auto& w : workers_) {
    s.published += w->published.load();
    s.delivered += w->delivered.load();
    s.queued += w->queued.load();
    s.dropped += w->dropped.load();
    s.refused += w->refused.load();
    s.connections_lost += w->connections_lost.load();
    s.connect_failures += w->connect_failures.load();
    s.online += w->online.load();
  }
  if (o_.verified) s.verified = static_cast<int64_t>(o_.verified());
  return s;
}

std::string ProgressLine(const FleetSnapshot& now, const FleetSnapshot& before, double interval_s,
                         double scheduled_rate) {
  std::ostringstream l;
  l << std::fixed << std::setprecision(0);
  l << "t=" << now.elapsed_s << "s connected " << now.connected << "/" << now.devices << " (" << now.online
    << " online)";
  const double achieved = interval_s > 0 ? static_cast<double>(now.published - before.published) / interval_s : 0.0;
  l << " | " << achieved << " msg/s of " << std::setprecision(scheduled_rate < 10 ? 1 : 0) << scheduled_rate
    << std::setprecision(0) << (now.up ? "" : " (connecting)");
  l << " | published " << now.published << ", acked " << now.delivered;
  if (now.verified >= 0) l << ", verified " << now.verified;
  l << ", queued " << now.queued << " | errors:";
  const std::pair<const char*, uint64_t> errors[] = {{"dropped", now.dropped},
                                                     {"refused", now.refused},
                                                     {"connections lost", now.connections_lost},
                                                     {"connects failed", now.connect_failures}};
  bool any = false;
  for (const auto& [kind, n] : errors) {
    if (n == 0) continue;
    l << (any ? ", " : " ") << n << " " << kind;
    any = true;
  }
  if (!any) l << " none";
  return l.str();
}

void Scheduler::Progress() {
  const FleetSnapshot now = Snapshot();
  const std::string line =
      ProgressLine(now, last_progress_, now.elapsed_s - last_progress_.elapsed_s, o_.scheduled_rate);
  last_progress_ = now;
  if (o_.live_line) {
    // Redrawn in place (carriage return, clear to the end of the line), cut
    // to the terminal's width: a wrapped line could not be cleared.
    const size_t width = o_.line_width > 1 ? o_.line_width - 1 : line.size();
    log_ << "\r\x1b[K" << line.substr(0, width) << std::flush;
    line_shown_ = true;
  } else {
    log_ << "  " << line << "\n" << std::flush;
  }
}

/// Any other line the fleet thread writes goes on a line of its own.
void Scheduler::ClearLiveLine() {
  if (!line_shown_) return;
  log_ << "\r\x1b[K";
  line_shown_ = false;
}

ScheduleOutcome Scheduler::Run() {
  ScheduleOutcome out;
  out.workers = static_cast<int>(workers_.size());
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { WorkerLoop(*raw); });
  }
  const int n = static_cast<int>(devices_.size());
  const Micros connect_deadline = std::chrono::duration_cast<Micros>(o_.connect_window);
  const Micros duration = std::chrono::duration_cast<Micros>(o_.duration);
  const Micros progress_every = o_.live_line ? Micros(1'000'000) : kProgressEvery;
  Micros next_progress = progress_every;
  last_progress_ = Snapshot();
  Micros next_sample = Micros(1'000'000);  // the report's time series
  std::ostringstream pending;              // what flush_log writes, so a live line can make room for it
  for (;;) {
    std::this_thread::sleep_for(kFleetTick);
    if (o_.flush_log) {
      o_.flush_log(pending);
      if (pending.tellp() > 0) {
        ClearLiveLine();
        log_ << pending.str() << std::flush;
        pending.str("");
      }
    }
    const Micros now = Elapsed();
    if (o_.fleet_tick) o_.fleet_tick(now, Micros(up_us_.load()), pending);
    if (o_.stop_requested && o_.stop_requested()) {
      ClearLiveLine();
      log_ << "stop requested: draining\n";
      if (up_us_.load() < 0) up_us_ = now.count();
      end_us_ = now.count();
      out.stopped = true;
      break;
    }
    if (now >= next_sample) {
      next_sample += Micros(1'000'000);
      out.series.push_back(Snapshot());
    }
    if (now >= next_progress) {
      next_progress = now + progress_every;
      Progress();
    }
    if (up_us_.load() < 0) {
      const int connected = connected_.load();
      if (connected < n && now < connect_deadline) continue;
      end_us_ = (now + duration).count();
      up_us_ = now.count();
      out.open_files = fs::OpenDescriptorCount();
      ClearLiveLine();
      log_ << "devices: " << connected << "/" << n << " connected in " << std::fixed << std::setprecision(2)
           << std::chrono::duration<double>(now).count() << " s (" << workers_.size() << " workers, connect rate "
           << o_.connect_rate << "/s)";
      if (connected < n) {
        log_ << "; the connect window (" << static_cast<double>(o_.connect_window.count()) / 1000.0
             << " s) ended: the others run late if they connect";
      }
      log_ << "; running for " << static_cast<double>(o_.duration.count()) / 1000.0 << " s\n" << std::flush;
      continue;
    }
    if (now.count() >= end_us_.load()) break;
  }
  if (line_shown_) {
    log_ << "\n";  // the last live line stays on screen
    line_shown_ = false;
  }
  for (auto& w : workers_) w->thread.join();
  out.up = Micros(up_us_.load());
  out.end = Micros(end_us_.load());
  for (auto& w : workers_) out.worst_lag = std::max(out.worst_lag, w->worst_lag);
  return out;
}

void Scheduler::Drain(std::chrono::milliseconds timeout) {
  // The workers have joined: the fleet thread owns every device now.
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    uint64_t queued = 0;
    for (auto& d : devices_) {
      if (!d->started || !d->powered) continue;
      d->clock.AdvanceTo(Elapsed());
      (void)d->link->Poll();
      queued += d->device->queued();
    }
    if (queued == 0 || SteadyClock::now() >= deadline) break;
    if (o_.wait) {
      for (auto& w : workers_) o_.wait(w->index, Millis(2));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace edgeforge::sim
