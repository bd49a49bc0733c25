// Runs the fleet's devices on worker threads: each worker owns a share of
// the devices (PartitionDevices) and its own due-queue; connects ramp at a
// fleet-wide rate (ConnectRamp); the measured window starts when the fleet
// is up (every device connected, or the connect window ended) and devices
// that connect later join it late, counted as late.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "hal/clock.h"
#include "sim/fleet/devices.h"
#include "sim/fleet/report.h"

namespace edgeforge::sim {

/// Worker threads for `requested` (0: the number of cores, at least 1),
/// never more than there are devices.
int ResolveWorkers(int requested, size_t devices);

/// Device indices per worker: device i runs on worker i % workers, so every
/// worker gets each board in turn and its share of every connect ramp second.
std::vector<std::vector<size_t>> PartitionDevices(size_t devices, int workers);
/// The worker device i runs on (PartitionDevices' rule).
inline size_t WorkerOf(size_t device, int workers) { return device % static_cast<size_t>(workers < 1 ? 1 : workers); }

/// CONNECT pacing across the fleet: device i may start at start + i / rate.
/// Link's backoff keeps any one client id to one CONNECT per second after
/// that; the ramp only spaces the first ones.
class ConnectRamp {
 public:
  ConnectRamp(double per_second, Micros start) : per_second_(per_second), start_(start) {}
  Micros SlotOf(size_t device) const;
  /// How many devices' slots have come by `now` (devices 0..n-1 may start).
  size_t DueBy(Micros now) const;

 private:
  double per_second_;
  Micros start_;
};

/// --connect-window when not given: the ramp's length plus 30 s for the
/// last handshakes and a retry.
std::chrono::milliseconds DefaultConnectWindow(int devices, double connect_rate);

struct SchedulerOptions {
  int workers = 1;  // resolved (ResolveWorkers)
  double connect_rate = 500;
  std::chrono::milliseconds connect_window{30000};
  std::chrono::milliseconds duration{30000};
  std::function<bool()> stop_requested;  // polled by the fleet thread
  /// Called from the fleet thread while the workers run (~every 50 ms):
  /// writes what other threads queued for the log to the stream it is given.
  std::function<void(std::ostream&)> flush_log;
  /// The log is a terminal: the progress line is redrawn in place every
  /// second; otherwise a line is written every 5 s.
  bool live_line = false;
  size_t line_width = 0;  // the terminal's columns (0: unknown)
  /// Telemetry per second the fleet's report windows schedule (all devices up),
  /// for the progress line.
  double scheduled_rate = 0;
  /// For the progress line: messages the verifier has verified so far, or
  /// nothing when not verifying.
  std::function<uint64_t()> verified;
  /// How worker w waits up to `max_wait` for its next due time: its event
  /// loop's RunOnce, which serves its devices' sockets meanwhile. Called on
  /// w's thread while the workers run, on the fleet thread in Drain.
  std::function<void(int worker, Millis max_wait)> wait;
  /// Called on worker w's own thread every `group_commit_every` while it
  /// runs (--sync batch: its outbox store's SyncAll); null: nothing to commit.
  std::function<void(int worker)> group_commit;
  std::chrono::milliseconds group_commit_every{200};
  /// The fault schedule (sim/fleet/faults.h): called on worker w's thread
  /// every pass, with the fleet time and when the fleet came up (negative
  /// until it is up); and on the fleet thread every tick, with its log.
  std::function<void(int worker, Micros now, Micros up)> worker_tick;
  std::function<void(Micros now, Micros up, std::ostream& log)> fleet_tick;
};

/// What the run's timing was, in fleet time (Micros since the scheduler's
/// start), for the report.
struct ScheduleOutcome {
  Micros up{0};   // the fleet was up: the measured window started
  Micros end{0};  // the measured window ended (its duration, or a stop)
  Micros worst_lag{0};
  bool stopped = false;  // ended early by stop_requested
  int workers = 0;
  size_t open_files = 0;              // this process's descriptors when the fleet was up (0: unknown)
  std::vector<FleetSnapshot> series;  // the live counters once a second, from the start
};

/// The progress line: connected / target, achieved vs scheduled msg/s over
/// the last `interval_s` (from `before`), the counters and errors by kind.
std::string ProgressLine(const FleetSnapshot& now, const FleetSnapshot& before, double interval_s,
                         double scheduled_rate);

class Scheduler {
 public:
  Scheduler(std::vector<std::unique_ptr<VirtualDevice>>& devices, SchedulerOptions options, std::ostream& log);
  ~Scheduler();

  /// Ramps the connects, waits for the fleet to be up, runs the measured
  /// window and joins the workers.
  ScheduleOutcome Run();
  /// After Run, on the fleet thread: publishes what is still queued (bounded
  /// by `timeout`), so the verifier can see it.
  void Drain(std::chrono::milliseconds timeout);
  /// The fleet's time: what every device clock follows.
  Micros Elapsed() const;
  /// The live counters (the progress line's, and --prometheus's).
  FleetSnapshot Snapshot() const;

 private:
  struct Worker {
    int index = 0;
    std::vector<size_t> devices;  // indices into devices_
    std::thread thread;
    Micros worst_lag{0};  // its thread's; read after join
    // Its devices' totals, tallied about once a second on its own thread,
    // for the progress line and --prometheus.
    std::atomic<uint64_t> published{0};  // telemetry + alarms
    std::atomic<uint64_t> delivered{0};
    std::atomic<uint64_t> queued{0};
    std::atomic<uint64_t> dropped{0};
    std::atomic<uint64_t> refused{0};
    std::atomic<uint64_t> connections_lost{0};
    std::atomic<uint64_t> connect_failures{0};
    std::atomic<int> online{0};
  };
  void WorkerLoop(Worker& w);
  void StartDevice(VirtualDevice& d, Micros now);
  /// Writes (or, live, redraws) the progress line.
  void Progress();
  /// Takes a live progress line off the screen before other output.
  void ClearLiveLine();

  std::vector<std::unique_ptr<VirtualDevice>>& devices_;
  SchedulerOptions o_;
  std::ostream& log_;
  const std::chrono::steady_clock::time_point t0_;
  ConnectRamp ramp_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int> connected_{0};
  std::atomic<int64_t> up_us_{-1};   // -1 until the fleet is up
  std::atomic<int64_t> end_us_{-1};  // set with up_us_, or earlier by a stop
  std::atomic<bool> stop_{false};
  // The fleet thread's progress state.
  FleetSnapshot last_progress_;
  bool line_shown_ = false;  // a live line is on screen (no newline yet)
};

}  // namespace edgeforge::sim
