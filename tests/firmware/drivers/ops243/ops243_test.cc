#include "firmware/drivers/ops243/ops243.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_uart.h"
#include "sim/models/ops243_model.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }

Ops243ParseOptions Options(Ops243Unit unit, Ops243SampleRate rate) {
  Ops243ParseOptions o;
  o.unit = unit;
  o.max_speed_mps = Ops243MaxSpeedMps(rate);
  return o;
}

// ---------------------------------------------------------------------------
// Constants derived from the application notes.

TEST(Ops243Constants, ResolutionMatchesTheModuleInformationAnswer) {
  // UM-003-A "??": {"SamplingRate":10000, "resolution":0.0607}.
  EXPECT_NEAR(Ops243ResolutionMps(Ops243SampleRate::k10k), 0.0607, 5e-5);
  // I/Q sampling: unambiguous up to fs/2, i.e. 512 bins: 31.07 m/s at 10 kS/s.
  EXPECT_NEAR(Ops243MaxSpeedMps(Ops243SampleRate::k10k), 512 * Ops243ResolutionMps(Ops243SampleRate::k10k), 1e-9);
  EXPECT_NEAR(Ops243MaxSpeedMps(Ops243SampleRate::k20k) * 3.6, 223.7, 0.05);
  EXPECT_EQ(Ops243ReportInterval(Ops243SampleRate::k20k), Micros(51'200));  // 1024 samples / 20 kS/s
}

TEST(Ops243Constants, UnitsCommandsAndLabels) {
  // UM-003-A "Speed Output Units".
  EXPECT_STREQ(Ops243UnitCommand(Ops243Unit::kKilometersPerHour), "UK");
  EXPECT_STREQ(Ops243UnitLabel(Ops243Unit::kKilometersPerHour), "km-per-hr");
  EXPECT_STREQ(Ops243UnitCommand(Ops243Unit::kMilesPerHour), "US");
  EXPECT_STREQ(Ops243UnitLabel(Ops243Unit::kMilesPerHour), "mph");
  EXPECT_STREQ(Ops243UnitLabel(Ops243Unit::kMetersPerSecond), "m-per-sec");
  EXPECT_DOUBLE_EQ(Ops243UnitToMps(Ops243Unit::kMilesPerHour), 0.44704);  // international mile
  EXPECT_EQ(Ops243UnitFromLabel("ft-per-sec"), Ops243Unit::kFeetPerSecond);
  EXPECT_FALSE(Ops243UnitFromLabel("furlongs").has_value());
}

// ---------------------------------------------------------------------------
// Parser vectors.

TEST(ParseOps243Line, JsonExampleFromTheUserManual) {
  // OPS-UM-001-C "OJ json Mode On" example output.
  Result<RadarReport> r = ParseOps243Line(R"({"speed":0.58, "direction":"inbound", "time":105, "tick":135})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->speed, 0.58);
  EXPECT_EQ(r->direction, RadarDirection::kInbound);
  EXPECT_EQ(r->format, Ops243Format::kJson);
  EXPECT_EQ(r->unit, Ops243Unit::kMetersPerSecond);  // the power-on unit
  EXPECT_FALSE(r->unit_in_line);
}

TEST(ParseOps243Line, JsonOutboundAndUnits) {
  const Ops243ParseOptions kmh = Options(Ops243Unit::kKilometersPerHour, Ops243SampleRate::k20k);
  Result<RadarReport> r = ParseOps243Line(R"({"speed":72.4, "direction":"outbound"})", kmh);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->speed, 72.4);
  EXPECT_EQ(r->direction, RadarDirection::kOutbound);
  EXPECT_EQ(r->unit, Ops243Unit::kKilometersPerHour);
  EXPECT_NEAR(r->speed_mps(), 20.111, 1e-3);
  // A negative speed agreeing with the direction, and one without direction.
  r = ParseOps243Line(R"({"speed":-3.5,"direction":"outbound"})", kmh);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->speed, 3.5);
  r = ParseOps243Line(R"({"speed":-3.5})", kmh);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->direction, RadarDirection::kOutbound);
  // A unit named in the line wins over the configured one.
  r = ParseOps243Line(R"({"unit":"mph", "speed":10.0})", kmh);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->unit_in_line);
  EXPECT_EQ(r->unit, Ops243Unit::kMilesPerHour);
}

TEST(ParseOps243Line, PlainReportsSignTheDirection) {
  // OPS-UM-001-C "OT": "137.429, 3.6 is read as ... a speed of 3.6 m/s".
  Result<RadarReport> r = ParseOps243Line("3.6");
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->speed, 3.6);
  EXPECT_EQ(r->direction, RadarDirection::kInbound);
  EXPECT_EQ(r->format, Ops243Format::kPlain);
  r = ParseOps243Line("-12.30\r");
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->speed, 12.3);
  EXPECT_EQ(r->direction, RadarDirection::kOutbound);
  r = ParseOps243Line("0");
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->speed, 0.0);
}

TEST(ParseOps243Line, MalformedLinesAreDataLossQuotingTheText) {
  const char* const kBad[] = {
      "",                                             // empty
      "12.3.4",                                       // not a number
      "abc",                                          //
      "1e3",                                          // the module prints no exponents
      "+5",                                           //
      ".5",                                           //
      "5.",                                           //
      "nan",                                          //
      "137.429, 3.6",                                 // time + speed (OT): not configured
      "{\"speed\":}",                                 // bad JSON
      "{\"speed\":\"fast\"}",                         // speed not a number
      "{\"speed\":1.0, \"speed\":2.0}",               // duplicate key
      "{\"direction\":\"inbound\"}",                  // no speed
      "{\"speed\":-1.2, \"direction\":\"inbound\"}",  // sign contradicts direction
      "{\"speed\":1.2, \"direction\":\"sideways\"}",  //
      "{\"speed\":1.2, \"unit\":\"furlongs\"}",       //
      "{\"speed\":1.2} trailing",                     //
      "{\"speed\":1.2",                               // unterminated
      "{\"sp\x01\":1.2}",                             // control byte
      "\xff\xfe",                                     // noise
  };
  for (const char* line : kBad) {
    Result<RadarReport> r = ParseOps243Line(line);
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << "\"" << line << "\": " << r.status().ToString();
  }
  Result<RadarReport> r = ParseOps243Line("12.3.4");
  EXPECT_THAT(r.status().message(), HasSubstr("\"12.3.4\""));
  r = ParseOps243Line("\xff\xfe");
  EXPECT_THAT(r.status().message(), HasSubstr("\\xff\\xfe"));  // non-printable bytes escaped
}

TEST(ParseOps243Line, LongGarbageIsQuotedTruncated) {
  const std::string garbage(200, 'x');
  Result<RadarReport> r = ParseOps243Line(garbage);
  ASSERT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr(std::string(40, 'x') + "\"..."));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(std::string(41, 'x'))));
  EXPECT_EQ(ParseOps243Line(std::string(300, '1')).status().code(), StatusCode::kDataLoss);  // over-long
}

TEST(ParseOps243Line, FasterThanTheSensorCanMeasureIsOutOfRange) {
  // Power-on 10 kS/s: 31.07 m/s at most.
  EXPECT_TRUE(ParseOps243Line("31.0").ok());
  Result<RadarReport> r = ParseOps243Line("40.00");
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(r.status().message(), HasSubstr("\"40.00\""));
  EXPECT_THAT(r.status().message(), HasSubstr("31.1 m/s"));
  // 20 kS/s in km/h: 223.7 km/h at most.
  const Ops243ParseOptions kmh = Options(Ops243Unit::kKilometersPerHour, Ops243SampleRate::k20k);
  EXPECT_TRUE(ParseOps243Line(R"({"speed":220.0, "direction":"inbound"})", kmh).ok());
  EXPECT_EQ(ParseOps243Line(R"({"speed":230.0, "direction":"inbound"})", kmh).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(ParseOps243Line("-230.0", kmh).status().code(), StatusCode::kOutOfRange);
}

TEST(ParseOps243Answer, AnswersFromTheUserManual) {
  // UM-003-A answers to ??, U? / UK and ?P.
  EXPECT_TRUE(IsOps243Answer(R"({"Units":"km-per-hr"})"));
  EXPECT_TRUE(IsOps243Answer(R"({ "Product":"OPS243"})"));
  EXPECT_FALSE(IsOps243Answer(R"({"speed":1.0})"));
  EXPECT_FALSE(IsOps243Answer("12.5"));
  Result<std::vector<Ops243Field>> f = ParseOps243Answer(R"({"SamplingRate":10000, "resolution":0.0607})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].key, "SamplingRate");
  EXPECT_EQ((*f)[0].value, "10000");
  EXPECT_FALSE((*f)[0].quoted);
  EXPECT_EQ((*f)[1].value, "0.0607");
  f = ParseOps243Answer(R"({"Product":"OPS243 Doppler"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)[0].value, "OPS243 Doppler");
  EXPECT_TRUE((*f)[0].quoted);
  EXPECT_TRUE(ParseOps243Answer(R"({ "ResetReason": "Status from bitmask", "Power On" : true })").ok());
  EXPECT_EQ(ParseOps243Answer(R"({"Units":km-per-hr})").status().code(), StatusCode::kDataLoss);
  // An answer is not a report.
  Result<RadarReport> r = ParseOps243Line(R"({"Units":"km-per-hr"})");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("not a speed report"));
}

// ---------------------------------------------------------------------------
// Driver + model over a simulated UART.

class Ops243Test : public ::testing::Test {
 protected:
  ManualClock clock_;
  SimUart uart_{clock_};
};

TEST_F(Ops243Test, InitConfiguresTheModuleAndChecksItsAnswers) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  EXPECT_EQ(radar.product(), "OPS243");
  EXPECT_EQ(model.unit(), Ops243Unit::kKilometersPerHour);
  EXPECT_TRUE(model.json());
  EXPECT_EQ(model.sample_rate(), Ops243SampleRate::k20k);
  EXPECT_EQ(model.decimals(), 1);
  EXPECT_EQ(model.ignored_bytes(), 0u);  // every byte the driver sent was a command
}

TEST_F(Ops243Test, ReportsAreParsedInKilometresPerHour) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  const Micros t0 = clock_.Monotonic();
  ASSERT_TRUE(model.AddDetection(t0 + Ms(100), 20.0, true).ok());   // 72.0 km/h towards
  ASSERT_TRUE(model.AddDetection(t0 + Ms(150), 13.9, false).ok());  // 50.04 -> 50.0 km/h away
  clock_.Advance(Ms(120));
  ASSERT_TRUE(radar.Poll().ok());
  EXPECT_EQ(radar.TakePeriod().reports.size(), 1u);  // the second is not due yet
  clock_.Advance(Ms(100));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.reports.size(), 1u);
  EXPECT_DOUBLE_EQ(p.reports[0].speed, 50.0);
  EXPECT_EQ(p.reports[0].unit, Ops243Unit::kKilometersPerHour);
  EXPECT_EQ(p.reports[0].direction, RadarDirection::kOutbound);
  EXPECT_EQ(p.reports[0].format, Ops243Format::kJson);
}

TEST_F(Ops243Test, UnitsAndPlainFormatChangeIsHonoured) {
  Ops243Model model(uart_, clock_);
  Ops243Config config;
  config.unit = Ops243Unit::kMilesPerHour;
  config.json = false;
  config.decimals = 2;
  Ops243 radar(uart_, clock_, config);
  ASSERT_TRUE(radar.Init().ok());
  EXPECT_EQ(model.unit(), Ops243Unit::kMilesPerHour);
  EXPECT_FALSE(model.json());
  EXPECT_EQ(model.FormatReport(44.74, false), "-44.74");
  ASSERT_TRUE(model.AddDetection(clock_.Monotonic() + Ms(10), 20.0, false).ok());
  clock_.Advance(Ms(20));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  ASSERT_EQ(p.reports.size(), 1u);
  EXPECT_DOUBLE_EQ(p.reports[0].speed, 44.74);  // 20 m/s = 44.739 mph
  EXPECT_EQ(p.reports[0].format, Ops243Format::kPlain);
  EXPECT_EQ(p.reports[0].direction, RadarDirection::kOutbound);
  EXPECT_NEAR(p.reports[0].speed_mps(), 20.0, 0.005);
}

TEST_F(Ops243Test, GarbageLineIsCountedAndSkipped) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  const Micros t0 = clock_.Monotonic();
  ASSERT_TRUE(model.AddDetection(t0 + Ms(10), 20.0, true).ok());
  ASSERT_TRUE(uart_.Feed(AsBytes("{\"spe#d\":7\r\n"), t0 + Ms(20)).ok());
  ASSERT_TRUE(model.AddDetection(t0 + Ms(30), 21.0, true).ok());
  clock_.Advance(Ms(40));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  EXPECT_EQ(p.reports.size(), 2u);
  EXPECT_EQ(p.bad_lines, 1u);
  EXPECT_FALSE(p.settings_lost);
  EXPECT_EQ(p.status.code(), StatusCode::kDataLoss);
  EXPECT_THAT(p.status.message(), HasSubstr("radar@uart0"));
  EXPECT_THAT(p.status.message(), HasSubstr("spe#d"));
  EXPECT_TRUE(radar.TakePeriod().status.ok());  // counted once
}

TEST_F(Ops243Test, OverlongLineIsDiscardedAndCounted) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  const Micros t0 = clock_.Monotonic();
  ASSERT_TRUE(uart_.Feed(AsBytes(std::string(1000, '7') + "\r\n"), t0 + Ms(10)).ok());
  ASSERT_TRUE(model.AddDetection(t0 + Ms(20), 20.0, true).ok());
  clock_.Advance(Ms(30));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  EXPECT_EQ(p.overlong_lines, 1u);
  EXPECT_EQ(p.bad_lines, 0u);
  ASSERT_EQ(p.reports.size(), 1u);  // the next line is intact
  EXPECT_DOUBLE_EQ(p.reports[0].speed, 72.0);
  EXPECT_EQ(p.status.code(), StatusCode::kDataLoss);
}

TEST_F(Ops243Test, SilentModuleIsDeadlineExceeded) {
  Ops243 radar(uart_, clock_);  // nothing attached to the port
  Status s = radar.Init();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "radar@uart0: no answer to ??");
}

TEST_F(Ops243Test, WrongProductIsRejected) {
  Ops243 radar(uart_, clock_);
  // Something else answers on the port.
  ASSERT_TRUE(uart_.Feed(AsBytes("{\"Product\":\"XYZ-9000\"}\r\n"), Ms(1)).ok());
  Status s = radar.Init();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("XYZ-9000"));
}

TEST_F(Ops243Test, PowerCycledModuleIsNoticedAndInitRestoresIt) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  model.PowerCycle();  // back to plain m/s output
  ASSERT_TRUE(model.AddDetection(clock_.Monotonic() + Ms(10), 20.0, true).ok());
  clock_.Advance(Ms(20));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  EXPECT_TRUE(p.settings_lost);
  EXPECT_TRUE(p.reports.empty());  // "20.00" is not 20 km/h
  EXPECT_THAT(p.status.message(), HasSubstr("lost its settings"));
  ASSERT_TRUE(radar.Init().ok());
  EXPECT_TRUE(model.json());
  EXPECT_EQ(model.unit(), Ops243Unit::kKilometersPerHour);
}

TEST_F(Ops243Test, StaleBytesBeforeInitAreDiscarded) {
  Ops243Model model(uart_, clock_);
  ASSERT_TRUE(model.AddDetection(Ms(1), 5.0, true).ok());  // plain m/s, before configuration
  clock_.Advance(Ms(2));
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  Ops243Period p = radar.TakePeriod();
  EXPECT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.reports.empty());
}

TEST_F(Ops243Test, NoisyLineCorruptsReportsButNothingWorse) {
  Ops243Model model(uart_, clock_);
  Ops243 radar(uart_, clock_);
  ASSERT_TRUE(radar.Init().ok());
  uart_.InjectFault(FaultSpec{FaultKind::kNoise, 0, 0.05, 7});
  // A car in the beam for 2 s at 20 m/s: ~40 reports of "{"speed":72.0, "direction":"inbound"}".
  const Micros t0 = clock_.Monotonic();
  ASSERT_TRUE(model.AddVehicle(t0 + Ms(10), t0 + Ms(2010), 20.0, true).ok());
  const uint64_t sent = model.reports();
  clock_.Advance(Ms(2100));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period p = radar.TakePeriod();
  EXPECT_GT(uart_.faults_hit(), 0u);
  // At 5 % per bit most 40-byte lines get a flipped bit: they are counted,
  // never taken for speeds the module cannot report.
  EXPECT_GT(p.bad_lines + p.overlong_lines, sent / 2);
  EXPECT_LT(p.reports.size(), sent);
  EXPECT_NE(p.status.code(), StatusCode::kOk);
  for (const RadarReport& r : p.reports) {
    EXPECT_LE(r.speed_mps(), Ops243MaxSpeedMps(Ops243SampleRate::k20k));
  }
  // The line heals: the next reports are clean.
  uart_.ClearFault();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(model.AddDetection(clock_.Monotonic() + Ms(10 * i), 20.0, true).ok());
  clock_.Advance(Ms(40));
  ASSERT_TRUE(radar.Poll().ok());
  Ops243Period q = radar.TakePeriod();
  ASSERT_FALSE(q.reports.empty());
  EXPECT_DOUBLE_EQ(q.reports.back().speed, 72.0);
}

}  // namespace
}  // namespace edgeforge
