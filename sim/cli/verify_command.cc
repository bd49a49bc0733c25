#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/common/command_line.h"
#include "cli/common/signals.h"
#include "firmware/link/paho/paho_session.h"
#include "sim/broker/local_broker.h"
#include "sim/cli/commands.h"
#include "sim/verify/capture.h"
#include "sim/verify/live_ingest.h"
#include "sim/verify/verifier.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge verify [options]

Verifies signed telemetry: every message's detached JWS (ES256, RFC 7797)
against the fleet's JWK set over the exact received bytes, that "dev" equals
the topic's thing and the signing key's thing, and "seq" per device and boot:
lost (gaps), duplicates (byte-identical, accepted), conflicts (same seq,
different bytes), invalid (bad signature, unknown, revoked or retired kid,
alg not ES256, ...: one reason class each, docs/telemetry.md). Keys a device
announces when it rotates its signing key are learned from its authentic
messages and listed in the report.

sources (one of):
  --capture FILE    JSON lines: {"topic":..., "payload":..., "jws":...}
  --broker URI      subscribe live as the ingest identity (ssl://host:port
                    or mqtts://host:port)
options:
  --certs DIR       PKI directory: ca.crt, ingest.crt/key, jwks.json
                    (default ./edgeforge-run/pki)
  --jwks FILE       JWK set (default <certs>/jwks.json)
  --revoked FILE    revocation list: kids refused whatever they sign
                    (docs/telemetry.md "Revoked keys"; default
                    <certs>/revoked.json when it exists)
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
  std::string capture, broker, certs = "edgeforge-run/pki", jwks, revoked, app = "edgeforge", save;
  std::chrono::milliseconds duration{0};
  long long count = 0;
  jws::Backend backend = jws::Backend::kOpenSsl;
};

void Declare(CommandLine& cl, VerifyOptions& o, std::string& backend) {
  for (auto [name, field] : {std::pair<const char*, std::string*>{"--capture", &o.capture},
                             {"--certs", &o.certs},
                             {"--jwks", &o.jwks},
                             {"--revoked", &o.revoked},
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
  size_t messages = 0;
  EF_RETURN_IF_ERROR(sim::ForEachCaptureLine(o.capture, [&](size_t lineno, std::string_view line) -> Status {
    if (line.empty()) return Status::Ok();
    const std::string where = o.capture + ":" + std::to_string(lineno);
    auto rec = sim::ParseCaptureLine(line);
    if (!rec.ok()) return rec.status().WithContext(where);
    ++messages;
    const auto c = v.Check(rec->topic, rec->payload, rec->jws ? &*rec->jws : nullptr);
    if (c.verdict == sim::Verdict::kInvalid || c.verdict == sim::Verdict::kConflict) {
      err << where << ": " << sim::VerdictName(c.verdict) << ": " << c.why << "\n";
    }
    return Status::Ok();
  }));
  if (messages == 0) v.NoteFailure("capture " + o.capture + " is empty: it holds no message");
  return Status::Ok();
}

Status VerifyLive(const VerifyOptions& o, sim::TelemetryVerifier& v, std::ostream& out) {
  std::unique_ptr<sim::CaptureWriter> save;
  if (!o.save.empty()) {
    auto w = sim::CaptureWriter::Open(o.save);
    if (!w.ok()) return w.status();
    save = std::move(*w);
  }
  std::atomic<long long> seen{0};
  std::atomic<bool> save_failed{false};
  std::mutex out_mu;
  sim::LiveIngestOptions c;
  c.broker_uri = o.broker;
  c.pki_dir = o.certs;
  // One id for this verifier's life: the broker keeps its session by it.
  c.client_id = std::string(sim::kIngestIdentity) + "-verify-" + std::to_string(::getpid());
  c.filter = "dt/" + o.app + "/+/+/+";
  c.log = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(out_mu);
    out << line << "\n" << std::flush;
  };
  auto ingest = sim::LiveIngest::Start(
      c,
      [&](const link::IncomingMessage& m) {
        const std::string* jws_value = m.UserProperty("jws");
        v.Check(m.topic, m.payload, jws_value);
        if (save) {
          if (Status s = save->Append(sim::CaptureLine(m.topic, m.payload, jws_value)); !s.ok()) {
            if (!save_failed.exchange(true)) v.NoteFailure(s.ToString() + ": the capture is incomplete");
          }
        }
        ++seen;
      },
      v);
  if (!ingest.ok()) return ingest.status();
  {
    std::lock_guard<std::mutex> lock(out_mu);
    out << "verify: subscribed to " << c.filter << " at " << o.broker << " (persistent session " << c.client_id << ")\n"
        << std::flush;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto until =
      start + (o.duration.count() ? o.duration : std::chrono::milliseconds(std::chrono::hours(24 * 365)));
  while (!StopRequested() && std::chrono::steady_clock::now() < until && (o.count == 0 || seen < o.count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  Status stopped = (*ingest)->Stop(std::chrono::milliseconds(2000));
  if (seen == 0) {
    std::ostringstream why;
    why << "nothing arrived in " << std::fixed << std::setprecision(1) << std::chrono::duration<double>(waited).count()
        << " s on " << c.filter << " at " << o.broker;
    v.NoteFailure(why.str());
  }
  return stopped;
}

/// --revoked FILE, or <certs>/revoked.json when it exists: a revocation that
/// is given but cannot be read must stop the run, never be skipped.
Result<std::vector<jws::RevokedKey>> LoadRevocations(const VerifyOptions& o) {
  const std::string path = o.revoked.empty() ? o.certs + "/revoked.json" : o.revoked;
  std::ifstream in(path);
  if (!in) {
    if (o.revoked.empty()) return std::vector<jws::RevokedKey>{};
    return NotFound("cannot read revocation list " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto list = jws::RevocationListFromJson(text.str());
  if (!list.ok()) return InvalidArgument(path + ": " + list.status().message());
  return list;
}

void PrintVerifyReport(const sim::VerifyReport& r, std::ostream& out) {
  out << "received " << r.received << ", verified " << r.verified << " (devices " << r.devices << "), lost " << r.lost
      << ", duplicated " << r.duplicates << ", invalid " << r.invalid << ", conflicts " << r.conflicts << "\n";
  if (r.tail_lost > 0) out << "  lost at the tail of a boot: " << r.tail_lost << "\n";
  if (r.device_reported_lost > 0) out << "  reported undeliverable by the devices: " << r.device_reported_lost << "\n";
  if (r.disconnects > 0) {
    out << "  verifier disconnected " << r.disconnects << " time(s), " << std::fixed << std::setprecision(2)
        << r.disconnected_s << " s in total (reconnected with its persistent session)\n";
  }
  for (const auto& [what, n] : r.alarms) out << "  alarm: " << what << " x" << n << "\n";
  if (r.status_messages > 0) out << "  last-will status notices: " << r.status_messages << "\n";
  for (const auto& [reason, n] : r.invalid_reasons) out << "  invalid: " << reason << " x" << n << "\n";
  if (r.keys_learned > 0 || r.keys_retired > 0) {
    out << "  signing keys: " << r.keys_learned << " learned from rotation announcements, " << r.keys_retired
        << " retired\n";
  }
  for (const auto& e : r.key_events) out << "  key: " << e << "\n";
  for (const auto& e : r.examples) out << "  " << e << "\n";
  for (const auto& w : r.FailureReasons()) out << "  FAIL: " << w << "\n";
  out << "result: " << (r.Passed() ? "PASS" : "FAIL") << "\n";
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
  auto revoked = LoadRevocations(o);
  if (!revoked.ok()) {
    err << "edgeforge verify: " << revoked.status().message() << "\n";
    return 1;
  }
  sim::TelemetryVerifier v(std::move(*keys), o.backend, std::move(*revoked));
  InstallStopSignals();
  Status s = o.capture.empty() ? VerifyLive(o, v, out) : VerifyCapture(o, v, err);
  if (!s.ok()) {
    err << "edgeforge verify: " << s.ToString() << "\n";
    return 1;
  }
  const auto report = v.Report();
  PrintVerifyReport(report, out);
  return report.Passed() ? 0 : 1;
}

}  // namespace edgeforge::cli
