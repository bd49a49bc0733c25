#include "cli/certs_cli.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "certs/aws_provisioning.h"
#include "certs/crl.h"
#include "certs/iot_policy.h"
#include "certs/pki.h"
#include "cli/common/command_line.h"
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
    "  policy   write the per-thing AWS IoT policy (least privilege, policy variables)\n"
    "  lint-policy FILE\n"
    "           refuse what a device policy must not grant\n"
    "  sign-csr issue a device certificate for a CSR made on the device\n"
    "  revoke   add a device certificate to the CA's CRL (DIR/crl.pem)\n"
    "  aws      write what an AWS account needs to take this CA's fleet (policy,\n"
    "           CA registration, just-in-time and bulk provisioning)\n"
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

constexpr char kPolicyUsage[] =
    "usage: edgeforge certs policy [--region R] [--account ID] [--out FILE]\n"
    "\n"
    "Writes the AWS IoT policy to attach to every device certificate: connect as\n"
    "its own thing (client id = thing name, thing attached), publish its own\n"
    "dt/<app>/<site>/<thing>/{telemetry,alarm,status} and shadow update/get,\n"
    "subscribe to and receive its own shadow answers and delta. The local broker's\n"
    "ACL is rendered from the same grants (docs/security.md).\n"
    "  --region R    AWS region of the resources (default us-east-1)\n"
    "  --account ID  12-digit AWS account id (default 123456789012, an example)\n"
    "  --out FILE    write FILE instead of standard output ('-' = standard output)\n";

constexpr char kLintPolicyUsage[] =
    "usage: edgeforge certs lint-policy FILE\n"
    "\n"
    "Checks an AWS IoT policy meant for devices and prints one line per finding:\n"
    "wildcard actions (iot:*), wildcard resources, topic or client resources\n"
    "without ${iot:Connection.Thing.ThingName}, iot:Connect without the\n"
    "iot:Connection.Thing.IsAttached condition, publish rights on the device's own\n"
    "shadow update/delta. Exit 0 when clean, 1 with findings, 2 on a usage error.\n";

constexpr char kSignCsrUsage[] =
    "usage: edgeforge certs sign-csr --dir DIR --csr FILE [--out FILE]\n"
    "\n"
    "Issues a device certificate for a PKCS#10 request made on the device\n"
    "(`edgeforge-device --thing NAME --csr`: the key never leaves it), signed by\n"
    "DIR's CA with the profile of `certs devices` (CN = thing, clientAuth, 825\n"
    "days). The request must verify with its own key, be EC P-256 and name a\n"
    "valid thing as its CN.\n"
    "  --csr FILE    the request (PEM)\n"
    "  --out FILE    write the certificate to FILE (default: standard output)\n";

constexpr char kAwsUsage[] =
    "usage: edgeforge certs aws --dir DIR --out OUT [--region R] [--account ID]\n"
    "                           [--registration-code CODE] [--jitp-role NAME]\n"
    "\n"
    "Writes, for DIR's CA and devices (docs/aws-iot.md has the aws CLI calls):\n"
    "  OUT/policy.json                    the per-thing IoT policy (`certs policy`)\n"
    "  OUT/ca.crt                         for aws iot register-ca-certificate\n"
    "  OUT/verification.crt, .key         CN = CODE, signed by the CA (with\n"
    "                                     --registration-code, from aws iot\n"
    "                                     get-registration-code)\n"
    "  OUT/jitp-registration-config.json  just-in-time provisioning template\n"
    "  OUT/bulk-template.json             bulk registration template\n"
    "  OUT/bulk-things.jsonl              one line per device: ThingName, CertificatePem\n"
    "  --region R, --account ID  as for `certs policy`\n"
    "  --jitp-role NAME  IAM role IoT Core assumes for JITP (default edgeforge-jitp)\n";

constexpr char kRevokeUsage[] =
    "usage: edgeforge certs revoke --dir DIR (--thing NAME | --cert FILE) [--days N]\n"
    "\n"
    "Adds the certificate (DIR/devices/NAME/device.crt, or FILE; issued by DIR's\n"
    "CA) to DIR/crl.pem, an X.509 v2 CRL signed by the CA, valid for N days\n"
    "(default 30). The local broker loads DIR/crl.pem when it starts and refuses\n"
    "revoked certificates at the TLS handshake (IoT Core: aws iot\n"
    "update-certificate --new-status REVOKED).\n";

struct Command {
  const char* name;
  const char* usage;
  std::vector<std::string> flags;  // every flag takes a value
  bool needs_dir = true;
  const char* positional = nullptr;  // one required argument before the flags, e.g. "FILE"
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

int UsageFailure(std::ostream& err, const std::string& where, const std::string& message);

// Writes `text` to --out (a file, atomically) or to `out` ("-" or no --out).
int WriteOutput(const Flags& flags, const std::string& text, std::ostream& out, std::ostream& err) {
  const auto file = flags.find("--out");
  if (file == flags.end() || file->second == "-") {
    out << text;
    return kExitOk;
  }
  Status st = fs::WriteFileAtomically(file->second, text, 0644);
  if (!st.ok()) return Fail(err, st);
  out << "wrote " << file->second << "\n";
  return kExitOk;
}

Result<PolicyTarget> TargetFrom(const Flags& flags) {
  PolicyTarget t;
  if (auto r = flags.find("--region"); r != flags.end()) t.region = r->second;
  if (auto a = flags.find("--account"); a != flags.end()) t.account = a->second;
  EF_RETURN_IF_ERROR(ValidatePolicyTarget(t));
  return t;
}

int RunPolicy(const Flags& flags, std::ostream& out, std::ostream& err) {
  auto target = TargetFrom(flags);
  if (!target.ok()) return UsageFailure(err, "edgeforge certs policy", target.status().message());
  return WriteOutput(flags, RenderIotPolicy(*target), out, err);
}

int RunLintPolicy(const std::string& file, std::ostream& out, std::ostream& err) {
  auto text = fs::ReadFileToString(file);
  if (!text.ok()) return Fail(err, text.status());
  const std::vector<std::string> findings = LintIotPolicy(*text);
  for (const std::string& f : findings) err << file << ": " << f << "\n";
  if (!findings.empty()) {
    err << file << ": " << findings.size() << (findings.size() == 1 ? " finding" : " findings") << "\n";
    return kExitFailure;
  }
  out << file << ": clean\n";
  return kExitOk;
}

int RunSignCsr(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (flags.count("--csr") == 0) return UsageFailure(err, "edgeforge certs sign-csr", "--csr FILE is required");
  const std::string& file = flags.at("--csr");
  auto csr = fs::ReadFileToString(file);
  if (!csr.ok()) return Fail(err, csr.status());
  auto cert = SignCsr(flags.at("--dir"), *csr, file);
  if (!cert.ok()) return Fail(err, cert.status());
  return WriteOutput(flags, *cert, out, err);
}

int RunAws(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (flags.count("--out") == 0) return UsageFailure(err, "edgeforge certs aws", "--out OUT is required");
  auto target = TargetFrom(flags);
  if (!target.ok()) return UsageFailure(err, "edgeforge certs aws", target.status().message());
  AwsProvisioningOptions o;
  o.pki_dir = flags.at("--dir");
  o.out_dir = flags.at("--out");
  o.target = *target;
  if (auto c = flags.find("--registration-code"); c != flags.end()) o.registration_code = c->second;
  if (auto r = flags.find("--jitp-role"); r != flags.end()) o.jitp_role = r->second;
  auto written = WriteAwsProvisioning(o);
  if (!written.ok()) return Fail(err, written.status());
  for (const std::string& f : *written) out << "wrote " << f << "\n";
  return kExitOk;
}

int RunRevoke(const Flags& flags, std::ostream& out, std::ostream& err) {
  const char* where = "edgeforge certs revoke";
  const bool by_thing = flags.count("--thing") != 0;
  if (by_thing == (flags.count("--cert") != 0)) return UsageFailure(err, where, "give exactly one of --thing or --cert");
  long days = 30;
  if (flags.count("--days") != 0 && !ParsePositive(flags.at("--days"), 3650, days)) {
    return UsageFailure(err, where, "--days must be an integer in 1..3650, got '" + flags.at("--days") + "'");
  }
  const std::string& dir = flags.at("--dir");
  const std::string cert = by_thing ? PathsFor(dir, flags.at("--thing")).cert : flags.at("--cert");
  auto serial = RevokeCertificate(dir, cert, static_cast<int>(days));
  if (!serial.ok()) return Fail(err, serial.status());
  out << "revoked " << cert << " (serial " << *serial << "); wrote " << dir << "/crl.pem\n";
  return kExitOk;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"init", kInitUsage, {"--dir"}},
      {"devices", kDevicesUsage, {"--dir", "--count", "--prefix", "--names", "--threads"}},
      {"jwks", kJwksUsage, {"--dir", "--out"}},
      {"policy", kPolicyUsage, {"--region", "--account", "--out"}, false},
      {"lint-policy", kLintPolicyUsage, {}, false, "FILE"},
      {"sign-csr", kSignCsrUsage, {"--dir", "--csr", "--out"}},
      {"revoke", kRevokeUsage, {"--dir", "--thing", "--cert", "--days"}},
      {"aws", kAwsUsage, {"--dir", "--out", "--region", "--account", "--registration-code", "--jitp-role"}},
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
  if (name == "policy") return RunPolicy(flags, out, err);
  if (name == "sign-csr") return RunSignCsr(flags, out, err);
  if (name == "aws") return RunAws(flags, out, err);
  if (name == "revoke") return RunRevoke(flags, out, err);
  if (name == "lint-policy") return RunLintPolicy(flags.at(cmd.positional), out, err);
  if (name == "jwks") return RunJwks(flags, out, err);
  std::vector<std::string> names;
  int threads = 0;
  UsageError error;
  if (!DeviceNames(flags, names, error) || !Threads(flags, threads, error)) {
    return UsageFailure(err, "edgeforge certs devices", error.message);
  }
  return RunDevices(names, threads, flags.at("--dir"), out, err);
}

int RunCommand(const Command& cmd, std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  const std::string where = std::string("edgeforge certs ") + cmd.name;
  cli::CommandLine cl(where);
  Flags flags;
  std::string positional;
  if (cmd.positional != nullptr && args.size() > 1 && args[1].rfind("-", 0) != 0) {
    positional = args[1];
    args.erase(args.begin() + 1);
  }
  const Status parsed = ParseFlags(cl, cmd, args, flags);
  if (cl.help()) {
    out << cmd.usage;
    return kExitOk;
  }
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  if (cmd.positional != nullptr) {
    if (positional.empty()) return UsageFailure(err, where, std::string(cmd.positional) + " is required");
    flags[cmd.positional] = positional;
  }
  if (cmd.needs_dir && flags.count("--dir") == 0) return UsageFailure(err, where, "--dir DIR is required");
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
