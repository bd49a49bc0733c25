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
  std::string work_dir = "edgeforge-run";            // device state, broker files
  std::string pki_dir;                               // empty: <work_dir>/pki (created as needed)
  std::string prefix = "edge-";                      // thing names: <prefix>00001...
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
  /// Every device connected, something was delivered, and (when verifying)
  /// nothing lost, invalid or conflicting.
  bool Passed() const;
};

/// Runs the fleet; progress lines go to `log`. Errors are set-up failures
/// (PKI, broker start); device failures are counted in the report.
Result<FleetReport> RunFleet(const FleetOptions& options, std::ostream& log);

/// Human-readable summary (the demo's output).
void PrintReport(const FleetReport& r, std::ostream& out);

}  // namespace edgeforge::sim
