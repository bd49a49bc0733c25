// What a fleet run found, why it is not a PASS, and the summary it prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "sim/fleet/latency_histogram.h"
#include "sim/verify/verifier.h"

namespace edgeforge::sim {

/// The live counters (Scheduler::Snapshot, safe to take from any thread
/// while the fleet runs); the report keeps one per second as its time series.
struct FleetSnapshot {
  int devices = 0;
  int connected = 0;       // devices that have connected at least once
  int online = 0;          // devices connected now (workers' last tally, <= 1 s old)
  bool up = false;         // the measured window has started
  double elapsed_s = 0;    // since the run started
  uint64_t published = 0;  // telemetry + alarms handed to the links
  uint64_t delivered = 0;  // PUBACKed (telemetry, alarms, shadow updates)
  uint64_t queued = 0;     // in the devices' outboxes, not yet PUBACKed
  uint64_t dropped = 0;    // never to be delivered (outbox bound, storage, signing)
  uint64_t refused = 0;    // refused by the broker (0x87)
  uint64_t connections_lost = 0;
  uint64_t connect_failures = 0;
  int64_t verified = -1;  // -1: no verifier
};

/// One device group's share (a scenario group, or one --board).
struct GroupReport {
  std::string name;
  std::string board;
  std::string site;
  int devices = 0;
  int connected = 0;
  int never_published = 0;
  uint64_t published = 0;  // telemetry + alarms
  uint64_t delivered = 0;  // PUBACKed, shadow messages included
  uint64_t dropped = 0;
  uint64_t refused = 0;
  std::vector<std::string> things;  // the group's devices in this run (this shard's, when sharded)
  // Verified runs: the group's messages the verifier never received, and
  // the duplicates, conflicts and invalid messages on its devices' topics.
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t conflicts = 0;
  uint64_t invalid = 0;
};

/// One window of a scenario's fault schedule (sim/fleet/faults.h): when it
/// was in force and what the fleet did meanwhile. Counts are the live
/// counters' change from the window's start to a few seconds after its end
/// (so reconnects and the resent backlog show).
struct FaultWindowReport {
  std::string name;
  std::string kind;    // FleetFaultKindName
  std::string detail;  // FleetFault::Describe
  double at_s = 0;     // scheduled: after the fleet was up
  double start_s = 0;  // applied: seconds since the run started (-1: never)
  double end_s = 0;
  int devices = 0;    // devices it hit (0 for the broker)
  std::string error;  // the first error applying it, or empty
  uint64_t published = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t refused = 0;
  uint64_t connections_lost = 0;
  uint64_t connect_failures = 0;
  int64_t lost = -1;        // published inside the window, never received by the verifier (-1: no verifier)
  uint64_t duplicates = 0;  // received inside the window (+5 s), verified runs
  uint64_t conflicts = 0;
  uint64_t invalid = 0;
};

/// One step of a shadow rollout (sim/fleet/rollouts.h).
struct RolloutStepReport {
  double share = 0;
  int devices = 0;       // the step's devices (the earlier steps' included)
  double start_s = -1;   // seconds since the run started
  double end_s = -1;     // when it was decided (-1: the run ended first)
  int accepted = 0;      // their reported config holds the change
  int rejected = 0;      // they reported a config_error since the change
  int pending = 0;       // neither yet (offline, or slow)
  uint64_t alarms = 0;   // alarm messages they sent during the hold
  std::string decision;  // "continue", "done", "roll back", or empty
};

struct RolloutReport {
  std::string name;
  std::string group;    // empty: every group
  std::string desired;  // the change, as JSON
  bool gated = true;    // false: a stage's change
  /// "completed", "rolled back at step N (why)", "incomplete: ..." or "not started".
  std::string outcome;
  int rolled_back = 0;  // devices set back to their previous config
  int restored = 0;     // of those, reporting their old config when the run ended
  std::vector<RolloutStepReport> steps;
  bool Finished() const { return outcome == "completed" || outcome.rfind("rolled back", 0) == 0; }
};

/// Latency percentiles of the messages received in one interval of the run.
struct LatencyPoint {
  double t_s = 0;  // the interval's end, seconds since the run started
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  uint64_t count = 0;
};

struct FleetReport {
  int devices = 0;
  int shard_index = 0;  // --shard i/N
  int shard_count = 1;  // 1: not sharded
  int connected = 0;
  /// Connected after the fleet was up (the measured window had started):
  /// they missed part of their schedule; counted in `connected` too.
  int late = 0;
  /// Connected but published no telemetry or alarm although their schedule
  /// had at least one report in the measured window.
  int never_published = 0;
  int workers = 0;
  size_t open_files = 0;  // descriptors the process held when the fleet was up (0: unknown)
  std::string broker;     // URI used
  bool local_broker = false;
  uint64_t sampled = 0;         // messages built and signed by the devices
  uint64_t reports = 0;         // telemetry messages among them
  uint64_t alarms = 0;          // alarm messages among them
  uint64_t shadow_reports = 0;  // device shadow updates queued (not in sampled; delivered counts them)
  uint64_t sensor_faults = 0;   // sensor Init/Sample failures (reported in telemetry)
  uint64_t delivered = 0;       // PUBACKed
  uint64_t dropped = 0;         // refused or not handed over (device drop counters)
  bool verified_run = false;
  VerifyReport verify;
  double latency_p50_ms = 0;  // device publish -> verifier receive
  double latency_p99_ms = 0;
  double latency_max_ms = 0;
  double elapsed_s = 0;
  /// The schedule (ScheduledReports): telemetry the devices should have
  /// published in the measured window, which starts when the fleet is up
  /// (every device connected, or --connect-window ended). `achieved` is the
  /// telemetry and alarms they did publish in it. 0/0 (e.g. a report built
  /// by hand): no schedule check.
  double up_s = 0;        // fleet up, seconds after the run started
  double measured_s = 0;  // length of the measured window
  uint64_t scheduled = 0;
  uint64_t achieved = 0;
  double worst_lag_ms = 0;  // max over devices of how late a Step ran behind its due time
  /// Loss attribution (verified runs), over the seqs the devices published:
  uint64_t lost_unacked = 0;    // never PUBACKed by the broker (device side: still queued or dropped)
  uint64_t lost_after_ack = 0;  // PUBACKed, never received by the verifier (broker side)
  /// Publish-to-verifier latency, mergeable (verified runs).
  LatencyHistogram latency;
  /// The same over time, by receive time (at most ~300 points).
  std::vector<LatencyPoint> latency_series;
  std::vector<GroupReport> groups;
  /// The live counters once a second from the start of the run.
  std::vector<FleetSnapshot> series;
  /// The scenario's fault windows, in schedule order.
  std::vector<FaultWindowReport> faults;
  /// Devices that lost power (a power-cut fault) and booted again.
  int power_cuts = 0;
  /// The scenario's stages as windows (kind "stage"), in order.
  std::vector<FaultWindowReport> stages;
  /// Shadow rollouts (and stage changes), in schedule order.
  std::vector<RolloutReport> rollouts;
  /// Why the run is not a PASS; empty when it is (filled by RunFleet).
  std::vector<std::string> failures;
  /// No failure reasons: every device connected, something was published
  /// and delivered, and (when verifying) nothing lost, invalid or conflicting.
  bool Passed() const { return failures.empty(); }

  double ScheduledRate() const { return measured_s > 0 ? static_cast<double>(scheduled) / measured_s : 0; }
  double AchievedRate() const { return measured_s > 0 ? static_cast<double>(achieved) / measured_s : 0; }
};

/// Reports a device is scheduled to publish in a measured window of
/// `window`: its first Step runs `offset` after the window starts and opens
/// its first report window, which closes every `report` after that; a report
/// counts when it falls due strictly before the window ends (the workers
/// stop stepping at the end). 0 when report is not positive.
uint64_t ScheduledReports(Micros window, Micros offset, Micros report);

/// ScheduledReports for a device whose report window changed during the
/// window (a shadow config change: a stage or a rollout): `changes` are
/// (time since the window started, new period) in time order. At a change
/// the open report window closes one new period after it opened, or at once
/// if that has passed, as Pipeline::Reconfigure does.
uint64_t ScheduledReportsWithChanges(Micros window, Micros offset, Micros report,
                                     const std::vector<std::pair<Micros, Micros>>& changes);

/// When device `index` of `count` first steps, after the fleet is up: spread
/// over its report window so reports reach the broker at a steady rate
/// instead of in one burst per window.
Micros StaggerOffset(size_t index, size_t count, Micros report);

/// The share of the schedule a run must achieve (issue 9: 99%).
constexpr double kScheduleAchievedMin = 0.99;

/// The reasons `r` is not a PASS (what RunFleet puts in r.failures).
/// `shortest_window` is the shortest report window of the run's boards.
std::vector<std::string> FleetFailureReasons(const FleetReport& r, std::chrono::milliseconds duration,
                                             std::chrono::milliseconds shortest_window);

/// 1093 -> "1,093" (the summary's message counts).
std::string WithThousands(uint64_t n);
/// A message rate: 1093.4 -> "1,093"; below 100 with one decimal (6.7 -> "6.7").
std::string RateText(double per_second);

/// Human-readable summary (the demo's output).
void PrintReport(const FleetReport& r, std::ostream& out);

}  // namespace edgeforge::sim
