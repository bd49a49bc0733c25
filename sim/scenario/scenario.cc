#include "sim/scenario/scenario.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "cli/command_line.h"
#include "firmware/board/builtin.h"
#include "firmware/board/param_reader.h"
#include "firmware/board/strict_json.h"
#include "firmware/link/broker_uri.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::sim {
namespace {

using board::Json;
using board::ParamReader;
using board::Range;

constexpr auto kMaxRun = std::chrono::hours(24 * 7);

bool IsName(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

/// A duration string ("30s", "500ms", "5m") in [min, max]; latches an error
/// at `key` otherwise.
std::chrono::milliseconds ReadDuration(ParamReader& r, std::string_view key, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max) {
  const std::string text = r.String(key);
  if (!r.ok()) return min;
  auto d = cli::ParseDuration(text, "");
  if (!d.ok()) {
    r.Fail(key, d.status().message().substr(1));  // "'x' is not a duration (e.g. ...)"
    return min;
  }
  if (*d < min || *d > max) {
    r.Fail(key,
           "must be in " + std::to_string(min.count()) + " ms.." + std::to_string(max.count()) + " ms, got " + text);
    return min;
  }
  return *d;
}

/// A signed duration ("-90s", "+2m", "30s").
std::chrono::milliseconds ReadSignedDuration(ParamReader& r, std::string_view key, std::chrono::milliseconds max) {
  std::string text = r.String(key);
  if (!r.ok()) return {};
  const bool negative = !text.empty() && text[0] == '-';
  const std::string magnitude = !text.empty() && (text[0] == '-' || text[0] == '+') ? text.substr(1) : text;
  auto d = cli::ParseDuration(magnitude, "");
  if (!d.ok()) {
    r.Fail(key, "'" + text + "' is not a signed duration (e.g. -90s, +2m)");
    return {};
  }
  if (*d > max) {
    r.Fail(key, "must be at most " + std::to_string(max.count()) + " ms either way, got " + text);
    return {};
  }
  return negative ? -*d : *d;
}

using NetMode = transport::NetworkFault::Mode;

void ReadFault(ParamReader& f, const Scenario& s, FleetFault& out) {
  out.name = f.String("name");
  if (f.ok() && !IsName(out.name)) f.Fail("name", "must be 1..64 of [a-z0-9-], got " + board::Quote(out.name));
  const std::string kind = f.String("kind");
  if (!f.ok()) return;
  auto k = ParseFleetFaultKind(kind);
  if (!k.ok()) {
    f.Fail("kind", k.status().message());
    return;
  }
  out.kind = *k;
  out.at = ReadDuration(f, "at", std::chrono::milliseconds(0), kMaxRun);
  out.duration = ReadDuration(f, "duration", std::chrono::milliseconds(100), kMaxRun);
  if (f.ok() && s.duration.count() > 0 && out.at + out.duration > s.duration) {
    f.Fail("duration", "the window ends " + std::to_string((out.at + out.duration).count()) +
                           " ms into the measured run, after its duration (" + std::to_string(s.duration.count()) +
                           " ms)");
  }
  if (out.kind != FleetFaultKind::kBrokerRestart) {
    if (f.Has("share")) out.share = f.Number("share", Range{0, 1, true, false});
    if (f.Has("group")) {
      out.group = f.String("group");
      bool known = false;
      for (const DeviceGroup& g : s.groups) known = known || g.name == out.group;
      if (f.ok() && !known) f.Fail("group", "no group " + board::Quote(out.group) + " in groups");
    }
  }
  switch (out.kind) {
    case FleetFaultKind::kNetwork: {
      const std::string mode = f.Enum("mode", {"blackhole", "latency", "reset"});
      out.network.mode = mode == "blackhole" ? NetMode::kBlackhole
                         : mode == "latency" ? NetMode::kLatency
                                             : NetMode::kReset;
      if (out.network.mode == NetMode::kLatency) {
        out.network.latency = ReadDuration(f, "latency", std::chrono::milliseconds(1), std::chrono::seconds(60));
      }
      break;
    }
    case FleetFaultKind::kSensor: {
      if (!f.Has("group")) f.Missing("group", "a sensor fault hits one group's board");
      out.sensor = f.String("sensor");
      if (f.Has("fault")) {
        const std::string name = f.Enum("fault", {"nack", "timeout", "stuck", "noise", "disconnect"});
        if (f.ok()) out.sensor_fault = *ParseFaultKind(name);
      }
      break;
    }
    case FleetFaultKind::kClockSkew:
      out.skew = ReadSignedDuration(f, "skew", std::chrono::hours(24 * 365));
      break;
    default:
      break;
  }
}

std::string ResolveBoard(const std::string& spec, const std::string& base_dir) {
  if (!board::LooksLikePath(spec) || spec.front() == '/' || base_dir.empty()) return spec;
  return base_dir + "/" + spec;
}

void ReadGroup(ParamReader& g, const std::string& base_dir, DeviceGroup& out) {
  out.name = g.String("name");
  if (g.ok() && !IsName(out.name)) g.Fail("name", "must be 1..64 of [a-z0-9-], got " + board::Quote(out.name));
  out.board = ResolveBoard(g.String("board"), base_dir);
  out.count = static_cast<int>(g.Integer("count", 1, 100000));
  out.things = g.String("things");
  if (g.ok()) {
    Status st = ValidateThingPattern(out.things);
    if (!st.ok()) g.Fail("things", st.message());
  }
  if (g.Has("site")) {
    out.site = g.String("site");
    if (g.ok()) {
      Status st = topic::ValidateLevel(out.site, "site");
      if (!st.ok()) g.Fail("site", st.message());
    }
  }
  if (g.Has("report")) out.report = ReadDuration(g, "report", std::chrono::milliseconds(100), std::chrono::hours(1));
  if (g.Has("sample")) {
    const Json* raw = g.Raw("sample");
    ParamReader sample = g.Object("sample");  // latches the error if it is not an object
    if (!g.ok()) return;
    if (raw->empty()) sample.FailHere("must give at least one board device's period (e.g. {\"vib0\": \"100ms\"})");
    for (const auto& item : raw->items()) {
      const auto ms = ReadDuration(sample, item.key(), std::chrono::milliseconds(board::kMinSampleMs),
                                   std::chrono::milliseconds(board::kMaxPeriodMs));
      if (!sample.ok()) return;
      out.sample_ms[item.key()] = static_cast<uint32_t>(ms.count());
    }
  }
}

Result<Scenario> Read(const Json& root, const std::string& source, const std::string& base_dir) {
  ParamReader r(root, source, "");
  Scenario s;
  s.source = source;
  const std::string schema = r.String("schema");
  if (r.ok() && schema != kScenarioSchema) {
    r.Fail("schema", "must be \"" + std::string(kScenarioSchema) + "\" (the version this edgeforge reads), got " +
                         board::Quote(schema));
  }
  s.name = r.String("name");
  if (r.ok() && !IsName(s.name)) r.Fail("name", "must be 1..64 of [a-z0-9-], got " + board::Quote(s.name));
  s.description = r.StringOr("description", "");
  s.duration = ReadDuration(r, "duration", std::chrono::seconds(1), kMaxRun);
  if (r.Has("seed")) s.seed = static_cast<uint64_t>(r.Integer("seed", 0, int64_t{1} << 62));
  if (r.Has("time_scale")) s.time_scale = r.Number("time_scale", Range{0.001, 10000, false, false});
  if (r.Has("broker")) {
    const std::string broker = r.String("broker");
    if (r.ok() && broker != "embedded") {
      auto uri = link::ParseBrokerUri(broker);
      if (!uri.ok()) {
        r.Fail("broker", "\"embedded\" or a broker URI: " + uri.status().message());
      } else {
        s.broker_uri = broker;
      }
    }
  }
  if (r.Has("app")) {
    s.app = r.String("app");
    if (r.ok()) {
      Status st = topic::ValidateLevel(*s.app, "app");
      if (!st.ok()) r.Fail("app", st.message());
    }
  }
  if (r.HasObject("connect")) {
    ParamReader c = r.Object("connect");
    if (c.Has("rate")) s.connect_rate = c.Number("rate", Range::Between(1, 100000));
    if (c.Has("window")) s.connect_window = ReadDuration(c, "window", std::chrono::seconds(1), kMaxRun);
  } else if (r.Has("connect")) {
    (void)r.Object("connect");  // latches the type error
  }
  // Not in version 1: refused by name, so a run never silently lacks them.
  for (const char* later : {"stages", "rollouts"}) {
    if (r.Has(later)) {
      (void)r.Raw(later);
      r.Fail(later, "not supported by " + std::string(kScenarioSchema) + " yet (docs/scenario.md)");
    }
  }
  std::vector<ParamReader> groups = r.Objects("groups", 1, kMaxScenarioGroups);
  std::set<std::string> names;
  long long total = 0;
  for (ParamReader& g : groups) {
    DeviceGroup group;
    ReadGroup(g, base_dir, group);
    if (!g.ok()) break;
    if (!names.insert(group.name).second) {
      g.Fail("name", board::Quote(group.name) + " names another group too");
      break;
    }
    total += group.count;
    s.groups.push_back(std::move(group));
  }
  if (r.ok() && total > 100000) r.Fail("groups", "hold " + std::to_string(total) + " devices, more than 100000");
  if (r.ok() && r.Has("faults")) {
    std::set<std::string> fault_names;
    for (ParamReader& f : r.Objects("faults", 1, kMaxScenarioFaults)) {
      FleetFault fault;
      ReadFault(f, s, fault);
      if (!f.ok()) break;
      if (!fault_names.insert(fault.name).second) {
        f.Fail("name", board::Quote(fault.name) + " names another fault too");
        break;
      }
      s.faults.push_back(std::move(fault));
    }
  }
  EF_RETURN_IF_ERROR(r.Finish());
  return s;
}

}  // namespace

int Scenario::devices() const {
  int n = 0;
  for (const DeviceGroup& g : groups) n += g.count;
  return n;
}

Result<Scenario> ParseScenario(std::string_view json, const std::string& source, const std::string& base_dir) {
  Result<Json> root = board::ParseStrictObject(json, source, kMaxScenarioBytes, kMaxScenarioNesting, "scenario");
  if (!root.ok()) return root.status();
  return Read(*root, source, base_dir);
}

Result<Scenario> LoadScenario(const std::string& path) {
  Result<std::string> text = board::ReadBoundedFile(path, kMaxScenarioBytes, "scenario");
  if (!text.ok()) return text.status();
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash);
  return ParseScenario(*text, path, base_dir);
}

void ApplyScenario(const Scenario& s, FleetOptions& o) {
  o.groups = s.groups;
  o.devices = s.devices();
  o.duration = s.duration;
  if (s.seed) o.seed = *s.seed;
  if (s.time_scale) o.time_scale = *s.time_scale;
  o.broker_uri = s.broker_uri;
  if (s.app) o.app = *s.app;
  if (s.connect_rate) o.connect_rate = *s.connect_rate;
  if (s.connect_window) o.connect_window = *s.connect_window;
  o.faults = s.faults;
}

}  // namespace edgeforge::sim
