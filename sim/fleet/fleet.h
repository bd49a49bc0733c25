// The fleet engine: N virtual devices, each the real firmware core (app::Device)
// on simulated HAL backends, with its own X.509 identity and signing key, against
// a broker; an in-process verifier checks everything that arrives.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "firmware/link/outbox.h"
#include "firmware/telemetry/jws.h"
#include "hal/status.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/verifier.h"

namespace edgeforge::sim {

struct FleetOptions {
  int devices = 100;
  std::chrono::milliseconds duration{30000};
  /// Boards (built-in names or paths), assigned to devices in turn: device i
  /// runs boards[i % boards.size()].
  std::vector<std::string> boards = {"factory-node", "traffic-node"};
  std::chrono::milliseconds interval{0};             // report window; 0: each board's report_ms
  double time_scale = 1.0;                           // physics seconds per real second (machine, climate)
  size_t queue_bytes = size_t{1} << 20;              // each device's durable outbox bound
  link::SyncPolicy sync = link::SyncPolicy::kBatch;  // outbox durability (group commit)
  std::string broker_uri;                            // empty: start a local mosquitto
  /// The local broker's persistence (see BrokerPersistence): what lets the
  /// verifier's session, and what is queued for it, survive a kill -9.
  BrokerPersistence broker_persistence = kFleetBrokerPersistence;
  std::string work_dir = "edgeforge-run";  // device state, broker files
  std::string pki_dir;                     // empty: <work_dir>/pki (created as needed)
  std::string prefix = "edge-";            // thing names: <prefix>00001...
  std::string app = "edgeforge";
  std::string site = "site-1";
  jws::Backend signer = jws::Backend::kOpenSsl;
  bool verify = true;  // run the ingest verifier
  uint64_t seed = 1;   // sensor physics
  /// Polled while publishing: true ends the run early (still drained, reported).
  std::function<bool()> stop_requested;
};

/// Validates ranges and names; errors name the option ("--devices").
Status ValidateFleetOptions(const FleetOptions& o);

struct FleetReport {
  int devices = 0;
  int connected = 0;
  std::string broker;  // URI used
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
  /// Loss attribution (verified runs), over the seqs the devices published:
  uint64_t lost_unacked = 0;    // never PUBACKed by the broker (device side: still queued or dropped)
  uint64_t lost_after_ack = 0;  // PUBACKed, never received by the verifier (broker side)
  /// Why the run is not a PASS; empty when it is (filled by RunFleet).
  std::vector<std::string> failures;
  /// No failure reasons: every device connected, something was published
  /// and delivered, and (when verifying) nothing lost, invalid or conflicting.
  bool Passed() const { return failures.empty(); }
};

/// Runs the fleet; progress lines go to `log`. Errors are set-up failures
/// (PKI, broker start); device failures are counted in the report.
Result<FleetReport> RunFleet(const FleetOptions& options, std::ostream& log);

/// The reasons `r` is not a PASS (what RunFleet puts in r.failures).
/// `shortest_window` is the shortest report window of the run's boards.
std::vector<std::string> FleetFailureReasons(const FleetReport& r, std::chrono::milliseconds duration,
                                             std::chrono::milliseconds shortest_window);

/// Human-readable summary (the demo's output).
void PrintReport(const FleetReport& r, std::ostream& out);

}  // namespace edgeforge::sim
