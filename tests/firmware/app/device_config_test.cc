// DeviceConfig: board defaults, the shadow's config object, strict parsing
// against the board, persistence, and a config change reaching a running
// node whose BME280 answers at register level on a simulated bus.
#include "firmware/app/device_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <memory>

#include "firmware/board/builtin.h"
#include "firmware/app/shadow.h"
#include "firmware/pipeline/pipeline.h"
#include "hal/sim/sim_gpio.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/sim/sim_uart.h"
#include "sim/models/bme280_model.h"
#include "tests/support/bare_buses.h"

namespace edgeforge::app {
namespace {

using namespace std::chrono_literals;

board::Board Builtin(const std::string& name) {
  auto b = board::LoadBoardSpec(name);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : board::Board{};
}

// What BuildNode reports for the reference boards (node_test checks these lists).
const std::set<std::string> kFactoryChannels = {
    "temperature",     "pressure",       "humidity",        "vibration_rms_x", "vibration_rms_y",
    "vibration_rms_z", "vibration_peak", "vibration_crest", "motor_current",   "line_pressure"};

std::string TempDir() {
  std::string t = testing::TempDir() + "configXXXXXX";
  return mkdtemp(t.data());
}

Status ParseError(const std::string& json) {
  auto c = ParseConfig(json, Builtin("factory-node"), kFactoryChannels);
  EXPECT_FALSE(c.ok()) << json;
  return c.ok() ? Status::Ok() : c.status();
}

constexpr char kFactoryDefaults[] =
    R"({"report_ms":10000,"sample_ms":{"adc0":1000,"env0":1000,"vib0":250},"alarms":[)"
    R"({"channel":"vibration_rms_z","above":0.8,"hysteresis":0.1,"severity":"critical"},)"
    R"({"channel":"temperature","above":40,"hysteresis":1,"severity":"warning"}]})";

TEST(DeviceConfigTest, DefaultsAreTheBoardFilesPeriodsAndAlarms) {
  const DeviceConfig f = DefaultsFrom(Builtin("factory-node"));
  EXPECT_EQ(f.version, 0u);
  EXPECT_EQ(f.report_ms, 10000u);
  EXPECT_EQ(f.sample_ms, (std::map<std::string, uint32_t>{{"env0", 1000}, {"vib0", 250}, {"adc0", 1000}}));
  ASSERT_EQ(f.alarms.size(), 2u);
  EXPECT_EQ(f.alarms[0].channel, "vibration_rms_z");
  EXPECT_EQ(f.alarms[0].condition, pipeline::Condition::kAbove);
  EXPECT_DOUBLE_EQ(f.alarms[0].threshold, 0.8);
  EXPECT_DOUBLE_EQ(f.alarms[0].hysteresis, 0.1);
  EXPECT_EQ(f.alarms[0].severity, "critical");

  const DeviceConfig t = DefaultsFrom(Builtin("traffic-node"));
  EXPECT_EQ(t.report_ms, 10000u);
  EXPECT_EQ(t.sample_ms, (std::map<std::string, uint32_t>{{"env0", 10000}, {"loop0", 10000}, {"radar0", 1000}}));
  ASSERT_EQ(t.alarms.size(), 3u);
  EXPECT_EQ(t.alarms[1].channel, "speed");
  EXPECT_EQ(t.alarms[1].condition, pipeline::Condition::kBelow);
  EXPECT_DOUBLE_EQ(t.alarms[1].threshold, 20);
  EXPECT_EQ(t.alarms[2].severity, "critical");
}

TEST(DeviceConfigTest, SerializesCompactlyInAFixedOrder) {
  EXPECT_EQ(SerializeConfig(DefaultsFrom(Builtin("factory-node"))), kFactoryDefaults);
}

TEST(DeviceConfigTest, ParseOfSerializeGivesTheSameSettings) {
  for (const char* name : {"factory-node", "traffic-node"}) {
    const board::Board b = Builtin(name);
    std::set<std::string> channels;
    for (const auto& a : b.alarms) channels.insert(a.channel);
    const DeviceConfig c = DefaultsFrom(b);
    auto back = ParseConfig(SerializeConfig(c), b, channels);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status().ToString();
    EXPECT_TRUE(SameSettings(*back, c)) << name;
    EXPECT_EQ(SerializeConfig(*back), SerializeConfig(c)) << name;
  }
  // Thresholds that are not short decimals survive the trip bit for bit.
  const board::Board b = Builtin("factory-node");
  DeviceConfig odd = DefaultsFrom(b);
  odd.alarms = {{"line_pressure", pipeline::Condition::kBelow, 0.1 + 0.2, 1e-7, "info"},
                {"motor_current", pipeline::Condition::kAbove, -12.5, 0, "warning"},
                {"pressure", pipeline::Condition::kAbove, 1e20, 2.5e-300, "critical"}};
  auto back = ParseConfig(SerializeConfig(odd), b, kFactoryChannels);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(SameSettings(*back, odd));
}

TEST(DeviceConfigTest, AWholeConfigMayLeaveDevicesOutButNotFields) {
  const board::Board b = Builtin("factory-node");
  auto c = ParseConfig(R"({"report_ms":5000,"sample_ms":{"vib0":100},"alarms":[]})", b, kFactoryChannels);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sample_ms, (std::map<std::string, uint32_t>{{"env0", 1000}, {"vib0", 100}, {"adc0", 1000}}));
  EXPECT_TRUE(c->alarms.empty());

  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{}})").message(), "alarms: missing");
  EXPECT_EQ(ParseError(R"({"report_ms":null,"sample_ms":{},"alarms":[]})").message(),
            "report_ms: must be an integer, got null");
}

TEST(DeviceConfigTest, RejectionsNameTheFieldAndTheRule) {
  const std::string base = R"({"report_ms":5000,"sample_ms":{},"alarms":[)";
  EXPECT_EQ(ParseError(R"({"report_ms":500,"sample_ms":{},"alarms":[]})").message(),
            "report_ms: must be in 1000..3600000, got 500");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{"vib0":3600001},"alarms":[]})").message(),
            "sample_ms.vib0: must be in 10..3600000, got 3600001");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{"vib0":"fast"},"alarms":[]})").message(),
            "sample_ms.vib0: must be an integer, got \"fast\"");
  // The board's FIFO rule holds for a period set through the shadow too.
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{"vib0":1000},"alarms":[]})").message(),
            "sample_ms.vib0: 1000 ms at params.odr_hz 100 is 100 samples, more than the ADXL345 FIFO holds (32; it "
            "fills in 320 ms): sample at most every 320 ms or lower odr_hz");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{"vib1":100},"alarms":[]})").message(),
            "sample_ms.vib1: no device \"vib1\" on this board (devices: env0, vib0, adc0)");
  EXPECT_EQ(ParseError(base + R"({"channel":"temprature","above":1,"hysteresis":0,"severity":"info"}]})").message(),
            "alarms[0].channel: no part on this board produces \"temprature\" (channels: humidity, line_pressure, "
            "motor_current, pressure, temperature, vibration_crest, vibration_peak, vibration_rms_x, "
            "vibration_rms_y, vibration_rms_z)");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"hysteresis":-1,"severity":"info"}]})").message(),
            "alarms[0].hysteresis: must be >= 0, got -1");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"hysteresis":0,"severity":"fatal"}]})").message(),
            "alarms[0].severity: must be one of \"info\", \"warning\", \"critical\", got \"fatal\"");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"below":0,"hysteresis":0,"severity":"info"}]})")
                .message(),
            "alarms[0]: needs exactly one of \"above\" or \"below\" (the threshold)");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"severity":"info"}]})").message(),
            "alarms[0].hysteresis: missing");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"hysteresis":0,"severty":"info"}]})").message(),
            "alarms[0].severty: unknown key (did you mean \"severity\"?)");
  EXPECT_EQ(ParseError(base + R"({"channel":"temperature","above":1,"hysteresis":0,"severity":"info"},)" +
                       R"({"channel":"temperature","above":2,"hysteresis":0,"severity":"critical"}]})")
                .message(),
            "alarms[1].above: a second \"above\" rule for \"temperature\" (alarms[0] is the first)");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{},"alarms":[],"report_ms":6000})").message(),
            "report_ms: key appears twice (JSON would keep only one)");
  EXPECT_EQ(
      ParseError(base + R"({"channel":"temperature","above":1e999,"hysteresis":0,"severity":"info"}]})").message(),
      "not valid JSON: number overflow parsing '1e999'");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,"sample_ms":{},"alarms":[],"colour":"red"})").message(),
            "colour: unknown key (known: alarms, report_ms, sample_ms)");
  EXPECT_EQ(ParseError("[1,2]").message(), "must be a JSON object, got array");
  EXPECT_EQ(ParseError(R"({"report_ms":5000,)").message(),
            "not valid JSON at byte 19: syntax error while parsing object key - unexpected end of input; expected "
            "string literal");
}

TEST(DeviceConfigTest, AlarmCountAndSerializedSizeAreBounded) {
  const board::Board b = Builtin("factory-node");
  std::string rules;
  for (int i = 0; i < 65; ++i) {
    rules += std::string(i ? "," : "") + R"({"channel":"temperature","above":)" + std::to_string(i) +
             R"(,"hysteresis":0,"severity":"info"})";
  }
  auto many = ParseConfig(R"({"report_ms":5000,"sample_ms":{},"alarms":[)" + rules + "]}", b, kFactoryChannels);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().message(), "alarms: must have at most 64 element(s), got 65");

  // 40 rules on 60-character channel names: well under 64 rules, over 4 KiB.
  std::set<std::string> long_names;
  rules.clear();
  for (int i = 0; i < 40; ++i) {
    const std::string ch = "c" + std::string(57, 'x') + (i < 10 ? "0" : "") + std::to_string(i);
    long_names.insert(ch);
    rules += std::string(i ? "," : "") + R"({"channel":")" + ch + R"(","above":1,"hysteresis":0,"severity":"info"})";
  }
  auto big = ParseConfig(R"({"report_ms":5000,"sample_ms":{},"alarms":[)" + rules + "]}", b, long_names);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message().rfind("config: the config would be ", 0), 0u) << big.status().message();
  EXPECT_NE(big.status().message().find("over its 4096-byte share of IoT Core's 8 KB shadow"), std::string::npos);
}

TEST(DeviceConfigTest, PersistedConfigComesBackWithItsVersion) {
  const board::Board b = Builtin("factory-node");
  FileStorage storage(TempDir());
  EXPECT_EQ(LoadConfig(storage, b, kFactoryChannels).status().code(), StatusCode::kNotFound);

  DeviceConfig c = DefaultsFrom(b);
  c.report_ms = 30000;
  c.sample_ms["vib0"] = 100;
  c.alarms.pop_back();
  c.version = 42;
  ASSERT_TRUE(SaveConfig(storage, c).ok());
  auto raw = storage.Read(kConfigRecord);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, "{\"version\":42,\"config\":" + SerializeConfig(c) + "}");
  auto back = LoadConfig(storage, b, kFactoryChannels);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->version, 42u);
  EXPECT_TRUE(SameSettings(*back, c));
}

TEST(DeviceConfigTest, ACorruptOrForeignRecordIsAnErrorNamingTheFile) {
  const board::Board factory = Builtin("factory-node");
  const std::string dir = TempDir();
  FileStorage storage(dir);
  DeviceConfig c = DefaultsFrom(factory);
  c.version = 7;
  ASSERT_TRUE(SaveConfig(storage, c).ok());

  // A record that fits another board (the board changed under a firmware update).
  auto foreign = LoadConfig(storage, Builtin("traffic-node"), {"temperature", "vibration_rms_z"});
  ASSERT_EQ(foreign.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(foreign.status().message(),
            "config.json: config.sample_ms.adc0: no device \"adc0\" on this board (devices: env0, loop0, radar0)");

  // Bytes cut short on disk (below the Storage HAL: what a broken flash leaves).
  const std::string record = *storage.Read(kConfigRecord);
  { std::ofstream(dir + "/" + kConfigRecord, std::ios::trunc) << record.substr(0, record.size() / 2); }
  auto cut = LoadConfig(storage, factory, kFactoryChannels);
  ASSERT_EQ(cut.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(cut.status().message().rfind("config.json: not valid JSON at byte ", 0), 0u) << cut.status().message();

  { std::ofstream(dir + "/" + kConfigRecord, std::ios::trunc) << R"({"version":-1,"config":{}})"; }
  auto negative = LoadConfig(storage, factory, kFactoryChannels);
  ASSERT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(negative.status().message(), "config.json: version: must be in 0..9223372036854775807, got -1");
}

using SimBuses = testing_support::BareBuses;

TEST(DeviceConfigTest, NodeChannelsAndPipelineSettingsFollowThePartOrder) {
  ManualClock clock;
  SimBuses buses(clock);
  auto node = BuildNode(Builtin("factory-node"), buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(ChannelsOf(**node), kFactoryChannels);
  DeviceConfig c = DefaultsFrom((*node)->board());
  c.sample_ms["adc0"] = 2000;
  c.report_ms = 60000;
  const PipelineSettings s = ToPipeline(c, **node);
  EXPECT_EQ(s.sample_periods, (std::vector<Micros>{1s, 250ms, 2s}));  // env0, vib0, adc0
  EXPECT_EQ(s.report_period, Micros(60s));
  ASSERT_EQ(s.rules.size(), 2u);
  EXPECT_EQ(s.rules[1].channel, "temperature");
}

// A delta from the shadow, end to end on a running node: decided, applied to
// the pipeline, persisted; the BME280 model sees the new sampling rate and
// the new threshold raises on what it measures.
TEST(DeviceConfigTest, AnAcceptedDeltaReachesTheChipAndTheRecord) {
  ManualClock clock;
  SimBuses buses(clock);
  Bme280Model env;
  env.SetAmbient(23.0, 100000, 40);
  ASSERT_TRUE(buses.i2c("i2c1").Attach(0x76, env).ok());
  const board::Board board = Builtin("factory-node");
  auto node = BuildNode(board, buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  MemoryStorage storage;
  app::ConfigShadow shadow((*node)->board(), ChannelsOf(**node), DefaultsFrom((*node)->board()));
  pipeline::Pipeline p((*node)->Slots(), (*node)->report_period(), (*node)->alarm_rules());
  ASSERT_TRUE(p.Init().ok());

  // Time is the Step argument; the clock only follows it (drivers may sleep on it).
  constexpr int64_t kWall0 = 1'700'000'000'000;
  auto run = [&](Micros from, Micros until, std::vector<pipeline::AlarmEvent>& alarms) {
    for (Micros now = from; now <= until;) {
      clock.AdvanceTo(now);
      pipeline::StepResult r = p.Step(now, kWall0 + std::chrono::duration_cast<Millis>(now).count());
      alarms.insert(alarms.end(), r.alarms.begin(), r.alarms.end());
      now = r.next_wake;
    }
  };
  std::vector<pipeline::AlarmEvent> alarms;
  run(0s, 10s, alarms);
  const uint64_t before = env.measurements();
  EXPECT_EQ(before, 10u);  // env0 every 1 s (forced mode: one conversion per sample)
  EXPECT_TRUE(alarms.empty());

  const app::DeltaDecision d =
      shadow.OnDelta(R"({"version":12,"timestamp":1700000010,"state":{"config":{"sample_ms":{"env0":250},"alarms":[)"
                     R"({"channel":"temperature","above":20,"hysteresis":0.5,"severity":"critical"}]}},)"
                     R"("metadata":{"config":{"sample_ms":{"env0":{"timestamp":1700000010}}}}})");
  ASSERT_EQ(d.action, app::DeltaAction::kApply) << d.error.message;
  const PipelineSettings s = ToPipeline(d.config, **node);
  ASSERT_TRUE(p.Reconfigure(10s, s.sample_periods, s.report_period, s.rules).ok());
  ASSERT_TRUE(SaveConfig(storage, d.config).ok());
  shadow.Commit(d.config);

  run(10s, 20s, alarms);
  EXPECT_EQ(env.measurements() - before, 40u);  // every 250 ms from 10 s to 20 s
  ASSERT_EQ(alarms.size(), 1u);                 // 23 degC > 20
  EXPECT_EQ(alarms[0].alarm.channel, "temperature");
  EXPECT_DOUBLE_EQ(alarms[0].alarm.threshold, 20);
  EXPECT_EQ(alarms[0].alarm.severity, "critical");
  EXPECT_EQ(alarms[0].ts_ms, kWall0 + 10'250);  // the first sample after the change

  auto restored = LoadConfig(storage, board, ChannelsOf(**node));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->version, 12u);
  EXPECT_EQ(restored->sample_ms.at("env0"), 250u);
  EXPECT_TRUE(SameSettings(*restored, shadow.active()));
}

}  // namespace
}  // namespace edgeforge::app
