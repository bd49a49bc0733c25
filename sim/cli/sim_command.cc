#include "firmware/telemetry/jws.h"
#include "sim/cli/args.h"
#include "sim/cli/commands.h"
#include "sim/fleet/fleet.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge sim [options]

Runs a fleet of virtual devices (the real firmware core on simulated sensors),
each with its own X.509 identity and signing key, publishing ES256-signed
telemetry over MQTT 5 with mutual TLS, and verifies every message.
With no --broker it starts a local mosquitto that mirrors AWS IoT Core.

options:
  --devices N        number of devices (default 100)
  --duration D       how long to publish: 30, 30s, 500ms, 2m (default 30s)
  --interval D       time between one device's samples (default 1s)
  --broker URI       use this broker (ssl://host:port) instead of a local one;
                     its CA must be --certs/ca.crt and devices must be provisioned
  --certs DIR        PKI directory (default <work>/pki; created if missing)
  --work DIR         state directory: device counters, broker files
                     (default ./edgeforge-run)
  --prefix P         thing name prefix (default edge-): edge-00001, ...
  --app NAME         topic dt/<app>/<site>/<thing>/telemetry (default edgeforge)
  --site NAME        (default site-1)
  --signer B         openssl (default, host fast path) or mbedtls (firmware path)
  --seed N           sensor physics seed (default 1)
  --no-verify        do not run the ingest verifier (e.g. against AWS IoT Core,
                     where the ingest identity has no subscription rights)
  -h, --help         this text

exit status: 0 if every device connected and nothing was lost, invalid or
conflicting; 1 otherwise; 2 for a usage error.
)";

Status Parse(Args& a, sim::FleetOptions& o) {
  auto value = [&](const char* name, auto&& apply) -> Status {
    auto v = a.Value(name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::Ok();
    return apply(**v);
  };
  EF_RETURN_IF_ERROR(value("--devices", [&](const std::string& s) -> Status {
    auto n = ParseInt(s, "--devices", 1, 100000);
    if (!n.ok()) return n.status();
    o.devices = static_cast<int>(*n);
    return Status::Ok();
  }));
  EF_RETURN_IF_ERROR(value("--duration", [&](const std::string& s) -> Status {
    auto d = ParseDuration(s, "--duration");
    if (!d.ok()) return d.status();
    o.duration = *d;
    return Status::Ok();
  }));
  EF_RETURN_IF_ERROR(value("--interval", [&](const std::string& s) -> Status {
    auto d = ParseDuration(s, "--interval");
    if (!d.ok()) return d.status();
    o.interval = *d;
    return Status::Ok();
  }));
  EF_RETURN_IF_ERROR(value("--seed", [&](const std::string& s) -> Status {
    auto n = ParseInt(s, "--seed", 0, 1LL << 62);
    if (!n.ok()) return n.status();
    o.seed = static_cast<uint64_t>(*n);
    return Status::Ok();
  }));
  EF_RETURN_IF_ERROR(value("--signer", [&](const std::string& s) -> Status {
    auto b = jws::ParseBackend(s);
    if (!b.ok()) return b.status().WithContext("--signer");
    o.signer = *b;
    return Status::Ok();
  }));
  auto str = [&](const char* name, std::string& field) {
    return value(name, [&](const std::string& s) -> Status {
      field = s;
      return Status::Ok();
    });
  };
  EF_RETURN_IF_ERROR(str("--broker", o.broker_uri));
  EF_RETURN_IF_ERROR(str("--certs", o.pki_dir));
  EF_RETURN_IF_ERROR(str("--work", o.work_dir));
  EF_RETURN_IF_ERROR(str("--prefix", o.prefix));
  EF_RETURN_IF_ERROR(str("--app", o.app));
  EF_RETURN_IF_ERROR(str("--site", o.site));
  if (a.Flag("--no-verify")) o.verify = false;
  EF_RETURN_IF_ERROR(a.Finish());
  return sim::ValidateFleetOptions(o);
}

}  // namespace

int RunSim(const Argv& args, std::ostream& out, std::ostream& err) {
  Args a(args);
  if (a.Help()) {
    out << kUsage;
    return 0;
  }
  sim::FleetOptions o;
  if (Status s = Parse(a, o); !s.ok()) {
    err << "edgeforge sim: " << s.message() << "\n(see edgeforge sim --help)\n";
    return 2;
  }
  InstallStopSignals();
  o.stop_requested = StopRequested;
  out << "edgeforge sim: " << o.devices << " devices, " << static_cast<double>(o.duration.count()) / 1000.0 << " s, signer "
      << jws::BackendName(o.signer) << "\n";
  auto report = sim::RunFleet(o, out);
  if (!report.ok()) {
    err << "edgeforge sim: " << report.status().ToString() << "\n";
    return 1;
  }
  sim::PrintReport(*report, out);
  return report->Passed() ? 0 : 1;
}

}  // namespace edgeforge::cli
