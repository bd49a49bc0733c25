#include "firmware/telemetry/telemetry.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

namespace edgeforge::telemetry {
namespace {

using Json = nlohmann::ordered_json;

Message Sample() {
  Message m;
  m.dev = "edge-00001";
  m.seq = 42;
  m.boot = 3;
  m.ts = 1'700'000'000'123;
  m.readings = {{"temperature", 21.53, "Cel", ""},
                {"pressure", 101325.2, "Pa", ""},
                {"humidity", 0, "%", "env0: UNAVAILABLE: i2c: no ACK from 0x76"}};
  m.status.uptime_s = 120;
  m.status.dropped = 2;
  m.status.faults = {"env0: UNAVAILABLE: i2c: no ACK from 0x76"};
  return m;
}

TEST(TelemetryTest, SerializesSchemaV1InOrderForOldTools) {
  const std::string s = Serialize(Sample());
  EXPECT_EQ(s.rfind(R"({"v":1,"dev":"edge-00001","seq":42,"boot":3,"ts":1700000000123,"readings":{)", 0), 0u) << s;
  EXPECT_NE(s.find(R"("temperature":{"value":21.53,"unit":"Cel"})"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("humidity":{"value":null,"fault":"env0: UNAVAILABLE: i2c: no ACK from 0x76","unit":"%"})"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find(R"("status":{"uptime_s":120,"dropped":2,"faults":[)"), std::string::npos) << s;
}

TEST(TelemetryTest, RoundTrips) {
  const Message m = Sample();
  auto p = Parse(Serialize(m));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->dev, m.dev);
  EXPECT_EQ(p->seq, m.seq);
  EXPECT_EQ(p->boot, m.boot);
  EXPECT_EQ(p->ts, m.ts);
  ASSERT_EQ(p->readings.size(), 3u);
  EXPECT_DOUBLE_EQ(p->readings[0].value, 21.53);
  EXPECT_EQ(p->readings[2].fault, m.readings[2].fault);
  EXPECT_EQ(p->status.dropped, 2u);
  EXPECT_EQ(p->status.faults, m.status.faults);
}

// Each mutation must be rejected with an error naming the field.
TEST(TelemetryTest, RejectsBadFieldsNamingThem) {
  const auto base = nlohmann::ordered_json::parse(Serialize(Sample()));
  struct Case {
    const char* field;
    std::function<void(nlohmann::ordered_json&)> mutate;
  };
  const std::vector<Case> cases = {
      {"'v'", [](auto& j) { j["v"] = 3; }},
      {"'type'", [](auto& j) { j["v"] = 2; }},  // a v2 message must say its type
      {"'dev'", [](auto& j) { j["dev"] = ""; }},
      {"'dev'", [](auto& j) { j.erase("dev"); }},
      {"'seq'", [](auto& j) { j["seq"] = -1; }},
      {"'seq'", [](auto& j) { j["seq"] = "42"; }},
      {"'boot'", [](auto& j) { j["boot"] = 1.5; }},
      {"'ts'", [](auto& j) { j["ts"] = "now"; }},
      {"'readings'", [](auto& j) { j["readings"] = nlohmann::ordered_json::array(); }},
      {"'readings.temperature.unit'", [](auto& j) { j["readings"]["temperature"].erase("unit"); }},
      {"'readings.temperature.value'", [](auto& j) { j["readings"]["temperature"]["value"] = "hot"; }},
      {"'readings.humidity.value'", [](auto& j) { j["readings"]["humidity"]["value"] = 3; }},
      {"'status.dropped'", [](auto& j) { j["status"]["dropped"] = -3; }},
      {"'status.faults'", [](auto& j) { j["status"]["faults"] = "x"; }},
      {"'status'", [](auto& j) { j.erase("status"); }},
  };
  for (const auto& c : cases) {
    auto j = base;
    c.mutate(j);
    auto p = Parse(j.dump());
    ASSERT_FALSE(p.ok()) << c.field;
    EXPECT_NE(p.status().message().find(c.field), std::string::npos) << p.status().message();
  }
}

// v1 status has uptime_s, dropped and faults only: members v2 added are not
// read from a v1 message, whatever they hold.
TEST(TelemetryTest, V1StatusDoesNotReadV2Members) {
  auto j = Json::parse(Serialize(Sample()));
  j["status"]["skipped_samples"] = "x";
  j["status"]["queue"] = 7;
  j["status"]["prev_boot"] = Json::object();
  j["status"]["next_key"] = "k";
  auto p = Parse(j.dump());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status.skipped_samples, 0u);
  EXPECT_FALSE(p->status.prev_boot.has_value());
  EXPECT_FALSE(p->status.next_key.has_value());
}

TEST(TelemetryTest, RejectsNonJsonAndOversize) {
  EXPECT_FALSE(Parse("").ok());
  EXPECT_FALSE(Parse("{").ok());
  EXPECT_FALSE(Parse("[1,2]").ok());
  auto big = Parse(std::string(kMaxPayloadBytes + 1, ' '));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("128 KB"), std::string::npos);
}

TEST(TelemetryTest, InvalidUtf8InFaultTextDoesNotThrow) {
  Message m = Sample();
  m.status.faults = {"bad \xff byte"};
  const std::string s = Serialize(m);
  EXPECT_TRUE(Parse(s).ok()) << s;
}

// ---- v2 --------------------------------------------------------------------

ChannelWindow Channel(std::string name, std::string unit, Aggregation agg, uint64_t n, double value, double min = 0,
                      double max = 0, double mean = 0) {
  ChannelWindow c;
  c.name = std::move(name);
  c.unit = std::move(unit);
  c.agg = agg;
  c.n = n;
  c.value = value;
  c.min = min;
  c.max = max;
  c.mean = agg == Aggregation::kMean ? value : mean;
  return c;
}

Telemetry WindowSample() {
  Telemetry t;
  t.dev = "edge-00001";
  t.kind = "factory";
  t.seq = 12;
  t.boot = 1;
  t.ts = 1'700'000'010'000;
  t.window_start = 1'700'000'000'000;
  t.window_ms = 10'000;
  ChannelWindow humidity = Channel("humidity", "%", Aggregation::kMean, 9, 50.5, 50, 51);
  humidity.faults = 1;
  humidity.fault = "env0: UNAVAILABLE: bme280@0x76: no ACK";
  t.readings = {Channel("temperature", "Cel", Aggregation::kMean, 10, 20.2, 20.1, 20.3),
                Channel("vibration_rms_x", "[g]", Aggregation::kRms, 40, 0.12, 0.1, 0.15, 0.118),
                Channel("vehicle_count", "{vehicle}", Aggregation::kSum, 10, 37),
                Channel("speed", "km/h", Aggregation::kMean, 0, 0), humidity};
  t.status.uptime_s = 120;
  t.status.dropped = 2;
  t.status.skipped_samples = 3;
  t.status.faults = {"vib0: UNAVAILABLE: adxl345@spi cs0: no data"};
  return t;
}

AlarmMessage AlarmSample() {
  AlarmMessage m;
  m.dev = "edge-00001";
  m.kind = "factory";
  m.seq = 13;
  m.boot = 1;
  m.ts = 1'700'000'012'345;
  m.alarm = {"temperature", AlarmState::kRaised, AlarmCondition::kAbove, 40, 1, 41.2, "critical"};
  return m;
}

TEST(TelemetryV2Test, SerializesWindowInSchemaOrder) {
  EXPECT_EQ(Serialize(WindowSample()),
            R"({"v":2,"type":"telemetry","dev":"edge-00001","kind":"factory","seq":12,"boot":1,"ts":1700000010000,)"
            R"("window":{"start":1700000000000,"ms":10000},"readings":{)"
            R"("temperature":{"unit":"Cel","agg":"mean","n":10,"value":20.2,"min":20.1,"max":20.3},)"
            R"("vibration_rms_x":{"unit":"[g]","agg":"rms","n":40,"value":0.12,"min":0.1,"max":0.15,"mean":0.118},)"
            R"("vehicle_count":{"unit":"{vehicle}","agg":"sum","n":10,"value":37},)"
            R"("speed":{"unit":"km/h","agg":"mean","n":0,"value":null,"min":null,"max":null,"faults":0},)"
            R"("humidity":{"unit":"%","agg":"mean","n":9,"value":50.5,"min":50,"max":51,"faults":1,)"
            R"("fault":"env0: UNAVAILABLE: bme280@0x76: no ACK"}},)"
            R"("status":{"uptime_s":120,"dropped":2,"skipped_samples":3,)"
            R"("faults":["vib0: UNAVAILABLE: adxl345@spi cs0: no data"],)"
            R"("queue":{"depth":0,"dropped":{"alarm":0,"state":0,"bulk":0},"quarantined":0},)"
            R"("link":{"reconnects":0},"storage_errors":0,"refused":0}})");
}

// Issue 8: storage failures and broker refusals are reported apart from drops.
TEST(TelemetryV2Test, StorageErrorsAndRefusedRoundTripAreOptionalAndStrict) {
  Telemetry m = WindowSample();
  m.status.storage_errors = 7;
  m.status.refused = 2;
  auto p = ParseTelemetry(Serialize(m));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status.storage_errors, 7u);
  EXPECT_EQ(p->status.refused, 2u);
  // Firmware before issue 8 sends neither: both read as 0.
  std::string old = Serialize(WindowSample());
  old = old.substr(0, old.find(",\"storage_errors\"")) + "}}";
  auto q = ParseTelemetry(old);
  ASSERT_TRUE(q.ok()) << q.status().ToString() << "\n" << old;
  EXPECT_EQ(q->status.storage_errors, 0u);
  EXPECT_EQ(q->status.refused, 0u);
  // Present but not an unsigned integer: named.
  std::string bad = Serialize(m);
  bad.replace(bad.find("\"storage_errors\":7"), 18, "\"storage_errors\":\"7\"");
  EXPECT_NE(ParseTelemetry(bad).status().message().find("status.storage_errors"), std::string::npos)
      << ParseTelemetry(bad).status().message();
  bad = Serialize(m);
  bad.replace(bad.find("\"refused\":2"), 11, "\"refused\":-2");
  EXPECT_NE(ParseTelemetry(bad).status().message().find("status.refused"), std::string::npos)
      << ParseTelemetry(bad).status().message();
}

TEST(TelemetryV2Test, LinkFiguresRoundTripAndAreOptional) {
  Telemetry m = WindowSample();
  m.status.queue_depth = 17;
  m.status.dropped_by_class = {0, 1, 42};
  m.status.quarantined = 2;
  m.status.reconnects = 3;
  auto p = ParseTelemetry(Serialize(m));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status.queue_depth, 17u);
  EXPECT_EQ(p->status.dropped_by_class[2], 42u);
  EXPECT_EQ(p->status.quarantined, 2u);
  EXPECT_EQ(p->status.reconnects, 3u);
  // A window from firmware before the reliable link has neither object.
  std::string old = Serialize(WindowSample());
  old = old.substr(0, old.find(",\"queue\"")) + "}}";
  auto q = ParseTelemetry(old);
  ASSERT_TRUE(q.ok()) << q.status().ToString() << "\n" << old;
  EXPECT_EQ(q->status.queue_depth, 0u);
  // Present but wrong: named.
  std::string bad = Serialize(m);
  bad.replace(bad.find("\"bulk\":42"), 9, "\"bulk\":-1");
  EXPECT_NE(ParseTelemetry(bad).status().message().find("status.queue.dropped.bulk"), std::string::npos)
      << ParseTelemetry(bad).status().message();
}

// Issue 8: the previous boot's last seq and crash loss, so a verifier sees tail loss.
TEST(TelemetryV2Test, PrevBootRoundTripsIsOptionalAndStrict) {
  Telemetry m = WindowSample();
  EXPECT_EQ(Serialize(m).find("prev_boot"), std::string::npos);
  m.status.prev_boot = PrevBoot{4, 18, false, 7};
  const std::string json = Serialize(m);
  EXPECT_NE(json.find(R"("link":{"reconnects":0},"storage_errors":0,"refused":0,"prev_boot":{"boot":4,"last_seq":18,"exact":false,"lost":7}}})"),
            std::string::npos)
      << json;
  auto p = ParseTelemetry(json);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->status.prev_boot.has_value());
  EXPECT_EQ(p->status.prev_boot->boot, 4u);
  EXPECT_EQ(p->status.prev_boot->last_seq, 18u);
  EXPECT_FALSE(p->status.prev_boot->exact);
  EXPECT_EQ(p->status.prev_boot->lost, 7u);
  EXPECT_FALSE(ParseTelemetry(Serialize(WindowSample()))->status.prev_boot.has_value());
  for (const auto& [from, to, path] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {R"("exact":false)", R"("exact":0)", "status.prev_boot.exact"},
           {R"("lost":7)", R"("lost":-7)", "status.prev_boot.lost"},
           {R"("last_seq":18)", R"("last_seq":"18")", "status.prev_boot.last_seq"},
           {R"("prev_boot":{"boot":4,"last_seq":18,"exact":false,"lost":7})", R"("prev_boot":7)",
            "status.prev_boot"}}) {
    std::string bad = json;
    bad.replace(bad.find(from), from.size(), to);
    const Status s = ParseTelemetry(bad).status();
    EXPECT_NE(s.message().find("'" + path + "'"), std::string::npos) << bad << "\n" << s.ToString();
  }
}

// Signing-key rotation (docs/telemetry.md): the next key's public JWK rides in
// status.next_key, checked in full, since verifiers learn keys from it.
TEST(TelemetryV2Test, NextKeyRoundTripsIsOptionalAndCheckedInFull) {
  auto pem = jws::GenerateSigningKeyPem();
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  auto pub = jws::PublicKeyFromPem(*pem);
  ASSERT_TRUE(pub.ok());
  const std::string kid = jws::Thumbprint(*pub);
  Telemetry m = WindowSample();
  EXPECT_EQ(Serialize(m).find("next_key"), std::string::npos);
  m.status.next_key = jws::Jwk{kid, "", *pub};
  const std::string json = Serialize(m);
  EXPECT_NE(json.find(R"("refused":0,"next_key":)" + jws::PublicJwkJson(*pub) + "}}"), std::string::npos) << json;
  auto p = ParseTelemetry(json);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->status.next_key.has_value());
  EXPECT_EQ(p->status.next_key->kid, kid);
  EXPECT_EQ(p->status.next_key->key, *pub);
  EXPECT_EQ(Parse(json)->status.next_key->kid, kid) << "the v1 view the verifier reads keeps it";
  const std::string x = jws::Base64UrlEncode(pub->x);
  std::string other_kid = kid;
  other_kid[0] = other_kid[0] == 'A' ? 'B' : 'A';
  for (const auto& [from, to, what] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"\"kid\":\"" + kid, "\"kid\":\"" + other_kid, "status.next_key.kid: "},
           {R"("crv":"P-256")", R"("crv":"P-384")", "status.next_key.crv: "},
           {"\"x\":\"" + x, "\"x\":\"" + x.substr(0, 40), "status.next_key.x: "},
           {"\"kid\":\"" + kid + "\"", "\"kid\":\"" + kid + "\",\"thing\":\"edge-2\"", "'status.next_key.thing'"},
           {R"("next_key":{)", R"("next_key":7,"was":{)", "'status.next_key'"}}) {
    std::string bad = json;
    bad.replace(bad.find(from), from.size(), to);
    const Status s = ParseTelemetry(bad).status();
    EXPECT_NE(s.message().find(what), std::string::npos) << bad << "\n" << s.ToString();
  }
}

TEST(TelemetryV2Test, SerializesAlarmInSchemaOrder) {
  EXPECT_EQ(Serialize(AlarmSample()),
            R"({"v":2,"type":"alarm","dev":"edge-00001","kind":"factory","seq":13,"boot":1,"ts":1700000012345,)"
            R"("alarm":{"channel":"temperature","state":"raised","condition":"above","threshold":40,)"
            R"("hysteresis":1,"value":41.2,"severity":"critical"}})");
}

TEST(TelemetryV2Test, WindowRoundTrips) {
  const Telemetry t = WindowSample();
  const std::string bytes = Serialize(t);
  auto p = ParseTelemetry(bytes);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->dev, t.dev);
  EXPECT_EQ(p->kind, "factory");
  EXPECT_EQ(p->seq, 12u);
  EXPECT_EQ(p->boot, 1u);
  EXPECT_EQ(p->ts, t.ts);
  EXPECT_EQ(p->window_start, t.window_start);
  EXPECT_EQ(p->window_ms, 10'000u);
  ASSERT_EQ(p->readings.size(), t.readings.size());
  for (size_t i = 0; i < t.readings.size(); ++i) {
    const ChannelWindow& want = t.readings[i];
    const ChannelWindow& got = p->readings[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.unit, want.unit);
    EXPECT_EQ(got.agg, want.agg);
    EXPECT_EQ(got.n, want.n);
    EXPECT_EQ(got.faults, want.faults);
    EXPECT_EQ(got.fault, want.fault);
    if (want.n == 0) continue;
    EXPECT_DOUBLE_EQ(got.value, want.value) << want.name;
    if (want.agg == Aggregation::kSum) continue;
    EXPECT_DOUBLE_EQ(got.min, want.min) << want.name;
    EXPECT_DOUBLE_EQ(got.max, want.max) << want.name;
    EXPECT_DOUBLE_EQ(got.mean, want.mean) << want.name;
  }
  EXPECT_EQ(p->status.skipped_samples, 3u);
  EXPECT_EQ(p->status.faults, t.status.faults);
  EXPECT_EQ(Serialize(*p), bytes);  // a fixpoint: nothing lost or reordered
}

TEST(TelemetryV2Test, AlarmRoundTrips) {
  const std::string bytes = Serialize(AlarmSample());
  auto p = ParseAlarm(bytes);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->dev, "edge-00001");
  EXPECT_EQ(p->kind, "factory");
  EXPECT_EQ(p->seq, 13u);
  EXPECT_EQ(p->ts, 1'700'000'012'345);
  EXPECT_EQ(p->alarm.channel, "temperature");
  EXPECT_EQ(p->alarm.state, AlarmState::kRaised);
  EXPECT_EQ(p->alarm.condition, AlarmCondition::kAbove);
  EXPECT_DOUBLE_EQ(p->alarm.threshold, 40);
  EXPECT_DOUBLE_EQ(p->alarm.hysteresis, 1);
  EXPECT_DOUBLE_EQ(p->alarm.value, 41.2);
  EXPECT_EQ(p->alarm.severity, "critical");
  EXPECT_EQ(Serialize(*p), bytes);
  AlarmMessage cleared = AlarmSample();
  cleared.alarm.state = AlarmState::kCleared;
  cleared.alarm.condition = AlarmCondition::kBelow;
  cleared.alarm.severity = "warning";
  auto c = ParseAlarm(Serialize(cleared));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alarm.state, AlarmState::kCleared);
  EXPECT_EQ(c->alarm.condition, AlarmCondition::kBelow);
  EXPECT_EQ(c->alarm.severity, "warning");
}

struct Mutation {
  const char* field;  // must appear in the error, quoted
  std::function<void(Json&)> mutate;
};

template <typename ParseFn>
void ExpectRejected(const std::string& good, const std::vector<Mutation>& cases, ParseFn parse) {
  const auto base = Json::parse(good);
  for (const auto& c : cases) {
    auto j = base;
    c.mutate(j);
    auto p = parse(j.dump());
    ASSERT_FALSE(p.ok()) << c.field << " accepted: " << j.dump();
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.field), std::string::npos) << c.field << " vs " << p.status().message();
  }
}

TEST(TelemetryV2Test, StrictWindowParseNamesTheField) {
  const uint64_t kTooBig = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1;
  ExpectRejected(
      Serialize(WindowSample()),
      {
          {"'v'", [](Json& j) { j["v"] = 3; }},
          {"'v'", [](Json& j) { j["v"] = 1; }},  // ParseTelemetry reads v2 only
          {"'type'", [](Json& j) { j["type"] = "alarm"; }},
          {"'type'", [](Json& j) { j.erase("type"); }},
          {"'kind'", [](Json& j) { j["kind"] = "Factory"; }},
          {"'kind'", [](Json& j) { j.erase("kind"); }},
          {"'ts'", [=](Json& j) { j["ts"] = kTooBig; }},
          {"'window'", [](Json& j) { j.erase("window"); }},
          {"'window.ms'", [](Json& j) { j["window"]["ms"] = -1; }},
          {"'window.start'", [](Json& j) { j["window"]["start"] = "then"; }},
          {"'readings.speed.n'", [](Json& j) { j["readings"]["speed"]["n"] = -1; }},
          {"'readings.speed.n'", [](Json& j) { j["readings"]["speed"].erase("n"); }},
          {"'readings.speed.value'", [](Json& j) { j["readings"]["speed"]["value"] = 3; }},
          {"'readings.temperature.value'", [](Json& j) { j["readings"]["temperature"]["value"] = nullptr; }},
          {"'readings.temperature.min'", [](Json& j) { j["readings"]["temperature"].erase("min"); }},
          {"'readings.temperature.unit'", [](Json& j) { j["readings"]["temperature"]["unit"] = ""; }},
          {"'readings.temperature.agg'", [](Json& j) { j["readings"]["temperature"]["agg"] = "median"; }},
          {"'readings.vibration_rms_x.mean'", [](Json& j) { j["readings"]["vibration_rms_x"].erase("mean"); }},
          {"'readings.humidity.fault'", [](Json& j) { j["readings"]["humidity"].erase("fault"); }},
          {"'readings.temperature.fault'", [](Json& j) { j["readings"]["temperature"]["fault"] = "x"; }},
          {"'readings.speed.faults'", [](Json& j) { j["readings"]["speed"]["faults"] = "none"; }},
          {"'readings'", [](Json& j) { j["readings"][""] = j["readings"]["speed"]; }},
          {"'status.skipped_samples'", [](Json& j) { j["status"].erase("skipped_samples"); }},
          {"'status.uptime_s'", [](Json& j) { j["status"]["uptime_s"] = 1.5; }},
      },
      [](const std::string& s) { return ParseTelemetry(s); });
}

// With several status members bad, the error is the first in checking order
// (uptime_s, dropped, skipped_samples, queue, link, storage_errors, refused,
// prev_boot, next_key, faults), not the first in the message.
TEST(TelemetryV2Test, StatusReportsTheFirstBadMemberInCheckingOrder) {
  const auto base = Json::parse(Serialize(WindowSample()));
  const std::vector<std::string> order = {"uptime_s",       "dropped", "skipped_samples", "queue",    "link",
                                          "storage_errors", "refused", "prev_boot",       "next_key", "faults"};
  for (size_t first = 0; first < order.size(); ++first) {
    auto j = base;
    for (size_t i = first; i < order.size(); ++i) j["status"][order[i]] = "bad";
    const Status s = ParseTelemetry(j.dump()).status();
    EXPECT_NE(s.message().find("'status." + order[first] + "'"), std::string::npos)
        << order[first] << ": " << s.message();
  }
}

TEST(TelemetryV2Test, StrictAlarmParseNamesTheField) {
  ExpectRejected(Serialize(AlarmSample()),
                 {
                     {"'type'", [](Json& j) { j["type"] = "telemetry"; }},
                     {"'kind'", [](Json& j) { j["kind"] = "a/b"; }},
                     {"'seq'", [](Json& j) { j["seq"] = -13; }},
                     {"'alarm'", [](Json& j) { j.erase("alarm"); }},
                     {"'alarm.channel'", [](Json& j) { j["alarm"]["channel"] = ""; }},
                     {"'alarm.state'", [](Json& j) { j["alarm"]["state"] = "on"; }},
                     {"'alarm.condition'", [](Json& j) { j["alarm"]["condition"] = "equal"; }},
                     {"'alarm.threshold'", [](Json& j) { j["alarm"]["threshold"] = "40"; }},
                     {"'alarm.hysteresis'", [](Json& j) { j["alarm"]["hysteresis"] = -1; }},
                     {"'alarm.value'", [](Json& j) { j["alarm"].erase("value"); }},
                     {"'alarm.severity'", [](Json& j) { j["alarm"]["severity"] = "fatal"; }},
                 },
                 [](const std::string& s) { return ParseAlarm(s); });
}

TEST(TelemetryV2Test, EnvelopeOfEveryVersionAndType) {
  auto v1 = ParseEnvelope(Serialize(Sample()));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->v, 1);
  EXPECT_EQ(v1->type, MessageType::kTelemetry);  // v1 had no type: always telemetry
  EXPECT_EQ(v1->seq, 42u);
  auto w = ParseEnvelope(Serialize(WindowSample()));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->v, 2);
  EXPECT_EQ(w->type, MessageType::kTelemetry);
  EXPECT_EQ(w->ts, 1'700'000'010'000);
  auto a = ParseEnvelope(Serialize(AlarmSample()));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, MessageType::kAlarm);
  EXPECT_EQ(a->dev, "edge-00001");
  EXPECT_EQ(a->seq, 13u);
  EXPECT_EQ(a->boot, 1u);
  ExpectRejected(Serialize(AlarmSample()),
                 {
                     {"'v'", [](Json& j) { j.erase("v"); }},
                     {"'type'", [](Json& j) { j["type"] = "Alarm"; }},
                     {"'dev'", [](Json& j) { j["dev"] = 7; }},
                     {"'boot'", [](Json& j) { j["boot"] = "1"; }},
                     {"'ts'", [](Json& j) { j["ts"] = 1.5; }},
                 },
                 [](const std::string& s) { return ParseEnvelope(s); });
  auto big = ParseEnvelope(std::string(kMaxPayloadBytes + 1, ' '));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("128 KB"), std::string::npos);
  EXPECT_FALSE(ParseTelemetry(std::string(kMaxPayloadBytes + 1, ' ')).ok());
  EXPECT_FALSE(ParseAlarm(std::string(kMaxPayloadBytes + 1, ' ')).ok());
}

// Parse gives old consumers the v1 view of a v2 window: `value` is the headline,
// as `readings.<name>.value` is in IoT rule SQL for both versions.
TEST(TelemetryV2Test, ParseGivesTheV1ViewOfAWindow) {
  auto m = Parse(Serialize(WindowSample()));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->seq, 12u);
  ASSERT_EQ(m->readings.size(), 5u);
  EXPECT_DOUBLE_EQ(m->readings[0].value, 20.2);
  EXPECT_TRUE(m->readings[0].fault.empty());
  EXPECT_DOUBLE_EQ(m->readings[1].value, 0.12);
  EXPECT_EQ(m->readings[1].agg, Aggregation::kRms);
  EXPECT_DOUBLE_EQ(m->readings[2].value, 37);
  EXPECT_EQ(m->readings[3].name, "speed");
  EXPECT_FALSE(m->readings[3].fault.empty()) << "n == 0 has no value";
  EXPECT_TRUE(m->readings[4].fault.empty()) << "9 valid samples despite 1 fault";
  EXPECT_EQ(m->status.faults.size(), 1u);
  auto alarm = Parse(Serialize(AlarmSample()));
  ASSERT_FALSE(alarm.ok());
  EXPECT_NE(alarm.status().message().find("'type'"), std::string::npos) << alarm.status().message();
}

TEST(TelemetryV2Test, OldV1CaptureStillParses) {
  const std::string capture =
      R"({"v":1,"dev":"edge-00001","seq":0,"boot":1,"ts":1795304443584,"readings":{"temperature":{"value":20.17,)"
      R"("unit":"Cel"},"pressure":{"value":101168.2,"unit":"Pa"},"humidity":{"value":53.94,"unit":"%"}},)"
      R"("status":{"uptime_s":2,"dropped":0,"faults":[]}})";
  auto m = Parse(capture);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->readings.size(), 3u);
  EXPECT_DOUBLE_EQ(m->readings[1].value, 101168.2);
  EXPECT_EQ(Serialize(*m), capture);
}

TEST(TelemetryV2Test, NodeKinds) {
  for (const char* good : {"factory", "traffic", "cold_room-2"}) EXPECT_TRUE(ValidateKind(good).ok()) << good;
  for (const std::string& bad : std::vector<std::string>{"", "Factory", "a b", "x/y", std::string(33, 'k')}) {
    EXPECT_FALSE(ValidateKind(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace edgeforge::telemetry
