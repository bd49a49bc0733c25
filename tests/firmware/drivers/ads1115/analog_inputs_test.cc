// Current transformer and 4-20 mA conversions against hand-computed vectors.
#include "firmware/drivers/ads1115/analog_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace edgeforge {
namespace {

using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// AC RMS and the current transformer.

TEST(AcRms, SquareWaveWithAndWithoutOffset) {
  // +-1 V about 0: RMS 1. The same about 3 V: the offset is removed.
  EXPECT_DOUBLE_EQ(*AcRmsVolts({1, -1, 1, -1}), 1.0);
  EXPECT_DOUBLE_EQ(*AcRmsVolts({4, 2, 4, 2}), 1.0);
  // A constant has no AC part.
  EXPECT_NEAR(*AcRmsVolts({1.65, 1.65, 1.65}), 0.0, 1e-15);
  // {0, 0, 3}: mean 1, deviations -1 -1 2, mean square 6/3 = 2.
  EXPECT_DOUBLE_EQ(*AcRmsVolts({0, 0, 3}), std::sqrt(2.0));
}

TEST(AcRms, WholeCycleOfASineIsPeakOverRootTwo) {
  // Eight samples over one cycle of 0.1 * sqrt(2) V peak on a 1.65 V bias:
  // sum of sin^2 over N >= 3 evenly spaced phases is N / 2, so V_rms = 0.1 V.
  std::vector<double> v;
  for (int k = 0; k < 8; ++k) v.push_back(1.65 + 0.1 * std::sqrt(2.0) * std::sin(kPi * k / 4 + 0.3));
  EXPECT_NEAR(*AcRmsVolts(v), 0.1, 1e-12);
}

TEST(AcRms, LargeOffsetDoesNotCancelThePrecision) {
  // 1 uV of AC on 1000 V of DC: a one-pass E[v^2] - E[v]^2 would lose it.
  EXPECT_NEAR(*AcRmsVolts({1000.000001, 999.999999, 1000.000001, 999.999999}), 1e-6, 1e-12);
}

TEST(AcRms, RejectsTooFewAndNonFiniteSamples) {
  EXPECT_EQ(AcRmsVolts({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AcRmsVolts({1.0}).status().code(), StatusCode::kInvalidArgument);
  Result<double> r = AcRmsVolts({1.0, std::numeric_limits<double>::quiet_NaN(), 2.0});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("sample 1"));
}

TEST(CurrentTransformer, RmsAmpsFromBurdenVolts) {
  CurrentTransformer ct;
  ct.turns_ratio = 2000;
  ct.burden_ohm = 100;
  // V_rms 0.1 V: I_secondary = 0.1 / 100 = 1 mA, I_primary = 1 mA * 2000 = 2 A.
  std::vector<double> v;
  for (int k = 0; k < 16; ++k) v.push_back(1.65 + 0.1 * std::sqrt(2.0) * std::sin(kPi * k / 8));
  EXPECT_NEAR(*CtRmsAmps(v, ct), 2.0, 1e-12);
  // SCT-013-000 style: 100 A : 50 mA is 2000 turns; 33 ohm burden; 30 A RMS ->
  // 15 mA * 33 ohm = 0.495 V RMS. Square wave of that RMS.
  ct.burden_ohm = 33;
  EXPECT_NEAR(*CtRmsAmps({1.65 + 0.495, 1.65 - 0.495, 1.65 + 0.495, 1.65 - 0.495}, ct), 30.0, 1e-9);
}

TEST(CurrentTransformer, ValidatesParameters) {
  const std::vector<double> v = {1, -1};
  CurrentTransformer ct;
  EXPECT_TRUE(Validate(ct).ok());
  ct.burden_ohm = 0;
  Status s = CtRmsAmps(v, ct).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("burden_ohm"));
  ct = CurrentTransformer{};
  ct.turns_ratio = -5;
  EXPECT_THAT(Validate(ct).message(), HasSubstr("turns_ratio"));
  ct = CurrentTransformer{};
  ct.mains_hz = 400;
  EXPECT_THAT(Validate(ct).message(), HasSubstr("mains_hz"));
  ct = CurrentTransformer{};
  ct.cycles = 0;
  EXPECT_THAT(Validate(ct).message(), HasSubstr("cycles"));
}

TEST(CurrentTransformer, BurstSpanIsWholeCycles) {
  CurrentTransformer ct;
  EXPECT_EQ(BurstSpan(ct), Micros(200'000));  // 10 cycles at 50 Hz
  ct.mains_hz = 60;
  ct.cycles = 12;
  EXPECT_EQ(BurstSpan(ct), Micros(200'000));
  ct.cycles = 10;
  EXPECT_EQ(BurstSpan(ct), Micros(166'667));
}

// ---------------------------------------------------------------------------
// 4-20 mA loop across a shunt, NAMUR NE 43 limits.

Loop4To20mA Pressure() {
  Loop4To20mA loop;
  loop.shunt_ohm = 165;
  loop.range_min = 0;
  loop.range_max = 10;
  loop.unit = "bar";
  return loop;
}

TEST(Loop4To20mA, ScalesLinearlyAcrossTheRange) {
  struct Case {
    double volts, milliamps, bar;
  };
  const Case cases[] = {
      {0.66, 4.0, 0.0},         // 0.66 V / 165 ohm
      {3.3, 20.0, 10.0},        // full range
      {1.98, 12.0, 5.0},        // mid
      {1.155, 7.0, 1.875},      // (7 - 4) / 16 * 10
      {0.6435, 3.9, -0.0625},   // under-range, still a measurement (NE 43: down to 3.8 mA)
      {3.3495, 20.3, 10.1875},  // over-range, still a measurement (up to 20.5 mA)
  };
  for (const Case& c : cases) {
    Result<LoopReading> r = LoopToValue(c.volts, Pressure());
    ASSERT_TRUE(r.ok()) << c.volts << ": " << r.status().ToString();
    EXPECT_NEAR(r->milliamps, c.milliamps, 1e-9) << c.volts;
    EXPECT_NEAR(r->value, c.bar, 1e-9) << c.volts;
  }
}

TEST(Loop4To20mA, OffsetAndReversedRanges) {
  Loop4To20mA gauge = Pressure();
  gauge.range_min = -1;  // -1..9 bar(g)
  gauge.range_max = 9;
  EXPECT_NEAR(LoopToValue(0.66, gauge)->value, -1.0, 1e-9);
  EXPECT_NEAR(LoopToValue(1.98, gauge)->value, 4.0, 1e-9);
  Loop4To20mA reversed = Pressure();
  reversed.range_min = 10;  // 4 mA = 10, 20 mA = 0
  reversed.range_max = 0;
  EXPECT_NEAR(LoopToValue(1.155, reversed)->value, 8.125, 1e-9);
  Loop4To20mA shunt250 = Pressure();
  shunt250.shunt_ohm = 250;  // 1..5 V
  EXPECT_NEAR(LoopToValue(3.0, shunt250)->value, 5.0, 1e-9);
}

TEST(Loop4To20mA, Namur43Limits) {
  Loop4To20mA loop = Pressure();
  loop.shunt_ohm = 100;  // volts * 10 = mA
  struct Case {
    double volts;
    StatusCode code;
    const char* text;
  };
  const Case cases[] = {
      {0.0, StatusCode::kUnavailable, "0.00 mA <= 3.6 mA: open loop"},
      {0.35, StatusCode::kUnavailable, "3.50 mA"},
      {0.359, StatusCode::kUnavailable, "3.59 mA"},
      {0.361, StatusCode::kOutOfRange, "3.61 mA outside the 3.8..20.5 mA"},
      {0.379, StatusCode::kOutOfRange, "3.79 mA"},
      {0.381, StatusCode::kOk, ""},
      {2.049, StatusCode::kOk, ""},
      {2.051, StatusCode::kOutOfRange, "20.51 mA outside"},
      {2.099, StatusCode::kOutOfRange, "20.99 mA"},
      {2.101, StatusCode::kUnavailable, "21.01 mA >= 21 mA: short circuit"},
      {-0.5, StatusCode::kUnavailable, "-5.00 mA"},  // reversed wiring
  };
  for (const Case& c : cases) {
    Result<LoopReading> r = LoopToValue(c.volts, loop);
    EXPECT_EQ(r.status().code(), c.code) << c.volts << " V: " << r.status().ToString();
    if (c.code != StatusCode::kOk) {
      EXPECT_THAT(r.status().message(), HasSubstr(c.text)) << c.volts;
    }
  }
}

TEST(Loop4To20mA, ValidatesParameters) {
  Loop4To20mA loop = Pressure();
  EXPECT_TRUE(Validate(loop).ok());
  loop.shunt_ohm = 0;
  EXPECT_THAT(LoopToValue(1.0, loop).status().message(), HasSubstr("shunt_ohm"));
  loop = Pressure();
  loop.range_max = loop.range_min;
  EXPECT_EQ(Validate(loop).code(), StatusCode::kInvalidArgument);
  loop = Pressure();
  loop.unit.clear();
  EXPECT_THAT(Validate(loop).message(), HasSubstr("unit"));
  EXPECT_EQ(LoopToValue(std::numeric_limits<double>::infinity(), Pressure()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeforge
