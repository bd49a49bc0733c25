#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/command_line.h"
#include "cli/signals.h"
#include "firmware/link/paho_session.h"
#include "sim/broker/local_broker.h"
#include "sim/cli/commands.h"
#include "sim/verify/verifier.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge verify [options]

Verifies signed telemetry: every message's detached JWS (ES256, RFC 7797)
against the fleet's JWK set over the exact received bytes, that "dev" equals
the topic's thing and the signing key's thing, and "seq" per device and boot:
lost (gaps), duplicates (byte-identical, accepted), conflicts (same seq,
different bytes), invalid (bad signature, unknown kid, wrong alg, ...).

sources (one of):
  --capture FILE    JSON lines: {"topic":..., "payload":..., "jws":...}
  --broker URI      subscribe live as the ingest identity (ssl://host:port
                    or mqtts://host:port)
options:
  --certs DIR       PKI directory: ca.crt, ingest.crt/key, jwks.json
                    (default ./edgeforge-run/pki)
  --jwks FILE       JWK set (default <certs>/jwks.json)
  --app NAME        subscribe to dt/<app>/+/+/+ (default edgeforge)
  --duration D      live: stop after D, more than 0 (default: until SIGINT,
                    SIGTERM or SIGHUP; each ends the run with the report)
  --count N         live: stop after N messages
  --save FILE       live: also write what arrives as a JSON-lines capture
  --backend B       openssl (default) or mbedtls
  -h, --help        this text

exit status: 0 if nothing was lost, invalid or conflicting; 1 otherwise;
2 for a usage error.
)";

struct VerifyOptions {
  std::string capture, broker, certs = "edgeforge-run/pki", jwks, app = "edgeforge", save;
  std::chrono::milliseconds duration{0};
  long long count = 0;
  jws::Backend backend = jws::Backend::kOpenSsl;
};

void Declare(CommandLine& cl, VerifyOptions& o, std::string& backend) {
  for (auto [name, field] : {std::pair<const char*, std::string*>{"--capture", &o.capture},
                             {"--certs", &o.certs},
                             {"--jwks", &o.jwks},
                             {"--app", &o.app},
                             {"--save", &o.save}}) {
    cl.String(name, *field);
  }
  backend = jws::BackendName(o.backend);
  cl.BrokerUri("--broker", o.broker);
  cl.Duration("--duration", o.duration, "to run until a signal, omit --duration");
  cl.Int("--count", 1, 1LL << 40, o.count);
  cl.String("--backend", backend);
}

/// What the options must say together (each alone was checked while parsing).
Status ParseOptions(const std::string& backend, VerifyOptions& o) {
  auto parsed = jws::ParseBackend(backend);
  if (!parsed.ok()) return parsed.status().WithContext("--backend");
  o.backend = *parsed;
  if (o.capture.empty() == o.broker.empty()) return InvalidArgument("give exactly one of --capture or --broker");
  if (!o.capture.empty() && (o.count || o.duration.count() || !o.save.empty())) {
    return InvalidArgument("--count, --duration and --save apply to --broker only");
  }
  if (o.jwks.empty()) o.jwks = o.certs + "/jwks.json";
  return Status::Ok();
}

Status VerifyCapture(const VerifyOptions& o, sim::TelemetryVerifier& v, std::ostream& err) {
  std::ifstream in(o.capture);
  if (!in) return NotFound("cannot read capture " + o.capture);
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    const std::string where = o.capture + ":" + std::to_string(lineno);
    if (!j.is_object() || !j.contains("topic") || !j["topic"].is_string() || !j.contains("payload") ||
        !j["payload"].is_string() || (j.contains("jws") && !j["jws"].is_string())) {
      return InvalidArgument(where + ": want {\"topic\":string,\"payload\":string[,\"jws\":string]}");
    }
    std::string jws_value = j.value("jws", "");
    const auto c = v.Check(j["topic"].get<std::string>(), j["payload"].get<std::string>(),
                           j.contains("jws") ? &jws_value : nullptr);
    if (c.verdict == sim::Verdict::kInvalid || c.verdict == sim::Verdict::kConflict) {
      err << where << ": " << sim::VerdictName(c.verdict) << ": " << c.why << "\n";
    }
  }
  return Status::Ok();
}

Status VerifyLive(const VerifyOptions& o, sim::TelemetryVerifier& v, std::ostream& out) {
  std::ofstream save;
  if (!o.save.empty()) {
    save.open(o.save, std::ios::trunc);
    if (!save) return PermissionDenied("cannot write " + o.save);
  }
  link::SessionConfig c;
  c.server_uri = o.broker;
  c.client_id = std::string(sim::kIngestIdentity) + "-verify-" + std::to_string(::getpid());
  c.tls = {o.certs + "/ca.crt", o.certs + "/ingest.crt", o.certs + "/ingest.key"};
  auto session = link::MakePahoSession(c);
  if (!session.ok()) return session.status();
  EF_RETURN_IF_ERROR((*session)->Connect());
  std::mutex mu;
  std::atomic<long long> seen{0};
  EF_RETURN_IF_ERROR((*session)->Subscribe("dt/" + o.app + "/+/+/+", 1, [&](const link::IncomingMessage& m) {
    const std::string* jws_value = m.UserProperty("jws");
    v.Check(m.topic, m.payload, jws_value);
    if (save.is_open()) {
      nlohmann::json j = {{"topic", m.topic}, {"payload", m.payload}};
      if (jws_value) j["jws"] = *jws_value;
      std::lock_guard<std::mutex> lock(mu);
      save << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    ++seen;
  }));
  out << "verify: subscribed to dt/" << o.app << "/+/+/+ at " << o.broker << "\n" << std::flush;
  const auto until = std::chrono::steady_clock::now() +
                     (o.duration.count() ? o.duration : std::chrono::milliseconds(std::chrono::hours(24 * 365)));
  while (!StopRequested() && std::chrono::steady_clock::now() < until && (o.count == 0 || seen < o.count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return (*session)->Disconnect(std::chrono::milliseconds(2000));
}

void PrintVerifyReport(const sim::VerifyReport& r, std::ostream& out) {
  out << "received " << r.received << ", verified " << r.verified << " (devices " << r.devices << "), lost " << r.lost
      << ", duplicated " << r.duplicates << ", invalid " << r.invalid << ", conflicts " << r.conflicts << "\n";
  for (const auto& [what, n] : r.alarms) out << "  alarm: " << what << " x" << n << "\n";
  if (r.status_messages > 0) out << "  last-will status notices: " << r.status_messages << "\n";
  for (const auto& [reason, n] : r.invalid_reasons) out << "  invalid: " << reason << " x" << n << "\n";
  for (const auto& e : r.examples) out << "  " << e << "\n";
  out << "result: " << (r.Clean() ? "PASS" : "FAIL") << "\n";
}

}  // namespace

int RunVerify(const Argv& args, std::ostream& out, std::ostream& err) {
  CommandLine cl("edgeforge verify");
  VerifyOptions o;
  std::string backend;
  Declare(cl, o, backend);
  Status parsed = cl.Parse(args);
  if (cl.help()) {
    out << kUsage;
    return 0;
  }
  if (parsed.ok()) parsed = ParseOptions(backend, o);
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  std::ifstream jf(o.jwks);
  if (!jf) {
    err << "edgeforge verify: cannot read JWK set " << o.jwks << "\n";
    return 1;
  }
  std::stringstream ss;
  ss << jf.rdbuf();
  auto keys = jws::JwkSetFromJson(ss.str());
  if (!keys.ok()) {
    err << "edgeforge verify: " << o.jwks << ": " << keys.status().message() << "\n";
    return 1;
  }
  sim::TelemetryVerifier v(std::move(*keys), o.backend);
  InstallStopSignals();
  Status s = o.capture.empty() ? VerifyLive(o, v, out) : VerifyCapture(o, v, err);
  if (!s.ok()) {
    err << "edgeforge verify: " << s.ToString() << "\n";
    return 1;
  }
  const auto report = v.Report();
  PrintVerifyReport(report, out);
  return report.Clean() ? 0 : 1;
}

}  // namespace edgeforge::cli
