// The edgeforge subcommands. Each takes its arguments (after the subcommand
// name) and returns the process exit code: 0 success, 1 failure, 2 usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace edgeforge::cli {

using Argv = std::vector<std::string>;

int RunSim(const Argv& args, std::ostream& out, std::ostream& err);
int RunBroker(const Argv& args, std::ostream& out, std::ostream& err);
int RunVerify(const Argv& args, std::ostream& out, std::ostream& err);
int RunShadow(const Argv& args, std::ostream& out, std::ostream& err);
int RunReport(const Argv& args, std::ostream& out, std::ostream& err);

}  // namespace edgeforge::cli
