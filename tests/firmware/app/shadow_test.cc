// The device shadow: topics, the strict delta merge (exact path-naming
// errors, the old config kept), the reported document, and the decisions
// that keep a rejected delta from looping between device and IoT Core.
#include "firmware/app/shadow.h"

#include <gtest/gtest.h>

#include "firmware/board/builtin.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::app {
namespace {

const board::Board& Factory() {
  static const board::Board b = [] {
    auto loaded = board::LoadBoardSpec("factory-node");
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return loaded.ok() ? *loaded : board::Board{};
  }();
  return b;
}

const std::set<std::string> kChannels = {"temperature",     "pressure",        "humidity",       "vibration_rms_x",
                                         "vibration_rms_y", "vibration_rms_z", "vibration_peak", "vibration_crest",
                                         "motor_current",   "line_pressure"};

// The running config the deltas apply to: env0 already moved off its board default.
DeviceConfig Current() {
  DeviceConfig c = app::DefaultsFrom(Factory());
  c.sample_ms["env0"] = 2000;
  c.version = 3;
  return c;
}

std::string Delta(uint64_t version, const std::string& state) {
  return R"({"version":)" + std::to_string(version) + R"(,"timestamp":1700000000,"state":)" + state +
         R"(,"metadata":{}})";
}

Result<DeviceConfig> Apply(const std::string& delta) { return ApplyDelta(delta, Current(), Factory(), kChannels); }

std::string Rejection(const std::string& delta) {
  auto r = Apply(delta);
  EXPECT_FALSE(r.ok()) << delta;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ShadowTopicsTest, ReservedTopicsOfTheClassicShadow) {
  auto t = ShadowTopicsFor("factory-007");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->update, "$aws/things/factory-007/shadow/update");
  EXPECT_EQ(t->update_delta, "$aws/things/factory-007/shadow/update/delta");
  EXPECT_EQ(t->update_accepted, "$aws/things/factory-007/shadow/update/accepted");
  EXPECT_EQ(t->update_rejected, "$aws/things/factory-007/shadow/update/rejected");
  EXPECT_EQ(t->get, "$aws/things/factory-007/shadow/get");
  EXPECT_EQ(t->get_accepted, "$aws/things/factory-007/shadow/get/accepted");
  EXPECT_EQ(t->get_rejected, "$aws/things/factory-007/shadow/get/rejected");
  // The longest thing name still gives topics IoT Core takes.
  auto longest = ShadowTopicsFor(std::string(128, 'a'));
  ASSERT_TRUE(longest.ok());
  EXPECT_TRUE(topic::ValidatePublishTopic(longest->update_accepted).ok());
}

TEST(ShadowTopicsTest, ThingNamesOutsideTheRegistrysRulesAreRefused) {
  EXPECT_TRUE(ValidateThingName("Pump:Skid_7-a").ok());
  EXPECT_EQ(ValidateThingName("").message(),
            "thing name is empty (AWS IoT thing names are 1..128 characters of [a-zA-Z0-9:_-])");
  EXPECT_EQ(ValidateThingName(std::string(129, 'a')).message(),
            "thing name is 129 bytes (AWS IoT thing names are 1..128 characters of [a-zA-Z0-9:_-])");
  EXPECT_EQ(ValidateThingName("a/b").message(),
            "thing name \"a/b\": character 1 is not allowed (AWS IoT thing names are 1..128 characters of "
            "[a-zA-Z0-9:_-])");
  for (const char* bad : {"a+", "#", "a b", "caf\xc3\xa9", "x\ny"}) {
    EXPECT_EQ(ShadowTopicsFor(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ApplyDeltaTest, AReportPeriodChangeKeepsTheRestAndCarriesTheVersion) {
  auto c = Apply(Delta(12, R"({"config":{"report_ms":60000}})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->report_ms, 60000u);
  EXPECT_EQ(c->version, 12u);
  DeviceConfig expected = Current();
  expected.report_ms = 60000;
  EXPECT_TRUE(app::SameSettings(*c, expected));
}

TEST(ApplyDeltaTest, SamplePeriodsMergePerDevice) {
  auto c = Apply(Delta(13, R"({"config":{"sample_ms":{"vib0":100}}})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sample_ms, (std::map<std::string, uint32_t>{{"env0", 2000}, {"vib0", 100}, {"adc0", 1000}}));
  EXPECT_EQ(c->report_ms, 10000u);
  EXPECT_EQ(c->alarms.size(), 2u);
}

TEST(ApplyDeltaTest, NullPutsAFieldBackToTheBoards) {
  auto one = Apply(Delta(14, R"({"config":{"sample_ms":{"env0":null,"vib0":50}}})"));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->sample_ms.at("env0"), 1000u);  // the board's
  EXPECT_EQ(one->sample_ms.at("vib0"), 50u);

  DeviceConfig changed = Current();
  changed.report_ms = 60000;
  changed.alarms.clear();
  auto fields = ApplyDelta(Delta(15, R"({"config":{"report_ms":null,"alarms":null}})"), changed, Factory(), kChannels);
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  EXPECT_EQ(fields->report_ms, 10000u);
  EXPECT_EQ(fields->alarms.size(), 2u);
  EXPECT_EQ(fields->sample_ms.at("env0"), 2000u);  // untouched

  auto all = Apply(Delta(16, R"({"config":null})"));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(app::SameSettings(*all, app::DefaultsFrom(Factory())));
  EXPECT_EQ(all->version, 16u);
}

TEST(ApplyDeltaTest, AlarmsAreReplacedWhole) {
  auto c = Apply(Delta(17, R"({"config":{"alarms":[{"channel":"motor_current","above":12.5,"hysteresis":0.5,)"
                           R"("severity":"critical"}]}})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->alarms.size(), 1u);
  EXPECT_EQ(c->alarms[0].channel, "motor_current");
  EXPECT_EQ(c->alarms[0].condition, pipeline::Condition::kAbove);
  EXPECT_DOUBLE_EQ(c->alarms[0].threshold, 12.5);
  EXPECT_DOUBLE_EQ(c->alarms[0].hysteresis, 0.5);
  EXPECT_EQ(c->alarms[0].severity, "critical");
  auto none = Apply(Delta(18, R"({"config":{"alarms":[]}})"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->alarms.empty());
}

TEST(ApplyDeltaTest, EnvelopeMembersAreTheServicesAndNotChecked) {
  auto c = Apply(R"({"version":19,"timestamp":1700000000,"state":{},"metadata":{"x":{"timestamp":1}},)"
                 R"("clientToken":"op-42","someFutureField":[1,2]})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(app::SameSettings(*c, Current()));
  EXPECT_EQ(c->version, 19u);
}

TEST(ApplyDeltaTest, WrongTypesAndRangesNameThePath) {
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"report_ms":"fast"}})")),
            "state.config.report_ms: must be an integer, got \"fast\"");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"report_ms":2500.5}})")),
            "state.config.report_ms: must be an integer, got 2500.5");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"sample_ms":{"vib0":5}}})")),
            "state.config.sample_ms.vib0: must be in 10..3600000, got 5");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"sample_ms":[250]}})")),
            "state.config.sample_ms: must be an object, got array");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"alarms":{"channel":"temperature"}}})")),
            "state.config.alarms: must be an array of objects, got object");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":{"alarms":[{"channel":"temperature","above":"hot",)"
                                R"("hysteresis":0,"severity":"info"}]}})")),
            "state.config.alarms[0].above: must be a number, got \"hot\"");
  EXPECT_EQ(Rejection(Delta(20, R"({"config":7})")), "state.config: must be an object, got 7");
  EXPECT_EQ(Rejection(R"({"version":-4,"state":{}})"), "version: must be in 0..9223372036854775807, got -4");
  EXPECT_EQ(Rejection(R"({"state":{}})"), "version: missing");
  EXPECT_EQ(Rejection(R"({"version":1})"), "state: missing");
  EXPECT_EQ(Rejection(R"({"version":1,"state":{},"metadata":[]})"), "metadata: must be an object, got array");
}

TEST(ApplyDeltaTest, UnknownNamesAreRefusedWithAHint) {
  EXPECT_EQ(Rejection(Delta(21, R"({"config":{"report_sm":5000}})")),
            "state.config.report_sm: unknown key (did you mean \"report_ms\"?)");
  EXPECT_EQ(Rejection(Delta(21, R"({"confg":{"report_ms":5000}})")),
            "state.confg: unknown key (did you mean \"config\"?)");
  EXPECT_EQ(Rejection(Delta(21, R"({"lights":"on"})")), "state.lights: unknown key (known: config)");
  EXPECT_EQ(Rejection(Delta(21, R"({"config":{"sample_ms":{"vib9":100}}})")),
            "state.config.sample_ms.vib9: no device \"vib9\" on this board (devices: env0, vib0, adc0)");
  EXPECT_EQ(Rejection(Delta(21, R"({"config":{"alarms":[{"channel":"speed","below":20,"hysteresis":5,)"
                                R"("severity":"warning"}]}})")),
            "state.config.alarms[0].channel: no part on this board produces \"speed\" (channels: humidity, "
            "line_pressure, motor_current, pressure, temperature, vibration_crest, vibration_peak, "
            "vibration_rms_x, vibration_rms_y, vibration_rms_z)");
}

TEST(ApplyDeltaTest, HostileDocumentsAreRefusedBeforeOrWhileParsing) {
  const std::string huge = Delta(22, R"({"config":{"alarms":[)" + std::string(40'000, ' ') + "]}}");
  EXPECT_EQ(Rejection(huge), "shadow delta: " + std::to_string(huge.size()) + " bytes, over the 32768-byte limit");
  EXPECT_EQ(Rejection(Delta(22, R"({"config":{"alarms":[{"channel":")" + std::string(9000, 'x') + R"("}]}})")),
            "state: 9038 bytes, over IoT Core's 8192-byte shadow state limit");
  EXPECT_EQ(Rejection(std::string(100, '[') + std::string(100, ']')), "shadow delta: nested deeper than 8 levels");
  EXPECT_EQ(Rejection(Delta(22, R"({"config":{"report_ms":5000,"report_ms":6000}})")),
            "shadow delta: state.config.report_ms: key appears twice (JSON would keep only one)");
  EXPECT_EQ(Rejection(R"({"version":1,"state":{"config":{"report_ms":5000}})"),
            "shadow delta: not valid JSON at byte 51: syntax error while parsing object - unexpected end of input; "
            "expected '}'");
  EXPECT_EQ(Rejection("report_ms=5000"),
            "shadow delta: not valid JSON at byte 1: syntax error while parsing value - invalid literal; last "
            "read: 'r'");
  EXPECT_EQ(Rejection("[]"), "shadow delta: must be a JSON object, got array");
  EXPECT_EQ(Rejection(""),
            "shadow delta: not valid JSON at byte 1: syntax error while parsing value - unexpected "
            "end of input; expected '[', '{', or a literal");
}

TEST(ApplyDeltaTest, TheCurrentConfigIsUntouchedByARejection) {
  const DeviceConfig current = Current();
  const std::string before = app::SerializeConfig(current);
  // The first two fields are fine; the third is not: nothing of it may stick.
  auto r = ApplyDelta(Delta(23, R"({"config":{"report_ms":60000,"sample_ms":{"vib0":100,"adc0":1}}})"), current,
                      Factory(), kChannels);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "state.config.sample_ms.adc0: must be in 10..3600000, got 1");
  EXPECT_EQ(app::SerializeConfig(current), before);
  EXPECT_EQ(current.version, 3u);
}

TEST(DeltaFromGetAcceptedTest, TakesTheDeltaAndTheVersion) {
  auto d = DeltaFromGetAccepted(
      R"({"state":{"desired":{"config":{"report_ms":60000}},"reported":{"config":{"report_ms":10000}},)"
      R"("delta":{"config":{"report_ms":60000}}},"metadata":{"desired":{"config":{"report_ms":{"timestamp":1}}}},)"
      R"("version":31,"timestamp":1700000000})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, R"({"version":31,"state":{"config":{"report_ms":60000}}})");
  auto c = ApplyDelta(*d, Current(), Factory(), kChannels);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->report_ms, 60000u);

  auto in_sync = DeltaFromGetAccepted(R"({"state":{"reported":{"firmware":"0.4.0"}},"version":32})");
  ASSERT_TRUE(in_sync.ok());
  EXPECT_EQ(*in_sync, R"({"version":32,"state":{}})");
  EXPECT_EQ(DeltaFromGetAccepted(R"({"state":{}})").status().message(),
            "shadow get/accepted: version: must be an unsigned integer");
  EXPECT_EQ(DeltaFromGetAccepted(R"({"version":1,"state":{"delta":[]}})").status().message(),
            "shadow get/accepted: state.delta: must be an object");
}

TEST(ReportedStateTest, ReportsFirmwareConfigHealthQueueAndLink) {
  ReportedInfo info;
  info.firmware_version = "0.4.0";
  info.config = app::DefaultsFrom(Factory());
  info.config.version = 12;
  info.sensors = {{"env0", "ok"}, {"vib0", "vib0: UNAVAILABLE: adxl345@spi0.0: device id 0xff, expected 0xe5"}};
  info.queue = {3, 612, 0, 1, 5};
  info.reconnects = 2;
  info.storage_errors = 4;
  info.refused = 1;
  EXPECT_EQ(ReportedState(info),
            R"({"state":{"reported":{"firmware":"0.4.0","config":{"report_ms":10000,"sample_ms":{"adc0":1000,)"
            R"("env0":1000,"vib0":250},"alarms":[{"channel":"vibration_rms_z","above":0.8,"hysteresis":0.1,)"
            R"("severity":"critical"},{"channel":"temperature","above":40,"hysteresis":1,"severity":"warning"}]},)"
            R"("config_version":12,"config_error":null,"sensors":{"env0":"ok","vib0":"vib0: UNAVAILABLE: )"
            R"(adxl345@spi0.0: device id 0xff, expected 0xe5"},"queue":{"depth":3,"bytes":612,)"
            R"("dropped":{"alarm":0,"state":1,"bulk":5}},"link":{"reconnects":2},"storage_errors":4,"refused":1}}})");
}

TEST(ReportedStateTest, CrashLossOfThePreviousBootIsReportedWhenKnown) {
  ReportedInfo info;
  info.firmware_version = "0.4.0";
  info.config = app::DefaultsFrom(Factory());
  EXPECT_EQ(ReportedState(info).find("crash_loss"), std::string::npos);
  info.crash_loss = CrashLossReport{3, 7};
  const std::string doc = ReportedState(info);
  EXPECT_NE(doc.find(R"("link":{"reconnects":0},"storage_errors":0,"refused":0,"crash_loss":{"boot":3,"lost":7}}}})"), std::string::npos) << doc;
}

TEST(ReportedStateTest, ARejectionIsReportedWithItsVersionAndLongTextIsCut) {
  ReportedInfo info;
  info.firmware_version = "0.4.0";
  info.config = app::DefaultsFrom(Factory());
  info.config_error = ConfigError{14, "state.config.sample_ms.vib0: must be in 10..3600000, got 5"};
  // 254 ASCII bytes then a 3-byte character straddling the 256-byte cut.
  info.sensors = {{"env0", std::string(254, 'e') + "\xe2\x82\xac" + "tail"}};
  const std::string doc = ReportedState(info);
  EXPECT_NE(doc.find(R"("config_version":0,"config_error":{"version":14,"message":"state.config.sample_ms.vib0: )"
                     R"(must be in 10..3600000, got 5"})"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("\"env0\":\"" + std::string(253, 'e') + "...\""), std::string::npos) << doc;
  EXPECT_LE(doc.size(), kMaxShadowStateBytes);
}

// The exchange with IoT Core: each report bumps the shadow version, and IoT
// Core re-sends the delta after every update while desired != reported.
TEST(ConfigShadowTest, ARejectedDeltaIsReportedOnceNotOnEveryResend) {
  ConfigShadow shadow(Factory(), kChannels, Current());
  const std::string bad_state = R"({"config":{"sample_ms":{"vib0":5}}})";
  DeltaDecision first = shadow.OnDelta(Delta(40, bad_state));
  ASSERT_EQ(first.action, DeltaAction::kReject);
  EXPECT_EQ(first.error.version, 40u);
  EXPECT_EQ(first.error.message, "state.config.sample_ms.vib0: must be in 10..3600000, got 5");
  ASSERT_TRUE(shadow.error().has_value());
  EXPECT_TRUE(app::SameSettings(shadow.active(), Current())) << "the old config stays";

  // The device reported config_error (version 41); IoT Core answers with the same state as version 42.
  EXPECT_EQ(shadow.OnDelta(Delta(42, bad_state)).action, DeltaAction::kIgnore);
  EXPECT_EQ(shadow.OnDelta(Delta(44, R"({"config" : {"sample_ms":{"vib0":5}}})")).action, DeltaAction::kIgnore)
      << "same state, other spacing";
  EXPECT_EQ(shadow.error()->version, 40u);

  // The operator changes desired, still wrong: a new rejection.
  DeltaDecision second = shadow.OnDelta(Delta(45, R"({"config":{"sample_ms":{"vib0":7}}})"));
  ASSERT_EQ(second.action, DeltaAction::kReject);
  EXPECT_EQ(second.error.version, 45u);

  // Then right: applied, and once committed the error is gone.
  DeltaDecision good = shadow.OnDelta(Delta(47, R"({"config":{"sample_ms":{"vib0":100}}})"));
  ASSERT_EQ(good.action, DeltaAction::kApply);
  EXPECT_EQ(good.config.sample_ms.at("vib0"), 100u);
  EXPECT_EQ(good.config.version, 47u);
  shadow.Commit(good.config);
  EXPECT_FALSE(shadow.error().has_value());
  EXPECT_EQ(shadow.active().version, 47u);
  // A re-send that changes nothing (desired written differently from what is reported) is not echoed.
  EXPECT_EQ(shadow.OnDelta(Delta(49, R"({"config":{"sample_ms":{"vib0":100}}})")).action, DeltaAction::kIgnore);
}

TEST(ConfigShadowTest, ADownstreamFailureIsRememberedLikeARejection) {
  ConfigShadow shadow(Factory(), kChannels, Current());
  const std::string state = R"({"config":{"report_ms":20000}})";
  DeltaDecision d = shadow.OnDelta(Delta(50, state));
  ASSERT_EQ(d.action, DeltaAction::kApply);
  shadow.Fail(ConfigError{50, "config.json: save: PERMISSION_DENIED"});
  EXPECT_EQ(shadow.error()->message, "config.json: save: PERMISSION_DENIED");
  EXPECT_EQ(shadow.active().report_ms, 10000u);
  EXPECT_EQ(shadow.OnDelta(Delta(52, state)).action, DeltaAction::kIgnore);
}

TEST(ConfigShadowTest, ADeltaBackToTheActiveConfigClearsAnOldError) {
  ConfigShadow shadow(Factory(), kChannels, Current());
  ASSERT_EQ(shadow.OnDelta(Delta(60, R"({"lights":"on"})")).action, DeltaAction::kReject);
  // The operator removed the bad key; the shadow's own get shows nothing left to change.
  auto get = DeltaFromGetAccepted(R"({"state":{"reported":{}},"version":62})");
  ASSERT_TRUE(get.ok());
  DeltaDecision d = shadow.OnDelta(*get);
  ASSERT_EQ(d.action, DeltaAction::kApply) << "report once more, without config_error";
  EXPECT_TRUE(app::SameSettings(d.config, Current()));
  shadow.Commit(d.config);
  EXPECT_FALSE(shadow.error().has_value());
  EXPECT_EQ(shadow.OnDelta(*get).action, DeltaAction::kIgnore);
}

}  // namespace
}  // namespace edgeforge::app

namespace edgeforge::app {
namespace {

// The run of the firmware that reported last, and since when it has been
// connected: what tells two live instances of one identity apart from a reboot.
TEST(ReportedStateTest, TheSessionIsReportedAndReadBackFromGetAccepted) {
  ReportedInfo info;
  info.firmware_version = "0.4.0";
  info.config = app::DefaultsFrom(Factory());
  EXPECT_EQ(ReportedState(info).find("session"), std::string::npos);
  info.instance = "3-1700000000000";
  info.connected_since_ms = 1700000012345;
  const std::string doc = ReportedState(info);
  EXPECT_NE(doc.find(R"("session":{"instance":"3-1700000000000","since":1700000012345}}}})"), std::string::npos)
      << doc;
  // What the shadow service answers a get with: the reported state, version, metadata.
  const std::string get = R"({"state":{"reported":{"firmware":"0.4.0","session":{"instance":"3-1700000000000",)"
                          R"("since":1700000012345}}},"metadata":{},"version":7,"timestamp":1700000013})";
  auto s = ReportedSessionFromGetAccepted(get);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->instance, "3-1700000000000");
  EXPECT_EQ(s->since_ms, 1700000012345);
  for (const char* none : {R"({"state":{},"version":1})", R"({"state":{"reported":{"session":"x"}},"version":1})",
                           R"({"state":{"reported":{"session":{"instance":5,"since":1}}},"version":1})", "not json"}) {
    EXPECT_FALSE(ReportedSessionFromGetAccepted(none).has_value()) << none;
  }
}

}  // namespace
}  // namespace edgeforge::app
