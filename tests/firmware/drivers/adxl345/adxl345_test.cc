#include "firmware/drivers/adxl345/adxl345.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "sim/models/adxl345_model.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
namespace reg = adxl345_reg;

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// Pure functions.

// Table 7: rate code -> output data rate.
TEST(Adxl345Rate, Table7RateCodes) {
  const struct {
    double hz;
    uint8_t code;
  } table[] = {{3200, 0xF}, {1600, 0xE}, {800, 0xD},  {400, 0xC},  {200, 0xB},  {100, 0xA},  {50, 0x9},   {25, 0x8},
               {12.5, 0x7}, {6.25, 0x6}, {3.13, 0x5}, {1.56, 0x4}, {0.78, 0x3}, {0.39, 0x2}, {0.20, 0x1}, {0.10, 0x0}};
  for (const auto& row : table) {
    Result<uint8_t> code = Adxl345RateCode(row.hz);
    ASSERT_TRUE(code.ok()) << row.hz << " " << code.status().ToString();
    EXPECT_EQ(*code, row.code) << row.hz;
    EXPECT_NEAR(Adxl345OdrHz(row.code), row.hz, 0.025 * row.hz);
  }
  EXPECT_DOUBLE_EQ(Adxl345OdrHz(0xA), 100.0);
  EXPECT_DOUBLE_EQ(Adxl345OdrHz(0x5), 3.125);
  EXPECT_DOUBLE_EQ(Adxl345OdrHz(0x0), 3200.0 / 32768.0);
}

TEST(Adxl345Rate, RejectsRatesNotInTable7) {
  for (double hz : {150.0, 0.0, -100.0, 6400.0, 0.05, std::nan("")}) {
    Result<uint8_t> code = Adxl345RateCode(hz);
    EXPECT_EQ(code.status().code(), StatusCode::kInvalidArgument) << hz;
    EXPECT_THAT(code.status().message(), HasSubstr("Table 7"));
  }
  EXPECT_THAT(Adxl345RateCode(150.0).status().message(), HasSubstr("150.000 Hz"));
}

TEST(Adxl345Conversion, ParsesLittleEndianTwosComplement) {
  const uint8_t bytes[6] = {0x00, 0x01, 0xFF, 0xFF, 0x00, 0xF0};
  const Adxl345Raw raw = ParseSample(bytes);
  EXPECT_EQ(raw.x, 256);
  EXPECT_EQ(raw.y, -1);
  EXPECT_EQ(raw.z, -4096);
}

// Table 1: full resolution 256 LSB/g (3.9 mg/LSB) at every range; +-16 g is
// 13 bits (-4096..4095).
TEST(Adxl345Conversion, FullResolutionScale) {
  EXPECT_DOUBLE_EQ(Adxl345RawToG(256), 1.0);
  EXPECT_DOUBLE_EQ(Adxl345RawToG(-256), -1.0);
  EXPECT_DOUBLE_EQ(Adxl345RawToG(1), 0.00390625);  // "3.9 mg/LSB"
  EXPECT_DOUBLE_EQ(Adxl345RawToG(-4096), -16.0);
  EXPECT_DOUBLE_EQ(Adxl345RawToG(4095), 15.99609375);
  EXPECT_DOUBLE_EQ(Adxl345RawToG(0), 0.0);
}

std::vector<Adxl345Sample> Samples(std::initializer_list<std::array<double, 3>> rows) {
  std::vector<Adxl345Sample> v;
  for (const auto& r : rows) v.push_back(Adxl345Sample{r});
  return v;
}

TEST(VibrationFeatures, HandComputedVector) {
  // x: 0 0 0 4 -> mean 1, deviations -1 -1 -1 3; y, z constant (DC only).
  // rms_x = sqrt((1 + 1 + 1 + 9) / 4) = sqrt(3); peak = 3; crest = 3 / sqrt(3) = sqrt(3).
  const auto w = Samples({{0, 5, -1}, {0, 5, -1}, {0, 5, -1}, {4, 5, -1}});
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->n, 4u);
  EXPECT_DOUBLE_EQ(f->rms_g[0], std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(f->rms_g[1], 0.0);
  EXPECT_DOUBLE_EQ(f->rms_g[2], 0.0);
  EXPECT_DOUBLE_EQ(f->rms_total_g, std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(f->peak_g, 3.0);
  EXPECT_DOUBLE_EQ(f->crest, std::sqrt(3.0));
}

TEST(VibrationFeatures, PeakIsTheLargestAcMagnitudeAcrossAxes) {
  // A circle in x-y around (0, 0) with z = 1 g: |d| = 1 in every sample, so
  // peak == RMS of the magnitude, crest 1; each axis has RMS sqrt(1/2).
  const auto w = Samples({{1, 0, 1}, {0, 1, 1}, {-1, 0, 1}, {0, -1, 1}});
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ(f->rms_g[0], std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(f->rms_g[1], std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(f->rms_total_g, 1.0);
  EXPECT_DOUBLE_EQ(f->peak_g, 1.0);
  EXPECT_DOUBLE_EQ(f->crest, 1.0);
  // (3, 4, 0) away from the mean is a 5 g peak, not 4 g (no per-axis max).
  const auto spike = Samples({{3, 4, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}});
  Result<VibrationFeatures> s = ComputeVibrationFeatures(spike);
  ASSERT_TRUE(s.ok());
  // mean (0.75, 1, 1): the spike's deviation is (2.25, 3, 0) = 3.75 g.
  EXPECT_DOUBLE_EQ(s->peak_g, 3.75);
}

TEST(VibrationFeatures, SineOnTopOfGravityHasCrestSqrt2) {
  // 8 samples per cycle, 4 whole cycles, amplitude 0.5 g on y, 1 g DC on z.
  std::vector<Adxl345Sample> w;
  for (int i = 0; i < 32; ++i) {
    w.push_back(Adxl345Sample{{0.02, 0.5 * std::sin(2 * kPi * i / 8.0), 1.0}});
  }
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->rms_g[0], 0.0, 1e-12);
  EXPECT_NEAR(f->rms_g[1], 0.5 / kSqrt2, 1e-12);
  EXPECT_NEAR(f->rms_g[2], 0.0, 1e-12);
  EXPECT_NEAR(f->peak_g, 0.5, 1e-12);
  EXPECT_NEAR(f->crest, kSqrt2, 1e-12);
}

TEST(VibrationFeatures, InPhaseSinesOnTwoAxesStillHaveCrestSqrt2) {
  std::vector<Adxl345Sample> w;
  for (int i = 0; i < 24; ++i) {
    const double s = std::sin(2 * kPi * i / 8.0);
    w.push_back(Adxl345Sample{{0.3 * s, 0.4 * s, 1.0}});
  }
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->rms_g[0], 0.3 / kSqrt2, 1e-12);
  EXPECT_NEAR(f->rms_g[1], 0.4 / kSqrt2, 1e-12);
  EXPECT_NEAR(f->rms_total_g, 0.5 / kSqrt2, 1e-12);
  EXPECT_NEAR(f->peak_g, 0.5, 1e-12);
  EXPECT_NEAR(f->crest, kSqrt2, 1e-12);
}

TEST(VibrationFeatures, SquareWaveHasCrestOne) {
  std::vector<Adxl345Sample> w;
  for (int i = 0; i < 20; ++i) w.push_back(Adxl345Sample{{0.0, 0.0, 1.0 + (i % 2 == 0 ? 0.25 : -0.25)}});
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ(f->rms_g[2], 0.25);
  EXPECT_DOUBLE_EQ(f->peak_g, 0.25);
  EXPECT_DOUBLE_EQ(f->crest, 1.0);
}

TEST(VibrationFeatures, DcOnlyIsZeroRmsAndCrestZero) {
  const auto w = Samples({{0.1, -0.2, 0.98}, {0.1, -0.2, 0.98}, {0.1, -0.2, 0.98}});
  Result<VibrationFeatures> f = ComputeVibrationFeatures(w);
  ASSERT_TRUE(f.ok());
  for (double r : f->rms_g) EXPECT_NEAR(r, 0.0, 1e-15);
  EXPECT_NEAR(f->peak_g, 0.0, 1e-15);
  EXPECT_EQ(f->crest, 0.0);  // undefined: reported as 0 (documented), not NaN
  const auto single = Samples({{0, 0, 1}});
  Result<VibrationFeatures> one = ComputeVibrationFeatures(single);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->crest, 0.0);
}

TEST(VibrationFeatures, EmptyWindowIsInvalidArgument) {
  EXPECT_EQ(ComputeVibrationFeatures(Span<const Adxl345Sample>()).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// The driver against the register-level model, over SPI and over I2C.

enum class Wire { kSpi, kI2c };

std::string WireName(const ::testing::TestParamInfo<Wire>& info) { return info.param == Wire::kSpi ? "Spi" : "I2c"; }

constexpr uint8_t kCs = 0;
constexpr uint8_t kAddress = Adxl345I2cBus::kAddressAltLow;
// Turn-on (1.1 ms) plus ten sample periods at 100 Hz: the first ten samples.
constexpr Micros kTenSamples{101'100};

class Adxl345DriverTest : public ::testing::TestWithParam<Wire> {
 protected:
  std::unique_ptr<Adxl345Bus> MakeTransport() {
    if (GetParam() == Wire::kSpi) return std::make_unique<Adxl345SpiBus>(*spi_.Device(kCs).value(), "spi0.0");
    return std::make_unique<Adxl345I2cBus>(i2c_, kAddress);
  }
  void Attach() {
    if (GetParam() == Wire::kSpi) {
      ASSERT_TRUE(spi_.Attach(kCs, model_).ok());
    } else {
      ASSERT_TRUE(i2c_.Attach(kAddress, model_).ok());
    }
  }
  // The wire is cut: SPI reads 0xFF, I2C gets no ACK.
  void Disconnect() {
    if (GetParam() == Wire::kSpi) {
      spi_.InjectFault(kCs, FaultSpec{FaultKind::kDisconnect});
    } else {
      i2c_.InjectFault(kAddress, FaultSpec{FaultKind::kNack});
    }
  }
  void Reconnect() {
    if (GetParam() == Wire::kSpi) {
      spi_.ClearFault(kCs);
    } else {
      i2c_.ClearFault(kAddress);
    }
  }
  std::string Where() const { return GetParam() == Wire::kSpi ? "adxl345@spi0.0: " : "adxl345@0x53: "; }
  Adxl345 MakeDriver(double odr_hz) { return Adxl345(*transport_, clock_, Adxl345Config{odr_hz}); }

  Result<Adxl345Batch> ReadAfter(Micros gap) { return ReadAfter(gap, driver_); }
  Result<Adxl345Batch> ReadAfter(Micros gap, Adxl345& driver) {
    clock_.Advance(gap);
    return driver.Read();
  }

  ManualClock clock_;
  SimSpiBus spi_;
  SimI2cBus i2c_;
  Adxl345Model model_{clock_};
  std::unique_ptr<Adxl345Bus> transport_ = MakeTransport();
  Adxl345 driver_ = MakeDriver(100.0);
};

INSTANTIATE_TEST_SUITE_P(Wires, Adxl345DriverTest, ::testing::Values(Wire::kSpi, Wire::kI2c), WireName);

TEST_P(Adxl345DriverTest, InitConfiguresFullResolutionStreamMeasuring) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_TRUE(driver_.initialised());
  EXPECT_EQ(model_.Register(reg::kDataFormat), 0x0B);  // FULL_RES, +-16 g, right-justified
  EXPECT_EQ(model_.Register(reg::kBwRate), 0x0A);      // 100 Hz, normal power
  EXPECT_EQ(model_.Register(reg::kFifoCtl), 0x80);     // stream
  EXPECT_EQ(model_.Register(reg::kPowerCtl), 0x08);    // measure
  EXPECT_EQ(clock_.Monotonic(), Micros(0));            // no waiting
  EXPECT_DOUBLE_EQ(driver_.odr_hz(), 100.0);
}

TEST_P(Adxl345DriverTest, DrainCountIsElapsedTimeTimesOdrCappedAt32) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  // Right after Init nothing is due yet: an empty drain is not an error.
  Result<Adxl345Batch> b = driver_.Read();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->count, 0u);
  // The first sample comes after the turn-on time, 1.1 ms + 1/ODR (Table 1).
  b = ReadAfter(Micros(11'099));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 0u);
  b = ReadAfter(Micros(1));  // 11.1 ms
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 1u);
  // Then exactly elapsed x 100 Hz.
  for (int gap_ms : {100, 50, 250, 10, 310}) {
    b = ReadAfter(Millis(gap_ms));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->count, static_cast<size_t>(gap_ms / 10)) << gap_ms;
    EXPECT_FALSE(b->overrun) << gap_ms;
  }
  EXPECT_EQ(model_.samples_discarded(), 0u);
  EXPECT_EQ(driver_.samples_read(), model_.samples_generated());
  EXPECT_EQ(model_.fifo_entries(), 0u);
}

TEST_P(Adxl345DriverTest, OverrunIsReportedAfterLongGapsNotAsAnError) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  ASSERT_EQ(ReadAfter(kTenSamples).value().count, 10u);
  Result<Adxl345Batch> b = ReadAfter(Millis(1000));  // 100 samples into a 32-deep FIFO
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->count, 32u);
  EXPECT_TRUE(b->overrun);
  EXPECT_EQ(driver_.overruns(), 1u);
  EXPECT_EQ(model_.samples_discarded(), 68u);
  b = ReadAfter(Millis(200));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 20u);
  EXPECT_FALSE(b->overrun);  // the drain cleared INT_SOURCE.Overrun
  EXPECT_EQ(driver_.overruns(), 1u);
}

TEST_P(Adxl345DriverTest, StillChipReadsGravityWithinOneLsb) {
  Attach();
  Adxl345Model::Vibration v;
  v.gravity_g[0] = 0.1;
  v.gravity_g[1] = -0.25;
  v.gravity_g[2] = 0.97;
  model_.SetVibration(v);
  ASSERT_TRUE(driver_.Init().ok());
  Result<Adxl345Batch> b = ReadAfter(kTenSamples);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->count, 10u);
  for (size_t i = 0; i < b->count; ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(b->samples[i].g[k], v.gravity_g[k], 0.5 / 256) << i << " " << k;
  }
  EXPECT_EQ(ComputeVibrationFeatures(b->view()).value().crest, 0.0);
}

TEST_P(Adxl345DriverTest, MeasuredRmsMatchesTheModelsKnob) {
  Attach();
  Adxl345Model::Vibration v;
  v.gravity_g[2] = 1.0;
  v.rms_g[0] = 0.05;
  v.rms_g[1] = 0.2;
  v.rms_g[2] = 1.5;
  v.frequency_hz = 12.5;  // 8 samples per cycle at 100 Hz: 24 samples are 3 whole cycles
  model_.SetVibration(v);
  ASSERT_TRUE(driver_.Init().ok());
  ASSERT_TRUE(ReadAfter(Millis(50)).ok());  // past the turn-on time
  for (int window = 0; window < 4; ++window) {
    Result<Adxl345Batch> b = ReadAfter(Millis(240));
    ASSERT_TRUE(b.ok());
    ASSERT_EQ(b->count, 24u);
    Result<VibrationFeatures> f = ComputeVibrationFeatures(b->view());
    ASSERT_TRUE(f.ok());
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(f->rms_g[k], v.rms_g[k], 0.02 * v.rms_g[k]) << k;
    // In-phase sines: the AC magnitude is a sine with the combined RMS.
    const double total = std::sqrt(0.05 * 0.05 + 0.2 * 0.2 + 1.5 * 1.5);
    EXPECT_NEAR(f->peak_g, kSqrt2 * total, 0.03 * kSqrt2 * total);
    EXPECT_NEAR(f->crest, kSqrt2, 0.03 * kSqrt2);
  }
}

TEST_P(Adxl345DriverTest, NoisyChipMeasuresNoiseAsRms) {
  Attach();
  Adxl345Model::Vibration v;
  v.noise_g = 0.02;  // ~5 LSB
  model_.SetVibration(v);
  ASSERT_TRUE(driver_.Init().ok());
  double sum_sq[3] = {};
  int windows = 0;
  ASSERT_TRUE(ReadAfter(Millis(50)).ok());
  for (; windows < 40; ++windows) {
    Result<Adxl345Batch> b = ReadAfter(Millis(250));
    ASSERT_TRUE(b.ok());
    Result<VibrationFeatures> f = ComputeVibrationFeatures(b->view());
    ASSERT_TRUE(f.ok());
    for (size_t k = 0; k < 3; ++k) sum_sq[k] += f->rms_g[k] * f->rms_g[k];
  }
  // Over 1000 samples per axis; removing the window mean costs a factor
  // sqrt(24/25) in expectation.
  for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(std::sqrt(sum_sq[k] / windows), 0.02 * std::sqrt(24.0 / 25), 0.0015) << k;
}

TEST_P(Adxl345DriverTest, OtherOutputDataRates) {
  Attach();
  Adxl345 fast = MakeDriver(800.0);
  ASSERT_TRUE(fast.Init().ok());
  EXPECT_EQ(model_.Register(reg::kBwRate), 0x0D);
  // Turn-on 1.1 ms + 1.25 ms; then 8 samples per 10 ms.
  Result<Adxl345Batch> b = ReadAfter(Micros(2350), fast);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 1u);
  b = ReadAfter(Millis(10), fast);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 8u);

  Adxl345 slow = MakeDriver(6.25);
  ASSERT_TRUE(slow.Init().ok());
  EXPECT_EQ(model_.Register(reg::kBwRate), 0x06);
  EXPECT_EQ(ReadAfter(Millis(1000), slow).value().count, 6u);  // (1000 - 1.1) ms x 6.25 Hz

  Adxl345 bad = MakeDriver(150.0);
  Status s = bad.Init();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(Where()));
}

TEST_P(Adxl345DriverTest, WrongDeviceIdIsFailedPrecondition) {
  Attach();
  model_.SetDeviceId(0x1A);
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(Where() + "device id 0x1a, expected 0xe5"));
  EXPECT_FALSE(driver_.initialised());
  EXPECT_EQ(model_.Register(reg::kPowerCtl), 0x00);  // nothing was written to the foreign chip
}

TEST_P(Adxl345DriverTest, NoDeviceIsUnavailable) {
  Status s = driver_.Init();  // nothing attached
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(Where()));
  if (GetParam() == Wire::kSpi) {
    EXPECT_THAT(s.message(), HasSubstr("device id 0xff, expected 0xe5: no device / bus disconnected"));
  } else {
    EXPECT_THAT(s.message(), HasSubstr("no ACK from 0x53"));
  }
}

TEST_P(Adxl345DriverTest, ReadBeforeInitIsFailedPrecondition) {
  Attach();
  EXPECT_EQ(driver_.Read().status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(Adxl345DriverTest, PowerCycledChipIsNoSamplesThenReinitRecovers) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  ASSERT_EQ(ReadAfter(kTenSamples).value().count, 10u);
  model_.PowerCycle();  // back in standby: the FIFO stays empty
  // Within the turn-on time plus four sample periods, empty is normal.
  Result<Adxl345Batch> b = ReadAfter(Millis(40));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->count, 0u);
  b = ReadAfter(Millis(2));  // 42 ms > 1.1 + 40 ms
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(b.status().message(), HasSubstr(Where() + "no samples: chip not measuring?"));
  EXPECT_THAT(b.status().message(), HasSubstr("POWER_CTL reads 0x00, in standby"));
  EXPECT_FALSE(driver_.initialised());
  EXPECT_EQ(driver_.Read().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_EQ(ReadAfter(kTenSamples).value().count, 10u);
}

TEST_P(Adxl345DriverTest, ReinitDropsStaleSamples) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  clock_.Advance(Millis(200));
  ASSERT_TRUE(driver_.Init().ok());  // bypass empties the FIFO
  EXPECT_EQ(model_.fifo_entries(), 0u);
  EXPECT_EQ(ReadAfter(Micros(51'100)).value().count, 5u);
}

TEST_P(Adxl345DriverTest, DisconnectedWireIsUnavailableAndRecovers) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  ASSERT_EQ(ReadAfter(kTenSamples).value().count, 10u);
  Disconnect();
  Result<Adxl345Batch> b = ReadAfter(Millis(100));
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(b.status().message(), HasSubstr(Where()));
  if (GetParam() == Wire::kSpi) {
    EXPECT_THAT(b.status().message(), HasSubstr("INT_SOURCE and FIFO_STATUS read 0xff: no device / bus disconnected"));
  } else {
    EXPECT_THAT(b.status().message(), HasSubstr("reading INT_SOURCE: i2c: no ACK from 0x53"));
  }
  Status s = driver_.Init();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(Where()));
  Reconnect();
  ASSERT_TRUE(driver_.Init().ok());
  EXPECT_EQ(ReadAfter(kTenSamples).value().count, 10u);
}

// A noisy MISO / SDA can corrupt FIFO_STATUS into an impossible entry count.
TEST_P(Adxl345DriverTest, ImpossibleEntryCountIsDataLoss) {
  Attach();
  ASSERT_TRUE(driver_.Init().ok());
  // Noise on every bit with probability 1 inverts: FIFO_STATUS 0x00 reads
  // 0xff, INT_SOURCE (0x02 with Samples = 0) reads 0xfd.
  if (GetParam() == Wire::kSpi) {
    spi_.InjectFault(kCs, FaultSpec{FaultKind::kNoise, 0, 1.0, 7});
  } else {
    i2c_.InjectFault(kAddress, FaultSpec{FaultKind::kNoise, 0, 1.0, 7});
  }
  Result<Adxl345Batch> b = driver_.Read();
  EXPECT_EQ(b.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(b.status().message(), HasSubstr(Where() + "FIFO_STATUS 0xff reports 63 entries"));
}

// ---------------------------------------------------------------------------
// The bytes on the SPI wire.

class Recorder final : public SpiPeripheral {
 public:
  explicit Recorder(SpiPeripheral& inner) : inner_(inner) {}
  std::vector<std::vector<uint8_t>> mosi;

 private:
  Status OnTransfer(ConstBytes tx, MutBytes rx) override {
    mosi.emplace_back(tx.begin(), tx.end());
    return inner_.Transfer(tx, rx);
  }
  SpiPeripheral& inner_;
};

TEST(Adxl345SpiBytes, CommandBytesFollowFigures37To39) {
  ManualClock clock;
  SimSpiBus spi;
  Adxl345Model model(clock);
  Recorder recorder(model);
  ASSERT_TRUE(spi.Attach(2, recorder).ok());
  Adxl345SpiBus transport(*spi.Device(2).value(), "spi0.2");
  Adxl345 driver(transport, clock, Adxl345Config{100.0});
  ASSERT_TRUE(driver.Init().ok());
  using B = std::vector<uint8_t>;
  const std::vector<B> init = {
      {0x80, 0x00},              // read DEVID: R/W = 1, MB = 0
      {0x2D, 0x00},              // POWER_CTL standby: R/W = 0
      {0x31, 0x0B},              // DATA_FORMAT
      {0x2C, 0x0A},              // BW_RATE 100 Hz
      {0x38, 0x00},              // FIFO_CTL bypass
      {0x38, 0x80},              // FIFO_CTL stream
      {0x2D, 0x08},              // POWER_CTL measure
      {0xEC, 0, 0, 0, 0, 0, 0},  // read back 0x2C..0x31: R/W = 1, MB = 1
      {0xB8, 0x00},              // read back FIFO_CTL
  };
  EXPECT_EQ(recorder.mosi, init);
  recorder.mosi.clear();
  clock.Advance(Millis(31));
  ASSERT_EQ(driver.Read().value().count, 2u);
  const std::vector<B> drain = {{0xB0, 0x00}, {0xB9, 0x00}, {0xF2, 0, 0, 0, 0, 0, 0}, {0xF2, 0, 0, 0, 0, 0, 0}};
  EXPECT_EQ(recorder.mosi, drain);
}

}  // namespace
}  // namespace edgeforge
