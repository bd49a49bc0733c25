// A scenario's fault schedule (docs/scenario.md "faults"): broker kill and
// restart, network black holes, latency and resets for a share of the
// devices (injected in the transport, sim/transport/event_loop.h), sensor
// faults on a group (the HAL's fault injection, hal/sim/fault.h), device
// power cuts and reboots from their files, clock skew and a second client
// with a device's identity. Each fault is a window of the measured run; the
// report gives what happened in each (FaultWindowReport).
//
// Threads: device faults are applied by the worker that owns the device
// (FaultEngine::WorkerTick), broker faults by the fleet thread (FleetTick);
// Finish ends whatever is still in force once the workers have joined.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/status.h"
#include "sim/fleet/report.h"
#include "sim/transport/event_loop.h"

namespace edgeforge::sim {

struct VirtualDevice;
struct Provisioned;

enum class FleetFaultKind : uint8_t {
  kBrokerRestart,    // kill -9 the embedded broker at `at`, restart it `duration` later
  kNetwork,          // NetworkFault for the chosen devices
  kSensor,           // a board device's bus fault (FaultKind) on the chosen devices
  kPowerCut,         // the chosen devices lose power at `at` and boot again `duration` later
  kClockSkew,        // the chosen devices' wall clocks are off by `skew`
  kDuplicateClient,  // a second client connects with each chosen device's identity and reconnects when kicked
};
/// "broker-restart", "network", "sensor", "power-cut", "clock-skew", "duplicate-client-id".
const char* FleetFaultKindName(FleetFaultKind kind);
/// The inverse; INVALID_ARGUMENT listing the kinds.
Result<FleetFaultKind> ParseFleetFaultKind(const std::string& name);

struct FleetFault {
  std::string name;  // unique in the scenario; names the window in the report
  FleetFaultKind kind = FleetFaultKind::kNetwork;
  Millis at{0};                     // after the fleet is up (the measured window's start)
  Millis duration{0};               // how long it lasts
  double share = 1.0;               // of the devices (of `group`, if set) it hits; at least one device
  std::string group;                // empty: every group
  transport::NetworkFault network;  // kNetwork
  std::string sensor;               // kSensor: the board device's name ("vib0")
  FaultKind sensor_fault = FaultKind::kDisconnect;
  Millis skew{0};  // kClockSkew: added to the device's wall clock
  /// One line for logs and reports ("network blackhole, 20% of presses").
  std::string Describe() const;
};

/// Checks the schedule against the fleet: groups and sensor devices exist
/// on the groups' boards, a broker fault has the embedded broker, every
/// window ends inside `duration`. Errors name "faults[i] (name)".
Status ValidateFaults(const std::vector<FleetFault>& faults, const Provisioned& p, bool local_broker,
                      std::chrono::milliseconds duration);

/// The devices fault `index` hits: `share` of its candidates (rounded, at
/// least one), chosen by a hash of seed, fault and device index, so the same
/// scenario and seed hit the same devices.
std::vector<size_t> FaultTargets(const FleetFault& f, size_t index, const Provisioned& p, uint64_t seed);

class FaultEngine {
 public:
  /// What the engine cannot do by itself (fleet.cc's wiring).
  struct Hooks {
    /// Worker thread: sets device i's network fault in its session.
    std::function<void(size_t device, const transport::NetworkFault&)> network;
    /// Worker thread: builds device i's stack again from its files and starts it.
    std::function<Status(size_t device)> power_on;
    /// Worker thread: a new session with device i's session config, on its worker's loop.
    std::function<Result<std::unique_ptr<link::Session>>(size_t device)> clone_session;
    /// Fleet thread: kill (down) or restart the embedded broker.
    std::function<Status(bool down)> broker;
  };

  FaultEngine(const std::vector<FleetFault>& faults, const Provisioned& p, uint64_t seed,
              std::vector<std::unique_ptr<VirtualDevice>>& devices, int workers, Hooks hooks);
  ~FaultEngine();

  /// Worker w's thread, every pass: applies its devices' due starts and ends
  /// (fleet time `now`; `up` < 0 until the fleet is up) and keeps the
  /// duplicate clients connecting. Lines for the log go to `log` (thread-safe).
  void WorkerTick(int w, Micros now, Micros up, const std::function<void(std::string)>& log);
  /// The fleet thread, every tick: the broker faults, and the log line when
  /// a window opens or closes.
  void FleetTick(Micros now, Micros up, std::ostream& log);
  /// After the workers joined (fleet thread): ends every fault still in
  /// force, so the drain and the report see the fleet recovered.
  void Finish(std::ostream& log);

  /// The windows with their devices, times and errors; counts come from the
  /// report's series (FillFaultWindows).
  std::vector<FaultWindowReport> Windows() const;

 private:
  struct Action {
    Micros at{0};  // after up
    size_t device = 0;
    size_t fault = 0;
    bool start = true;
  };
  struct Clone {
    std::unique_ptr<link::Session> session;
    bool connecting = false;
    bool lost = false;
    Micros next_try{0};
    int connects = 0;
  };
  struct PerWorker {
    std::vector<Action> actions;  // by time
    size_t next = 0;
    std::map<size_t, Clone> clones;  // by device
    /// Network faults in force per device, in the order they started: the
    /// latest applies; when it ends, the one before it applies again.
    std::map<size_t, std::vector<size_t>> network;
  };
  void Apply(const Action& a, Micros now, PerWorker& pw, const std::function<void(std::string)>& log);
  void PollClones(PerWorker& pw, Micros now);

  std::vector<FleetFault> faults_;
  std::vector<std::vector<size_t>> targets_;
  std::vector<std::unique_ptr<VirtualDevice>>& devices_;
  Hooks hooks_;
  uint64_t seed_;
  std::vector<PerWorker> workers_;
  // The fleet thread's: which windows have been logged as open / closed,
  // and the broker faults' state.
  std::vector<int> phase_;           // 0 not yet, 1 open, 2 closed
  std::vector<std::string> errors_;  // per fault: the first error applying it
  std::vector<double> started_s_, ended_s_;
  std::mutex errors_mu_;
};

/// What the verifier saw, in fleet seconds, for the windows.
struct WindowEvidence {
  bool verified = false;
  std::vector<double> unreceived_s;  // send times of messages never received
  std::vector<double> duplicates_s;  // receive times
  std::vector<double> conflicts_s;
  std::vector<double> invalid_s;
};

/// Fills each window's counts from the report's series (the live counters
/// once a second): what changed between the sample at the window's start
/// and the first one 5 s after its end; `lost`: messages published inside
/// the window that the verifier never received; duplicates, conflicts and
/// invalid messages received in the same span as the counts.
void FillFaultWindows(std::vector<FaultWindowReport>& windows, const std::vector<FleetSnapshot>& series,
                      const WindowEvidence& evidence);

}  // namespace edgeforge::sim
