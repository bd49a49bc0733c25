#include "cli/device_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iomanip>
#include <memory>
#include <mutex>
#include <thread>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "cli/common/command_line.h"
#include "cli/device_file.h"
#include "cli/common/log.h"
#include "cli/common/signals.h"
#include "edgeforge/version.h"
#include "firmware/app/device.h"
#include "firmware/linux/device_stack.h"
#include "firmware/linux/linux_buses.h"
#include "firmware/app/node.h"
#include "firmware/board/builtin.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/jws.h"
#include "hal/linux/fs.h"
#include "hal/linux/linux_entropy.h"
#include "hal/storage.h"
#include "sim/node/sim_buses.h"
#include "sim/node/sim_world.h"

namespace edgeforge::cli {
namespace {

/// Ends the device loop's sleep when the session queued something (PUBACKs,
/// a shadow delta): Link::Poll() then applies it at once instead of after the
/// rest of a report period. Set() runs on a Paho thread and only signals.
class LoopWaker {
 public:
  void Set() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
    }
    cv_.notify_one();
  }
  /// Sleeps up to `d` (real time) or until Set() was called since the last wait.
  void WaitFor(Micros d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [this] { return pending_; });
    pending_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

constexpr const char* kUsage = R"(usage: edgeforge-device --board B --thing NAME --broker URI --certs DIR [options]
       edgeforge-device --config /etc/edgeforge/device.json [options]
       edgeforge-device --board B --check [--sim-sensors]
       edgeforge-device --config F --check
       edgeforge-device --thing NAME (--certs DIR | --key F) --csr

The edge firmware. Builds its sensors from a board file, samples each on its
board period, and publishes ES256-signed telemetry windows and threshold
alarms to AWS IoT Core (or a broker like it) over MQTT 5 with mutual TLS.

options:
  --config F         read the settings from the JSON config file F
                     (docs/device-config.md: thing, broker, certs or identity,
                     board, state_dir, queue_bytes, sync, log_level, ...); an
                     option given here wins over the file. A file that group
                     or others may write is refused.
  --board B          board file, or a built-in board (factory-node, traffic-node)
  --thing NAME       thing name: MQTT client id, certificate CN, telemetry "dev"
  --broker URI       ssl://host:8883 or mqtts://host:8883 (IoT Core: your
                     account's ATS endpoint)
  --certs DIR        identity as 'edgeforge certs' lays it out: DIR/ca.crt and
                     DIR/devices/<thing>/{device.crt,device.key,sign.key}
  --ca F, --cert F, --key F, --sign-key F
                     override one file of that layout
  --state DIR        durable state: sequence counters (default
                     ./edgeforge-state/<thing>)
  --app NAME         topics dt/<app>/<site>/<thing>/{telemetry,alarm}
                     (default edgeforge)
  --site NAME        (default site-1)
  --signer B         mbedtls (default: the firmware path) or openssl
  --queue-bytes N    durable outbox bound in bytes (default 8388608); when
                     full, oldest telemetry is dropped first, never an alarm
                     while telemetry remains; drops are counted and reported
  --sync P           outbox durability: always (fdatasync per message: survives
                     power loss; default), batch (group commit every 200 ms:
                     a power cut loses at most that window) or never (survives
                     kill -9, not power loss)
  --log-level L      error, warn, info (default) or debug (a line per
                     published window); under systemd each line carries its
                     journald priority
  --duration D       stop after D, more than 0 (30, 30s, 500ms, 2m, 1h);
                     without it the device runs until SIGINT/SIGTERM (it
                     drains its queue for up to 2 s, the rest stays on disk).
                     SIGHUP never stops it: logged and ignored (the config
                     file is read at start; restart to apply a change)
  --sim-sensors      hardware-in-the-loop: the board's parts are register-level
                     models on simulated buses, driven by physics, instead of
                     the board's /dev nodes
  --seed N           physics seed with --sim-sensors (default 1)
  --time-scale X     with --sim-sensors: machine wear and room climate run X
                     times faster (default 1); traffic stays at real time
  --check            build the node, bring every part up and sample it once,
                     print one line per part; no network. Exit 0 if all parts
                     answered. With --config, also the config's identity files
                     (readable, key mode 0600, CN = thing, chain, validity)
                     and its state directory (writable by this user only),
                     each with the fix when it fails.
  --csr              provisioning with keys made on the device: create the
                     TLS key (--key, or <certs>/devices/<thing>/device.key;
                     EC P-256, mode 0600) unless it exists, and print a
                     certificate request for it (CN = thing) on standard
                     output. The key never leaves the device; have the CA
                     sign the request (`edgeforge certs sign-csr`, or AWS IoT
                     CreateCertificateFromCsr) and install the certificate
                     as --cert. Needs --thing and --key or --certs only.
  --version          print the version
  -h, --help         this text

exit status: 0 ok; 1 a failure (the message names the board field, device
node or file); 2 a usage error.
)";

using Options = DeviceOptions;

void Declare(CommandLine& cl, Options& o, bool& version) {
  for (auto [name, field] : {std::pair<const char*, std::string*>{"--board", &o.board},
                             {"--thing", &o.thing},
                             {"--certs", &o.certs},
                             {"--ca", &o.ca},
                             {"--cert", &o.cert},
                             {"--key", &o.key},
                             {"--sign-key", &o.sign_key},
                             {"--state", &o.state},
                             {"--app", &o.app},
                             {"--site", &o.site},
                             {"--signer", &o.signer},
                             {"--sync", &o.sync},
                             {"--config", &o.config},
                             {"--log-level", &o.log_level}}) {
    cl.String(name, *field);
  }
  cl.BrokerUri("--broker", o.broker);
  cl.Duration("--duration", o.duration, "to run until SIGINT/SIGTERM, omit --duration");
  cl.Int("--seed", 0, 1LL << 62, o.seed);
  cl.Int("--queue-bytes", 4096, MaxQueueBytes(), o.queue_bytes);
  cl.Double("--time-scale", 0.001, 10000, o.time_scale);
  cl.Flag("--sim-sensors", o.sim);
  cl.Flag("--check", o.check);
  cl.Flag("--csr", o.csr);
  cl.Flag("--version", version);
}

/// What the options must say together (each alone was checked while parsing).
/// With a config file, each setting may come from it: errors name both.
Status Validate(const Options& o) {
  const bool file = !o.config.empty();
  auto need = [file](const char* option, const char* key, const std::string& example) {
    return InvalidArgument(std::string(option) + " is required" +
                           (file ? std::string(" (or \"") + key + "\" in the config file)" : "") + example);
  };
  if (o.board.empty()) return need("--board", "board", " (" + board::BuiltinBoardNames() + " or a file)");
  if (auto l = log::ParseLevel(o.log_level); !l.ok()) return l.status().WithContext("--log-level");
  if (o.check && !file) return Status::Ok();
  if (o.thing.empty()) return need("--thing", "thing", "");
  EF_RETURN_IF_ERROR(certs::ValidateThingName(o.thing).WithContext("--thing"));
  if (o.broker.empty()) return need("--broker", "broker", " (e.g. ssl://localhost:8883)");
  if (o.certs.empty() && (o.ca.empty() || o.cert.empty() || o.key.empty() || o.sign_key.empty())) {
    return InvalidArgument(std::string("--certs DIR (or all of --ca, --cert, --key, --sign-key") +
                           (file ? "; or \"certs\" or \"identity\" in the config file" : "") + ") is required");
  }
  if (auto b = jws::ParseBackend(o.signer); !b.ok()) return b.status().WithContext("--signer");
  if (auto p = link::ParseSyncPolicy(o.sync); !p.ok()) return p.status().WithContext("--sync");
  return Status::Ok();
}

/// The buses of a board: Linux device nodes, or simulated parts driven by
/// physics. The node on them is built by the caller (Check) or by the device
/// stack (Run).
struct Hardware {
  explicit Hardware(Clock& c) : clock(c) {}
  Clock& clock;
  std::unique_ptr<app::LinuxBuses> linux_buses;
  std::unique_ptr<sim::SimBuses> sim_buses;
  std::unique_ptr<sim::SimWorld> world;

  app::BusProvider& buses() {
    if (sim_buses) return *sim_buses;
    return *linux_buses;
  }
  void Advance() {
    if (world) world->Advance(clock.Monotonic());
  }
};

Status BuildHardware(const board::Board& b, const Options& o, Hardware& hw) {
  if (!o.sim) {
    hw.linux_buses = std::make_unique<app::LinuxBuses>();
    return Status::Ok();
  }
  hw.sim_buses = std::make_unique<sim::SimBuses>(hw.clock);
  sim::WorldOptions w;
  w.seed = static_cast<uint64_t>(o.seed);
  w.time_scale = o.time_scale;
  // Physics time is the time of day (UTC) now, on this clock's time base.
  const double now_s = std::chrono::duration<double>(hw.clock.Monotonic()).count();
  const double tod_s = static_cast<double>(hw.clock.WallMillis() % 86'400'000) / 1000.0;
  w.start_seconds = tod_s - now_s * o.time_scale;
  auto world = sim::SimWorld::Create(b, *hw.sim_buses, hw.clock, w);
  if (!world.ok()) return world.status();
  hw.world = std::move(*world);
  hw.Advance();
  return Status::Ok();
}

/// One entry per reading name, in first-seen order: a part that queues
/// several reports between samples (a radar sends one per target) gives the
/// latest value and how many came, not one entry per report.
void PrintReadings(const std::vector<telemetry::Reading>& readings, std::ostream& out) {
  std::vector<std::string> names;
  for (const auto& r : readings) {
    if (std::find(names.begin(), names.end(), r.name) == names.end()) names.push_back(r.name);
  }
  for (const std::string& name : names) {
    const telemetry::Reading* latest = nullptr;
    size_t count = 0;
    for (const auto& r : readings) {
      if (r.name != name) continue;
      ++count;
      // A fault wins: it is what --check is for.
      if (latest == nullptr || latest->fault.empty()) latest = &r;
    }
    out << " " << name << "=";
    if (!latest->fault.empty()) {
      out << "FAULT";
    } else {
      out << latest->value << (latest->unit == "1" ? "" : " " + latest->unit);
    }
    if (count > 1) out << " (" << count << " reports)";
  }
}

/// --check: every part up and sampled once; one line per part.
int Check(const board::Board& b, const Options& o, std::ostream& out, std::ostream& err) {
  SystemClock clock;
  Hardware hw(clock);
  if (Status s = BuildHardware(b, o, hw); !s.ok()) {
    err << "edgeforge-device: " << s.ToString() << "\n";
    return 1;
  }
  auto built = app::BuildNode(b, hw.buses(), clock);
  if (!built.ok()) {
    err << "edgeforge-device: " << built.status().ToString() << "\n";
    return 1;
  }
  const app::Node& node = **built;
  out << "board " << b.name << " (" << b.kind << ", " << b.source << ")" << (o.sim ? ", simulated parts" : "") << "\n";
  // Bring every part up, let one sample period pass (a FIFO part has
  // nothing to read right after Init), then sample each once.
  std::vector<Status> init;
  Millis settle{0};
  for (const app::NodePart& p : node.parts()) {
    init.push_back(p.source->Init());
    settle = std::max(settle, Millis(p.device->sample_ms));
  }
  clock.SleepFor(std::min<Micros>(settle, Micros(1'000'000)));
  hw.Advance();
  bool all_ok = true;
  for (size_t i = 0; i < node.parts().size(); ++i) {
    const app::NodePart& p = node.parts()[i];
    std::vector<telemetry::Reading> readings;
    Status s = init[i].ok() ? p.source->Sample(readings) : init[i];
    all_ok = all_ok && s.ok();
    out << "  " << std::left << std::setw(8) << p.device->name << " " << std::setw(28) << p.device->compatible
        << (s.ok() ? "ok  " : "FAIL");
    if (s.ok()) {
      PrintReadings(readings, out);
    } else {
      out << " " << s.ToString();
    }
    out << "\n";
  }
  out << (all_ok ? "check: all parts answered\n" : "check: some parts failed\n");
  return all_ok ? 0 : 1;
}

/// What this device is told, from the options (Validate has checked them
/// together). The session config with its last will is made from it by the
/// device stack (app::DeviceSessionConfig), the same for every simulated device.
app::DeviceStackConfig StackConfigFor(const Options& o, const std::string& state) {
  const certs::DevicePaths paths = certs::PathsFor(o.certs, o.thing);
  app::DeviceStackConfig c;
  c.thing = o.thing;
  c.app = o.app;
  c.site = o.site;
  c.broker_uri = o.broker;
  c.tls.ca_file = o.ca.empty() ? o.certs + "/ca.crt" : o.ca;
  c.tls.cert_file = o.cert.empty() ? paths.cert : o.cert;
  c.tls.key_file = o.key.empty() ? paths.tls_key : o.key;
  c.sign_key_file = o.sign_key.empty() ? paths.sign_key : o.sign_key;
  c.jws_backend = *jws::ParseBackend(o.signer);
  c.outbox.dir = state + "/outbox";
  c.outbox.max_bytes = static_cast<size_t>(o.queue_bytes);
  c.outbox.sync = *link::ParseSyncPolicy(o.sync);
  // Link and outbox lines (connection events, backoffs, refusals, drops) at info.
  c.outbox.log = log::Sink(log::Level::kInfo);
  c.link.log = c.outbox.log;
  c.storage_log = c.outbox.log;
  return c;
}

/// The identity checked locally before any connection (certs/identity_check.h):
/// a fault is named with its file here instead of a TLS alert and a retry loop.
Result<certs::IdentityReport> CheckIdentity(const app::DeviceStackConfig& c, Clock& clock) {
  const certs::IdentityFiles files{c.tls.ca_file, c.tls.cert_file, c.tls.key_file, c.sign_key_file};
  auto report = certs::CheckDeviceIdentity(files, c.thing, clock.WallMillis() / 1000);
  if (!report.ok()) return report.status().WithContext("identity of " + c.thing);
  return report;
}

std::string StateDirOf(const Options& o) { return o.state.empty() ? "edgeforge-state/" + o.thing : o.state; }

/// The state directory (outbox, counters) as this user will use it: an
/// existing directory it may write and others may not, or one it can create.
/// The error says how to fix it.
Status CheckStateDir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return fs::ErrnoStatus(errno, dir);
    std::string parent = dir;
    while (true) {  // the nearest existing ancestor must let this user create it
      const size_t slash = parent.find_last_of('/');
      parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : parent.substr(0, slash));
      if (::stat(parent.c_str(), &st) == 0 || parent == "." || parent == "/") break;
    }
    if (::access(parent.c_str(), W_OK | X_OK) != 0) {
      return PermissionDenied(dir + ": does not exist and this user cannot create it in " + parent +
                              "; fix: sudo install -d -m 0700 -o $(id -un) " + dir +
                              " (the systemd unit's StateDirectory= creates it for the service)");
    }
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(dir + ": not a directory; fix: point state_dir elsewhere");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return PermissionDenied(dir + ": not writable by this user; fix: sudo chown $(id -un) " + dir);
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    return PermissionDenied(dir + ": writable by others (mode " + std::to_string((st.st_mode >> 6) & 7) +
                            std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                            "): anyone could edit the queued telemetry; fix: chmod 700 " + dir);
  }
  return Status::Ok();
}

/// --config F --check: the config, the board and its parts, the identity
/// files and the state directory, one line each with what is wrong and the
/// fix. 0 when all pass.
int CheckAll(const board::Board& b, const Options& o, std::ostream& out, std::ostream& err) {
  out << "config " << o.config << ": ok (thing " << o.thing << ", broker " << o.broker << ", board " << o.board
      << ", log level " << o.log_level << ")\n";
  int problems = Check(b, o, out, err) == 0 ? 0 : 1;
  SystemClock clock;
  const std::string state = StateDirOf(o);
  const app::DeviceStackConfig config = StackConfigFor(o, state);
  auto id = CheckIdentity(config, clock);
  if (id.ok()) {
    out << "identity: ok " << id->Summary() << "\n";
    for (const std::string& w : id->warnings) out << "identity: warning: " << w << "\n";
  } else {
    ++problems;
    out << "identity: FAIL " << id.status().message() << "\n";
  }
  const Status st = CheckStateDir(state);
  out << "state " << state << ": " << (st.ok() ? "ok" : "FAIL " + st.message()) << "\n";
  problems += st.ok() ? 0 : 1;
  out << (problems == 0 ? std::string("check: all passed\n")
                        : "check: " + std::to_string(problems) + (problems == 1 ? " problem\n" : " problems\n"));
  return problems == 0 ? 0 : 1;
}

/// A failure that ends the process: on stderr, with the error priority when
/// journald reads it.
int Fatal(const Status& s, std::ostream& err) {
  err << (log::JournaldStream() ? "<3>" : "") << "edgeforge-device: " << s.ToString() << "\n" << std::flush;
  return 1;
}

int Run(const board::Board& b, const Options& o, std::ostream& err) {
  auto fail = [&](const Status& s) { return Fatal(s, err); };
  SystemClock clock;
  const std::string state = StateDirOf(o);
  const app::DeviceStackConfig config = StackConfigFor(o, state);
  log::Debug("settings: thing " + o.thing + ", broker " + o.broker + ", board " + o.board + ", state " + state +
             ", queue bytes " + std::to_string(o.queue_bytes) + ", sync " + o.sync + ", signer " + o.signer +
             (o.config.empty() ? "" : ", config " + o.config));
  auto identity = CheckIdentity(config, clock);
  if (!identity.ok()) return fail(identity.status());
  log::Info("identity " + identity->Summary());
  for (const std::string& w : identity->warnings) log::Warn("identity warning: " + w);
  Hardware hw(clock);
  if (Status s = BuildHardware(b, o, hw); !s.ok()) return fail(s);
  if (Status s = fs::MakeDirs(state, 0700); !s.ok()) return fail(s);
  FileStorage storage(state);
  LinuxEntropy entropy;
  LoopWaker waker;  // before the stack: it must outlive the session's wakeup
  // The device binary's platform: Linux (or simulated) buses, the system
  // clock, the kernel's entropy, state files on disk, Paho as the transport.
  app::DeviceStackParts parts{b, hw.buses(), clock, entropy, storage, link::MakePahoSession};
  auto stack = app::DeviceStack::Build(parts, config);
  if (!stack.ok()) return fail(stack.status());
  // Set before Start: nothing is queued until the device connects; the
  // session then wakes the loop below (PUBACKs, a delta).
  (*stack)->session().SetWakeup([&waker] { waker.Set(); });
  const link::OutboxStats recovered = (*stack)->outbox().stats();
  if (recovered.recovered > 0 || recovered.quarantined_records > 0) {
    const std::string line = "outbox " + config.outbox.dir + ": " + std::to_string(recovered.recovered) +
                             " queued messages recovered, " + std::to_string(recovered.quarantined_records) +
                             " corrupt records quarantined (" + std::to_string(recovered.quarantined_bytes) + " bytes)";
    recovered.quarantined_records > 0 ? log::Warn(line) : log::Info(line);
  }
  app::Device& device = (*stack)->device();
  InstallDaemonSignals();
  hw.Advance();
  if (Status s = device.Start(); !s.ok()) return fail(s);
  if (const std::optional<app::CrashLoss>& cl = device.crash_loss(); cl && cl->any_issued) {
    const std::string boot = "boot " + std::to_string(cl->boot) + ": ";
    const std::string last = "last seq " + std::to_string(cl->last_seq) + (cl->exact ? ", exact" : ", upper bound");
    if (cl->lost == 0) {
      log::Info(boot + "no seq lost (" + last + ")");
    } else {
      log::Warn(boot + "seqs " + link::crash_loss::Format(cl->ranges) + " (" + std::to_string(cl->lost) +
                ") can no longer be delivered: issued (" + last +
                ") but not in the outbox after a crash, a power cut or a damaged log");
    }
    if (cl->lost > 0 && !cl->note.empty()) log::Warn(boot + cl->note);
    if (!cl->resolved.ok()) log::Error("crash loss not recorded: " + cl->resolved.ToString());
  }
  log::Info(o.thing + " (" + b.name + (o.sim ? ", simulated parts" : "") + ") boot " + std::to_string(device.boot()) +
            ", publishing to " + device.telemetry_topic());
  const Micros start = clock.Monotonic();
  const Micros end = o.duration.count() > 0 ? start + std::chrono::duration_cast<Micros>(o.duration) : Micros::max();
  app::DeviceCounters seen = device.counters();
  while (!StopRequested()) {
    if (TakeReloadRequest()) {
      log::Info(o.config.empty() ? "SIGHUP: no configuration file to reload; ignored"
                                 : "SIGHUP: ignored (the config file is read at start: restart to apply a change)");
    }
    hw.Advance();
    const Micros next = device.Step();
    if (log::Enabled(log::Level::kDebug)) {
      const app::DeviceCounters now = device.counters();
      if (now.reports != seen.reports || now.alarms != seen.alarms || now.delivered != seen.delivered) {
        log::Debug("published telemetry " + std::to_string(now.reports) + ", alarms " + std::to_string(now.alarms) +
                   "; delivered " + std::to_string(now.delivered) + ", queued " + std::to_string(now.queued));
        seen = now;
      }
    }
    const Micros now = clock.Monotonic();
    if (now >= end) break;
    // Sleep to the next deadline in slices, so a signal ends the run
    // promptly; a session wakeup (PUBACKs, a delta) ends it at once.
    const Micros wake = std::min(next, end);
    if (wake > now) waker.WaitFor(std::min(wake - now, Micros(100'000)));
  }
  // Drain what the link can send in a bounded time; the rest stays queued on
  // disk for the next start (a SIGTERM must not hang on a dead broker).
  const Status stopped = device.Stop(StopRequested() ? Millis(2000) : Millis(5000));
  const app::DeviceCounters c = device.counters();
  log::Info("stopped: published " + std::to_string(c.sampled) + " (telemetry " + std::to_string(c.reports) +
            ", alarms " + std::to_string(c.alarms) + "), delivered " + std::to_string(c.delivered) + ", queued " +
            std::to_string(c.queued) + ", dropped " + std::to_string(c.dropped) + ", reconnects " +
            std::to_string(c.reconnects) + ", sensor faults " + std::to_string(c.sensor_faults) + ", refused " +
            std::to_string(c.refused) + ", storage errors " + std::to_string(c.storage_errors) +
            ", identity conflicts " + std::to_string(c.identity_conflicts));
  if (!stopped.ok()) log::Warn("stop: " + stopped.ToString());
  return 0;
}

}  // namespace

/// --csr: the device's TLS key is made here and only its CSR leaves.
int MakeCsr(const Options& o, std::ostream& out, std::ostream& err) {
  auto usage = [&err](const std::string& m) {
    err << "edgeforge-device: " << m << "\n(see edgeforge-device --help)\n";
    return kExitUsage;
  };
  if (o.thing.empty()) return usage("--csr needs --thing NAME (the CSR's CN)");
  if (Status s = certs::ValidateThingName(o.thing); !s.ok()) return usage("--thing: " + s.message());
  if (o.key.empty() && o.certs.empty()) return usage("--csr needs --key FILE or --certs DIR (where the key goes)");
  const std::string key = !o.key.empty() ? o.key : certs::PathsFor(o.certs, o.thing).tls_key;
  const size_t slash = key.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (Status s = fs::MakeDirs(key.substr(0, slash), 0700); !s.ok()) return Fatal(s, err);
  }
  auto created = certs::EnsurePrivateKey(key);
  if (!created.ok()) return Fatal(created.status(), err);
  auto csr = certs::MakeCsr(key, o.thing);
  if (!csr.ok()) return Fatal(csr.status(), err);
  err << "edgeforge-device: " << (*created ? "created " : "kept the existing ") << key
      << (*created ? " (EC P-256, mode 0600)" : "") << "; certificate request for CN=" << o.thing
      << " on standard output\n";
  out << *csr;
  return 0;
}

int RunDevice(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CommandLine cl("edgeforge-device");
  Options o;
  bool version = false;
  Declare(cl, o, version);
  const Status parsed = cl.Parse(args);
  if (cl.help()) {
    out << kUsage;
    return 0;
  }
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  if (version) {
    out << "edgeforge-device " << kVersion << "\n";
    return 0;
  }
  if (!o.config.empty()) {
    auto file = LoadDeviceFile(o.config);
    if (!file.ok()) return Fatal(file.status(), err);
    ApplyDeviceFile(
        *file, [&cl](const std::string& option) { return cl.Given(option); }, o);
  }
  if (o.csr) return MakeCsr(o, out, err);
  if (Status s = Validate(o); !s.ok()) {
    // A setting missing from a config file is the file's problem, not a usage error.
    return o.config.empty() ? cl.UsageError(s, err) : Fatal(s.WithContext(o.config), err);
  }
  log::Init("edgeforge-device", out, *log::ParseLevel(o.log_level), log::JournaldStream());
  auto b = board::LoadBoardSpec(o.board);
  if (!b.ok()) return Fatal(b.status(), err);
  if (o.check) return o.config.empty() ? Check(*b, o, out, err) : CheckAll(*b, o, out, err);
  return Run(*b, o, err);
}

}  // namespace edgeforge::cli
