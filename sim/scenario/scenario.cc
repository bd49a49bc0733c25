#include "sim/scenario/scenario.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "cli/common/command_line.h"
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

/// A desired-state change: a JSON object of at most 8 KiB (IoT Core's
/// shadow state limit), e.g. {"config":{"report_ms":2000}}.
nlohmann::json ReadDesired(ParamReader& r, std::string_view key) {
  const Json* raw = r.Raw(key);
  if (raw == nullptr) {
    r.Missing(key, "the desired state to set, e.g. {\"config\":{\"report_ms\":2000}}");
    return {};
  }
  if (!raw->is_object() || raw->empty()) {
    r.Fail(key,
           "must be a non-empty JSON object (merged into each device's state.desired), e.g. "
           "{\"config\":{\"report_ms\":2000}}");
    return {};
  }
  const std::string text = raw->dump();
  if (text.size() > 8192) {
    r.Fail(key, std::to_string(text.size()) + " bytes, over IoT Core's 8192-byte shadow state limit");
    return {};
  }
  return nlohmann::json::parse(text);
}

/// `group` (known to the scenario) and `share` of a stage change or rollout.
void ReadTarget(ParamReader& r, const Scenario& s, std::string& group, double& share, bool with_share) {
  if (r.Has("group")) {
    group = r.String("group");
    bool known = false;
    for (const DeviceGroup& g : s.groups) known = known || g.name == group;
    if (r.ok() && !known) r.Fail("group", "no group " + board::Quote(group) + " in groups");
  }
  if (with_share && r.Has("share")) share = r.Number("share", Range{0, 1, true, false});
}

void ReadStage(ParamReader& st, const Scenario& s, Stage& out) {
  out.name = st.String("name");
  if (st.ok() && !IsName(out.name)) st.Fail("name", "must be 1..64 of [a-z0-9-], got " + board::Quote(out.name));
  out.duration = ReadDuration(st, "duration", std::chrono::seconds(1), kMaxRun);
  if (st.Has("desired")) {
    StageChange c;
    c.desired = ReadDesired(st, "desired");
    ReadTarget(st, s, c.group, c.share, true);
    out.changes.push_back(std::move(c));
  } else if (st.Has("group") || st.Has("share")) {
    st.Missing("desired", "a stage's group and share say whom its desired change is for");
  }
}

void ReadRollout(ParamReader& ro, const Scenario& s, Rollout& out) {
  out.name = ro.String("name");
  if (ro.ok() && !IsName(out.name)) ro.Fail("name", "must be 1..64 of [a-z0-9-], got " + board::Quote(out.name));
  double unused = 1;
  ReadTarget(ro, s, out.group, unused, false);
  out.at = ReadDuration(ro, "at", std::chrono::milliseconds(0), kMaxRun);
  out.desired = ReadDesired(ro, "desired");
  double last_share = 0;
  Millis end = out.at;
  for (ParamReader& step : ro.Objects("steps", 1, 16)) {
    RolloutStep rs;
    rs.share = step.Number("share", Range{0, 1, true, false});
    rs.hold = ReadDuration(step, "hold", std::chrono::seconds(1), kMaxRun);
    if (step.ok() && rs.share < last_share) {
      step.Fail("share", "steps only grow: " + std::to_string(rs.share) + " is below the step before (" +
                             std::to_string(last_share) + ")");
    }
    if (!step.ok()) return;
    last_share = rs.share;
    end += rs.hold;
    out.steps.push_back(rs);
  }
  if (ro.HasObject("abort")) {
    ParamReader a = ro.Object("abort");
    if (a.Has("rejected")) out.max_rejected = static_cast<uint64_t>(a.Integer("rejected", 0, 1000000));
    if (a.Has("alarms")) out.max_alarms = static_cast<uint64_t>(a.Integer("alarms", 0, 1000000000));
  } else if (ro.Has("abort")) {
    (void)ro.Object("abort");  // latches the type error
  }
  if (ro.ok() && s.duration.count() > 0 && end > s.duration) {
    ro.Fail("steps", "the last step ends " + std::to_string(end.count()) +
                         " ms into the measured run, after its duration (" + std::to_string(s.duration.count()) +
                         " ms)");
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
  if (r.ok() && r.Has("stages")) {
    std::set<std::string> stage_names;
    Millis staged{0};
    for (ParamReader& st : r.Objects("stages", 1, kMaxScenarioStages)) {
      Stage stage;
      ReadStage(st, s, stage);
      if (!st.ok()) break;
      if (!stage_names.insert(stage.name).second) {
        st.Fail("name", board::Quote(stage.name) + " names another stage too");
        break;
      }
      staged += stage.duration;
      s.stages.push_back(std::move(stage));
    }
    if (r.ok() && staged != s.duration) {
      r.Fail("stages", "add up to " + std::to_string(staged.count()) + " ms; the run's duration is " +
                           std::to_string(s.duration.count()) + " ms (stages fill the measured run)");
    }
  }
  if (r.ok() && r.Has("rollouts")) {
    std::set<std::string> rollout_names;
    for (ParamReader& ro : r.Objects("rollouts", 1, kMaxScenarioRollouts)) {
      Rollout rollout;
      ReadRollout(ro, s, rollout);
      if (!ro.ok()) break;
      if (!rollout_names.insert(rollout.name).second) {
        ro.Fail("name", board::Quote(rollout.name) + " names another rollout too");
        break;
      }
      s.rollouts.push_back(std::move(rollout));
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
  o.stages = s.stages;
  o.rollouts = s.rollouts;
}

}  // namespace edgeforge::sim
