#include <thread>

#include "certs/pki.h"
#include "cli/common/command_line.h"
#include "cli/common/log.h"
#include "cli/common/signals.h"
#include "sim/broker/local_broker.h"
#include "sim/cli/commands.h"
#include "sim/shadow/shadow_service.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge broker [options]

Starts mosquitto on a loopback port with a configuration that mirrors AWS IoT
Core: TLS 1.2+, client certificates required, certificate CN = MQTT username =
thing name, per-thing ACLs (dt/<app>/<site>/<thing>/..., $aws/things/<thing>/
shadow/...) and one ingest identity (edgeforge-ingest) that reads everything.
Beside it runs the device shadow service (identity edgeforge-shadow): IoT
Core's classic shadow on $aws/things/<thing>/shadow/update|get|delete, its
documents kept in <work>/shadows.json (docs/shadow.md). Runs until SIGINT
(Ctrl-C), SIGTERM or SIGHUP (or --duration), then stops both.

options:
  --certs DIR       PKI directory (default ./edgeforge-run/pki); a CA, broker
                    and ingest certificate are created there if missing
  --work DIR        where mosquitto.conf, acl and mosquitto.log go
                    (default ./edgeforge-run/broker)
  --port N          TCP port on 127.0.0.1 (default: a free one)
  --duration D      stop after D, more than 0 (default: run until a signal)
  --mosquitto PATH  the mosquitto binary (default: from PATH or /usr/sbin)
  -h, --help        this text
)";

}  // namespace

int RunBroker(const Argv& args, std::ostream& out, std::ostream& err) {
  CommandLine cl("edgeforge broker");
  sim::BrokerOptions o;
  o.pki_dir = "edgeforge-run/pki";
  o.work_dir = "edgeforge-run/broker";
  std::chrono::milliseconds duration = std::chrono::hours(24 * 365);  // until a signal
  long long port = o.port;
  for (auto [name, field] : {std::pair<const char*, std::string*>{"--certs", &o.pki_dir},
                             {"--work", &o.work_dir},
                             {"--mosquitto", &o.mosquitto}}) {
    cl.String(name, *field);
  }
  cl.Int("--port", 1, 65535, port);
  cl.Duration("--duration", duration, "to run until a signal, omit --duration");
  const Status parsed = cl.Parse(args);
  if (cl.help()) {
    out << kUsage;
    return 0;
  }
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  o.port = static_cast<int>(port);

  if (Status s = certs::EnsurePki(o.pki_dir, {}); !s.ok()) {
    err << "edgeforge broker: " << s.ToString() << "\n";
    return 1;
  }
  InstallStopSignals();
  auto broker = sim::LocalBroker::Start(o);
  if (!broker.ok()) {
    err << "edgeforge broker: " << broker.status().message() << "\n";
    return 1;
  }
  // Events while it runs (the shadow service's connection, mosquitto
  // exiting) go through the log the device uses too (cli/common/log.h): on stderr,
  // with journald priorities when a unit runs it.
  log::Init("edgeforge broker", err, log::Level::kInfo, log::JournaldStream());
  auto shadows = sim::shadow::StartBesideBroker((*broker)->uri(), o.pki_dir, o.work_dir, log::Sink(log::Level::kInfo));
  if (!shadows.ok()) {
    err << "edgeforge broker: " << shadows.status().ToString() << "\n";
    return 1;
  }
  out << "broker: " << (*broker)->uri() << " (mosquitto pid " << (*broker)->pid() << ")\n"
      << "  ca:     " << o.pki_dir << "/ca.crt\n"
      << "  ingest: " << o.pki_dir << "/ingest.crt, " << o.pki_dir << "/ingest.key\n"
      << "  log:    " << (*broker)->log_path() << "\n"
      << "shadow: service running as " << sim::kShadowServiceIdentity << ", documents in "
      << sim::shadow::StorePathIn(o.work_dir) << "\n"
      << "stop with Ctrl-C\n"
      << std::flush;
  const auto until = std::chrono::steady_clock::now() + duration;
  while (!StopRequested() && std::chrono::steady_clock::now() < until) {
    if (!(*broker)->Running()) {
      log::Error("mosquitto exited unexpectedly; log tail:\n" + (*broker)->LogTail());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (Status saved = (*shadows)->Stop(); !saved.ok()) log::Warn(saved.ToString());
  Status s = (*broker)->Stop();
  out << "broker: stopped" << (s.ok() ? "" : " (" + s.message() + ")") << "\n";
  return s.ok() ? 0 : 1;
}

}  // namespace edgeforge::cli
