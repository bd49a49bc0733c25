#include "sim/models/ops243_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "hal/clock.h"
#include "hal/sim/sim_uart.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;

constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }

class Ops243ModelTest : public ::testing::Test {
 protected:
  void Write(const std::string& s) { ASSERT_TRUE(uart_.Write(AsBytes(s), Millis{10}).ok()); }
  // Everything the module has sent by `after` from now.
  std::string Received(Micros after = Ms(5)) {
    clock_.Advance(after);
    std::string out;
    uint8_t buf[256];
    for (;;) {
      Result<size_t> n = uart_.Read(MutBytes(buf), Millis{0});
      if (!n.ok() || *n == 0) break;
      out.append(reinterpret_cast<const char*>(buf), *n);
    }
    return out;
  }

  ManualClock clock_;
  SimUart uart_{clock_};
  Ops243Model model_{uart_, clock_};
};

TEST_F(Ops243ModelTest, PowerOnDefaults) {
  EXPECT_EQ(model_.unit(), Ops243Unit::kMetersPerSecond);
  EXPECT_FALSE(model_.json());
  EXPECT_EQ(model_.sample_rate(), Ops243SampleRate::k10k);
  EXPECT_EQ(model_.FormatReport(1.5, true), "1.50");
  EXPECT_EQ(model_.FormatReport(1.5, false), "-1.50");
}

TEST_F(Ops243ModelTest, AnswersQueriesAsTheUserManualShows) {
  Write("??");
  const std::string info = Received();
  EXPECT_THAT(info, HasSubstr("{\"Product\":\"OPS243\"}\r\n"));
  EXPECT_THAT(info, HasSubstr("{\"SamplingRate\":10000, \"resolution\":0.0607}\r\n"));
  Write("U?");
  EXPECT_EQ(Received(), "{\"Units\":\"m-per-sec\"}\r\n");
  Write("UK");
  EXPECT_EQ(Received(), "{\"Units\":\"km-per-hr\"}\r\n");
  EXPECT_EQ(model_.unit(), Ops243Unit::kKilometersPerHour);
  Write("?P");
  EXPECT_EQ(Received(), "{\"Product\":\"OPS243 Doppler\"}\r\n");
}

TEST_F(Ops243ModelTest, AnswerComesAfterTheProcessingLatency) {
  Write("U?");
  EXPECT_EQ(Received(Micros(1'000)), "");
  EXPECT_EQ(Received(Micros(1'000)), "{\"Units\":\"m-per-sec\"}\r\n");
}

TEST_F(Ops243ModelTest, SettingsChangeTheReportFormat) {
  Write("UKOJS2F1\r\n");  // concatenated commands, line endings ignored
  (void)Received();
  EXPECT_TRUE(model_.json());
  EXPECT_EQ(model_.sample_rate(), Ops243SampleRate::k20k);
  EXPECT_EQ(model_.decimals(), 1);
  ASSERT_TRUE(model_.AddDetection(clock_.Monotonic() + Ms(1), 20.0, true).ok());
  ASSERT_TRUE(model_.AddDetection(clock_.Monotonic() + Ms(2), 10.0, false).ok());
  EXPECT_EQ(Received(),
            "{\"speed\":72.0, \"direction\":\"inbound\"}\r\n"
            "{\"speed\":36.0, \"direction\":\"outbound\"}\r\n");
  EXPECT_EQ(model_.ignored_bytes(), 0u);
}

TEST_F(Ops243ModelTest, DirectionAndSpeedFilters) {
  Write("UK");
  Write("R+");      // inbound only
  Write("R>30\r");  // km/h, needs a carriage return
  (void)Received();
  const Micros t = clock_.Monotonic();
  ASSERT_TRUE(model_.AddDetection(t + Ms(1), 20.0, false).ok());  // outbound: filtered
  ASSERT_TRUE(model_.AddDetection(t + Ms(2), 5.0, true).ok());    // 18 km/h: below 30
  ASSERT_TRUE(model_.AddDetection(t + Ms(3), 10.0, true).ok());   // 36 km/h
  EXPECT_EQ(Received(), "36.00\r\n");
  EXPECT_EQ(model_.reports(), 1u);
  Write("R|");
  (void)Received();
  ASSERT_TRUE(model_.AddDetection(clock_.Monotonic() + Ms(1), 20.0, false).ok());
  EXPECT_EQ(Received(), "-72.00\r\n");
}

TEST_F(Ops243ModelTest, FastTargetsAlias) {
  // 10 kS/s: v_max = 31.067 m/s. 40 m/s inbound shows as 40 - 62.133 = -22.13 m/s.
  ASSERT_TRUE(model_.AddDetection(Ms(1), 40.0, true).ok());
  EXPECT_EQ(Received(), "-22.13\r\n");
}

TEST_F(Ops243ModelTest, VehicleEmitsOneReportPerBuffer) {
  // 10 kS/s: a 1024-sample buffer every 102.4 ms; 0..1 s holds 10 of them.
  ASSERT_TRUE(model_.AddVehicle(Ms(0), Ms(1000), 12.0, true).ok());
  EXPECT_EQ(model_.reports(), 10u);
  const std::string out = Received(Ms(2000));
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 10u);
}

TEST_F(Ops243ModelTest, UnknownBytesAreIgnoredAndPowerCycleRestoresDefaults) {
  Write("zzUK");
  EXPECT_EQ(Received(), "{\"Units\":\"km-per-hr\"}\r\n");
  EXPECT_EQ(model_.ignored_bytes(), 2u);
  Write("OJ");
  model_.PowerCycle();
  EXPECT_EQ(model_.unit(), Ops243Unit::kMetersPerSecond);
  EXPECT_FALSE(model_.json());
}

TEST_F(Ops243ModelTest, RejectsBadDetections) {
  ASSERT_TRUE(model_.AddDetection(Ms(100), 1.0, true).ok());
  Status s = model_.AddDetection(Ms(50), 1.0, true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("before bytes already scheduled"));
  EXPECT_EQ(model_.AddDetection(Ms(200), -1.0, true).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model_.AddVehicle(Ms(300), Ms(200), 1.0, true).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeforge
