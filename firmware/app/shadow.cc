#include "firmware/app/shadow.h"

#include <algorithm>
#include <utility>

namespace edgeforge::app {
namespace {

using board::Json;
using board::ParamReader;

constexpr size_t kMaxThingNameBytes = 128;
constexpr const char* kEnvelope[] = {"version", "timestamp", "state", "metadata", "clientToken"};

bool IsThingNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-';
}

Result<Json> ParseDeltaJson(std::string_view text) {
  Result<Json> root = app::ParseStrictJson(text, kMaxDeltaBytes, kMaxDeltaNesting);
  if (!root.ok()) return root.status().WithContext("shadow delta");
  return root;
}

// The merge itself, on a parsed delta message. Every check goes through one
// reader tree so that Finish() reports the first problem, or a typo.
Result<DeviceConfig> ApplyParsed(const Json& root, const DeviceConfig& current, const board::Board& board,
                                      const std::set<std::string>& channels) {
  // IoT Core never sends a state over its limit: such a document is not from it.
  if (auto state = root.find("state"); state != root.end()) {
    const size_t bytes = state->dump(-1, ' ', false, Json::error_handler_t::replace).size();
    if (bytes > kMaxShadowStateBytes) {
      return InvalidArgument("state: " + std::to_string(bytes) + " bytes, over IoT Core's " +
                             std::to_string(kMaxShadowStateBytes) + "-byte shadow state limit");
    }
  }
  ParamReader r(root, "", "");
  const auto version = static_cast<uint64_t>(r.Integer("version", 0, INT64_MAX));
  if (r.Has("timestamp")) (void)r.Integer("timestamp", 0, INT64_MAX);
  if (r.Has("clientToken")) (void)r.String("clientToken");
  if (const Json* meta = r.Raw("metadata"); meta != nullptr && !meta->is_object()) {
    r.Fail("metadata", std::string("must be an object, got ") + meta->type_name());
  }
  for (const auto& [key, value] : root.items()) {
    if (std::find(std::begin(kEnvelope), std::end(kEnvelope), key) == std::end(kEnvelope)) r.Raw(key);
  }
  ParamReader state = r.Object("state");
  DeviceConfig next = current;
  const Json* config = state.Raw("config");
  if (config != nullptr && config->is_null()) {
    next = app::DefaultsFrom(board);
  } else if (config != nullptr) {
    ParamReader c = state.Object("config");
    app::ReadConfigInto(c, app::ConfigMode::kPatch, board, channels, next);
  }
  EF_RETURN_IF_ERROR(r.Finish());
  next.version = version;
  EF_RETURN_IF_ERROR(app::CheckConfigSize(next, "state.config"));
  return next;
}

// At most `max` bytes, cut on a UTF-8 character boundary, marked as cut.
std::string Cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max - 3;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end) + "...";
}

}  // namespace

Status ValidateThingName(std::string_view thing) {
  const std::string rule = " (AWS IoT thing names are 1..128 characters of [a-zA-Z0-9:_-])";
  if (thing.empty()) return InvalidArgument("thing name is empty" + rule);
  if (thing.size() > kMaxThingNameBytes) {
    return InvalidArgument("thing name is " + std::to_string(thing.size()) + " bytes" + rule);
  }
  for (size_t i = 0; i < thing.size(); ++i) {
    if (!IsThingNameChar(thing[i])) {
      return InvalidArgument("thing name " + board::Quote(thing) + ": character " + std::to_string(i) +
                             " is not allowed" + rule);
    }
  }
  return Status::Ok();
}

Result<ShadowTopics> ShadowTopicsFor(std::string_view thing) {
  EF_RETURN_IF_ERROR(ValidateThingName(thing));
  const std::string base = "$aws/things/" + std::string(thing) + "/shadow/";
  ShadowTopics t;
  t.update = base + "update";
  t.update_delta = base + "update/delta";
  t.update_accepted = base + "update/accepted";
  t.update_rejected = base + "update/rejected";
  t.get = base + "get";
  t.get_accepted = base + "get/accepted";
  t.get_rejected = base + "get/rejected";
  return t;
}

Result<DeviceConfig> ApplyDelta(std::string_view delta_json, const DeviceConfig& current,
                                     const board::Board& board, const std::set<std::string>& channels) {
  Result<Json> root = ParseDeltaJson(delta_json);
  if (!root.ok()) return root.status();
  return ApplyParsed(*root, current, board, channels);
}

Result<std::string> DeltaFromGetAccepted(std::string_view get_accepted_json) {
  Result<Json> root = app::ParseStrictJson(get_accepted_json, kMaxGetAcceptedBytes, kMaxGetAcceptedNesting);
  if (!root.ok()) return root.status().WithContext("shadow get/accepted");
  auto version = root->find("version");
  if (version == root->end() || !version->is_number_unsigned()) {
    return InvalidArgument("shadow get/accepted: version: must be an unsigned integer");
  }
  Json delta = Json::object();
  auto state = root->find("state");
  if (state != root->end()) {
    if (!state->is_object()) return InvalidArgument("shadow get/accepted: state: must be an object");
    auto d = state->find("delta");
    if (d != state->end()) {
      if (!d->is_object()) return InvalidArgument("shadow get/accepted: state.delta: must be an object");
      delta = *d;
    }
  }
  Json out = Json::object();
  out["version"] = *version;
  out["state"] = std::move(delta);
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<ReportedSession> ReportedSessionFromGetAccepted(std::string_view get_accepted_json) {
  Result<Json> root = app::ParseStrictJson(get_accepted_json, kMaxGetAcceptedBytes, kMaxGetAcceptedNesting);
  if (!root.ok() || !root->is_object()) return std::nullopt;
  const Json* cur = &*root;
  for (const char* key : {"state", "reported", "session"}) {
    auto it = cur->find(key);
    if (it == cur->end() || !it->is_object()) return std::nullopt;
    cur = &*it;
  }
  auto instance = cur->find("instance");
  auto since = cur->find("since");
  if (instance == cur->end() || !instance->is_string() || since == cur->end() || !since->is_number_integer()) {
    return std::nullopt;
  }
  return ReportedSession{instance->get<std::string>(), since->get<int64_t>()};
}

std::string ReportedState(const ReportedInfo& info) {
  Json reported = Json::object();
  reported["firmware"] = info.firmware_version;
  reported["config"] = Json::parse(app::SerializeConfig(info.config));
  reported["config_version"] = info.config.version;
  if (info.config_error) {
    Json e = Json::object();
    e["version"] = info.config_error->version;
    e["message"] = Cut(info.config_error->message, kMaxReportedTextBytes);
    reported["config_error"] = std::move(e);
  } else {
    reported["config_error"] = nullptr;
  }
  Json sensors = Json::object();
  for (const auto& [name, health] : info.sensors) sensors[name] = Cut(health, kMaxReportedTextBytes);
  reported["sensors"] = std::move(sensors);
  Json dropped = Json::object();
  dropped["alarm"] = info.queue.dropped_alarm;
  dropped["state"] = info.queue.dropped_state;
  dropped["bulk"] = info.queue.dropped_bulk;
  Json queue = Json::object();
  queue["depth"] = info.queue.depth;
  queue["bytes"] = info.queue.bytes;
  queue["dropped"] = std::move(dropped);
  reported["queue"] = std::move(queue);
  Json link = Json::object();
  link["reconnects"] = info.reconnects;
  reported["link"] = std::move(link);
  reported["storage_errors"] = info.storage_errors;
  reported["refused"] = info.refused;
  if (info.crash_loss) reported["crash_loss"] = {{"boot", info.crash_loss->boot}, {"lost", info.crash_loss->lost}};
  if (!info.instance.empty()) {
    reported["session"] = {{"instance", Cut(info.instance, kMaxReportedTextBytes)}, {"since", info.connected_since_ms}};
  }
  Json doc = Json::object();
  doc["state"]["reported"] = std::move(reported);
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

ConfigShadow::ConfigShadow(const board::Board& board, std::set<std::string> channels, DeviceConfig active)
    : board_(board), channels_(std::move(channels)), active_(std::move(active)) {}

DeltaDecision ConfigShadow::OnDelta(std::string_view delta_json) {
  DeltaDecision d;
  Result<Json> root = ParseDeltaJson(delta_json);
  // IoT Core re-sends the same state under a new version after each update,
  // so a delta is recognised by its state, not its version.
  const Json* state = nullptr;
  if (root.ok()) {
    auto it = root->find("state");
    if (it != root->end()) state = &*it;
  }
  std::string identity =
      state != nullptr ? state->dump(-1, ' ', false, Json::error_handler_t::replace) : std::string(delta_json);
  if (error_ && identity == rejected_state_) return d;

  Result<DeviceConfig> next = root.ok() ? ApplyParsed(*root, active_, board_, channels_) : root.status();
  if (!next.ok()) {
    uint64_t version = 0;
    if (root.ok()) {
      auto v = root->find("version");
      if (v != root->end() && v->is_number_unsigned()) version = v->get<uint64_t>();
    }
    error_ = ConfigError{version, next.status().message()};
    rejected_state_ = std::move(identity);
    d.action = DeltaAction::kReject;
    d.error = *error_;
    return d;
  }
  // Nothing to change and nothing to clear: a report would only echo the same state.
  if (!error_ && app::SameSettings(*next, active_)) return d;
  pending_state_ = std::move(identity);
  d.action = DeltaAction::kApply;
  d.config = std::move(*next);
  return d;
}

void ConfigShadow::Commit(DeviceConfig applied) {
  active_ = std::move(applied);
  error_.reset();
  rejected_state_.clear();
  pending_state_.clear();
}

void ConfigShadow::Fail(ConfigError error) {
  error_ = std::move(error);
  rejected_state_ = std::move(pending_state_);
  pending_state_.clear();
}

}  // namespace edgeforge::app
