#include "firmware/telemetry/telemetry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {
namespace {

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

TEST(TelemetryTest, SerializesSchemaV1InOrder) {
  const std::string s = Serialize(Sample());
  EXPECT_EQ(s.rfind(R"({"v":1,"dev":"edge-00001","seq":42,"boot":3,"ts":1700000000123,"readings":{)", 0), 0u)
      << s;
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
      {"'v'", [](auto& j) { j["v"] = 2; }},
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

}  // namespace
}  // namespace edgeforge::telemetry
