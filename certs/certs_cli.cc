#include "certs/certs_cli.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "certs/pki.h"
#include "cli/command_line.h"
#include "hal/linux/fs.h"
#include "hal/status.h"

namespace edgeforge::certs {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr long kMaxCount = 1000000;

constexpr char kUsage[] =
    "usage: edgeforge certs <command> [flags]\n"
    "\n"
    "Dev PKI for the broker, the ingest identity and simulated devices (mbedTLS).\n"
    "\n"
    "commands:\n"
    "  init     create the root CA, broker and ingest certificates\n"
    "  devices  create missing device identities and rewrite jwks.json\n"
    "  jwks     write the JWK set of every device signing key\n"
    "\n"
    "Run 'edgeforge certs <command> --help' for the flags of a command.\n";

constexpr char kInitUsage[] =
    "usage: edgeforge certs init --dir DIR\n"
    "\n"
    "Creates DIR (if missing) with ca.crt/ca.key (EC P-256 root, 10 years),\n"
    "broker.crt/.key (CN edgeforge-broker, SAN localhost, 127.0.0.1, ::1) and\n"
    "ingest.crt/.key (CN edgeforge-ingest). Refuses to run if DIR has a CA.\n";

constexpr char kDevicesUsage[] =
    "usage: edgeforge certs devices --dir DIR (--count N [--prefix P] | --names A,B,...)\n"
    "                               [--threads T]\n"
    "\n"
    "Creates DIR/devices/<thing>/{device.crt,device.key,sign.key} for every thing\n"
    "that lacks them, signed by DIR's CA, then rewrites DIR/jwks.json.\n"
    "  --count N     things P00000 .. P<N-1>, zero-padded to 5 digits\n"
    "  --prefix P    name prefix for --count (default \"edge-\")\n"
    "  --names LIST  comma-separated thing names (AWS IoT rules: [a-zA-Z0-9:_-], <= 128)\n"
    "  --threads T   worker threads (default: number of CPUs)\n";

constexpr char kJwksUsage[] =
    "usage: edgeforge certs jwks --dir DIR [--out FILE]\n"
    "\n"
    "Writes the JWK set (RFC 7517) of every DIR/devices/*/sign.key, kid = RFC 7638\n"
    "thumbprint, to DIR/jwks.json or FILE ('-' = standard output).\n";

struct Command {
  const char* name;
  const char* usage;
  std::vector<std::string> flags;  // every flag takes a value
};

using Flags = std::map<std::string, std::string>;

struct UsageError {
  std::string message;
};

// Parses "--flag VALUE" and "--flag=VALUE" (args[0] is the command name);
// only the flags given end up in `flags`.
Status ParseFlags(cli::CommandLine& cl, const Command& cmd, const std::vector<std::string>& args, Flags& flags) {
  Flags values;
  for (const std::string& f : cmd.flags) cl.String(f, values[f]);
  EF_RETURN_IF_ERROR(cl.Parse(std::vector<std::string>(args.begin() + 1, args.end())));
  for (const std::string& f : cmd.flags) {
    if (cl.Given(f)) flags[f] = values[f];
  }
  return Status::Ok();
}

bool ParsePositive(const std::string& text, long max, long& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && value >= 1 && value <= max;
}

std::vector<std::string> SplitCommas(const std::string& list) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    parts.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

int Fail(std::ostream& err, const Status& st) {
  err << "edgeforge certs: " << st.message() << "\n";
  return kExitFailure;
}

int RunInit(const Flags& flags, std::ostream& out, std::ostream& err) {
  const std::string& dir = flags.at("--dir");
  Status st = CreateCa(dir);
  if (st.ok()) st = CreateBrokerCert(dir);
  if (st.ok()) st = CreateClientCert(dir, kIngestCommonName, "ingest");
  if (!st.ok()) return Fail(err, st);
  out << "wrote " << dir << "/ca.crt, " << dir << "/broker.crt, " << dir
      << "/ingest.crt (keys alongside, mode 0600)\n";
  return kExitOk;
}

// Resolves --count/--prefix/--names into thing names; false on a usage error.
bool DeviceNames(const Flags& flags, std::vector<std::string>& names, UsageError& error) {
  const bool by_count = flags.count("--count") != 0;
  if (by_count == (flags.count("--names") != 0)) {
    error.message = "give exactly one of --count N or --names LIST";
    return false;
  }
  if (!by_count) {
    if (flags.count("--prefix") != 0) error.message = "--prefix only goes with --count";
    names = SplitCommas(flags.at("--names"));
    return error.message.empty();
  }
  long count = 0;
  if (!ParsePositive(flags.at("--count"), kMaxCount, count)) {
    error.message = "--count must be an integer in 1.." + std::to_string(kMaxCount) + ", got '" +
                    flags.at("--count") + "'";
    return false;
  }
  const std::string prefix = flags.count("--prefix") != 0 ? flags.at("--prefix") : "edge-";
  names = FleetDeviceNames(prefix, static_cast<int>(count));
  return true;
}

bool Threads(const Flags& flags, int& threads, UsageError& error) {
  threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (flags.count("--threads") == 0) return true;
  long value = 0;
  if (!ParsePositive(flags.at("--threads"), 256, value)) {
    error.message = "--threads must be an integer in 1..256, got '" + flags.at("--threads") + "'";
    return false;
  }
  threads = static_cast<int>(value);
  return true;
}

int RunDevices(const std::vector<std::string>& names, int threads, const std::string& dir,
               std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  Result<int> created = CreateDevices(dir, names, threads);
  if (!created.ok()) return Fail(err, created.status());
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  char line[128];
  std::snprintf(line, sizeof line, "created %d of %zu devices in %.2f s\n", *created, names.size(),
                took.count());
  out << line;
  Status st = WriteJwks(dir);
  if (!st.ok()) return Fail(err, st);
  out << "wrote " << dir << "/jwks.json\n";
  return kExitOk;
}

int RunJwks(const Flags& flags, std::ostream& out, std::ostream& err) {
  const std::string& dir = flags.at("--dir");
  if (flags.count("--out") == 0) {
    Status st = WriteJwks(dir);
    if (!st.ok()) return Fail(err, st);
    out << "wrote " << dir << "/jwks.json\n";
    return kExitOk;
  }
  Result<std::string> json = JwksJson(dir);
  if (!json.ok()) return Fail(err, json.status());
  const std::string& text = *json;
  const std::string& file = flags.at("--out");
  if (file == "-") {
    out << text;
    return kExitOk;
  }
  Status st = fs::WriteFileAtomically(file, text, 0644);
  if (!st.ok()) return Fail(err, st);
  out << "wrote " << file << "\n";
  return kExitOk;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"init", kInitUsage, {"--dir"}},
      {"devices", kDevicesUsage, {"--dir", "--count", "--prefix", "--names", "--threads"}},
      {"jwks", kJwksUsage, {"--dir", "--out"}},
  };
  return kCommands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int UsageFailure(std::ostream& err, const std::string& where, const std::string& message) {
  err << where << ": " << message << "\n(see " << where << " --help)\n";
  return kExitUsage;
}

int Dispatch(const Command& cmd, const Flags& flags, std::ostream& out, std::ostream& err) {
  const std::string name = cmd.name;
  if (name == "init") return RunInit(flags, out, err);
  if (name == "jwks") return RunJwks(flags, out, err);
  std::vector<std::string> names;
  int threads = 0;
  UsageError error;
  if (!DeviceNames(flags, names, error) || !Threads(flags, threads, error)) {
    return UsageFailure(err, "edgeforge certs devices", error.message);
  }
  return RunDevices(names, threads, flags.at("--dir"), out, err);
}

int RunCommand(const Command& cmd, const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err) {
  const std::string where = std::string("edgeforge certs ") + cmd.name;
  cli::CommandLine cl(where);
  Flags flags;
  const Status parsed = ParseFlags(cl, cmd, args, flags);
  if (cl.help()) {
    out << cmd.usage;
    return kExitOk;
  }
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  if (flags.count("--dir") == 0) return UsageFailure(err, where, "--dir DIR is required");
  return Dispatch(cmd, flags, out, err);
}

}  // namespace

int RunCertsCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "edgeforge certs: missing command\n" << kUsage;
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    const Command* cmd = args.size() > 1 ? FindCommand(args[1]) : nullptr;
    out << (cmd != nullptr ? cmd->usage : kUsage);
    return kExitOk;
  }
  const Command* cmd = FindCommand(first);
  if (cmd == nullptr) {
    return UsageFailure(err, "edgeforge certs", "unknown command '" + first + "'");
  }
  return RunCommand(*cmd, args, out, err);
}

}  // namespace edgeforge::certs
