#include "firmware/drivers/bme280/bme280.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/models/bme280_model.h"
#include "tests/support/i2c_tamper.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using testing_support::Tamper;

// The example part's NVM, byte for byte (little-endian words; dig_H4 = 313 =
// 0x139 and dig_H5 = 50 = 0x032 share 0xE5 = 0x29).
constexpr uint8_t kNvmA[26] = {0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43,
                               0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, 0xF9, 0xFF,
                               0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B};
constexpr uint8_t kNvmB[7] = {0x6A, 0x01, 0x00, 0x13, 0x29, 0x03, 0x1E};

void ExpectSameCalibration(const Bme280Calibration& a, const Bme280Calibration& b) {
  EXPECT_EQ(a.dig_T1, b.dig_T1);
  EXPECT_EQ(a.dig_T2, b.dig_T2);
  EXPECT_EQ(a.dig_T3, b.dig_T3);
  EXPECT_EQ(a.dig_P1, b.dig_P1);
  EXPECT_EQ(a.dig_P2, b.dig_P2);
  EXPECT_EQ(a.dig_P3, b.dig_P3);
  EXPECT_EQ(a.dig_P4, b.dig_P4);
  EXPECT_EQ(a.dig_P5, b.dig_P5);
  EXPECT_EQ(a.dig_P6, b.dig_P6);
  EXPECT_EQ(a.dig_P7, b.dig_P7);
  EXPECT_EQ(a.dig_P8, b.dig_P8);
  EXPECT_EQ(a.dig_P9, b.dig_P9);
  EXPECT_EQ(a.dig_H1, b.dig_H1);
  EXPECT_EQ(a.dig_H2, b.dig_H2);
  EXPECT_EQ(a.dig_H3, b.dig_H3);
  EXPECT_EQ(a.dig_H4, b.dig_H4);
  EXPECT_EQ(a.dig_H5, b.dig_H5);
  EXPECT_EQ(a.dig_H6, b.dig_H6);
}

// ---------------------------------------------------------------------------
// Pure functions.

TEST(Bme280Calibration, ParsesExamplePart) {
  Result<Bme280Calibration> cal = ParseCalibration(kNvmA, kNvmB);
  ASSERT_TRUE(cal.ok()) << cal.status().ToString();
  ExpectSameCalibration(*cal, Bme280ExampleCalibration());
}

TEST(Bme280Calibration, H4H5TwelveBitPackingAndSigns) {
  struct Case {
    uint8_t e4, e5, e6;
    int16_t h4, h5;
  };
  const Case cases[] = {
      {0x13, 0x29, 0x03, 313, 50},        // the example part
      {0xFF, 0x4B, 0xED, -5, -300},       // both negative: 0xFFB, 0xED4
      {0x80, 0x00, 0x80, -2048, -2048},   // most negative 12-bit values
      {0x7F, 0xFF, 0x7F, 2047, 2047},     // most positive: low nibbles 0xF are not signs
      {0x07, 0x8F, 0x00, 127, 8},         // a set nibble MSB does not sign-extend
  };
  for (const Case& c : cases) {
    uint8_t b[7] = {0x6A, 0x01, 0x00, c.e4, c.e5, c.e6, 0xFE};
    Result<Bme280Calibration> cal = ParseCalibration(kNvmA, b);
    ASSERT_TRUE(cal.ok());
    EXPECT_EQ(cal->dig_H4, c.h4) << std::hex << int{c.e4} << " " << int{c.e5};
    EXPECT_EQ(cal->dig_H5, c.h5) << std::hex << int{c.e5} << " " << int{c.e6};
    EXPECT_EQ(cal->dig_H6, -2);  // 0xE7 is signed too
  }
}

TEST(Bme280Calibration, RejectsWrongLengthsAndBlankNvm) {
  EXPECT_EQ(ParseCalibration(ConstBytes(kNvmA, 24), kNvmB).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCalibration(kNvmA, ConstBytes(kNvmB, 6)).status().code(), StatusCode::kInvalidArgument);
  const uint8_t zeros_a[26] = {};
  const uint8_t zeros_b[7] = {};
  Result<Bme280Calibration> blank = ParseCalibration(zeros_a, zeros_b);
  EXPECT_EQ(blank.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(blank.status().message(), HasSubstr("blank"));
}

TEST(Bme280RawData, Parses20And16BitFields) {
  // press 0x655AC = 415148, temp 0x7EED0 = 519888, hum 0x6C8E; xlsb[3:0] ignored.
  const uint8_t burst[8] = {0x65, 0x5A, 0xCF, 0x7E, 0xED, 0x0F, 0x6C, 0x8E};
  const Bme280Raw raw = ParseRawData(burst);
  EXPECT_EQ(raw.adc_P, 415148);
  EXPECT_EQ(raw.adc_T, 519888);
  EXPECT_EQ(raw.adc_H, 0x6C8E);
  const uint8_t reset_values[8] = {0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00};
  const Bme280Raw skipped = ParseRawData(reset_values);
  EXPECT_EQ(skipped.adc_P, kBme280SkippedTempPress);
  EXPECT_EQ(skipped.adc_T, kBme280SkippedTempPress);
  EXPECT_EQ(skipped.adc_H, kBme280SkippedHum);
}

// The worked example of the Bosch BMP280 datasheet (BST-BMP280-DS001 section
// 3.12), same T/P trimming as the BME280: adc_T 519888 -> t_fine 128422,
// 25.08 degC; adc_P 415148 -> 100653.27 Pa (the datasheet's floating-point
// figure). The exact integer results were checked against an independent
// arbitrary-precision implementation of the section 4.2.3 code.
TEST(Bme280Compensation, DatasheetWorkedExample) {
  const Bme280Calibration cal = Bme280ExampleCalibration();
  const Bme280Temperature t = CompensateTemperature(cal, 519888);
  EXPECT_EQ(t.t_fine, 128422);
  EXPECT_EQ(t.centi_celsius, 2508);
  const uint32_t p = CompensatePressure(cal, 415148, t.t_fine);
  EXPECT_EQ(p, 25767233u);  // Q24.8
  EXPECT_NEAR(p / 256.0, 100653.27, 0.05);
  EXPECT_EQ(CompensateHumidity(cal, 0x6C8E, t.t_fine), 43709u);  // Q22.10: 42.685 %RH

  const Bme280Reading r = Compensate(cal, Bme280Raw{519888, 415148, 0x6C8E});
  EXPECT_DOUBLE_EQ(r.temperature_c, 25.08);
  EXPECT_DOUBLE_EQ(r.pressure_pa, 25767233 / 256.0);
  EXPECT_DOUBLE_EQ(r.humidity_rh, 43709 / 1024.0);
}

// Section 8.1's floating-point formulas, written independently of the integer
// code under test.
struct DoubleReference {
  const Bme280Calibration& c;
  double t_fine = 0;
  double Temperature(double adc) {
    const double var1 = (adc / 16384.0 - c.dig_T1 / 1024.0) * c.dig_T2;
    const double d = adc / 131072.0 - c.dig_T1 / 8192.0;
    const double var2 = d * d * c.dig_T3;
    t_fine = std::trunc(var1 + var2);
    return (var1 + var2) / 5120.0;
  }
  double Pressure(double adc) const {
    double var1 = t_fine / 2.0 - 64000.0;
    double var2 = var1 * var1 * c.dig_P6 / 32768.0;
    var2 = var2 + var1 * c.dig_P5 * 2.0;
    var2 = var2 / 4.0 + c.dig_P4 * 65536.0;
    var1 = (c.dig_P3 * var1 * var1 / 524288.0 + c.dig_P2 * var1) / 524288.0;
    var1 = (1.0 + var1 / 32768.0) * c.dig_P1;
    double p = 1048576.0 - adc;
    p = (p - var2 / 4096.0) * 6250.0 / var1;
    var1 = c.dig_P9 * p * p / 2147483648.0;
    var2 = p * c.dig_P8 / 32768.0;
    return p + (var1 + var2 + c.dig_P7) / 16.0;
  }
  double Humidity(double adc) const {
    const double v = t_fine - 76800.0;
    double h = (adc - (c.dig_H4 * 64.0 + c.dig_H5 / 16384.0 * v)) *
               (c.dig_H2 / 65536.0 * (1.0 + c.dig_H6 / 67108864.0 * v * (1.0 + c.dig_H3 / 67108864.0 * v)));
    h = h * (1.0 - c.dig_H1 * h / 524288.0);
    return std::clamp(h, 0.0, 100.0);
  }
};

TEST(Bme280Compensation, IntegerCodeAgreesWithFloatingPointFormulas) {
  const Bme280Calibration cal = Bme280ExampleCalibration();
  DoubleReference ref{cal};
  double max_dt = 0, max_dp = 0, max_dh = 0;
  for (int32_t adc_T = 0x30000; adc_T <= 0xC0000; adc_T += 0x1001) {
    const Bme280Temperature t = CompensateTemperature(cal, adc_T);
    const double celsius = ref.Temperature(adc_T);
    if (celsius < -40.0 || celsius > 85.0) continue;  // operating range only
    max_dt = std::max(max_dt, std::fabs(t.centi_celsius / 100.0 - celsius));
    // The integer code drops adc_T's low 3 bits (adc_T >> 3: up to
    // 7/8 * dig_T2 / 2^11 = 11.3 LSB of t_fine, 1/5120 degC) and floors its
    // other shifts; over every adc_T in the operating range the difference is
    // at most 14 LSB (0.003 degC). P and H are compared from the same t_fine.
    ASSERT_NEAR(t.t_fine, ref.t_fine, 14) << adc_T;
    ref.t_fine = t.t_fine;
    for (int32_t adc_P = 0x20000; adc_P <= 0xD0000; adc_P += 0x7FF1) {
      max_dp = std::max(max_dp, std::fabs(CompensatePressure(cal, adc_P, t.t_fine) / 256.0 - ref.Pressure(adc_P)));
    }
    for (int32_t adc_H = 0; adc_H <= 0xFFFF; adc_H += 0x3FF) {
      max_dh = std::max(max_dh, std::fabs(CompensateHumidity(cal, adc_H, t.t_fine) / 1024.0 - ref.Humidity(adc_H)));
    }
  }
  std::printf("integer vs floating point: |dT| <= %.4f degC, |dP| <= %.3f Pa, |dH| <= %.4f %%RH\n", max_dt,
              max_dp, max_dh);
  EXPECT_LE(max_dt, 0.005 + 14 / 5120.0);  // rounding to 0.01 degC + the t_fine difference
  EXPECT_LE(max_dp, 0.1);
  EXPECT_LE(max_dh, 0.01);
}

TEST(Bme280Compensation, PressureNeverWrapsForOutOfRangeAdc) {
  const Bme280Calibration cal = Bme280ExampleCalibration();
  const int32_t t_fine = CompensateTemperature(cal, 519888).t_fine;
  uint32_t previous = CompensatePressure(cal, 0, t_fine);
  for (int32_t adc = 1; adc <= 0xFFFFF; adc += 97) {  // monotonic non-increasing, clamped at 0
    const uint32_t p = CompensatePressure(cal, adc, t_fine);
    ASSERT_LE(p, previous) << adc;
    previous = p;
  }
  EXPECT_EQ(CompensatePressure(cal, 0xFFFFF, t_fine), 0u);
}

// ---------------------------------------------------------------------------
// The driver against the register-level model on a simulated bus.

constexpr uint8_t kAddress = Bme280::kAddressSdoLow;

// Answers every read with one byte value (a different chip, or a stuck bus).
class Constant final : public I2cPeripheral {
 public:
  explicit Constant(uint8_t value) : value_(value) {}

 private:
  Status OnWriteRead(ConstBytes, MutBytes rx) override {
    std::fill(rx.begin(), rx.end(), value_);
    return Status::Ok();
  }
  uint8_t value_;
};

class Bme280DriverTest : public ::testing::Test {
 protected:
  Micros Elapsed() const { return clock_.Monotonic() - start_; }

  SimI2cBus bus_;
  Bme280Model model_;
  ManualClock clock_;
  Micros start_ = clock_.Monotonic();
  Bme280 driver_{bus_, kAddress, clock_};
};

TEST_F(Bme280DriverTest, InitAndReadWithoutSleeping) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  ASSERT_TRUE(driver_.Init().ok());
  ASSERT_TRUE(driver_.calibration().has_value());
  ExpectSameCalibration(*driver_.calibration(), Bme280ExampleCalibration());
  model_.SetAmbient(21.5, 100'800.0, 40.0);
  Result<Bme280Reading> r = driver_.Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->temperature_c, 21.5, 0.0051);
  EXPECT_NEAR(r->pressure_pa, 100'800.0, 1.6);
  EXPECT_NEAR(r->humidity_rh, 40.0, 0.007);
  // An instant chip costs no sleep: 10,000 simulated devices must not wait.
  EXPECT_EQ(Elapsed(), Micros(0));
  EXPECT_EQ(model_.measurements(), 1u);
  EXPECT_EQ(model_.Register(bme280_reg::kCtrlMeas), 0x24);  // back to sleep, x1/x1
  EXPECT_EQ(model_.Register(bme280_reg::kCtrlHum), 0x01);
}

struct MaxError {
  double celsius = 0, pascal = 0, rel_humidity = 0;
};

MaxError Sweep(Bme280Model& model, Bme280& driver, int steps_t, int steps_p, int steps_h) {
  MaxError e;
  for (int i = 0; i <= steps_t; ++i) {
    for (int j = 0; j <= steps_p; ++j) {
      for (int k = 0; k <= steps_h; ++k) {
        // Irrational-ish offsets so the grid does not land on ADC-friendly values.
        const double c = std::min(85.0, -40.0 + 125.0 * i / steps_t + (i % 3) * 0.00317);
        const double pa = std::min(110000.0, 30000.0 + 80000.0 * j / steps_p + (j % 5) * 0.731);
        const double rh = std::min(100.0, 100.0 * k / steps_h + (k % 7) * 0.00271);
        model.SetAmbient(c, pa, rh);
        Result<Bme280Reading> r = driver.Read();
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (!r.ok()) return e;
        e.celsius = std::max(e.celsius, std::fabs(r->temperature_c - c));
        e.pascal = std::max(e.pascal, std::fabs(r->pressure_pa - pa));
        e.rel_humidity = std::max(e.rel_humidity, std::fabs(r->humidity_rh - rh));
      }
    }
  }
  return e;
}

// The model encodes the inverse of the driver's compensation on the ADC grid
// of osrs x1 (16 bits for T and P, datasheet section 3.4; 16 bits for H), so
// the driver reads the ambient back within half the chip's own resolution:
// 0.01 degC output steps, ~2.7..3 Pa per 16-bit pressure step, 0.010..0.014
// %RH per humidity LSB (largest at 85 degC).
TEST_F(Bme280DriverTest, ReadMatchesAmbientAcrossOperatingRange) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  ASSERT_TRUE(driver_.Init().ok());
  MaxError grid = Sweep(model_, driver_, 25, 16, 20);
  MaxError fine_t = Sweep(model_, driver_, 1250, 1, 1);
  MaxError fine_p = Sweep(model_, driver_, 1, 2000, 1);
  MaxError fine_h = Sweep(model_, driver_, 1, 1, 2000);
  const double et = std::max({grid.celsius, fine_t.celsius, fine_p.celsius, fine_h.celsius});
  const double ep = std::max({grid.pascal, fine_t.pascal, fine_p.pascal, fine_h.pascal});
  const double eh = std::max({grid.rel_humidity, fine_t.rel_humidity, fine_p.rel_humidity, fine_h.rel_humidity});
  std::printf("driver vs model: |dT| <= %.5f degC, |dP| <= %.3f Pa, |dH| <= %.5f %%RH\n", et, ep, eh);
  EXPECT_LE(et, 0.0051);
  EXPECT_LE(ep, 1.6);
  EXPECT_LE(eh, 0.007);
  EXPECT_EQ(Elapsed(), Micros(0));
}

TEST_F(Bme280DriverTest, FullResolutionEncodingIsTighter) {
  const Bme280Calibration cal = Bme280ExampleCalibration();
  double max_dp = 0;
  for (double pa = 30000.0; pa <= 110000.0; pa += 97.3) {
    const Bme280Raw raw = EncodeAmbient(cal, 25.0, pa, 50.0, 20, 20);
    max_dp = std::max(max_dp, std::fabs(Compensate(cal, raw).pressure_pa - pa));
  }
  EXPECT_LE(max_dp, 0.1);  // one 20-bit step is ~0.17 Pa
}

TEST_F(Bme280DriverTest, NegativeHumidityTrimmingSurvivesTheRoundTrip) {
  Bme280Calibration cal = Bme280ExampleCalibration();
  cal.dig_H4 = -5;
  cal.dig_H5 = -300;
  cal.dig_H6 = -2;
  Bme280Model model(cal);
  ASSERT_TRUE(bus_.Attach(kAddress, model).ok());
  ASSERT_TRUE(driver_.Init().ok());
  ExpectSameCalibration(*driver_.calibration(), cal);
}

TEST_F(Bme280DriverTest, WrongChipIdIsFailedPrecondition) {
  Constant bmp280(0x58);
  ASSERT_TRUE(bus_.Attach(kAddress, bmp280).ok());
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("0x58"));
  EXPECT_THAT(s.message(), HasSubstr("bme280@0x76"));
  EXPECT_FALSE(driver_.calibration().has_value());
}

TEST_F(Bme280DriverTest, NoDeviceIsUnavailable) {
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("bme280@0x76: "));
  EXPECT_THAT(s.message(), HasSubstr("no ACK from 0x76"));
}

TEST_F(Bme280DriverTest, DeviceGoneAfterInitIsUnavailable) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  ASSERT_TRUE(driver_.Init().ok());
  bus_.Detach(kAddress);
  Result<Bme280Reading> r = driver_.Read();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("bme280@0x76: "));
}

TEST_F(Bme280DriverTest, ReadBeforeInitIsFailedPrecondition) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  EXPECT_EQ(driver_.Read().status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(Bme280DriverTest, StuckMeasuringIsDeadlineExceeded) {
  Tamper stuck(model_, [](uint8_t reg, MutBytes rx) {
    // Whatever read covers the status register sees `measuring` stuck at 1.
    if (reg <= bme280_reg::kStatus && bme280_reg::kStatus < reg + rx.size()) {
      rx[bme280_reg::kStatus - reg] |= bme280_reg::kStatusMeasuring;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(bus_.Attach(kAddress, stuck).ok());
  ASSERT_TRUE(driver_.Init().ok());
  const Micros before = Elapsed();
  Result<Bme280Reading> r = driver_.Read();
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("bme280@0x76"));
  // Gave up after the bound (20 ms of clock time, in 0.5 ms polls), not later.
  EXPECT_GE(Elapsed() - before, Micros(20'000));
  EXPECT_LE(Elapsed() - before, Micros(20'500));
}

TEST_F(Bme280DriverTest, StuckNvmCopyIsDeadlineExceeded) {
  Tamper stuck(model_, [](uint8_t reg, MutBytes rx) {
    if (reg == bme280_reg::kStatus) rx[0] |= bme280_reg::kStatusImUpdate;
    return Status::Ok();
  });
  ASSERT_TRUE(bus_.Attach(kAddress, stuck).ok());
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("im_update"));
  EXPECT_GE(Elapsed(), Micros(10'000));
  EXPECT_LE(Elapsed(), Micros(10'500));
}

// t_startup (2 ms): a real chip may not acknowledge right after a soft reset.
TEST_F(Bme280DriverTest, NackDuringStartupIsRetried) {
  int nacks = 3;
  Tamper starting(model_, [&nacks](uint8_t reg, MutBytes) {
    if (reg == bme280_reg::kStatus && nacks > 0) {
      --nacks;
      return Unavailable("i2c: no ACK from 0x76");
    }
    return Status::Ok();
  });
  ASSERT_TRUE(bus_.Attach(kAddress, starting).ok());
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_EQ(Elapsed(), Micros(1'500));
}

// The "skipped" markers are ordinary values while a channel is enabled:
// 0x80000 is ~26.46 degC with this calibration, a normal factory temperature.
TEST_F(Bme280DriverTest, SkipMarkerValuesAreValidReadingsWhenChannelsAreEnabled) {
  Tamper marker(model_, [](uint8_t reg, MutBytes rx) {
    if (reg == bme280_reg::kPressMsb) {
      const uint8_t t[] = {0x80, 0x00, 0x00};
      std::copy(t, t + 3, rx.begin() + 3);  // adc_T = 0x80000
    }
    return Status::Ok();
  });
  bus_.Detach(kAddress);
  ASSERT_TRUE(bus_.Attach(kAddress, marker).ok());
  ASSERT_TRUE(driver_.Init().ok());
  Result<Bme280Reading> r = driver_.Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->temperature_c, 26.46, 0.01);
}

// A chip that reset behind the driver's back has osrs_h = 0: humidity is
// skipped, which the driver sees in ctrl_hum and reports, then re-inits.
TEST_F(Bme280DriverTest, HumiditySkippedAfterSilentResetIsDataLoss) {
  bool reset = true;
  Tamper lost_config(model_, [&reset](uint8_t reg, MutBytes rx) {
    if (reset && reg == bme280_reg::kCtrlHum) rx[0] = 0x00;
    return Status::Ok();
  });
  bus_.Detach(kAddress);
  ASSERT_TRUE(bus_.Attach(kAddress, lost_config).ok());
  ASSERT_TRUE(driver_.Init().ok());
  Result<Bme280Reading> r = driver_.Read();
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("measurement skipped"));
  EXPECT_THAT(r.status().message(), HasSubstr("humidity"));
  EXPECT_FALSE(driver_.calibration().has_value()) << "must re-Init() before the next read";
  reset = false;
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_TRUE(driver_.Read().ok());
}

// ---------------------------------------------------------------------------
// The model's register semantics (datasheet section 5 and 6.2).

Status WriteRaw(SimI2cBus& bus, std::initializer_list<uint8_t> bytes) {
  return bus.Write(kAddress, ConstBytes(bytes.begin(), bytes.size()), Millis(1));
}

TEST_F(Bme280DriverTest, ModelRegisterPointerAndPairWrites) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  uint8_t id = 0;
  const uint8_t chip_id_reg = bme280_reg::kChipId;
  ASSERT_TRUE(bus_.WriteRead(kAddress, ConstBytes(&chip_id_reg, 1), MutBytes(&id, 1), Millis(1)).ok());
  EXPECT_EQ(id, 0x60);

  // Pairs; the pointer is left at the last register written.
  ASSERT_TRUE(WriteRaw(bus_, {0xF2, 0x05, 0xF5, 0xA0}).ok());
  EXPECT_EQ(model_.Register(0xF2), 0x05);
  uint8_t rx[2] = {};
  ASSERT_TRUE(bus_.WriteRead(kAddress, ConstBytes(), rx, Millis(1)).ok());  // read at the pointer
  EXPECT_EQ(rx[0], 0xA0);
  EXPECT_EQ(rx[1], 0x00);  // 0xF6, auto-incremented

  // Read-only registers ignore writes.
  ASSERT_TRUE(WriteRaw(bus_, {0xD0, 0x12, 0x88, 0x00}).ok());
  EXPECT_EQ(model_.Register(0xD0), 0x60);
  EXPECT_EQ(model_.Register(0x88), kNvmA[0]);

  // Soft reset restores the control and data registers, not the NVM.
  ASSERT_TRUE(WriteRaw(bus_, {0xF4, 0x25}).ok());
  ASSERT_TRUE(WriteRaw(bus_, {0xE0, 0xB6}).ok());
  for (uint8_t r : std::initializer_list<uint8_t>{0xF2, 0xF3, 0xF4, 0xF5}) EXPECT_EQ(model_.Register(r), 0x00) << int{r};
  const uint8_t reset_data[8] = {0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00};
  for (uint8_t i = 0; i < 8; ++i) EXPECT_EQ(model_.Register(static_cast<uint8_t>(0xF7 + i)), reset_data[i]);
  EXPECT_EQ(model_.Register(0xE1), kNvmB[0]);
}

TEST_F(Bme280DriverTest, ModelSkipsChannelsWithOversamplingOff) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  // ctrl_hum 0 (skip H); ctrl_meas osrs_t 0 (skip T), osrs_p x1, forced.
  ASSERT_TRUE(WriteRaw(bus_, {0xF2, 0x00, 0xF4, 0x05}).ok());
  EXPECT_EQ(model_.Register(0xFA), 0x80);
  EXPECT_EQ(model_.Register(0xFD), 0x80);
  EXPECT_EQ(model_.Register(0xFE), 0x00);
  EXPECT_NE(model_.Register(0xF7), 0x80);
  // ctrl_hum only takes effect with the next ctrl_meas write (section 5.4.3).
  ASSERT_TRUE(WriteRaw(bus_, {0xF2, 0x01}).ok());
  model_.SetAmbient(25, 101325, 50);  // forced mode: no new conversion
  EXPECT_EQ(model_.Register(0xFD), 0x80);
  ASSERT_TRUE(WriteRaw(bus_, {0xF4, 0x25}).ok());
  EXPECT_NE(model_.Register(0xFD), 0x80);
}

TEST_F(Bme280DriverTest, ModelOutputResolutionFollowsOversampling) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  model_.SetAmbient(23.456, 98765.4, 45.6);
  ASSERT_TRUE(WriteRaw(bus_, {0xF2, 0x01, 0xF4, 0x25}).ok());  // x1: 16 bits
  EXPECT_EQ(model_.Register(0xF9), 0x00);
  EXPECT_EQ(model_.Register(0xFC), 0x00);
  ASSERT_TRUE(WriteRaw(bus_, {0xF4, 0xB5}).ok());  // x16 (101): 20 bits
  EXPECT_NE(model_.Register(0xF9) | model_.Register(0xFC), 0x00);
}

TEST_F(Bme280DriverTest, ModelNormalModeTracksAmbient) {
  ASSERT_TRUE(bus_.Attach(kAddress, model_).ok());
  ASSERT_TRUE(WriteRaw(bus_, {0xF2, 0x01, 0xF4, 0x27}).ok());  // normal mode
  EXPECT_EQ(model_.Register(0xF4), 0x27);
  const uint8_t before = model_.Register(0xFA);
  model_.SetAmbient(60.0, 101325, 50);
  EXPECT_NE(model_.Register(0xFA), before);
}

}  // namespace
}  // namespace edgeforge
