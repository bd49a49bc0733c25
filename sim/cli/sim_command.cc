#include <sys/ioctl.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "cli/common/command_line.h"
#include "cli/common/signals.h"
#include "firmware/link/link.h"
#include "firmware/telemetry/jws.h"
#include "sim/cli/commands.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/report_html.h"
#include "sim/fleet/report_json.h"
#include "sim/scenario/scenario.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge sim [options]

Runs a fleet of virtual devices: the real firmware core, built from a board
file, on simulated buses whose register-level sensor models follow physical
models (a machine for factory nodes, a road for traffic nodes). Each device
has its own X.509 identity and signing key, publishes ES256-signed telemetry
windows and threshold alarms over MQTT 5 with mutual TLS, and every message
is verified.
With no --broker it starts a local mosquitto that mirrors AWS IoT Core; it
saves its database after every change (the verifier's queue survives a
broker kill -9) while the fleet is scheduled at most 250 msg/s, and runs in
memory above that (saving cannot keep up; the run says so).

options:
  --scenario FILE    run a scenario file (docs/scenario.md; scenarios/ has
                     examples): its groups set the devices, boards, report
                     windows, thing names and sites, so --devices, --board,
                     --interval, --prefix and --site do not go with it; the
                     other options override what the file says
  --devices N        number of devices (default 100)
  --duration D       how long to run, more than 0: 30, 30s, 500ms, 2m, 1h
                     (default 30s); SIGINT, SIGTERM or SIGHUP end the run
                     early, with the report
  --board B          a board file, or a built-in board (factory-node,
                     traffic-node); repeat to mix: device i runs board
                     i mod count (default: factory-node and traffic-node)
  --interval D       report window of every device (default: each board's
                     report_ms); sensors keep their board sample periods
  --time-scale X     machine wear and room climate run X times faster than
                     real time (default 1; 60: an hour of wear per minute);
                     traffic always runs at real time
  --broker URI       use this broker (ssl://host:port or mqtts://host:port)
                     instead of a local one; its CA must be --certs/ca.crt
                     and devices must be provisioned
  --certs DIR        PKI directory (default <work>/pki; created if missing)
  --work DIR         state directory: device counters, broker files
                     (default ./edgeforge-run)
  --prefix P         thing name prefix (default edge-): edge-00001, ...
  --app NAME         topics dt/<app>/<site>/<thing>/{telemetry,alarm}
                     (default edgeforge)
  --site NAME        (default site-1)
  --signer B         openssl (default, host fast path) or mbedtls (firmware path)
  --seed N           sensor physics seed (default 1)
  --queue-bytes N    each device's durable outbox bound in bytes (default
                     1048576); when full, oldest telemetry is dropped first,
                     never an alarm while telemetry remains (counted)
  --sync P           outbox durability: batch (default: every worker keeps
                     its devices' outboxes in one store file and group-commits
                     it every 200 ms), always (each device's own files, one
                     fdatasync per message: the slowest) or never (in memory:
                     no files, nothing survives the run)
  --workers N        worker threads running the devices (default: one per
                     core); devices are dealt to workers in turn, each worker
                     runs its own devices' steps, connects and event loop
  --connect-rate R   CONNECTs per second across the fleet (default 500: on
                     the 2-core box 1,000 devices were up in 2.8 s with the
                     local mosquitto and mutual TLS, and at 2,000 devices 1,000
                     or 2,000/s came up no sooner); a client id never sends
                     two CONNECTs within 1 s
  --connect-window D how long the fleet may take to come up (default: devices
                     / connect-rate + 30 s); the measured --duration starts
                     when every device has connected or this window ends;
                     devices connecting later run late and are reported as
                     late, devices that never connect as never connected
  --report-json FILE write the report as JSON (docs/report.md, schema
                     edgeforge.report/1): totals, schedule, loss attribution,
                     the latency histogram, per-group counts, fault and
                     stage windows, rollouts and the counters once a second
  --report-html FILE write the report as one self-contained HTML page with
                     charts (no network fetch; docs/report.md); redraw one
                     later with 'edgeforge report html FILE.json -o FILE.html'
  --prometheus ADDR  serve the live counters (devices, connected, online,
                     published, delivered, verified, queued, errors by kind,
                     scheduled rate) for Prometheus at
                     http://ADDR/metrics while the run lasts; ADDR is
                     host:port or :port (all interfaces), port 0 picks one
                     (the log says which)
  --issue-identities with --broker: issue the devices' missing identities from
                     the CA in --certs (ca.crt and ca.key; the broker must
                     trust that CA), e.g. in a pod given the CA as a Secret
                     (deploy/k8s); without it a missing identity is an error
  --shard i/N        run shard i of N: the devices whose index in the whole
                     fleet is i modulo N, with the names, identities, seeds
                     and readings they have in the whole fleet; several
                     processes (machines, pods: deploy/k8s) share one broker,
                     and 'edgeforge report merge' adds their --report-json
                     files into the fleet's report
  --no-verify        do not run the ingest verifier (e.g. against AWS IoT Core,
                     where the ingest identity has no subscription rights)
  -h, --help         this text

Progress: on a terminal one line, redrawn every second; otherwise a line
every 5 s: connected of target (and online now), msg/s achieved over the last
interval of the scheduled rate, published, acknowledged, verified and queued
messages, and errors by kind (dropped, refused, connections lost, connects
failed).

The summary gives the scheduled and the achieved message rate (telemetry and
alarms per second over the measured window) and the worst device lag (how
late a device's step ran behind its due time).

exit status: 0 if every device connected in the connect window, published,
nothing was lost, invalid or conflicting and at least 99% of the scheduled
messages were published; 1 otherwise; 2 for a usage error.
)";

/// Strings and numbers as given on the command line, before they become FleetOptions.
struct SimArgs {
  long long devices = 0;
  long long seed = 0;
  long long queue_bytes = 0;
  long long workers = 0;
  std::string sync;
  std::string signer;
  bool no_verify = false;
  bool issue_identities = false;
  std::string scenario;
  std::string report_json;
  std::string report_html;
  std::string shard;
};

/// The fleet's shape: a scenario's groups give it, so these are not mixed with one.
constexpr const char* kShapeOptions[] = {"--devices", "--board", "--interval", "--prefix", "--site"};

/// Options that override what a scenario file says, and the field each sets.
void KeepOverrides(const CommandLine& cl, const sim::FleetOptions& given, sim::FleetOptions& o) {
  if (cl.Given("--duration")) o.duration = given.duration;
  if (cl.Given("--seed")) o.seed = given.seed;
  if (cl.Given("--time-scale")) o.time_scale = given.time_scale;
  if (cl.Given("--broker")) o.broker_uri = given.broker_uri;
  if (cl.Given("--app")) o.app = given.app;
  if (cl.Given("--connect-rate")) o.connect_rate = given.connect_rate;
  if (cl.Given("--connect-window")) o.connect_window = given.connect_window;
}

void Declare(CommandLine& cl, sim::FleetOptions& o, SimArgs& a) {
  a.devices = o.devices;
  a.seed = static_cast<long long>(o.seed);
  a.queue_bytes = static_cast<long long>(o.queue_bytes);
  a.sync = link::SyncPolicyName(o.sync);
  a.signer = jws::BackendName(o.signer);
  cl.Int("--devices", 1, 100000, a.devices);
  cl.Int("--seed", 0, 1LL << 62, a.seed);
  cl.Duration("--duration", o.duration, "to run until a signal, give a long one (e.g. 24h) and stop it with Ctrl-C");
  cl.Duration("--interval", o.interval, "omit --interval for each board's report_ms");
  cl.Strings("--board", o.boards);
  cl.Int("--queue-bytes", 4096, 1LL << 32, a.queue_bytes);
  cl.Int("--workers", 1, 1024, a.workers);
  cl.Double("--connect-rate", 1, 100000, o.connect_rate);
  cl.Duration("--connect-window", o.connect_window, "omit --connect-window for devices / connect-rate + 30 s");
  cl.String("--sync", a.sync);
  cl.Double("--time-scale", 0.001, 10000, o.time_scale);
  cl.String("--signer", a.signer);
  cl.BrokerUri("--broker", o.broker_uri);
  for (auto [name, field] : {std::pair<const char*, std::string*>{"--certs", &o.pki_dir},
                             {"--work", &o.work_dir},
                             {"--prefix", &o.prefix},
                             {"--app", &o.app},
                             {"--site", &o.site}}) {
    cl.String(name, *field);
  }
  cl.Flag("--no-verify", a.no_verify);
  cl.Flag("--issue-identities", a.issue_identities);
  cl.String("--scenario", a.scenario);
  cl.String("--report-json", a.report_json);
  cl.String("--report-html", a.report_html);
  cl.String("--shard", a.shard);
  cl.String("--prometheus", o.prometheus_addr);
}

/// "i/N" (as a Kubernetes Indexed Job gives it: --shard $(JOB_COMPLETION_INDEX)/N).
Result<sim::ShardSpec> ParseShard(const std::string& text) {
  const size_t slash = text.find('/');
  const auto number = [](const std::string& s, int& out) {
    if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoi(s);
    return true;
  };
  sim::ShardSpec spec;
  if (slash == std::string::npos || !number(text.substr(0, slash), spec.index) ||
      !number(text.substr(slash + 1), spec.count) || spec.count < 1 || spec.count > 1024 || spec.index >= spec.count) {
    return InvalidArgument("--shard: expected i/N with N in 1..1024 and i in 0..N-1 (e.g. 0/4), got '" + text + "'");
  }
  return spec;
}

/// Converts what was parsed into `o` and checks the options together.
Status Finish(const SimArgs& a, sim::FleetOptions& o) {
  auto policy = link::ParseSyncPolicy(a.sync);
  if (!policy.ok()) return policy.status().WithContext("--sync");
  o.sync = *policy;
  auto backend = jws::ParseBackend(a.signer);
  if (!backend.ok()) return backend.status().WithContext("--signer");
  o.signer = *backend;
  o.devices = static_cast<int>(a.devices);
  o.seed = static_cast<uint64_t>(a.seed);
  o.queue_bytes = static_cast<size_t>(a.queue_bytes);
  o.workers = static_cast<int>(a.workers);  // 0 (not given): one per core
  if (a.no_verify) o.verify = false;
  o.issue_identities = a.issue_identities;
  if (!a.shard.empty()) {
    auto shard = ParseShard(a.shard);
    if (!shard.ok()) return shard.status();
    o.shard = *shard;
  }
  return sim::ValidateFleetOptions(o);
}

}  // namespace

int RunSim(const Argv& args, std::ostream& out, std::ostream& err) {
  CommandLine cl("edgeforge sim");
  sim::FleetOptions o;
  SimArgs a;
  Declare(cl, o, a);
  Status s = cl.Parse(args);
  if (cl.help()) {
    out << kUsage;
    return 0;
  }
  if (s.ok()) s = Finish(a, o);
  std::optional<sim::Scenario> scenario;
  if (s.ok() && !a.scenario.empty()) {
    for (const char* shape : kShapeOptions) {
      if (cl.Given(shape)) {
        s = InvalidArgument(std::string(shape) +
                            " does not go with --scenario: the scenario's groups give the devices, boards, report "
                            "windows, names and sites");
        break;
      }
    }
    if (s.ok()) {
      auto loaded = sim::LoadScenario(a.scenario);
      if (loaded.ok()) {
        scenario = std::move(*loaded);
        const sim::FleetOptions given = o;
        sim::ApplyScenario(*scenario, o);
        KeepOverrides(cl, given, o);
        s = sim::ValidateFleetOptions(o).WithContext("--scenario " + a.scenario);
      } else {
        s = loaded.status().WithContext("--scenario");
      }
    }
  }
  if (!s.ok()) return cl.UsageError(s, err);
  InstallStopSignals();
  o.stop_requested = StopRequested;
  o.live_progress = &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  if (winsize ws{}; o.live_progress && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) o.terminal_columns = ws.ws_col;
  out << "edgeforge sim: ";
  if (scenario) {
    out << "scenario " << scenario->name << " (" << scenario->source << "), " << scenario->groups.size() << " groups, ";
  }
  out << o.devices << " devices, " << static_cast<double>(o.duration.count()) / 1000.0 << " s, signer "
      << jws::BackendName(o.signer) << "\n";
  const sim::RunInfo info{sim::UtcNow(), scenario ? scenario->name : ""};
  auto report = sim::RunFleet(o, out);
  if (!report.ok()) {
    err << "edgeforge sim: " << report.status().ToString() << "\n";
    return 1;
  }
  sim::PrintReport(*report, out);
  if (!a.report_json.empty()) {
    Status written = sim::WriteReportJson(a.report_json, *report, o, info);
    if (!written.ok()) {
      err << "edgeforge sim: " << written.ToString() << "\n";
      return 1;
    }
    out << "report: " << a.report_json << "\n";
  }
  if (!a.report_html.empty()) {
    Status written = sim::WriteReportHtml(a.report_html, sim::ReportJson(*report, o, info));
    if (!written.ok()) {
      err << "edgeforge sim: --report-html: " << written.ToString() << "\n";
      return 1;
    }
    out << "report: " << a.report_html << "\n";
  }
  return report->Passed() ? 0 : 1;
}

}  // namespace edgeforge::cli
