// The ADS1115 register model's semantics (SBAS444D 9.4, 9.5.3, 9.6), driven
// with raw bytes over a SimI2cBus, no driver in between.
#include "sim/models/ads1115_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;

constexpr uint8_t kAddress = 0x49;

class Ads1115ModelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus_.Attach(kAddress, model_).ok()); }

  void Write(std::initializer_list<uint8_t> bytes) {
    ASSERT_TRUE(bus_.Write(kAddress, ConstBytes(bytes.begin(), bytes.size()), Millis(1)).ok());
  }
  void WriteConfig(uint16_t config) {
    Write({0x01, static_cast<uint8_t>(config >> 8), static_cast<uint8_t>(config & 0xFF)});
  }
  // Sets the pointer and reads the register (9.5.3).
  uint16_t Read(uint8_t pointer) {
    uint8_t rx[2] = {};
    EXPECT_TRUE(bus_.WriteRead(kAddress, ConstBytes(&pointer, 1), rx, Millis(1)).ok());
    return static_cast<uint16_t>((rx[0] << 8) | rx[1]);
  }
  // Reads at the current pointer, no pointer write.
  std::vector<uint8_t> ReadAtPointer(size_t n) {
    std::vector<uint8_t> rx(n);
    EXPECT_TRUE(bus_.WriteRead(kAddress, ConstBytes(), rx, Millis(1)).ok());
    return rx;
  }
  void SetInput(int ain, Ads1115Model::Signal s) { ASSERT_TRUE(model_.SetInput(ain, std::move(s)).ok()); }
  static Ads1115Model::Signal Dc(double v) {
    return [v](double) { return v; };
  }

  ManualClock clock_;
  SimI2cBus bus_;
  Ads1115Model model_{clock_};
};

TEST_F(Ads1115ModelTest, ResetValues) {
  // Pointer resets to 00 (conversion register).
  EXPECT_EQ(ReadAtPointer(2), (std::vector<uint8_t>{0x00, 0x00}));
  EXPECT_EQ(Read(0x00), 0x0000);
  EXPECT_EQ(Read(0x01), 0x8583);
  EXPECT_EQ(Read(0x02), 0x8000);
  EXPECT_EQ(Read(0x03), 0x7FFF);
}

TEST_F(Ads1115ModelTest, PointerAndRegisterWrites) {
  Write({0x02, 0x12, 0x34});
  EXPECT_EQ(ReadAtPointer(2), (std::vector<uint8_t>{0x12, 0x34}));  // pointer left at 0x02
  Write({0x03, 0xAB, 0xCD});
  EXPECT_EQ(Read(0x03), 0xABCD);
  EXPECT_EQ(Read(0x02), 0x1234);
  // Longer reads repeat the register.
  EXPECT_EQ(ReadAtPointer(4), (std::vector<uint8_t>{0x12, 0x34, 0x12, 0x34}));
  // The conversion register is read-only; a write without both bytes changes nothing.
  Write({0x00, 0x55, 0x55});
  EXPECT_EQ(Read(0x00), 0x0000);
  Write({0x02, 0x99});
  EXPECT_EQ(Read(0x02), 0x1234);
  // P[1:0] only; the reserved bits 7:2 do not select another register.
  EXPECT_EQ(Read(0xFD), 0x8583);
}

TEST_F(Ads1115ModelTest, SingleShotTimingAndSampleInstant) {
  clock_.Advance(Micros(10'000));
  // 1 V per second ramp on AIN0: the result tells the sampling instant.
  SetInput(0, [](double s) { return s; });
  WriteConfig(0xC5E3);  // OS, AIN0-GND, +-2.048 V, single-shot, 860 SPS, comparator off
  // Converting: OS reads 0, the rest of the config as written.
  EXPECT_EQ(Read(0x01), 0x45E3);
  // 25 us power-up + 1/860 s = 1187.8 us.
  clock_.Advance(Micros(1'187));
  EXPECT_EQ(Read(0x01), 0x45E3);
  EXPECT_EQ(Read(0x00), 0x0000);
  EXPECT_EQ(model_.conversions(), 0u);
  clock_.Advance(Micros(1));
  EXPECT_EQ(Read(0x01), 0xC5E3);
  // Sampled at 11.188 ms: 0.011188 V / 62.5 uV = 179.008 -> code 179.
  EXPECT_EQ(Read(0x00), 179);
  EXPECT_EQ(model_.conversions(), 1u);
  // The result holds; it does not follow the input after the conversion.
  clock_.Advance(Millis(500));
  EXPECT_EQ(Read(0x00), 179);
  EXPECT_EQ(model_.conversions(), 1u);
}

TEST_F(Ads1115ModelTest, OsWriteDuringAConversionHasNoEffect) {
  SetInput(0, Dc(1.0));
  WriteConfig(0xC383);  // OS, AIN0-GND, +-4.096 V, single-shot, 128 SPS: 7837.5 us
  clock_.Advance(Micros(5'000));
  WriteConfig(0xC383);  // does not restart it
  clock_.Advance(Micros(2'838));
  EXPECT_EQ(Read(0x01) & 0x8000, 0x8000);
  EXPECT_EQ(model_.conversions(), 1u);
  // OS = 0 in a write starts nothing.
  WriteConfig(0x4383);
  EXPECT_EQ(Read(0x01), 0xC383);
  EXPECT_EQ(model_.conversions(), 1u);
}

TEST_F(Ads1115ModelTest, QuantisationAndPgaClipping) {
  struct Case {
    double volts;
    uint16_t pga_bits;  // PGA[2:0]
    uint16_t code;
  };
  const Case cases[] = {
      {1.0, 1, 8000},        // 1 V / 125 uV
      {1.0000624, 1, 8000},  // under half an LSB rounds down
      {1.0000626, 1, 8001},  // over half an LSB rounds up
      {4.0959, 1, 0x7FFF},   // 32767.2
      {4.2, 1, 0x7FFF},      // beyond +FS: clipped
      {-0.1, 2, static_cast<uint16_t>(-1600)},
      {-2.048, 2, 0x8000},  // -FS exactly
      {-3.0, 2, 0x8000},    // beyond -FS: clipped
      {0.2, 5, 25600},      // +-0.256 V: 7.8125 uV
      {0.2, 7, 25600},      // PGA 111 is +-0.256 V too
      {5.9, 0, 31467},      // +-6.144 V: 187.5 uV, 31466.7
  };
  for (const Case& c : cases) {
    SetInput(0, Dc(c.volts));
    WriteConfig(static_cast<uint16_t>(0xC000 | (c.pga_bits << 9) | 0x01E3));
    clock_.Advance(Micros(1'188));
    EXPECT_EQ(Read(0x00), c.code) << c.volts << " V, PGA " << c.pga_bits;
  }
}

TEST_F(Ads1115ModelTest, DifferentialMux) {
  SetInput(0, Dc(1.0));
  SetInput(1, Dc(1.25));
  SetInput(2, Dc(2.0));
  SetInput(3, Dc(0.5));
  const double expected[] = {-0.25, 0.5, 0.75, 1.5, 1.0, 1.25, 2.0, 0.5};
  for (uint16_t mux = 0; mux < 8; ++mux) {
    EXPECT_DOUBLE_EQ(model_.InputVolts(static_cast<Ads1115Mux>(mux), 0.0), expected[mux]);
    WriteConfig(static_cast<uint16_t>(0x8000 | (mux << 12) | (1u << 9) | 0x01E3));
    clock_.Advance(Micros(1'188));
    EXPECT_EQ(static_cast<int16_t>(Read(0x00)), static_cast<int16_t>(std::lround(expected[mux] / 125e-6)))
        << "mux " << mux;
  }
}

TEST_F(Ads1115ModelTest, OscillatorErrorScalesConversionTime) {
  model_.SetDataRateError(0.10);  // 10% fast: 25 + 1057.1 us
  WriteConfig(0xC5E3);
  clock_.Advance(Micros(1'082));
  EXPECT_EQ(Read(0x01) & 0x8000, 0);
  clock_.Advance(Micros(1));
  EXPECT_EQ(Read(0x01) & 0x8000, 0x8000);
}

TEST_F(Ads1115ModelTest, ContinuousModeConvertsAtTheDataRate) {
  SetInput(0, [](double s) { return s; });
  WriteConfig(0x42E3);                // AIN0-GND, +-4.096 V, continuous (MODE 0), 860 SPS
  EXPECT_EQ(Read(0x01) & 0x8000, 0);  // converting
  clock_.Advance(Micros(1'162));
  EXPECT_EQ(model_.conversions(), 0u);
  clock_.Advance(Micros(1));
  EXPECT_EQ(model_.conversions(), 1u);
  // An hour unread: the register holds the latest conversion, computed in
  // constant time.
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(model_.conversions(), 3'096'001u);  // floor(3601.163 s * 860)
  // Sampled at 3'096'001 / 860 s = 3600.0012 V: clipped at +FS.
  EXPECT_EQ(Read(0x00), 0x7FFF);
  // Back to single-shot: powers down, OS reads 1, no more conversions.
  WriteConfig(0x43E3);
  EXPECT_EQ(Read(0x01), 0xC3E3);
  clock_.Advance(Millis(100));
  EXPECT_EQ(model_.conversions(), 3'096'001u);
}

TEST_F(Ads1115ModelTest, ContinuousModeKeepsPastConversionsWhenReconfigured) {
  SetInput(0, Dc(1.0));
  SetInput(1, Dc(2.0));
  WriteConfig(0x42E3);            // AIN0-GND continuous
  clock_.Advance(Micros(3'000));  // two conversions done (1162.8 us each)
  WriteConfig(0x52E3);            // switch to AIN1-GND
  EXPECT_EQ(model_.conversions(), 2u);
  EXPECT_EQ(Read(0x00), 8000);  // the last AIN0 result, not re-sampled on AIN1
  clock_.Advance(Micros(1'163));
  EXPECT_EQ(model_.conversions(), 3u);
  EXPECT_EQ(Read(0x00), 16000);
}

TEST_F(Ads1115ModelTest, PowerOnResetRestoresRegisters) {
  Write({0x02, 0x00, 0x10});
  SetInput(0, Dc(1.0));
  WriteConfig(0xC5E3);
  clock_.Advance(Millis(2));
  ASSERT_NE(Read(0x00), 0);
  model_.PowerOnReset();
  EXPECT_EQ(Read(0x00), 0x0000);
  EXPECT_EQ(Read(0x01), 0x8583);
  EXPECT_EQ(Read(0x02), 0x8000);
  EXPECT_EQ(model_.conversions(), 1u);  // counts since construction
}

TEST_F(Ads1115ModelTest, RejectsBadPinsAndEmptySignals) {
  Status s = model_.SetInput(4, Dc(1.0));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("AIN4"));
  EXPECT_EQ(model_.SetInput(-1, Dc(1.0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model_.SetInput(0, nullptr).code(), StatusCode::kInvalidArgument);
}

TEST_F(Ads1115ModelTest, NonFiniteSignalReadsZero) {
  SetInput(0, [](double) { return std::nan(""); });
  WriteConfig(0xC5E3);
  clock_.Advance(Millis(2));
  EXPECT_EQ(Read(0x00), 0x0000);
}

TEST(Ads1115Model, SameInputsSameBytes) {
  auto run = []() {
    ManualClock clock;
    SimI2cBus bus;
    Ads1115Model model(clock);
    EXPECT_TRUE(bus.Attach(kAddress, model).ok());
    EXPECT_TRUE(model.SetInput(0, [](double s) { return 0.3 * std::sin(2 * 3.14159265 * 50 * s); }).ok());
    std::vector<uint16_t> codes;
    for (int i = 0; i < 50; ++i) {
      const uint8_t start[] = {0x01, 0x85, 0xE3};  // OS, AIN0-AIN1, +-2.048 V, single-shot, 860 SPS
      EXPECT_TRUE(bus.Write(kAddress, start, Millis(1)).ok());
      clock.Advance(Micros(1'300));
      const uint8_t pointer = 0x00;
      uint8_t rx[2] = {};
      EXPECT_TRUE(bus.WriteRead(kAddress, ConstBytes(&pointer, 1), rx, Millis(1)).ok());
      codes.push_back(static_cast<uint16_t>((rx[0] << 8) | rx[1]));
    }
    return codes;
  };
  const std::vector<uint16_t> a = run();
  EXPECT_EQ(a, run());
  EXPECT_NE(a[0], a[5]);  // it is a sine, not a constant
}

}  // namespace
}  // namespace edgeforge
