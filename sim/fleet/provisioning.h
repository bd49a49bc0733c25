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

struct Provisioned {
  std::string pki_dir;
  std::vector<std::string> things;  // device i is things[i]
  std::vector<board::Board> boards;  // device i runs boards[i % boards.size()]
  int64_t wall_start_ms = 0;
  double start_seconds = 0;  // physics time at t0: seconds since midnight UTC
  /// The shortest report window of the boards (FleetFailureReasons).
  std::chrono::milliseconds ShortestWindow() const;
};

/// Loads the boards, then makes or checks the PKI and every identity.
Result<Provisioned> Provision(const FleetOptions& o, std::ostream& log);

/// Open files a fleet of `devices` needs (sockets, outbox files, broker and
/// verifier): what RaiseFileLimit checks.
uint64_t FileDescriptorsNeeded(const FleetOptions& o);

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; an error naming the
/// number needed and `ulimit -n` when even the hard limit is too low.
Status RaiseFileLimit(uint64_t needed, std::ostream& log);

}  // namespace edgeforge::sim
