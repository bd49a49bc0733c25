// edgeforge: the host tool. Subcommands: certs, broker, verify, sim, shadow, report, version.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli/certs_cli.h"
#include "edgeforge/version.h"
#include "sim/cli/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: edgeforge <command> [options]
       edgeforge --version

commands:
  sim       run a fleet of virtual devices against a broker and verify every message
  broker    start a local mosquitto that mirrors AWS IoT Core (mutual TLS, per-thing ACLs)
  certs     create a dev CA, broker/ingest certificates, device identities, the JWK set
  verify    verify signed telemetry live from a broker or from a JSON-lines capture
  shadow    get or set a thing's device shadow through the broker's shadow service
  report    redraw a JSON run report as HTML, merge the reports of a sharded run
  version   print the version

'edgeforge <command> --help' describes each command.
quick start: edgeforge sim --devices 100 --duration 30s
)";

int UsageError(const std::string& message) {
  std::cerr << "edgeforge: " << message << " (see edgeforge --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cout << kUsage;
    return 2;
  }
  // Each command parses its own options (with CLI11 too); this level only
  // picks the command, so everything after its name is passed through.
  CLI::App app("edgeforge");
  app.set_help_flag();
  app.allow_extras(true);
  bool help = false;
  bool version = false;
  app.add_flag("-h,--help", help);
  app.add_flag("--version", version);
  app.require_subcommand(0, 1);
  for (const char* name : {"sim", "broker", "verify", "shadow", "report", "certs", "version", "help"}) {
    app.add_subcommand(name)->prefix_command()->set_help_flag();
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }
  const std::vector<CLI::App*> picked = app.get_subcommands();
  if (picked.empty()) {
    const std::vector<std::string> unknown = app.remaining();
    if (!unknown.empty()) {
      const std::string& a = unknown.front();
      return UsageError((a.rfind('-', 0) == 0 ? "unknown option '" : "unknown command '") + a + "'");
    }
    if (help) {
      std::cout << kUsage;
      return 0;
    }
    if (version) {
      std::cout << "edgeforge " << edgeforge::kVersion << "\n";
      return 0;
    }
    std::cout << kUsage;
    return 2;
  }
  const std::string cmd = picked.front()->get_name();
  const std::vector<std::string> rest = picked.front()->remaining();
  if (help || version) return UsageError("put " + std::string(help ? "--help" : "--version") + " after the command");
  if (cmd == "sim") return edgeforge::cli::RunSim(rest, std::cout, std::cerr);
  if (cmd == "broker") return edgeforge::cli::RunBroker(rest, std::cout, std::cerr);
  if (cmd == "verify") return edgeforge::cli::RunVerify(rest, std::cout, std::cerr);
  if (cmd == "shadow") return edgeforge::cli::RunShadow(rest, std::cout, std::cerr);
  if (cmd == "report") return edgeforge::cli::RunReport(rest, std::cout, std::cerr);
  if (cmd == "certs") return edgeforge::certs::RunCertsCli(rest, std::cout, std::cerr);
  if (cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (!rest.empty()) return UsageError("version takes no arguments, got '" + rest.front() + "'");
  std::cout << "edgeforge " << edgeforge::kVersion << "\n";
  return 0;
}
