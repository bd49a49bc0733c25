#include "firmware/app/device_config.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

#include "firmware/board/strict_json.h"

namespace edgeforge::app {
namespace {

using board::Json;
using board::ParamReader;

using board::MaxNesting;
using board::RepeatedKeyFinder;

// Integral values go out as integers (40, not 40.0): a reported value must
// compare equal to what the operator wrote in desired.
Json Number(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53
    return Json(static_cast<int64_t>(v));
  }
  return Json(v);
}

pipeline::AlarmRule ToRule(const board::AlarmSpec& a) {
  pipeline::AlarmRule r;
  r.channel = a.channel;
  r.condition =
      a.condition == board::AlarmCondition::kAbove ? pipeline::Condition::kAbove : pipeline::Condition::kBelow;
  r.threshold = a.threshold;
  r.hysteresis = a.hysteresis;
  r.severity = board::SeverityName(a.severity);
  return r;
}

std::string DeviceNames(const board::Board& board) {
  std::string out;
  for (const board::Device& d : board.devices) out += (out.empty() ? "" : ", ") + d.name;
  return out;
}

std::string ChannelNames(const std::set<std::string>& channels) {
  std::string out;
  for (const std::string& c : channels) out += (out.empty() ? "" : ", ") + c;
  return out.empty() ? "none" : out;
}

bool IsNull(const Json* v) { return v != nullptr && v->is_null(); }

void ReadReportMs(ParamReader& r, ConfigMode mode, const board::Board& board, DeviceConfig& c) {
  const Json* v = r.Raw("report_ms");
  if (mode == ConfigMode::kPatch && v == nullptr) return;
  if (mode == ConfigMode::kPatch && IsNull(v)) {
    c.report_ms = board.report_ms;
    return;
  }
  c.report_ms = static_cast<uint32_t>(r.Integer("report_ms", board::kMinReportMs, board::kMaxPeriodMs));
}

void ReadSampleMs(ParamReader& r, ConfigMode mode, const board::Board& board, DeviceConfig& c) {
  const Json* v = r.Raw("sample_ms");
  if (mode == ConfigMode::kPatch && v == nullptr) return;
  if (mode == ConfigMode::kPatch && IsNull(v)) {
    for (const board::Device& d : board.devices) c.sample_ms[d.name] = d.sample_ms;
    return;
  }
  ParamReader periods = r.Object("sample_ms");
  if (v == nullptr || !v->is_object()) return;
  for (const auto& [name, value] : v->items()) {
    const board::Device* device = board.FindDevice(name);
    if (device == nullptr) {
      periods.Raw(name);
      periods.Fail(name, "no device " + board::Quote(name) + " on this board (devices: " + DeviceNames(board) + ")");
      continue;
    }
    if (mode == ConfigMode::kPatch && value.is_null()) {
      periods.Raw(name);
      c.sample_ms[name] = device->sample_ms;
      continue;
    }
    c.sample_ms[name] = static_cast<uint32_t>(periods.Integer(name, board::kMinSampleMs, board::kMaxPeriodMs));
    if (const std::string why = board::SamplePeriodProblem(*device, c.sample_ms[name]); periods.ok() && !why.empty()) {
      periods.Fail(name, why);
    }
  }
}

void ReadAlarm(ParamReader& a, const std::set<std::string>& channels, pipeline::AlarmRule& rule) {
  rule.channel = a.String("channel");
  if (!rule.channel.empty() && channels.count(rule.channel) == 0) {
    a.Fail("channel", "no part on this board produces " + board::Quote(rule.channel) +
                          " (channels: " + ChannelNames(channels) + ")");
  }
  const bool above = a.Has("above");
  if (above == a.Has("below")) {
    a.Raw("above");
    a.Raw("below");
    a.FailHere("needs exactly one of \"above\" or \"below\" (the threshold)");
  } else {
    rule.condition = above ? pipeline::Condition::kAbove : pipeline::Condition::kBelow;
    rule.threshold = a.Number(above ? "above" : "below");
  }
  // Required, unlike in a board file: the reported rule must equal the desired one field for field.
  rule.hysteresis = a.Number("hysteresis", board::Range::AtLeast(0));
  rule.severity =
      a.Enum("severity", {pipeline::kSeverityInfo, pipeline::kSeverityWarning, pipeline::kSeverityCritical});
}

void ReadAlarms(ParamReader& r, ConfigMode mode, const board::Board& board, const std::set<std::string>& channels,
                DeviceConfig& c) {
  const Json* v = r.Raw("alarms");
  if (mode == ConfigMode::kPatch && v == nullptr) return;
  if (mode == ConfigMode::kPatch && IsNull(v)) {
    c.alarms = DefaultsFrom(board).alarms;
    return;
  }
  std::vector<ParamReader> list = r.Objects("alarms", 0, kMaxAlarmRules);
  std::vector<pipeline::AlarmRule> rules(list.size());
  std::map<std::pair<std::string, pipeline::Condition>, size_t> seen;
  for (size_t i = 0; i < list.size() && r.ok(); ++i) {
    ReadAlarm(list[i], channels, rules[i]);
    if (!r.ok()) break;
    auto [it, fresh] = seen.emplace(std::make_pair(rules[i].channel, rules[i].condition), i);
    if (!fresh) {
      const char* cond = telemetry::AlarmConditionName(rules[i].condition);
      list[i].Fail(cond, "a second " + board::Quote(cond) + " rule for " + board::Quote(rules[i].channel) +
                             " (alarms[" + std::to_string(it->second) + "] is the first)");
    }
  }
  c.alarms = std::move(rules);
}

}  // namespace

bool SameSettings(const DeviceConfig& a, const DeviceConfig& b) {
  if (a.report_ms != b.report_ms || a.sample_ms != b.sample_ms || a.alarms.size() != b.alarms.size()) return false;
  for (size_t i = 0; i < a.alarms.size(); ++i) {
    const pipeline::AlarmRule& x = a.alarms[i];
    const pipeline::AlarmRule& y = b.alarms[i];
    if (x.channel != y.channel || x.condition != y.condition || x.threshold != y.threshold ||
        x.hysteresis != y.hysteresis || x.severity != y.severity) {
      return false;
    }
  }
  return true;
}

DeviceConfig DefaultsFrom(const board::Board& board) {
  DeviceConfig c;
  c.report_ms = board.report_ms;
  for (const board::Device& d : board.devices) c.sample_ms[d.name] = d.sample_ms;
  for (const board::AlarmSpec& a : board.alarms) c.alarms.push_back(ToRule(a));
  return c;
}

std::string SerializeConfig(const DeviceConfig& config) {
  Json out = Json::object();
  out["report_ms"] = config.report_ms;
  Json periods = Json::object();
  for (const auto& [name, ms] : config.sample_ms) periods[name] = ms;
  out["sample_ms"] = std::move(periods);
  Json alarms = Json::array();
  for (const pipeline::AlarmRule& r : config.alarms) {
    Json a = Json::object();
    a["channel"] = r.channel;
    a[telemetry::AlarmConditionName(r.condition)] = Number(r.threshold);
    a["hysteresis"] = Number(r.hysteresis);
    a["severity"] = r.severity;
    alarms.push_back(std::move(a));
  }
  out["alarms"] = std::move(alarms);
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void ReadConfigInto(ParamReader& r, ConfigMode mode, const board::Board& board, const std::set<std::string>& channels,
                    DeviceConfig& config) {
  ReadReportMs(r, mode, board, config);
  ReadSampleMs(r, mode, board, config);
  ReadAlarms(r, mode, board, channels, config);
}

Status CheckConfigSize(const DeviceConfig& config, const std::string& where) {
  const size_t bytes = SerializeConfig(config).size();
  if (bytes <= kMaxConfigBytes) return Status::Ok();
  return InvalidArgument(where + ": the config would be " + std::to_string(bytes) + " bytes as JSON, over its " +
                         std::to_string(kMaxConfigBytes) +
                         "-byte share of IoT Core's 8 KB shadow (held twice: desired and reported)");
}

Result<DeviceConfig> ParseConfig(std::string_view json, const board::Board& board,
                                 const std::set<std::string>& channels) {
  Result<Json> root = ParseStrictJson(json, kMaxConfigRecordBytes, kMaxConfigNesting);
  if (!root.ok()) return root.status();
  DeviceConfig config = DefaultsFrom(board);
  ParamReader r(*root, "", "");
  ReadConfigInto(r, ConfigMode::kComplete, board, channels, config);
  EF_RETURN_IF_ERROR(r.Finish());
  EF_RETURN_IF_ERROR(CheckConfigSize(config, "config"));
  return config;
}

Status SaveConfig(Storage& storage, const DeviceConfig& config) {
  const std::string record =
      "{\"version\":" + std::to_string(config.version) + ",\"config\":" + SerializeConfig(config) + "}";
  return storage.WriteAtomic(kConfigRecord, record).WithContext(std::string(kConfigRecord) + ": save");
}

Result<DeviceConfig> LoadConfig(Storage& storage, const board::Board& board, const std::set<std::string>& channels) {
  Result<std::string> text = storage.Read(kConfigRecord);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return text.status();
    return text.status().WithContext(kConfigRecord);
  }
  Result<Json> root = ParseStrictJson(*text, kMaxConfigRecordBytes, kMaxConfigNesting);
  if (!root.ok()) return DataLoss(std::string(kConfigRecord) + ": " + root.status().message());
  DeviceConfig config = DefaultsFrom(board);
  ParamReader r(*root, kConfigRecord, "");
  config.version = static_cast<uint64_t>(r.Integer("version", 0, INT64_MAX));
  ParamReader body = r.Object("config");
  ReadConfigInto(body, ConfigMode::kComplete, board, channels, config);
  EF_RETURN_IF_ERROR(r.Finish());
  EF_RETURN_IF_ERROR(CheckConfigSize(config, std::string(kConfigRecord) + ": config"));
  return config;
}

std::set<std::string> ChannelsOf(const Node& node) {
  std::set<std::string> out;
  for (const NodePart& p : node.parts()) out.insert(p.channels.begin(), p.channels.end());
  return out;
}

PipelineSettings ToPipeline(const DeviceConfig& config, const Node& node) {
  PipelineSettings s;
  for (const NodePart& p : node.parts()) {
    auto it = config.sample_ms.find(p.device->name);
    s.sample_periods.push_back(Millis(it != config.sample_ms.end() ? it->second : p.device->sample_ms));
  }
  s.report_period = Millis(config.report_ms);
  s.rules = config.alarms;
  return s;
}

Result<board::Json> ParseStrictJson(std::string_view text, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) {
    return InvalidArgument(std::to_string(text.size()) + " bytes, over the " + std::to_string(max_bytes) +
                           "-byte limit");
  }
  if (MaxNesting(text) > max_depth)
    return InvalidArgument("nested deeper than " + std::to_string(max_depth) + " levels");
  RepeatedKeyFinder checker;
  Json::parser_callback_t callback = [&checker](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    return checker.OnEvent(event, parsed);
  };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    std::string reason = e.what();
    const size_t column = reason.find("column ");
    const size_t colon = column == std::string::npos ? std::string::npos : reason.find(": ", column);
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    return InvalidArgument("not valid JSON at byte " + std::to_string(e.byte) + ": " + reason);
  } catch (const Json::exception& e) {
    // out_of_range 406: a number past double range ("1e999").
    std::string reason = e.what();
    const size_t tag = reason.find("] ");
    if (tag != std::string::npos) reason = reason.substr(tag + 2);
    return InvalidArgument("not valid JSON: " + reason);
  }
  if (checker.found()) {
    const std::string& at = checker.first_repeat();
    return InvalidArgument((at.empty() ? "" : at + ": ") + "key appears twice (JSON would keep only one)");
  }
  if (!root.is_object()) return InvalidArgument(std::string("must be a JSON object, got ") + root.type_name());
  return root;
}

}  // namespace edgeforge::app
