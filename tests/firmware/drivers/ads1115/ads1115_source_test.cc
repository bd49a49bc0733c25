#include "firmware/drivers/ads1115/ads1115_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/models/ads1115_model.h"

namespace edgeforge::app {
namespace {

using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;
constexpr uint8_t kAddress = Ads1115::kAddressGnd;

// The factory node: a CT (2000:1, 33 ohm) on AIN0-AIN1 with AIN1 at a 1.65 V
// bias, and a 0..10 bar transmitter on a 165 ohm shunt at AIN2.
std::vector<Ads1115Channel> FactoryChannels() {
  Ads1115Channel current;
  current.name = "motor_current";
  current.mux = Ads1115Mux::kAin0Ain1;
  current.pga = Ads1115Pga::kFsr512mV;
  current.kind = Ads1115Channel::Kind::kCurrentTransformer;
  current.ct = {2000, 33, 50, 10};
  Ads1115Channel pressure;
  pressure.name = "pressure";
  pressure.mux = Ads1115Mux::kAin2;
  pressure.pga = Ads1115Pga::kFsr4096mV;
  pressure.kind = Ads1115Channel::Kind::kLoop4To20mA;
  pressure.loop = {165, 0, 10, "bar"};
  return {current, pressure};
}

class Ads1115SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
    SetMotorAmps(7.5);
    SetLoopMilliamps(12.0);
  }
  void SetMotorAmps(double amps_rms) {
    const double peak = amps_rms * std::sqrt(2.0) / 2000 * 33;
    ASSERT_TRUE(model_.SetInput(1, [](double) { return 1.65; }).ok());
    ASSERT_TRUE(model_.SetInput(0, [peak](double s) { return 1.65 + peak * std::sin(2 * kPi * 50 * s); }).ok());
  }
  void SetLoopMilliamps(double ma) {
    ASSERT_TRUE(model_.SetInput(2, [ma](double) { return ma / 1000 * 165; }).ok());
  }
  std::vector<telemetry::Reading> Sample(Status* status = nullptr) {
    std::vector<telemetry::Reading> out;
    Status s = source_.Sample(out);
    if (status != nullptr) *status = s;
    return out;
  }

  ManualClock clock_;
  SimI2cBus bus_;
  Ads1115Model model_{clock_};
  Ads1115 adc_{bus_, kAddress, clock_};
  Ads1115Source source_{"adc0", adc_, FactoryChannels()};
};

TEST_F(Ads1115SourceTest, ReadingsCarryNamesUnitsAndValues) {
  ASSERT_TRUE(source_.Init().ok());
  Status s;
  const std::vector<telemetry::Reading> r = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "motor_current");
  EXPECT_EQ(r[0].unit, "A");
  EXPECT_EQ(r[0].agg, telemetry::Aggregation::kMean);
  EXPECT_TRUE(r[0].fault.empty()) << r[0].fault;
  EXPECT_NEAR(r[0].value, 7.5, 0.02 * 7.5);
  EXPECT_EQ(r[1].name, "pressure");
  EXPECT_EQ(r[1].unit, "bar");
  EXPECT_EQ(r[1].agg, telemetry::Aggregation::kMean);
  EXPECT_TRUE(r[1].fault.empty()) << r[1].fault;
  EXPECT_NEAR(r[1].value, 5.0, 0.001);  // 1 LSB = 0.76 uA = 0.00047 bar
  // Rounded to the decimal below one LSB: 0.00095 A and 0.00047 bar -> 4 places.
  for (const auto& reading : r) {
    EXPECT_DOUBLE_EQ(reading.value, std::round(reading.value * 1e4) / 1e4) << reading.name;
  }
}

TEST_F(Ads1115SourceTest, SampleInitialisesOnFirstUse) {
  Status s;
  const std::vector<telemetry::Reading> r = Sample(&s);  // no Init() call
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(r[0].fault.empty());
  EXPECT_EQ(model_.Register(ads1115_reg::kConfig) & 0x0003, 0x0003);  // comparator left off
}

TEST_F(Ads1115SourceTest, TracksTheMotorAcrossSamples) {
  ASSERT_TRUE(source_.Init().ok());
  for (double amps : {0.5, 3.0, 11.0, 19.0}) {
    SetMotorAmps(amps);
    const std::vector<telemetry::Reading> r = Sample();
    ASSERT_TRUE(r[0].fault.empty()) << r[0].fault;
    EXPECT_NEAR(r[0].value, amps, 0.02 * amps + 0.001);
  }
  // Motor off: a few LSBs of quantisation at most.
  SetMotorAmps(0.0);
  EXPECT_NEAR(Sample()[0].value, 0.0, 0.001);
}

TEST_F(Ads1115SourceTest, OpenLoopFaultsOnlyThePressureChannel) {
  SetLoopMilliamps(0.0);
  Status s;
  const std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("pressure: 4-20 mA loop: 0.00 mA"));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].fault.empty()) << r[0].fault;
  EXPECT_NEAR(r[0].value, 7.5, 0.15);
  EXPECT_EQ(r[1].name, "pressure");
  EXPECT_EQ(r[1].unit, "bar");
  EXPECT_EQ(r[1].value, 0);
  EXPECT_THAT(r[1].fault, HasSubstr("adc0: UNAVAILABLE: pressure: "));
  EXPECT_THAT(r[1].fault, HasSubstr("open loop"));
  // The loop is reconnected: the next sample reads it.
  SetLoopMilliamps(4.0);
  const std::vector<telemetry::Reading> again = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NEAR(again[1].value, 0.0, 0.001);
}

TEST_F(Ads1115SourceTest, LoopOverRangeAndShortCircuit) {
  Status s;
  SetLoopMilliamps(20.7);  // above 20.5 mA: not a measurement, not a failure either
  std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(r[1].fault, HasSubstr("20.70 mA outside the 3.8..20.5 mA measuring range"));
  // 25 mA * 165 ohm = 4.125 V: past the 4.096 V full scale. The ADC pins at
  // 0x7FFF (24.82 mA), which is already a NE 43 failure.
  SetLoopMilliamps(25.0);
  r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(r[1].fault, HasSubstr("24.82 mA >= 21 mA: short circuit"));
  EXPECT_THAT(r[1].fault, HasSubstr("ADC at full scale"));
  EXPECT_TRUE(r[0].fault.empty());
}

TEST_F(Ads1115SourceTest, CurrentBeyondThePgaRangeFaultsOnlyTheCurrentChannel) {
  SetMotorAmps(40.0);  // 0.93 V peak on a 0.512 V range
  Status s;
  const std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(r[0].fault, HasSubstr("adc0: OUT_OF_RANGE: motor_current: ads1115@0x48: AIN0-AIN1 at or beyond"));
  EXPECT_THAT(r[0].fault, HasSubstr("+-1.024 V"));
  EXPECT_TRUE(r[1].fault.empty()) << r[1].fault;
  EXPECT_NEAR(r[1].value, 5.0, 0.001);
}

TEST_F(Ads1115SourceTest, BadConfigurationFaultsEveryChannel) {
  std::vector<Ads1115Channel> channels = FactoryChannels();
  channels[1].pga = Ads1115Pga::kFsr2048mV;  // 12.4 mA through 165 ohm
  Ads1115Source source("adc0", adc_, channels);
  Status s = source.Init();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("channel 1 (pressure)"));
  EXPECT_THAT(s.message(), HasSubstr("12.41 mA"));
  std::vector<telemetry::Reading> r;
  EXPECT_EQ(source.Sample(r).code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].fault.empty());
  EXPECT_FALSE(r[1].fault.empty());

  channels = FactoryChannels();
  channels[1].name = "motor_current";
  EXPECT_THAT(Validate(channels).message(), HasSubstr("duplicate"));
  channels = FactoryChannels();
  channels[0].name = "Motor Current";
  EXPECT_THAT(Validate(channels).message(), HasSubstr("snake_case"));
  channels = FactoryChannels();
  channels[0].ct.burden_ohm = -1;
  EXPECT_THAT(Validate(channels).message(), HasSubstr("channel 0 (motor_current)"));
  EXPECT_TRUE(Validate(FactoryChannels()).ok());
}

// ---------------------------------------------------------------------------
// Faults on the wire, and recovery once they clear.

TEST_F(Ads1115SourceTest, MissingChipFaultsEveryChannelThenRecovers) {
  bus_.InjectFault(kAddress, FaultSpec{FaultKind::kNack});
  Status s;
  std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& reading : r) {
    EXPECT_THAT(reading.fault, HasSubstr("adc0: UNAVAILABLE: " + reading.name + ": ads1115@0x48"));
    EXPECT_THAT(reading.fault, HasSubstr("no ACK"));
  }
  bus_.ClearFault(kAddress);
  r = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NEAR(r[0].value, 7.5, 0.15);
  EXPECT_NEAR(r[1].value, 5.0, 0.001);
}

TEST_F(Ads1115SourceTest, StuckChipTimesOutThenRecovers) {
  ASSERT_TRUE(source_.Init().ok());
  bus_.InjectFault(kAddress, FaultSpec{FaultKind::kStuck});
  Status s;
  std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r[0].fault, HasSubstr("not done"));
  // The next channel re-initialises first: the frozen config read fails it.
  EXPECT_THAT(r[1].fault, HasSubstr("FAILED_PRECONDITION"));
  bus_.ClearFault(kAddress);
  r = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(r[0].fault.empty());
  EXPECT_TRUE(r[1].fault.empty());
}

TEST_F(Ads1115SourceTest, NoisyBusIsDetectedThenRecovers) {
  ASSERT_TRUE(source_.Init().ok());
  FaultSpec noise{FaultKind::kNoise};
  noise.probability = 0.5;
  noise.seed = 7;
  bus_.InjectFault(kAddress, noise);
  Status s;
  std::vector<telemetry::Reading> r = Sample(&s);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(r[0].fault.empty());
  EXPECT_FALSE(r[1].fault.empty());
  bus_.ClearFault(kAddress);
  r = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NEAR(r[1].value, 5.0, 0.001);
}

// A power cycle of the chip between samples costs nothing: every conversion
// writes the whole configuration.
TEST_F(Ads1115SourceTest, ChipPowerCycleBetweenSamples) {
  ASSERT_TRUE(source_.Init().ok());
  model_.PowerOnReset();
  Status s;
  const std::vector<telemetry::Reading> r = Sample(&s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NEAR(r[1].value, 5.0, 0.001);
}

}  // namespace
}  // namespace edgeforge::app
