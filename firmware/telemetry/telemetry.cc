#include "firmware/telemetry/telemetry.h"

#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {
namespace {

using Json = nlohmann::ordered_json;

Status Field(const std::string& path, const char* want) {
  return InvalidArgument("telemetry: field '" + path + "' missing or not " + want);
}

const Json* Get(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

Result<Reading> ParseReading(const std::string& name, const Json& j) {
  const std::string path = "readings." + name;
  if (!j.is_object()) return Field(path, "an object");
  Reading r;
  r.name = name;
  const Json* unit = Get(j, "unit");
  if (!unit || !unit->is_string()) return Field(path + ".unit", "a string");
  r.unit = unit->get<std::string>();
  const Json* value = Get(j, "value");
  const Json* fault = Get(j, "fault");
  if (fault) {
    if (!fault->is_string() || fault->get<std::string>().empty()) {
      return Field(path + ".fault", "a non-empty string");
    }
    r.fault = fault->get<std::string>();
    if (!value || !value->is_null()) return Field(path + ".value", "null (reading has a fault)");
    return r;
  }
  if (!value || !value->is_number()) return Field(path + ".value", "a number");
  r.value = value->get<double>();
  return r;
}

Result<DeviceStatus> ParseStatus(const Json& j) {
  if (!j.is_object()) return Field("status", "an object");
  DeviceStatus s;
  const Json* up = Get(j, "uptime_s");
  if (!up || !up->is_number_integer()) return Field("status.uptime_s", "an integer");
  s.uptime_s = up->get<int64_t>();
  const Json* dropped = Get(j, "dropped");
  if (!dropped || !dropped->is_number_unsigned()) return Field("status.dropped", "an unsigned integer");
  s.dropped = dropped->get<uint64_t>();
  const Json* faults = Get(j, "faults");
  if (!faults || !faults->is_array()) return Field("status.faults", "an array");
  for (const auto& f : *faults) {
    if (!f.is_string()) return Field("status.faults[]", "a string");
    s.faults.push_back(f.get<std::string>());
  }
  return s;
}

Status ParseHeaderFields(const Json& j, Message& m) {
  const Json* v = Get(j, "v");
  if (!v || !v->is_number_integer() || v->get<int64_t>() != kSchemaVersion) {
    return Field("v", "the integer 1");
  }
  const Json* dev = Get(j, "dev");
  if (!dev || !dev->is_string() || dev->get<std::string>().empty()) return Field("dev", "a non-empty string");
  m.dev = dev->get<std::string>();
  const Json* seq = Get(j, "seq");
  if (!seq || !seq->is_number_unsigned()) return Field("seq", "an unsigned integer");
  m.seq = seq->get<uint64_t>();
  const Json* boot = Get(j, "boot");
  if (!boot || !boot->is_number_unsigned()) return Field("boot", "an unsigned integer");
  m.boot = boot->get<uint64_t>();
  const Json* ts = Get(j, "ts");
  if (!ts || !ts->is_number_integer()) return Field("ts", "an integer (ms since epoch)");
  m.ts = ts->get<int64_t>();
  return Status::Ok();
}

}  // namespace

std::string Serialize(const Message& m) {
  Json j;
  j["v"] = kSchemaVersion;
  j["dev"] = m.dev;
  j["seq"] = m.seq;
  j["boot"] = m.boot;
  j["ts"] = m.ts;
  Json readings = Json::object();
  for (const auto& r : m.readings) {
    Json jr;
    if (r.fault.empty()) {
      jr["value"] = r.value;
    } else {
      jr["value"] = nullptr;
      jr["fault"] = r.fault;
    }
    jr["unit"] = r.unit;
    readings[r.name] = std::move(jr);
  }
  j["readings"] = std::move(readings);
  j["status"] = {{"uptime_s", m.status.uptime_s},
                 {"dropped", m.status.dropped},
                 {"faults", m.status.faults}};
  // Invalid UTF-8 in a fault text must not throw: replace it.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Message> Parse(std::string_view json) {
  if (json.size() > kMaxPayloadBytes) {
    return InvalidArgument("telemetry: payload is " + std::to_string(json.size()) +
                           " bytes, over the 128 KB limit");
  }
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("telemetry: payload is not valid JSON");
  if (!j.is_object()) return InvalidArgument("telemetry: payload is not a JSON object");
  Message m;
  EF_RETURN_IF_ERROR(ParseHeaderFields(j, m));
  const Json* readings = Get(j, "readings");
  if (!readings || !readings->is_object()) return Field("readings", "an object");
  for (const auto& [name, value] : readings->items()) {
    auto r = ParseReading(name, value);
    if (!r.ok()) return r.status();
    m.readings.push_back(std::move(*r));
  }
  const Json* status = Get(j, "status");
  if (!status) return Field("status", "an object");
  auto s = ParseStatus(*status);
  if (!s.ok()) return s.status();
  m.status = std::move(*s);
  return m;
}

}  // namespace edgeforge::telemetry
