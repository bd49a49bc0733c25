#include "firmware/telemetry/telemetry.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kTelemetry[] = "telemetry";
constexpr char kAlarm[] = "alarm";

Status Bad(std::string_view what, const std::string& path, const std::string& problem) {
  return InvalidArgument(std::string(what) + ": field '" + path + "' " + problem);
}

Status Field(std::string_view what, const std::string& path, const char* want) {
  return Bad(what, path, std::string("missing or not ") + want);
}

const Json* Get(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool FitsInt64(const Json& j) {
  return j.is_number_integer() &&
         (!j.is_number_unsigned() || j.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
}

// Typed access to the members of one JSON object; errors name the member by
// its full path ("readings.speed.n").
class Fields {
 public:
  Fields(std::string_view what, const Json& obj, std::string prefix)
      : what_(what), obj_(obj), prefix_(std::move(prefix)) {}

  std::string Path(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  const Json* Get(const char* key) const { return telemetry::Get(obj_, key); }
  Status Missing(const char* key, const char* want) const { return Field(what_, Path(key), want); }

  Status NonEmptyString(const char* key, std::string* out) const {
    const Json* j = Get(key);
    if (!j || !j->is_string() || j->get_ref<const std::string&>().empty()) return Missing(key, "a non-empty string");
    *out = j->get<std::string>();
    return Status::Ok();
  }
  Status Unsigned(const char* key, uint64_t* out) const {
    const Json* j = Get(key);
    if (!j || !j->is_number_unsigned()) return Missing(key, "an unsigned integer");
    *out = j->get<uint64_t>();
    return Status::Ok();
  }
  Status Integer(const char* key, int64_t* out, const char* want = "an integer") const {
    const Json* j = Get(key);
    if (!j || !FitsInt64(*j)) return Missing(key, want);
    *out = j->get<int64_t>();
    return Status::Ok();
  }
  Status Boolean(const char* key, bool* out) const {
    const Json* j = Get(key);
    if (!j || !j->is_boolean()) return Missing(key, "true or false");
    *out = j->get<bool>();
    return Status::Ok();
  }
  Status Number(const char* key, double* out) const {
    const Json* j = Get(key);
    if (!j || !j->is_number() || !std::isfinite(j->get<double>())) return Missing(key, "a finite number");
    *out = j->get<double>();
    return Status::Ok();
  }
  /// A statistic: a finite number when `present`, else null.
  Status Stat(const char* key, bool present, double* out) const {
    if (present) return Number(key, out);
    const Json* j = Get(key);
    if (!j || !j->is_null()) return Missing(key, "null (n is 0)");
    return Status::Ok();
  }
  /// One of `names` (indexed by the enum's value).
  template <typename Enum, size_t N>
  Status OneOf(const char* key, const char* const (&names)[N], const char* want, Enum* out) const {
    const Json* j = Get(key);
    if (j && j->is_string()) {
      for (size_t i = 0; i < N; ++i) {
        if (j->get_ref<const std::string&>() == names[i]) {
          *out = static_cast<Enum>(i);
          return Status::Ok();
        }
      }
    }
    return Missing(key, want);
  }

 private:
  std::string_view what_;
  const Json& obj_;
  std::string prefix_;
};

constexpr const char* kAggregationNames[] = {"mean", "rms", "sum"};
constexpr const char* kTypeNames[] = {kTelemetry, kAlarm};
constexpr const char* kConditionNames[] = {"above", "below"};
constexpr const char* kStateNames[] = {"raised", "cleared"};

// Integral values within 2^53 are written as integers ("value":37, not 37.0):
// the same number to IoT rule SQL, shorter and what a reader expects of a count.
Json Num(double v) {
  constexpr double kExactInt = 9007199254740992.0;  // 2^53
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < kExactInt) return Json(static_cast<int64_t>(v));
  return Json(v);
}

std::string Dump(const Json& j) {
  // Invalid UTF-8 in a fault text must not throw: replace it.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Json> ParseObject(std::string_view json, std::string_view what) {
  if (json.size() > kMaxPayloadBytes) {
    return InvalidArgument(std::string(what) + ": payload is " + std::to_string(json.size()) +
                           " bytes, over the 128 KB limit");
  }
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(std::string(what) + ": payload is not valid JSON");
  if (!j.is_object()) return InvalidArgument(std::string(what) + ": payload is not a JSON object");
  return j;
}

Status ParseEnvelopeFields(const Json& j, std::string_view what, Envelope* e) {
  const Fields f(what, j, "");
  const Json* v = f.Get("v");
  if (!v || !FitsInt64(*v) || (v->get<int64_t>() != kSchemaVersionV1 && v->get<int64_t>() != kSchemaVersion)) {
    return f.Missing("v", "the integer 1 or 2");
  }
  e->v = static_cast<int>(v->get<int64_t>());
  e->type = MessageType::kTelemetry;
  if (e->v == kSchemaVersion) {
    EF_RETURN_IF_ERROR(f.OneOf("type", kTypeNames, "\"telemetry\" or \"alarm\"", &e->type));
  }
  EF_RETURN_IF_ERROR(f.NonEmptyString("dev", &e->dev));
  EF_RETURN_IF_ERROR(f.Unsigned("seq", &e->seq));
  EF_RETURN_IF_ERROR(f.Unsigned("boot", &e->boot));
  return f.Integer("ts", &e->ts, "an integer (ms since epoch)");
}

// Envelope of a message that must be v2 of `type`.
Status ParseV2Header(const Json& j, MessageType type, std::string_view what, Envelope* e, std::string* kind) {
  EF_RETURN_IF_ERROR(ParseEnvelopeFields(j, what, e));
  if (e->v != kSchemaVersion) return Bad(what, "v", "is 1; this parser reads v2 only");
  if (e->type != type) {
    return Bad(what, "type",
               std::string("is \"") + MessageTypeName(e->type) + "\", not \"" + MessageTypeName(type) + "\"");
  }
  const Fields f(what, j, "");
  EF_RETURN_IF_ERROR(f.NonEmptyString("kind", kind));
  Status k = ValidateKind(*kind);
  if (!k.ok()) return Bad(what, "kind", k.message());
  return Status::Ok();
}

// ---- status (v1 and v2) ----------------------------------------------------

// When a member of a status object must be there.
enum class Need : uint8_t {
  kAlways,      // v1 and v2; every member of the nested objects (which only v2 has)
  kV2,          // v2; not read in v1
  kV2Optional,  // v2, and absent in windows from older firmware (reads as 0 / unset); not read in v1
};

// One member of a status object: its key, when it must be there, and a reader
// that checks its JSON type and stores it into T. A table lists the members in
// the order they are checked, so the first bad one is the error.
template <typename T>
struct Member {
  const char* key;
  Need need;
  Status (*read)(const Fields& f, const char* key, T* out);
};

template <typename T, size_t N>
Status ReadMembers(const Fields& f, const Member<T> (&members)[N], bool v2, T* out) {
  for (const Member<T>& m : members) {
    if (m.need != Need::kAlways && !v2) continue;
    if (m.need == Need::kV2Optional && f.Get(m.key) == nullptr) continue;
    EF_RETURN_IF_ERROR(m.read(f, m.key, out));
  }
  return Status::Ok();
}

// Readers for the tables; T is deduced from the table's Member<T>.
template <auto kMember, typename T>
Status ReadInteger(const Fields& f, const char* key, T* out) {
  return f.Integer(key, &(out->*kMember));
}
template <auto kMember, typename T>
Status ReadUnsigned(const Fields& f, const char* key, T* out) {
  return f.Unsigned(key, &(out->*kMember));
}
template <auto kMember, typename T>
Status ReadBoolean(const Fields& f, const char* key, T* out) {
  return f.Boolean(key, &(out->*kMember));
}
template <size_t kClass>
Status ReadDroppedByClass(const Fields& f, const char* key, DeviceStatus* out) {
  return f.Unsigned(key, &out->dropped_by_class[kClass]);
}
// An object whose members are all read by `kMembers`.
template <const auto& kMembers, typename T>
Status ReadObject(const Fields& f, const char* key, T* out) {
  const Json* j = f.Get(key);
  if (!j || !j->is_object()) return f.Missing(key, "an object");
  return ReadMembers(Fields(kTelemetry, *j, f.Path(key)), kMembers, /*v2=*/true, out);  // objects are v2 only
}

// status.queue.dropped: drops since boot by class.
constexpr Member<DeviceStatus> kDroppedByClass[] = {
    {"alarm", Need::kAlways, ReadDroppedByClass<0>},
    {"state", Need::kAlways, ReadDroppedByClass<1>},
    {"bulk", Need::kAlways, ReadDroppedByClass<2>},
};
constexpr Member<DeviceStatus> kQueue[] = {
    {"depth", Need::kAlways, ReadUnsigned<&DeviceStatus::queue_depth>},
    {"quarantined", Need::kAlways, ReadUnsigned<&DeviceStatus::quarantined>},
    {"dropped", Need::kAlways, ReadObject<kDroppedByClass>},
};
constexpr Member<DeviceStatus> kLink[] = {
    {"reconnects", Need::kAlways, ReadUnsigned<&DeviceStatus::reconnects>},
};
constexpr Member<PrevBoot> kPrevBoot[] = {
    {"boot", Need::kAlways, ReadUnsigned<&PrevBoot::boot>},
    {"last_seq", Need::kAlways, ReadUnsigned<&PrevBoot::last_seq>},
    {"exact", Need::kAlways, ReadBoolean<&PrevBoot::exact>},
    {"lost", Need::kAlways, ReadUnsigned<&PrevBoot::lost>},
};

Status ReadPrevBoot(const Fields& f, const char* key, DeviceStatus* s) {
  PrevBoot pb;
  EF_RETURN_IF_ERROR(ReadObject<kPrevBoot>(f, key, &pb));
  s->prev_boot = pb;
  return Status::Ok();
}

// Key rotation (docs/telemetry.md "Signing-key rotation"): the public JWK of
// the key the device will sign with next, checked in full (curve, thumbprint),
// since a verifier learns keys from it.
Status ReadNextKey(const Fields& f, const char* key, DeviceStatus* s) {
  const Json* k = f.Get(key);
  if (!k || !k->is_object()) return f.Missing(key, "an object (a public JWK)");
  auto jwk = jws::JwkFromJson(Dump(*k), f.Path(key));
  if (!jwk.ok()) return InvalidArgument(std::string(kTelemetry) + ": " + jwk.status().message());
  if (!jwk->thing.empty()) return Bad(kTelemetry, f.Path(key) + ".thing", "is not allowed (the key is dev's)");
  s->next_key = std::move(*jwk);
  return Status::Ok();
}

Status ReadFaults(const Fields& f, const char* key, DeviceStatus* s) {
  const Json* faults = f.Get(key);
  if (!faults || !faults->is_array()) return f.Missing(key, "an array");
  for (const auto& fault : *faults) {
    if (!fault.is_string()) return Field(kTelemetry, f.Path(key) + "[]", "a string");
    s->faults.push_back(fault.get<std::string>());
  }
  return Status::Ok();
}

constexpr Member<DeviceStatus> kStatus[] = {
    {"uptime_s", Need::kAlways, ReadInteger<&DeviceStatus::uptime_s>},
    {"dropped", Need::kAlways, ReadUnsigned<&DeviceStatus::dropped>},
    {"skipped_samples", Need::kV2, ReadUnsigned<&DeviceStatus::skipped_samples>},
    // Link figures: absent in windows from firmware before the reliable link.
    {"queue", Need::kV2Optional, ReadObject<kQueue>},
    {"link", Need::kV2Optional, ReadObject<kLink>},
    // Storage and broker-refusal counters (issue 8): absent in older firmware.
    {"storage_errors", Need::kV2Optional, ReadUnsigned<&DeviceStatus::storage_errors>},
    {"refused", Need::kV2Optional, ReadUnsigned<&DeviceStatus::refused>},
    {"prev_boot", Need::kV2Optional, ReadPrevBoot},
    {"next_key", Need::kV2Optional, ReadNextKey},
    {"faults", Need::kAlways, ReadFaults},
};

Result<DeviceStatus> ParseStatus(const Json& j, bool v2) {
  if (!j.is_object()) return Field(kTelemetry, "status", "an object");
  DeviceStatus s;
  EF_RETURN_IF_ERROR(ReadMembers(Fields(kTelemetry, j, "status"), kStatus, v2, &s));
  return s;
}

// ---- v1 --------------------------------------------------------------------

Result<Reading> ParseV1Reading(const std::string& name, const Json& j) {
  const std::string path = "readings." + name;
  if (name.empty()) return Bad(kTelemetry, "readings", "has a member with an empty name");
  if (!j.is_object()) return Field(kTelemetry, path, "an object");
  const Fields f(kTelemetry, j, path);
  Reading r;
  r.name = name;
  const Json* unit = f.Get("unit");
  if (!unit || !unit->is_string()) return f.Missing("unit", "a string");
  r.unit = unit->get<std::string>();
  const Json* value = f.Get("value");
  const Json* fault = f.Get("fault");
  if (fault) {
    if (!fault->is_string() || fault->get_ref<const std::string&>().empty()) {
      return f.Missing("fault", "a non-empty string");
    }
    r.fault = fault->get<std::string>();
    if (!value || !value->is_null()) return f.Missing("value", "null (reading has a fault)");
    return r;
  }
  EF_RETURN_IF_ERROR(f.Number("value", &r.value));
  return r;
}

Result<Message> ParseV1Body(const Json& j, const Envelope& e) {
  Message m;
  m.dev = e.dev;
  m.seq = e.seq;
  m.boot = e.boot;
  m.ts = e.ts;
  const Json* readings = Get(j, "readings");
  if (!readings || !readings->is_object()) return Field(kTelemetry, "readings", "an object");
  for (const auto& [name, value] : readings->items()) {
    auto r = ParseV1Reading(name, value);
    if (!r.ok()) return r.status();
    m.readings.push_back(std::move(*r));
  }
  const Json* status = Get(j, "status");
  if (!status) return Field(kTelemetry, "status", "an object");
  auto s = ParseStatus(*status, /*v2=*/false);
  if (!s.ok()) return s.status();
  m.status = std::move(*s);
  return m;
}

// ---- v2 telemetry ----------------------------------------------------------

Json ChannelJson(const ChannelWindow& c) {
  const bool has = c.n > 0;
  auto stat = [has](double v) { return has ? Num(v) : Json(nullptr); };
  Json j;
  j["unit"] = c.unit;
  j["agg"] = AggregationName(c.agg);
  j["n"] = c.n;
  j["value"] = stat(c.value);
  if (c.agg != Aggregation::kSum) {
    j["min"] = stat(c.min);
    j["max"] = stat(c.max);
  }
  if (c.agg == Aggregation::kRms) j["mean"] = stat(c.mean);
  // An empty window says whether it was faults or no samples at all.
  if (c.faults > 0 || !has) j["faults"] = c.faults;
  if (c.faults > 0) j["fault"] = c.fault.empty() ? std::string("unspecified fault") : c.fault;
  return j;
}

Status ParseChannelFaults(const Fields& f, ChannelWindow* c) {
  if (f.Get("faults")) EF_RETURN_IF_ERROR(f.Unsigned("faults", &c->faults));
  if (c->faults > 0) return f.NonEmptyString("fault", &c->fault);
  if (f.Get("fault")) return Bad(kTelemetry, f.Path("fault"), "present but faults is 0");
  return Status::Ok();
}

Result<ChannelWindow> ParseChannel(const std::string& name, const Json& j) {
  if (name.empty()) return Bad(kTelemetry, "readings", "has a member with an empty name");
  const std::string path = "readings." + name;
  if (!j.is_object()) return Field(kTelemetry, path, "an object");
  const Fields f(kTelemetry, j, path);
  ChannelWindow c;
  c.name = name;
  EF_RETURN_IF_ERROR(f.NonEmptyString("unit", &c.unit));
  EF_RETURN_IF_ERROR(f.OneOf("agg", kAggregationNames, "\"mean\", \"rms\" or \"sum\"", &c.agg));
  EF_RETURN_IF_ERROR(f.Unsigned("n", &c.n));
  const bool has = c.n > 0;
  EF_RETURN_IF_ERROR(f.Stat("value", has, &c.value));
  if (c.agg != Aggregation::kSum) {
    EF_RETURN_IF_ERROR(f.Stat("min", has, &c.min));
    EF_RETURN_IF_ERROR(f.Stat("max", has, &c.max));
  }
  if (c.agg == Aggregation::kRms) EF_RETURN_IF_ERROR(f.Stat("mean", has, &c.mean));
  if (c.agg == Aggregation::kMean) c.mean = c.value;
  EF_RETURN_IF_ERROR(ParseChannelFaults(f, &c));
  return c;
}

Result<Telemetry> ParseTelemetryBody(const Json& j) {
  Telemetry t;
  Envelope e;
  EF_RETURN_IF_ERROR(ParseV2Header(j, MessageType::kTelemetry, kTelemetry, &e, &t.kind));
  t.dev = e.dev;
  t.seq = e.seq;
  t.boot = e.boot;
  t.ts = e.ts;
  const Json* window = Get(j, "window");
  if (!window || !window->is_object()) return Field(kTelemetry, "window", "an object");
  const Fields w(kTelemetry, *window, "window");
  EF_RETURN_IF_ERROR(w.Integer("start", &t.window_start, "an integer (ms since epoch)"));
  EF_RETURN_IF_ERROR(w.Unsigned("ms", &t.window_ms));
  const Json* readings = Get(j, "readings");
  if (!readings || !readings->is_object()) return Field(kTelemetry, "readings", "an object");
  for (const auto& [name, value] : readings->items()) {
    auto c = ParseChannel(name, value);
    if (!c.ok()) return c.status();
    t.readings.push_back(std::move(*c));
  }
  const Json* status = Get(j, "status");
  if (!status) return Field(kTelemetry, "status", "an object");
  auto s = ParseStatus(*status, /*v2=*/true);
  if (!s.ok()) return s.status();
  t.status = std::move(*s);
  return t;
}

Message V1View(const Telemetry& t) {
  Message m;
  m.dev = t.dev;
  m.seq = t.seq;
  m.boot = t.boot;
  m.ts = t.ts;
  for (const auto& c : t.readings) {
    Reading r;
    r.name = c.name;
    r.unit = c.unit;
    r.agg = c.agg;
    if (c.n > 0) {
      r.value = c.value;
    } else {
      r.fault = c.faults > 0 ? c.fault : "no valid sample in the window";
    }
    m.readings.push_back(std::move(r));
  }
  m.status = t.status;
  return m;
}

Json V2Header(MessageType type, const std::string& dev, const std::string& kind, uint64_t seq, uint64_t boot,
              int64_t ts) {
  Json j;
  j["v"] = kSchemaVersion;
  j["type"] = MessageTypeName(type);
  j["dev"] = dev;
  j["kind"] = kind;
  j["seq"] = seq;
  j["boot"] = boot;
  j["ts"] = ts;
  return j;
}

}  // namespace

const char* AggregationName(Aggregation a) { return kAggregationNames[static_cast<size_t>(a)]; }
const char* MessageTypeName(MessageType t) { return kTypeNames[static_cast<size_t>(t)]; }
const char* AlarmConditionName(AlarmCondition c) { return kConditionNames[static_cast<size_t>(c)]; }
const char* AlarmStateName(AlarmState s) { return kStateNames[static_cast<size_t>(s)]; }

Status ValidateKind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindBytes) {
    return InvalidArgument("node kind '" + std::string(kind.substr(0, 40)) + "' must be 1..32 bytes");
  }
  for (char c : kind) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return InvalidArgument("node kind '" + std::string(kind) + "' may only contain [a-z0-9_-]");
  }
  return Status::Ok();
}

std::string Serialize(const Message& m) {
  Json j;
  j["v"] = kSchemaVersionV1;
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
  j["status"] = {{"uptime_s", m.status.uptime_s}, {"dropped", m.status.dropped}, {"faults", m.status.faults}};
  return Dump(j);
}

std::string Serialize(const Telemetry& m) {
  Json j = V2Header(MessageType::kTelemetry, m.dev, m.kind, m.seq, m.boot, m.ts);
  j["window"] = {{"start", m.window_start}, {"ms", m.window_ms}};
  Json readings = Json::object();
  for (const auto& c : m.readings) readings[c.name] = ChannelJson(c);
  j["readings"] = std::move(readings);
  const DeviceStatus& st = m.status;
  j["status"] = {
      {"uptime_s", st.uptime_s},
      {"dropped", st.dropped},
      {"skipped_samples", st.skipped_samples},
      {"faults", st.faults},
      {"queue",
       {{"depth", st.queue_depth},
        {"dropped",
         {{"alarm", st.dropped_by_class[0]}, {"state", st.dropped_by_class[1]}, {"bulk", st.dropped_by_class[2]}}},
        {"quarantined", st.quarantined}}},
      {"link", {{"reconnects", st.reconnects}}}};
  j["status"]["storage_errors"] = st.storage_errors;
  j["status"]["refused"] = st.refused;
  if (st.prev_boot) {
    const PrevBoot& p = *st.prev_boot;
    j["status"]["prev_boot"] = {{"boot", p.boot}, {"last_seq", p.last_seq}, {"exact", p.exact}, {"lost", p.lost}};
  }
  if (st.next_key) {
    const jws::Jwk& k = *st.next_key;
    j["status"]["next_key"] = {{"kty", "EC"},
                               {"crv", "P-256"},
                               {"x", jws::Base64UrlEncode(k.key.x)},
                               {"y", jws::Base64UrlEncode(k.key.y)},
                               {"kid", k.kid}};
  }
  return Dump(j);
}

std::string Serialize(const AlarmMessage& m) {
  Json j = V2Header(MessageType::kAlarm, m.dev, m.kind, m.seq, m.boot, m.ts);
  const Alarm& a = m.alarm;
  Json ja;
  ja["channel"] = a.channel;
  ja["state"] = AlarmStateName(a.state);
  ja["condition"] = AlarmConditionName(a.condition);
  ja["threshold"] = Num(a.threshold);
  ja["hysteresis"] = Num(a.hysteresis);
  ja["value"] = Num(a.value);
  ja["severity"] = a.severity;
  j["alarm"] = std::move(ja);
  return Dump(j);
}

Result<Envelope> ParseEnvelope(std::string_view json) {
  auto j = ParseObject(json, "message");
  if (!j.ok()) return j.status();
  Envelope e;
  EF_RETURN_IF_ERROR(ParseEnvelopeFields(*j, "message", &e));
  return e;
}

Result<Telemetry> ParseTelemetry(std::string_view json) {
  auto j = ParseObject(json, kTelemetry);
  if (!j.ok()) return j.status();
  return ParseTelemetryBody(*j);
}

Result<AlarmMessage> ParseAlarm(std::string_view json) {
  auto j = ParseObject(json, kAlarm);
  if (!j.ok()) return j.status();
  AlarmMessage m;
  Envelope e;
  EF_RETURN_IF_ERROR(ParseV2Header(*j, MessageType::kAlarm, kAlarm, &e, &m.kind));
  m.dev = e.dev;
  m.seq = e.seq;
  m.boot = e.boot;
  m.ts = e.ts;
  const Json* alarm = Get(*j, "alarm");
  if (!alarm || !alarm->is_object()) return Field(kAlarm, "alarm", "an object");
  const Fields f(kAlarm, *alarm, "alarm");
  Alarm& a = m.alarm;
  EF_RETURN_IF_ERROR(f.NonEmptyString("channel", &a.channel));
  EF_RETURN_IF_ERROR(f.OneOf("state", kStateNames, "\"raised\" or \"cleared\"", &a.state));
  EF_RETURN_IF_ERROR(f.OneOf("condition", kConditionNames, "\"above\" or \"below\"", &a.condition));
  EF_RETURN_IF_ERROR(f.Number("threshold", &a.threshold));
  EF_RETURN_IF_ERROR(f.Number("hysteresis", &a.hysteresis));
  if (a.hysteresis < 0) return Bad(kAlarm, "alarm.hysteresis", "is negative");
  EF_RETURN_IF_ERROR(f.Number("value", &a.value));
  constexpr const char* kSeverities[] = {"info", "warning", "critical"};
  int severity = 0;
  EF_RETURN_IF_ERROR(f.OneOf("severity", kSeverities, "\"info\", \"warning\" or \"critical\"", &severity));
  a.severity = kSeverities[severity];
  return m;
}

Result<Message> Parse(std::string_view json) {
  auto j = ParseObject(json, kTelemetry);
  if (!j.ok()) return j.status();
  Envelope e;
  EF_RETURN_IF_ERROR(ParseEnvelopeFields(*j, kTelemetry, &e));
  if (e.type != MessageType::kTelemetry) return Bad(kTelemetry, "type", "is \"alarm\", not \"telemetry\"");
  if (e.v == kSchemaVersionV1) return ParseV1Body(*j, e);
  auto t = ParseTelemetryBody(*j);
  if (!t.ok()) return t.status();
  return V1View(*t);
}

}  // namespace edgeforge::telemetry
