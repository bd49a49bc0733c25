// edgeforge-device: the firmware's main, on a gateway (Linux device nodes) or
// hardware-in-the-loop (--sim-sensors: the same firmware on simulated parts).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace edgeforge::cli {

/// Runs the device with `args` (argv without the program name). Returns the
/// exit status: 0 ok, 1 a failure (named on `err`), 2 a usage error.
int RunDevice(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace edgeforge::cli
