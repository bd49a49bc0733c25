// Everything a fleet run needs before any device exists: the work directory,
// the PKI (created for a local broker, checked for an external one), every
// device identity checked locally, the boards, and enough file descriptors.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "firmware/board/board.h"
#include "hal/status.h"
#include "sim/fleet/fleet.h"

namespace edgeforge::sim {

/// A group as provisioned: its board loaded (report window and sample
/// periods applied) and its site resolved.
struct ProvisionedGroup {
  std::string name;
  std::string site;
  size_t board = 0;  // into Provisioned::boards
};

struct Provisioned {
  std::string pki_dir;
  std::vector<std::string> things;  // device i is things[i]
  std::vector<board::Board> boards;
  std::vector<ProvisionedGroup> groups;
  std::vector<uint32_t> group_of;  // device i is in groups[group_of[i]]
  /// Sharded (--shard i/N): device i's index in the whole fleet, which keys
  /// its seed. Empty: not sharded, the index is i.
  std::vector<size_t> global;
  size_t fleet_devices = 0;  // devices in the whole fleet (all shards)
  size_t GlobalIndex(size_t device) const { return global.empty() ? device : global[device]; }
  const ProvisionedGroup& GroupOf(size_t device) const { return groups[group_of[device]]; }
  const board::Board& BoardOf(size_t device) const { return boards[GroupOf(device).board]; }
  int64_t wall_start_ms = 0;
  double start_seconds = 0;  // physics time at t0: seconds since midnight UTC
  /// The shortest report window of the boards (FleetFailureReasons).
  std::chrono::milliseconds ShortestWindow() const;
};

/// FleetOptions::groups checked together (names, counts, patterns, sites,
/// periods); errors name the group.
Status ValidateGroups(const FleetOptions& o);

/// Telemetry the fleet should publish per second (each device one message per
/// report window of its board), before alarms.
double ScheduledMessageRate(const FleetOptions& o, const Provisioned& p);

/// Above this scheduled rate the local broker runs without persistence.
/// Saving mosquitto's database after every change (kEveryChange) costs one
/// fsync per loop iteration that changed something; at 1,000 msg/s (10,000
/// devices at one message per 10 s) the broker then delivered 180-600 msg/s
/// to the verifier, its queue grew (a 199 MB database rewritten on every
/// change) and the run fell further behind; 4,800 devices at 444 msg/s kept up.
inline constexpr double kEveryChangeMaxRate = 250;

/// The local broker's persistence for this run: the option if set, else
/// kFleetBrokerPersistence up to kEveryChangeMaxRate or when the fault
/// schedule kills the broker (saying so in `log`), and kOff above it,
/// saying so in `log` (a broker kill -9 then loses what is queued for the
/// verifier).
BrokerPersistence LocalBrokerPersistence(const FleetOptions& o, const Provisioned& p, std::ostream& log);

/// Loads the boards, then makes or checks the PKI and every identity.
Result<Provisioned> Provision(const FleetOptions& o, std::ostream& log);

/// Open files a fleet of `devices` needs (sockets, outbox files, broker and
/// verifier): what RaiseFileLimit checks.
uint64_t FileDescriptorsNeeded(const FleetOptions& o);

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; an error naming the
/// number needed and `ulimit -n` when even the hard limit is too low.
Status RaiseFileLimit(uint64_t needed, std::ostream& log);

}  // namespace edgeforge::sim
