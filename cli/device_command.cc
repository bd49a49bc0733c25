#include "cli/device_command.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iomanip>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "cli/command_line.h"
#include "cli/signals.h"
#include "edgeforge/version.h"
#include "firmware/app/device.h"
#include "firmware/app/device_stack.h"
#include "firmware/app/linux_buses.h"
#include "firmware/app/node.h"
#include "firmware/board/builtin.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/link/paho_session.h"
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
       edgeforge-device --board B --check [--sim-sensors]

The edge firmware. Builds its sensors from a board file, samples each on its
board period, and publishes ES256-signed telemetry windows and threshold
alarms to AWS IoT Core (or a broker like it) over MQTT 5 with mutual TLS.

options:
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
  --duration D       stop after D, more than 0 (30, 30s, 500ms, 2m, 1h);
                     without it the device runs until SIGINT/SIGTERM. SIGHUP
                     never stops it: it is the reload signal (there is no
                     configuration file yet: logged and ignored)
  --sim-sensors      hardware-in-the-loop: the board's parts are register-level
                     models on simulated buses, driven by physics, instead of
                     the board's /dev nodes
  --seed N           physics seed with --sim-sensors (default 1)
  --time-scale X     with --sim-sensors: machine wear and room climate run X
                     times faster (default 1); traffic stays at real time
  --check            build the node, bring every part up and sample it once,
                     print one line per part; no network. Exit 0 if all parts
                     answered.
  --version          print the version
  -h, --help         this text

exit status: 0 ok; 1 a failure (the message names the board field, device
node or file); 2 a usage error.
)";

struct Options {
  std::string board;
  std::string thing;
  std::string broker;
  std::string certs;
  std::string ca, cert, key, sign_key;
  std::string state;
  std::string app = "edgeforge";
  std::string site = "site-1";
  std::string signer = "mbedtls";
  long long queue_bytes = 8LL << 20;
  std::string sync = "always";
  std::chrono::milliseconds duration{0};
  bool sim = false;
  long long seed = 1;
  double time_scale = 1;
  bool check = false;
};

/// 4 GiB, or what a size_t holds on a 32-bit target (armhf): one byte less.
constexpr long long kMaxQueueBytes =
    static_cast<long long>(std::min<unsigned long long>(1ULL << 32, std::numeric_limits<size_t>::max()));

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
                             {"--sync", &o.sync}}) {
    cl.String(name, *field);
  }
  cl.BrokerUri("--broker", o.broker);
  cl.Duration("--duration", o.duration, "to run until SIGINT/SIGTERM, omit --duration");
  cl.Int("--seed", 0, 1LL << 62, o.seed);
  cl.Int("--queue-bytes", 4096, kMaxQueueBytes, o.queue_bytes);
  cl.Double("--time-scale", 0.001, 10000, o.time_scale);
  cl.Flag("--sim-sensors", o.sim);
  cl.Flag("--check", o.check);
  cl.Flag("--version", version);
}

/// What the options must say together (each alone was checked while parsing).
Status Validate(const Options& o) {
  if (o.board.empty()) return InvalidArgument("--board is required (" + board::BuiltinBoardNames() + " or a file)");
  if (o.check) return Status::Ok();
  if (o.thing.empty()) return InvalidArgument("--thing is required");
  EF_RETURN_IF_ERROR(certs::ValidateThingName(o.thing).WithContext("--thing"));
  if (o.broker.empty()) return InvalidArgument("--broker is required (e.g. ssl://localhost:8883)");
  if (o.certs.empty() && (o.ca.empty() || o.cert.empty() || o.key.empty() || o.sign_key.empty())) {
    return InvalidArgument("--certs DIR (or all of --ca, --cert, --key, --sign-key) is required");
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
app::DeviceStackConfig StackConfigFor(const Options& o, const std::string& state, std::ostream& out) {
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
  c.outbox.log = [&out](const std::string& line) { out << "edgeforge-device: " << line << "\n" << std::flush; };
  c.link.log = c.outbox.log;
  c.storage_log = c.outbox.log;
  return c;
}

/// The identity checked locally before any connection (certs/identity_check.h):
/// a fault is named with its file here instead of a TLS alert and a retry loop.
Status CheckIdentity(const app::DeviceStackConfig& c, Clock& clock, std::ostream& out) {
  const certs::IdentityFiles files{c.tls.ca_file, c.tls.cert_file, c.tls.key_file, c.sign_key_file};
  auto report = certs::CheckDeviceIdentity(files, c.thing, clock.WallMillis() / 1000);
  if (!report.ok()) return report.status().WithContext("identity of " + c.thing);
  out << "edgeforge-device: identity " << report->Summary() << "\n";
  for (const std::string& w : report->warnings) out << "edgeforge-device: identity warning: " << w << "\n";
  return Status::Ok();
}

int Run(const board::Board& b, const Options& o, std::ostream& out, std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "edgeforge-device: " << s.ToString() << "\n";
    return 1;
  };
  SystemClock clock;
  const std::string state = o.state.empty() ? "edgeforge-state/" + o.thing : o.state;
  const app::DeviceStackConfig config = StackConfigFor(o, state, out);
  if (Status s = CheckIdentity(config, clock, out); !s.ok()) return fail(s);
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
  // Set before Start: nothing is queued until the device connects.
  (*stack)->session().SetWakeup([&waker] { waker.Set(); });
  const link::OutboxStats recovered = (*stack)->outbox().stats();
  if (recovered.recovered > 0 || recovered.quarantined_records > 0) {
    out << "edgeforge-device: outbox " << config.outbox.dir << ": " << recovered.recovered
        << " queued messages recovered, " << recovered.quarantined_records << " corrupt records quarantined ("
        << recovered.quarantined_bytes << " bytes)\n";
  }
  // Before anything can queue: the session wakes the loop below (merge of
  // session-m1's LoopWaker with the DeviceStack assembly).
  (*stack)->session().SetWakeup([&waker] { waker.Set(); });
  app::Device& device = (*stack)->device();
  InstallDaemonSignals();
  hw.Advance();
  if (Status s = device.Start(); !s.ok()) return fail(s);
  if (const std::optional<app::CrashLoss>& cl = device.crash_loss(); cl && cl->any_issued) {
    const std::string last = "last seq " + std::to_string(cl->last_seq) + (cl->exact ? ", exact" : ", upper bound");
    if (cl->lost == 0) {
      out << "edgeforge-device: boot " << cl->boot << ": no seq lost (" << last << ")\n";
    } else {
      out << "edgeforge-device: boot " << cl->boot << ": seqs " << link::crash_loss::Format(cl->ranges) << " ("
          << cl->lost << ") can no longer be delivered: issued (" << last
          << ") but not in the outbox after a crash, a power cut or a damaged log\n";
    }
    if (cl->lost > 0 && !cl->note.empty()) out << "edgeforge-device: boot " << cl->boot << ": " << cl->note << "\n";
    if (!cl->resolved.ok()) out << "edgeforge-device: crash loss not recorded: " << cl->resolved.ToString() << "\n";
  }
  out << "edgeforge-device: " << o.thing << " (" << b.name << (o.sim ? ", simulated parts" : "") << ") boot "
      << device.boot() << ", publishing to " << device.telemetry_topic() << "\n"
      << std::flush;
  const Micros start = clock.Monotonic();
  const Micros end = o.duration.count() > 0 ? start + std::chrono::duration_cast<Micros>(o.duration) : Micros::max();
  while (!StopRequested()) {
    if (TakeReloadRequest()) {
      out << "edgeforge-device: SIGHUP: no configuration file to reload; ignored\n" << std::flush;
    }
    hw.Advance();
    const Micros next = device.Step();
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
  out << "edgeforge-device: stopped: published " << c.sampled << " (telemetry " << c.reports << ", alarms " << c.alarms
      << "), delivered " << c.delivered << ", queued " << c.queued << ", dropped " << c.dropped << ", reconnects "
      << c.reconnects << ", sensor faults " << c.sensor_faults << ", refused " << c.refused << ", storage errors "
      << c.storage_errors << "\n";
  if (!stopped.ok()) out << "edgeforge-device: stop: " << stopped.ToString() << "\n";
  return 0;
}

}  // namespace

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
  if (Status s = Validate(o); !s.ok()) return cl.UsageError(s, err);
  auto b = board::LoadBoardSpec(o.board);
  if (!b.ok()) {
    err << "edgeforge-device: " << b.status().ToString() << "\n";
    return 1;
  }
  return o.check ? Check(*b, o, out, err) : Run(*b, o, out, err);
}

}  // namespace edgeforge::cli
