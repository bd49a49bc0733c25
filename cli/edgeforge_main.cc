// edgeforge: the host tool. Subcommands: certs, broker, verify, sim.
#include <iostream>
#include <string>
#include <vector>

#include "certs/certs_cli.h"
#include "sim/cli/commands.h"

namespace {

constexpr const char* kVersion = "0.1.0";

constexpr const char* kUsage = R"(usage: edgeforge <command> [options]

commands:
  sim       run a fleet of virtual devices against a broker and verify every message
  broker    start a local mosquitto that mirrors AWS IoT Core (mutual TLS, per-thing ACLs)
  certs     create a dev CA, broker/ingest certificates, device identities, the JWK set
  verify    verify signed telemetry live from a broker or from a JSON-lines capture
  version   print the version

'edgeforge <command> --help' describes each command.
quick start: edgeforge sim --devices 100 --duration 30s
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "sim") return edgeforge::cli::RunSim(args, std::cout, std::cerr);
  if (cmd == "broker") return edgeforge::cli::RunBroker(args, std::cout, std::cerr);
  if (cmd == "verify") return edgeforge::cli::RunVerify(args, std::cout, std::cerr);
  if (cmd == "certs") return edgeforge::certs::RunCertsCli(args, std::cout, std::cerr);
  if (cmd == "version" || cmd == "--version") {
    std::cout << "edgeforge " << kVersion << "\n";
    return 0;
  }
  std::cerr << "edgeforge: unknown command '" << cmd << "' (see edgeforge --help)\n";
  return 2;
}
