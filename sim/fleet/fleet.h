// The fleet engine: N virtual devices, each the real firmware core (app::Device)
// on simulated HAL backends, with its own X.509 identity and signing key, against
// a broker; an in-process verifier checks everything that arrives.
//
// RunFleet orchestrates the parts: provisioning.h (work dir, PKI, identities,
// boards, file limit), devices.h (a virtual device), scheduler.h (workers,
// due-queues, connect ramp, drain), fleet_verifier.h (ingest, verifier,
// latency, loss attribution) and report.h (the report and its verdict).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "firmware/link/outbox.h"
#include "firmware/telemetry/jws.h"
#include "hal/status.h"
#include "sim/broker/local_broker.h"
#include "sim/fleet/faults.h"
#include "sim/fleet/report.h"
#include "sim/fleet/rollouts.h"
#include "sim/verify/verifier.h"

namespace edgeforge::sim {

/// CONNECTs per second across the fleet when --connect-rate is not given
/// (sim_command.cc says how it was chosen).
constexpr double kDefaultConnectRate = 500;

/// A group of devices on one board (a scenario's "groups", docs/scenario.md).
struct DeviceGroup {
  std::string name;   // [a-z0-9-]+, unique in the run
  std::string board;  // a built-in board or a board file path
  int count = 0;
  /// Thing names: `things` with "{n}" replaced by 1..count, or "{n:W}" (or
  /// "{n:0W}") by 1..count zero-padded to W digits ("press-{n:03}": press-001, ...).
  std::string things;
  std::string site;                           // topic site level; empty: FleetOptions::site
  std::chrono::milliseconds report{0};        // report window; 0: the board's report_ms
  std::map<std::string, uint32_t> sample_ms;  // the board's devices' sample periods, by device name
};

/// The thing name of device `n` (1-based) of a group: its pattern expanded
/// (the pattern must have passed ValidateThingPattern).
std::string GroupThingName(const DeviceGroup& g, int n);
/// A thing-name pattern holds exactly one "{n}", "{n:W}" or "{n:0W}" (W 1..9) and no
/// other braces; INVALID_ARGUMENT saying what is wrong.
Status ValidateThingPattern(const std::string& pattern);

/// One process's part of a fleet run across processes or machines
/// (`--shard i/N`): the devices whose index in the whole fleet is i modulo N.
struct ShardSpec {
  int index = 0;
  int count = 1;  // 1: the whole fleet
  bool sharded() const { return count > 1; }
};

struct FleetOptions {
  /// Empty: the fleet is `devices` devices named <prefix>00001.., running
  /// `boards` in turn, with `interval` and `site`. Set (a scenario): the
  /// groups in order, and `devices` is the sum of their counts.
  std::vector<DeviceGroup> groups;
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
  /// Unset: LocalBrokerPersistence() chooses by the fleet's message rate.
  std::optional<BrokerPersistence> broker_persistence;
  std::string work_dir = "edgeforge-run";  // device state, broker files
  std::string pki_dir;                     // empty: <work_dir>/pki (created as needed)
  std::string prefix = "edge-";            // thing names: <prefix>00001...
  std::string app = "edgeforge";
  std::string site = "site-1";
  jws::Backend signer = jws::Backend::kOpenSsl;
  bool verify = true;                         // run the ingest verifier
  uint64_t seed = 1;                          // sensor physics
  int workers = 0;                            // worker threads; 0: one per core
  double connect_rate = kDefaultConnectRate;  // CONNECTs per second across the fleet
  /// How long the fleet may take to come up before the measured window
  /// starts anyway; 0: devices / connect_rate + 30 s (DefaultConnectWindow).
  std::chrono::milliseconds connect_window{0};
  /// The log is a terminal: redraw one progress line every second instead of
  /// writing a line every 5 s.
  bool live_progress = false;
  size_t terminal_columns = 0;  // its width, to keep the line on one row (0: unknown)
  /// Serve the live counters for Prometheus on this address ("127.0.0.1:9464",
  /// ":9464"); empty: no server (sim/fleet/metrics_server.h).
  std::string prometheus_addr;
  /// A scenario's fault schedule (sim/fleet/faults.h), applied in the
  /// measured window; empty: none.
  std::vector<FleetFault> faults;
  /// A scenario's stages (filling `duration`) and shadow rollouts
  /// (sim/fleet/rollouts.h); empty: none.
  std::vector<Stage> stages;
  std::vector<Rollout> rollouts;
  /// With broker_uri: issue the devices' missing identities from the CA in
  /// pki_dir (its ca.key), as a pod given the CA as a Secret does
  /// (deploy/k8s); otherwise a missing identity is an error naming it.
  bool issue_identities = false;
  /// Run only this shard's devices; names, identities, seeds and readings
  /// are those of the whole fleet's devices (docs/scenario.md "Shards").
  ShardSpec shard;
  /// Polled while publishing: true ends the run early (still drained, reported).
  std::function<bool()> stop_requested;
};

/// Validates ranges and names; errors name the option ("--devices").
Status ValidateFleetOptions(const FleetOptions& o);

/// Runs the fleet; progress lines go to `log`. Errors are set-up failures
/// (PKI, broker start, file limit); device failures are counted in the report.
Result<FleetReport> RunFleet(const FleetOptions& options, std::ostream& log);

}  // namespace edgeforge::sim
