#include "firmware/drivers/ads1115/ads1115.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "firmware/drivers/ads1115/analog_inputs.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/models/ads1115_model.h"
#include "tests/support/i2c_tamper.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using testing_support::Tamper;

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// Pure functions: config register fields (SBAS444D 9.6.3).

TEST(Ads1115Config, DefaultsAreThePowerOnValue) {
  EXPECT_EQ(EncodeConfig(Ads1115Config{}), 0x8583);
  const Ads1115Config c = DecodeConfig(0x8583);
  EXPECT_TRUE(c.os);
  EXPECT_EQ(c.mux, Ads1115Mux::kAin0Ain1);
  EXPECT_EQ(c.pga, Ads1115Pga::kFsr2048mV);
  EXPECT_TRUE(c.single_shot);
  EXPECT_EQ(c.data_rate, Ads1115DataRate::kSps128);
  EXPECT_FALSE(c.comp_window);
  EXPECT_FALSE(c.comp_active_high);
  EXPECT_FALSE(c.comp_latching);
  EXPECT_EQ(c.comp_queue, 0x3);
}

TEST(Ads1115Config, FieldPositions) {
  // OS=1 MUX=111 (AIN3-GND) PGA=001 (4.096 V) MODE=1 | DR=111 (860) 0 0 0 QUE=11:
  // 1111 0011 1110 0011.
  Ads1115Config a;
  a.mux = Ads1115Mux::kAin3;
  a.pga = Ads1115Pga::kFsr4096mV;
  a.data_rate = Ads1115DataRate::kSps860;
  EXPECT_EQ(EncodeConfig(a), 0xF3E3);
  // OS=0 MUX=000 PGA=101 (0.256 V) MODE=0 | DR=000 (8) window, active high, latching, QUE=00:
  // 0000 1010 0001 1100.
  Ads1115Config b;
  b.os = false;
  b.pga = Ads1115Pga::kFsr256mV;
  b.single_shot = false;
  b.data_rate = Ads1115DataRate::kSps8;
  b.comp_window = true;
  b.comp_active_high = true;
  b.comp_latching = true;
  b.comp_queue = 0;
  EXPECT_EQ(EncodeConfig(b), 0x0A1C);
  // Each mux code in bits 14:12.
  for (unsigned m = 0; m < 8; ++m) {
    Ads1115Config c;
    c.mux = static_cast<Ads1115Mux>(m);
    EXPECT_EQ((EncodeConfig(c) >> 12) & 0x7u, m);
  }
  EXPECT_EQ(SingleShotConfig({Ads1115Mux::kAin2, Ads1115Pga::kFsr1024mV, Ads1115DataRate::kSps475}),
            0x8000 | (6u << 12) | (3u << 9) | 0x0100 | (6u << 5) | 0x3);
}

TEST(Ads1115Config, EveryWordRoundTrips) {
  for (unsigned v = 0; v <= 0xFFFF; ++v) {
    ASSERT_EQ(EncodeConfig(DecodeConfig(static_cast<uint16_t>(v))), v);
  }
}

TEST(Ads1115Config, MuxNames) {
  EXPECT_STREQ(MuxName(Ads1115Mux::kAin0Ain1), "AIN0-AIN1");
  EXPECT_STREQ(MuxName(Ads1115Mux::kAin2Ain3), "AIN2-AIN3");
  EXPECT_STREQ(MuxName(Ads1115Mux::kAin3), "AIN3-GND");
}

// ---------------------------------------------------------------------------
// Codes to volts (9.3.3 FSR and LSB size, 9.5.4 data format).

TEST(Ads1115Codes, LsbAndFullScalePerPga) {
  struct Case {
    Ads1115Pga pga;
    double full_scale, lsb;
  };
  const Case cases[] = {
      {Ads1115Pga::kFsr6144mV, 6.144, 187.5e-6},      {Ads1115Pga::kFsr4096mV, 4.096, 125e-6},
      {Ads1115Pga::kFsr2048mV, 2.048, 62.5e-6},       {Ads1115Pga::kFsr1024mV, 1.024, 31.25e-6},
      {Ads1115Pga::kFsr512mV, 0.512, 15.625e-6},      {Ads1115Pga::kFsr256mV, 0.256, 7.8125e-6},
      {static_cast<Ads1115Pga>(6), 0.256, 7.8125e-6}, {static_cast<Ads1115Pga>(7), 0.256, 7.8125e-6},
  };
  for (const Case& c : cases) {
    EXPECT_DOUBLE_EQ(FullScaleVolts(c.pga), c.full_scale);
    EXPECT_DOUBLE_EQ(LsbVolts(c.pga), c.lsb);
    EXPECT_DOUBLE_EQ(CodeToVolts(1, c.pga), c.lsb);
    EXPECT_DOUBLE_EQ(CodeToVolts(-1, c.pga), -c.lsb);  // 0xFFFF
    EXPECT_DOUBLE_EQ(CodeToVolts(INT16_MAX, c.pga), c.full_scale - c.lsb);
    EXPECT_DOUBLE_EQ(CodeToVolts(INT16_MIN, c.pga), -c.full_scale);
    EXPECT_DOUBLE_EQ(CodeToVolts(0, c.pga), 0.0);
  }
  EXPECT_DOUBLE_EQ(CodeToVolts(0x7FFF, Ads1115Pga::kFsr4096mV), 4.095875);
  EXPECT_DOUBLE_EQ(CodeToVolts(0x7FFF, Ads1115Pga::kFsr6144mV), 6.1438125);
  EXPECT_DOUBLE_EQ(CodeToVolts(0x4000, Ads1115Pga::kFsr2048mV), 1.024);
  EXPECT_DOUBLE_EQ(CodeToVolts(static_cast<int16_t>(0xC000), Ads1115Pga::kFsr256mV), -0.128);
}

TEST(Ads1115Codes, SaturationSuggestsTheNextRange) {
  EXPECT_TRUE(IsSaturated(0x7FFF));
  EXPECT_TRUE(IsSaturated(INT16_MIN));
  EXPECT_FALSE(IsSaturated(0x7FFE));
  EXPECT_FALSE(IsSaturated(-32767));
  EXPECT_TRUE(CheckSaturation(0x7FFE, Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, "adc").ok());

  Status s = CheckSaturation(0x7FFF, Ads1115Mux::kAin1, Ads1115Pga::kFsr2048mV, "ads1115@0x49");
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr("ads1115@0x49: AIN1-GND at or beyond +2.048 V full scale (code 0x7fff)"));
  EXPECT_THAT(s.message(), HasSubstr("+-4.096 V"));
  s = CheckSaturation(INT16_MIN, Ads1115Mux::kAin0Ain1, static_cast<Ads1115Pga>(7), "adc");
  EXPECT_THAT(s.message(), HasSubstr("-0.256 V full scale (code 0x8000)"));
  EXPECT_THAT(s.message(), HasSubstr("+-0.512 V"));
  s = CheckSaturation(0x7FFF, Ads1115Mux::kAin0, Ads1115Pga::kFsr6144mV, "adc");
  EXPECT_THAT(s.message(), HasSubstr("exceeds the largest range"));
}

// ---------------------------------------------------------------------------
// Conversion time (9.3.6: 1 / DR; 9.4.2.1: ~25 us power-up; 7.5: DR +-10%).

TEST(Ads1115Timing, ConversionTimesPerDataRate) {
  const int rates[] = {8, 16, 32, 64, 128, 250, 475, 860};
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(SamplesPerSecond(static_cast<Ads1115DataRate>(i)), rates[i]);
  EXPECT_EQ(NominalConversionTime(Ads1115DataRate::kSps8), Micros(125'025));
  EXPECT_EQ(NominalConversionTime(Ads1115DataRate::kSps128), Micros(7'838));    // 25 + 7812.5
  EXPECT_EQ(NominalConversionTime(Ads1115DataRate::kSps860), Micros(1'188));    // 25 + 1162.8
  EXPECT_EQ(WorstCaseConversionTime(Ads1115DataRate::kSps8), Micros(138'914));  // 25 + 1/7.2 s
  EXPECT_EQ(WorstCaseConversionTime(Ads1115DataRate::kSps860), Micros(1'317));  // 25 + 1/774 s
  EXPECT_EQ(FastestConversionTime(Ads1115DataRate::kSps860), Micros(1'057));    // 1/946 s
  EXPECT_EQ(FastestConversionTime(Ads1115DataRate::kSps8), Micros(113'636));    // 1/8.8 s
}

// ---------------------------------------------------------------------------
// The driver against the register-level model on a simulated bus.

constexpr uint8_t kAddress = Ads1115::kAddressGnd;

// Answers every read with one 16-bit value and ignores writes: another chip
// at the address (a TMP102 configuration register reads 0x60A0 at reset).
class Constant16 final : public I2cPeripheral {
 public:
  explicit Constant16(uint16_t value) : value_(value) {}

 private:
  Status OnWriteRead(ConstBytes, MutBytes rx) override {
    for (size_t i = 0; i < rx.size(); ++i) rx[i] = static_cast<uint8_t>(i % 2 == 0 ? value_ >> 8 : value_ & 0xFF);
    return Status::Ok();
  }
  uint16_t value_;
};

Ads1115Model::Signal Dc(double volts) {
  return [volts](double) { return volts; };
}

class Ads1115DriverTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus_.Attach(kAddress, model_).ok()); }
  Micros Elapsed() const { return clock_.Monotonic() - start_; }
  void SetInput(int ain, Ads1115Model::Signal s) { ASSERT_TRUE(model_.SetInput(ain, std::move(s)).ok()); }

  ManualClock clock_;
  SimI2cBus bus_;
  Ads1115Model model_{clock_};
  Micros start_ = clock_.Monotonic();
  Ads1115 driver_{bus_, kAddress, clock_};
  const Ads1115Input fast_{Ads1115Mux::kAin0, Ads1115Pga::kFsr4096mV, Ads1115DataRate::kSps860};
  const Micros timeout_ = 2 * WorstCaseConversionTime(Ads1115DataRate::kSps860);
};

TEST_F(Ads1115DriverTest, InitLeavesThePartPoweredDownWithComparatorOff) {
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_EQ(model_.Register(ads1115_reg::kConfig), 0x8583);
  EXPECT_EQ(model_.conversions(), 0u);
  EXPECT_EQ(Elapsed(), Micros(0));
}

TEST_F(Ads1115DriverTest, DcInputReadsBackWithinOneLsbAtEveryPga) {
  ASSERT_TRUE(driver_.Init().ok());
  const Ads1115Pga pgas[] = {Ads1115Pga::kFsr6144mV, Ads1115Pga::kFsr4096mV, Ads1115Pga::kFsr2048mV,
                             Ads1115Pga::kFsr1024mV, Ads1115Pga::kFsr512mV,  Ads1115Pga::kFsr256mV};
  int conversions = 0;
  for (Ads1115Pga pga : pgas) {
    const double fs = FullScaleVolts(pga);
    for (int i = -20; i <= 20; ++i) {
      // Off-grid levels across the range, both signs (differential AIN2-AIN3).
      const double v = fs * 0.97 * i / 20.0 + 0.000123;
      SetInput(2, Dc(2.5 + v / 2));
      SetInput(3, Dc(2.5 - v / 2));
      Result<double> r = driver_.ReadVolts({Ads1115Mux::kAin2Ain3, pga, Ads1115DataRate::kSps860}, timeout_);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_LE(std::fabs(*r - v), LsbVolts(pga)) << "pga " << fs << " v " << v;
      ++conversions;
    }
  }
  EXPECT_EQ(model_.conversions(), static_cast<uint64_t>(conversions));
}

TEST_F(Ads1115DriverTest, SingleEndedInputsAndMuxSelection) {
  ASSERT_TRUE(driver_.Init().ok());
  SetInput(0, Dc(0.5));
  SetInput(1, Dc(1.0));
  SetInput(2, Dc(1.5));
  SetInput(3, Dc(2.0));
  struct Case {
    Ads1115Mux mux;
    double volts;
  };
  const Case cases[] = {{Ads1115Mux::kAin0Ain1, -0.5}, {Ads1115Mux::kAin0Ain3, -1.5}, {Ads1115Mux::kAin1Ain3, -1.0},
                        {Ads1115Mux::kAin2Ain3, -0.5}, {Ads1115Mux::kAin0, 0.5},      {Ads1115Mux::kAin1, 1.0},
                        {Ads1115Mux::kAin2, 1.5},      {Ads1115Mux::kAin3, 2.0}};
  for (const Case& c : cases) {
    Result<double> r = driver_.ReadVolts({c.mux, Ads1115Pga::kFsr4096mV, Ads1115DataRate::kSps128}, Millis(20));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_NEAR(*r, c.volts, 125e-6) << MuxName(c.mux);
  }
}

TEST_F(Ads1115DriverTest, ResultIsTheInputAtTheEndOfTheConversion) {
  ASSERT_TRUE(driver_.Init().ok());
  clock_.Advance(Millis(1000));
  // 1 V per second ramp: the value read tells when the chip sampled it.
  SetInput(0, [](double s) { return s - 1.0; });
  Result<double> r = driver_.ReadVolts({Ads1115Mux::kAin0, Ads1115Pga::kFsr512mV, Ads1115DataRate::kSps8}, Millis(300));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(*r, 0.125025, 15.625e-6);
  // The driver slept the nominal conversion time once, then found it done.
  EXPECT_EQ(Elapsed(), Millis(1000) + NominalConversionTime(Ads1115DataRate::kSps8));
}

TEST_F(Ads1115DriverTest, SlowOscillatorIsWaitedOutWithinTheMargin) {
  ASSERT_TRUE(driver_.Init().ok());
  model_.SetDataRateError(-0.10);  // the slowest part section 7.5 allows
  SetInput(0, Dc(1.0));
  Result<double> r = driver_.ReadVolts({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps860}, timeout_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(*r, 1.0, 62.5e-6);
  // Done at 25 + 1292 us; polled every 1188 / 16 = 74 us after the nominal 1188 us.
  EXPECT_GE(Elapsed(), Micros(1'317));
  EXPECT_LE(Elapsed(), Micros(1'317 + 74));
}

TEST_F(Ads1115DriverTest, TooShortTimeoutIsDeadlineExceeded) {
  ASSERT_TRUE(driver_.Init().ok());
  Result<double> r =
      driver_.ReadVolts({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps128}, Micros(5'000));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("ads1115@0x48: conversion of AIN0-GND at 128 SPS not done"));
  // Gave up at the timeout, not later.
  EXPECT_EQ(Elapsed(), Micros(5'000));
  // The conversion it started still completes; the next one works.
  EXPECT_TRUE(
      driver_.ReadVolts({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps128}, Millis(20)).ok());
}

TEST_F(Ads1115DriverTest, OscillatorOutsideSpecHitsTheCallersTimeout) {
  ASSERT_TRUE(driver_.Init().ok());
  model_.SetDataRateError(-0.5);  // twice as slow: outside section 7.5
  const Micros worst = WorstCaseConversionTime(Ads1115DataRate::kSps860);
  Result<int16_t> r = driver_.Convert({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps860}, worst);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Elapsed(), worst);
}

TEST_F(Ads1115DriverTest, SaturatedInputIsOutOfRange) {
  ASSERT_TRUE(driver_.Init().ok());
  SetInput(0, Dc(3.0));
  Result<double> r = driver_.ReadVolts({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps860}, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(r.status().message(), HasSubstr("ads1115@0x48: AIN0-GND at or beyond +2.048 V full scale"));
  EXPECT_THAT(r.status().message(), HasSubstr("+-4.096 V"));
  // The raw conversion is still available to a caller that wants it.
  Result<int16_t> code =
      driver_.Convert({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps860}, timeout_);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0x7FFF);
  // Negative full scale, differential.
  SetInput(1, Dc(3.0));
  SetInput(0, Dc(0.0));
  r = driver_.ReadVolts({Ads1115Mux::kAin0Ain1, Ads1115Pga::kFsr1024mV, Ads1115DataRate::kSps860}, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(r.status().message(), HasSubstr("-1.024 V full scale (code 0x8000)"));
  // One step up is enough at 4.096 V.
  r = driver_.ReadVolts({Ads1115Mux::kAin0Ain1, Ads1115Pga::kFsr4096mV, Ads1115DataRate::kSps860}, timeout_);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(*r, -3.0, 125e-6);
}

TEST_F(Ads1115DriverTest, NoDeviceIsUnavailable) {
  bus_.Detach(kAddress);
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("ads1115@0x48: writing config: i2c: no ACK from 0x48"));
}

TEST_F(Ads1115DriverTest, ConversionBeforeInitIsFailedPrecondition) {
  EXPECT_EQ(driver_.Convert(fast_, timeout_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(model_.conversions(), 0u);
}

TEST_F(Ads1115DriverTest, ChipThatIgnoresTheConfigIsFailedPrecondition) {
  bus_.Detach(kAddress);
  Constant16 tmp102(0x60A0);
  ASSERT_TRUE(bus_.Attach(kAddress, tmp102).ok());
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("config reads back 0x60a0 after writing 0x0583"));
  EXPECT_EQ(driver_.Convert(fast_, timeout_).status().code(), StatusCode::kFailedPrecondition);
}

// A power cycle between the start and the first poll: the config reads the
// reset value, not what was written. DATA_LOSS, then Init() again recovers.
TEST_F(Ads1115DriverTest, ResetDuringConversionIsDataLoss) {
  bool reset_pending = false;
  Tamper brownout(model_, [&](uint8_t reg, MutBytes rx) {
    if (reg == ads1115_reg::kConfig && reset_pending) {
      reset_pending = false;
      model_.PowerOnReset();
      const uint16_t v = model_.Register(ads1115_reg::kConfig);
      rx[0] = static_cast<uint8_t>(v >> 8);
      rx[1] = static_cast<uint8_t>(v & 0xFF);
    }
    return Status::Ok();
  });
  bus_.Detach(kAddress);
  ASSERT_TRUE(bus_.Attach(kAddress, brownout).ok());
  ASSERT_TRUE(driver_.Init().ok());
  reset_pending = true;
  Result<int16_t> r = driver_.Convert({Ads1115Mux::kAin3, Ads1115Pga::kFsr4096mV, Ads1115DataRate::kSps860}, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("config reads back 0x8583 during a conversion started with 0xf3e3"));
  EXPECT_EQ(driver_.Convert(fast_, timeout_).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_TRUE(driver_.Convert(fast_, timeout_).ok());
}

// OS reading 1 before any conversion could have finished: the chip never
// started one, and the conversion register holds an old result.
TEST_F(Ads1115DriverTest, ConversionThatNeverStartsIsDataLoss) {
  Tamper idle(model_, [](uint8_t reg, MutBytes rx) {
    if (reg == ads1115_reg::kConfig) rx[0] |= 0x80;
    return Status::Ok();
  });
  bus_.Detach(kAddress);
  ASSERT_TRUE(bus_.Attach(kAddress, idle).ok());
  ASSERT_TRUE(driver_.Init().ok());
  Result<int16_t> r = driver_.Convert(fast_, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("the conversion did not start"));
}

// ---------------------------------------------------------------------------
// Bursts and the current transformer.

TEST_F(Ads1115DriverTest, BurstSpansTheRequestedTime) {
  ASSERT_TRUE(driver_.Init().ok());
  SetInput(0, Dc(0.25));
  Result<std::vector<double>> burst =
      driver_.ReadBurst({Ads1115Mux::kAin0, Ads1115Pga::kFsr512mV, Ads1115DataRate::kSps860}, Millis(200));
  ASSERT_TRUE(burst.ok()) << burst.status().ToString();
  // Back to back at 1188 us each: the 169th starts at 199.6 ms, inside the span.
  EXPECT_EQ(burst->size(), 169u);
  EXPECT_EQ(Elapsed(), 169 * Micros(1'188));
  for (double v : *burst) EXPECT_NEAR(v, 0.25, 15.625e-6);
}

TEST_F(Ads1115DriverTest, SaturationInsideABurstIsOutOfRange) {
  ASSERT_TRUE(driver_.Init().ok());
  // A 0.3 V peak sine on a 0.256 V range clips near each crest.
  SetInput(0, [](double s) { return 0.3 * std::sin(2 * kPi * 50 * s); });
  Result<std::vector<double>> burst =
      driver_.ReadBurst({Ads1115Mux::kAin0Ain1, Ads1115Pga::kFsr256mV, Ads1115DataRate::kSps860}, Millis(200));
  EXPECT_EQ(burst.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(burst.status().message(), HasSubstr("(burst sample "));
}

// A CT secondary on a 33 ohm burden between AIN0 and AIN1, AIN1 at a 1.65 V
// bias: the RMS computed from a 200 ms burst matches the sine's within 2%.
TEST_F(Ads1115DriverTest, CurrentTransformerSineRmsWithinTwoPercent) {
  ASSERT_TRUE(driver_.Init().ok());
  struct Case {
    double mains_hz, amps_rms, phase;
    int cycles;
  };
  const Case cases[] = {{50, 5.0, 0.0, 10}, {50, 12.3, 1.1, 10}, {60, 5.0, 0.4, 12},
                        {60, 0.8, 2.9, 12}, {50, 20.0, 0.7, 5},  {60, 15.0, 5.0, 3}};
  double worst = 0;
  CurrentTransformer ct;
  ct.turns_ratio = 2000;
  ct.burden_ohm = 33;
  for (const Case& c : cases) {
    ct.mains_hz = c.mains_hz;
    ct.cycles = c.cycles;
    const double peak = c.amps_rms * std::sqrt(2.0) / ct.turns_ratio * ct.burden_ohm;  // volts
    SetInput(1, Dc(1.65));
    SetInput(0, [=](double s) { return 1.65 + 0.0021 + peak * std::sin(2 * kPi * c.mains_hz * s + c.phase); });
    Result<std::vector<double>> burst =
        driver_.ReadBurst({Ads1115Mux::kAin0Ain1, Ads1115Pga::kFsr512mV, Ads1115DataRate::kSps860}, BurstSpan(ct));
    ASSERT_TRUE(burst.ok()) << burst.status().ToString();
    Result<double> amps = CtRmsAmps(*burst, ct);
    ASSERT_TRUE(amps.ok()) << amps.status().ToString();
    EXPECT_NEAR(*amps, c.amps_rms, 0.02 * c.amps_rms) << c.mains_hz << " Hz, " << c.amps_rms << " A";
    worst = std::max(worst, std::fabs(*amps / c.amps_rms - 1));
  }
  std::printf("CT RMS through the ADC: worst relative error %.3f%%\n", worst * 100);
}

// The same CT read single-ended against GND: the 1.65 V bias is in every
// sample and only the mean removal takes it out (at the cost of a +-2.048 V
// range, 4x coarser than the differential wiring needs).
TEST_F(Ads1115DriverTest, SingleEndedCurrentTransformerNeedsTheOffsetRemoved) {
  ASSERT_TRUE(driver_.Init().ok());
  CurrentTransformer ct;                                                       // 2000:1, 33 ohm, 10 cycles of 50 Hz
  const double peak = 15.0 * std::sqrt(2.0) / ct.turns_ratio * ct.burden_ohm;  // 0.35 V
  SetInput(0, [=](double s) { return 1.65 + peak * std::sin(2 * kPi * 50 * s); });
  Result<std::vector<double>> burst =
      driver_.ReadBurst({Ads1115Mux::kAin0, Ads1115Pga::kFsr2048mV, Ads1115DataRate::kSps860}, BurstSpan(ct));
  ASSERT_TRUE(burst.ok()) << burst.status().ToString();
  Result<double> amps = CtRmsAmps(*burst, ct);
  ASSERT_TRUE(amps.ok());
  EXPECT_NEAR(*amps, 15.0, 0.3);
}

// ---------------------------------------------------------------------------
// Faults on the wire (hal/sim/fault.h).

TEST_F(Ads1115DriverTest, NackIsUnavailable) {
  ASSERT_TRUE(driver_.Init().ok());
  bus_.InjectFault(kAddress, FaultSpec{FaultKind::kNack});
  Result<double> r = driver_.ReadVolts(fast_, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("ads1115@0x48: starting a conversion"));
  EXPECT_EQ(model_.conversions(), 0u);
  bus_.ClearFault(kAddress);
  EXPECT_TRUE(driver_.ReadVolts(fast_, timeout_).ok());
}

TEST_F(Ads1115DriverTest, BusTimeoutIsDeadlineExceeded) {
  ASSERT_TRUE(driver_.Init().ok());
  bus_.InjectFault(kAddress, FaultSpec{FaultKind::kTimeout, 1});
  EXPECT_EQ(driver_.Convert(fast_, timeout_).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(driver_.Convert(fast_, timeout_).ok());  // one transaction only
}

// Frozen outputs: the first poll's "converting" answer repeats forever. The
// driver times out instead of reading a stale conversion register.
TEST_F(Ads1115DriverTest, StuckStatusIsDeadlineExceeded) {
  ASSERT_TRUE(driver_.Init().ok());
  bus_.InjectFault(kAddress, FaultSpec{FaultKind::kStuck});
  Result<int16_t> r = driver_.Convert(fast_, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Elapsed(), timeout_);
  EXPECT_GT(bus_.faults_hit(kAddress), 0u);
  EXPECT_EQ(model_.conversions(), 1u);  // the chip itself converted
}

// Bit flips on reads: the config readback no longer matches what was written.
TEST_F(Ads1115DriverTest, NoisyReadsAreDataLoss) {
  ASSERT_TRUE(driver_.Init().ok());
  FaultSpec noise{FaultKind::kNoise};
  noise.probability = 0.5;
  noise.seed = 42;
  bus_.InjectFault(kAddress, noise);
  Result<int16_t> r = driver_.Convert(fast_, timeout_);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("config reads back"));
  bus_.ClearFault(kAddress);
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_TRUE(driver_.Convert(fast_, timeout_).ok());
}

}  // namespace
}  // namespace edgeforge
