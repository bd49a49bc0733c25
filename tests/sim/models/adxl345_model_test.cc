// The ADXL345 model at register level, through raw SPI and I2C transactions
// (no driver): reset values, timing, FIFO modes, formatting.
#include "sim/models/adxl345_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "firmware/drivers/adxl345/adxl345.h"
#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"

namespace edgeforge {
namespace {

namespace reg = adxl345_reg;

constexpr uint8_t kAddress = 0x53;

class Adxl345ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(spi_.Attach(0, model_).ok());
    ASSERT_TRUE(i2c_.Attach(kAddress, model_).ok());
  }

  // SPI, Figures 37..39.
  std::vector<uint8_t> SpiRead(uint8_t first, size_t n, bool multi_byte = true) {
    const uint8_t command = static_cast<uint8_t>(0x80 | (multi_byte ? 0x40 : 0x00) | first);
    std::vector<uint8_t> rx(n + 1);
    EXPECT_TRUE(spi_.Device(0).value()->Transfer(ConstBytes(&command, 1), rx, Millis(10)).ok());
    return std::vector<uint8_t>(rx.begin() + 1, rx.end());
  }
  uint8_t SpiRead1(uint8_t r) { return SpiRead(r, 1, false)[0]; }
  void SpiWrite(uint8_t r, uint8_t value) {
    const uint8_t tx[2] = {r, value};
    EXPECT_TRUE(spi_.Device(0).value()->Transfer(tx, MutBytes(), Millis(10)).ok());
  }
  // I2C: register address, repeated start, read.
  std::vector<uint8_t> I2cRead(uint8_t first, size_t n) {
    std::vector<uint8_t> rx(n);
    EXPECT_TRUE(i2c_.WriteRead(kAddress, ConstBytes(&first, 1), rx, Millis(10)).ok());
    return rx;
  }
  std::array<int16_t, 3> PopSample() {
    const std::vector<uint8_t> b = SpiRead(reg::kDataX0, 6);
    const Adxl345Raw raw = ParseSample(b.data());
    return {raw.x, raw.y, raw.z};
  }
  void StartMeasuring(uint8_t rate = 0x0A, uint8_t format = 0x0B, uint8_t fifo_ctl = 0x80) {
    SpiWrite(reg::kDataFormat, format);
    SpiWrite(reg::kBwRate, rate);
    SpiWrite(reg::kFifoCtl, fifo_ctl);
    SpiWrite(reg::kPowerCtl, reg::kPowerCtlMeasure);
  }
  void Set(double gx, double gy, double gz) {
    Adxl345Model::Vibration v;
    v.gravity_g[0] = gx;
    v.gravity_g[1] = gy;
    v.gravity_g[2] = gz;
    model_.SetVibration(v);
  }

  ManualClock clock_;
  Adxl345Model model_{clock_};
  SimSpiBus spi_;
  SimI2cBus i2c_;
};

// Table 19 reset values.
TEST_F(Adxl345ModelTest, ResetValuesOfTable19) {
  EXPECT_EQ(SpiRead1(reg::kDevId), 0xE5);
  EXPECT_EQ(I2cRead(reg::kDevId, 1)[0], 0xE5);
  EXPECT_EQ(SpiRead1(reg::kBwRate), 0x0A);
  EXPECT_EQ(SpiRead1(reg::kIntSource), 0x02);  // Watermark: 0 entries >= Samples 0
  for (uint8_t r : {reg::kPowerCtl, reg::kIntEnable, reg::kDataFormat, reg::kFifoCtl, reg::kFifoStatus}) {
    EXPECT_EQ(SpiRead1(r), 0x00) << int{r};
  }
  for (uint8_t r = 0x01; r <= 0x1C; ++r) EXPECT_EQ(SpiRead1(r), 0x00) << int{r};  // reserved
}

TEST_F(Adxl345ModelTest, ReadOnlyRegistersIgnoreWrites) {
  SpiWrite(reg::kDevId, 0x00);
  SpiWrite(reg::kFifoStatus, 0x1F);
  SpiWrite(0x10, 0x55);  // reserved
  EXPECT_EQ(SpiRead1(reg::kDevId), 0xE5);
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0x00);
  EXPECT_EQ(SpiRead1(0x10), 0x00);
  SpiWrite(reg::kBwRate, 0xFF);  // D7..D5 are 0
  EXPECT_EQ(SpiRead1(reg::kBwRate), 0x1F);
}

TEST_F(Adxl345ModelTest, SpiMultiByteBitAutoIncrements) {
  SpiWrite(reg::kBwRate, 0x0C);
  SpiWrite(reg::kPowerCtl, 0x00);
  SpiWrite(reg::kIntEnable, 0x83);
  EXPECT_EQ(SpiRead(reg::kBwRate, 3), (std::vector<uint8_t>{0x0C, 0x00, 0x83}));
  // Without MB the address stays: every byte is BW_RATE.
  EXPECT_EQ(SpiRead(reg::kBwRate, 3, false), (std::vector<uint8_t>{0x0C, 0x0C, 0x0C}));
  // I2C reads always auto-increment; I2C writes too.
  const uint8_t tx[3] = {reg::kIntEnable, 0x01, 0x02};  // INT_ENABLE, INT_MAP
  ASSERT_TRUE(i2c_.Write(kAddress, tx, Millis(10)).ok());
  EXPECT_EQ(I2cRead(reg::kBwRate, 4), (std::vector<uint8_t>{0x0C, 0x00, 0x01, 0x02}));
}

TEST_F(Adxl345ModelTest, StandbyProducesNothing) {
  SpiWrite(reg::kFifoCtl, 0x80);
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);
  EXPECT_EQ(model_.samples_generated(), 0u);
}

// Table 1 footnote: turn-on takes about 1.1 ms + 1/ODR.
TEST_F(Adxl345ModelTest, FirstSampleAfterTurnOnThenAtTheOdr) {
  StartMeasuring(0x0A);  // 100 Hz
  clock_.Advance(Micros(11'099));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntDataReady, 0);
  clock_.Advance(Micros(1));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 1);
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntDataReady, reg::kIntDataReady);
  clock_.Advance(Millis(100));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 11);
}

TEST_F(Adxl345ModelTest, EveryRateCodeRunsAtTable7Rate) {
  for (uint8_t code = 0x06; code <= 0x0F; ++code) {
    model_.PowerCycle();
    StartMeasuring(code, 0x0B, 0x00);  // bypass: count via samples_generated
    const uint64_t before = model_.samples_generated();
    clock_.Advance(Micros(1100));  // turn-on
    clock_.Advance(std::chrono::seconds(2));
    SpiRead1(reg::kFifoStatus);
    EXPECT_EQ(model_.samples_generated() - before, static_cast<uint64_t>(2 * Adxl345OdrHz(code))) << int{code};
  }
}

// "Retrieving Data from FIFO": a read of the data registers pops one entry
// when it ends, whether it read one byte or six.
TEST_F(Adxl345ModelTest, DataReadPopsOneEntryPerTransaction) {
  StartMeasuring();
  clock_.Advance(Micros(51'100));
  ASSERT_EQ(SpiRead1(reg::kFifoStatus), 5);
  PopSample();
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 4);
  SpiRead(reg::kDataX0, 1, false);  // a single byte loses the rest of that sample
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 3);
  // Reading on past 0x37 pops on the way: FIFO_STATUS in the same burst
  // already counts the popped entry.
  const std::vector<uint8_t> burst = I2cRead(reg::kDataX0, 8);
  EXPECT_EQ(burst[7], 2);
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 2);
}

TEST_F(Adxl345ModelTest, StreamModeKeepsTheNewest32AndSetsOverrun) {
  // A slow 0.1 Hz swing tells early samples from late ones.
  Adxl345Model::Vibration v;
  v.gravity_g[2] = 1.0;
  v.rms_g[0] = 1.0;
  v.frequency_hz = 0.1;
  model_.SetVibration(v);
  StartMeasuring();
  clock_.Advance(Micros(2'501'100));  // a quarter period: x near +sqrt(2) g at the end
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 32);
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntOverrun, reg::kIntOverrun);
  EXPECT_EQ(model_.samples_discarded(), 250u - 32u);
  EXPECT_GT(PopSample()[0], 1.35 * 256);
  // Overrun clears with the first data read (Register 0x30).
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntOverrun, 0);
}

TEST_F(Adxl345ModelTest, FifoModeStopsWhenFullKeepingTheOldest) {
  Adxl345Model::Vibration v;
  v.rms_g[0] = 1.0;
  v.frequency_hz = 0.1;
  model_.SetVibration(v);
  StartMeasuring(0x0A, 0x0B, 0x40);  // FIFO mode
  clock_.Advance(Micros(2'501'100));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 32);
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntOverrun, reg::kIntOverrun);
  EXPECT_LT(PopSample()[0], 0.05 * 256);  // from the first 10 ms
}

TEST_F(Adxl345ModelTest, BypassModeHoldsTheNewestSample) {
  Set(0.0, 0.0, 1.0);
  StartMeasuring(0x0A, 0x0B, 0x00);
  clock_.Advance(Micros(11'100));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);  // the FIFO is not used
  EXPECT_EQ(SpiRead1(reg::kIntSource), reg::kIntDataReady | reg::kIntWatermark);
  EXPECT_EQ(PopSample()[2], 256);
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntDataReady, 0);
  clock_.Advance(Millis(20));  // two samples: the first one was never read
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntOverrun, reg::kIntOverrun);
  // Switching FIFO_CTL to bypass empties the FIFO.
  SpiWrite(reg::kFifoCtl, 0x80);
  clock_.Advance(Millis(50));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 5);
  SpiWrite(reg::kFifoCtl, 0x00);
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);
}

TEST_F(Adxl345ModelTest, WatermarkFollowsTheSamplesField) {
  StartMeasuring(0x0A, 0x0B, 0x80 | 10);
  clock_.Advance(Micros(91'100));  // 9 entries
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntWatermark, 0);
  clock_.Advance(Millis(10));
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntWatermark, reg::kIntWatermark);
  PopSample();
  EXPECT_EQ(SpiRead1(reg::kIntSource) & reg::kIntWatermark, 0);
}

// Register 0x31 and Table 1: full resolution is 256 LSB/g at every range
// (10..13 bits); fixed 10-bit mode scales with the range; outputs saturate.
TEST_F(Adxl345ModelTest, DataFormatScalesAndSaturates) {
  struct Case {
    uint8_t format;
    double g;
    int16_t raw;
  };
  const Case cases[] = {
      {0x0B, 1.0, 256},                        // full res +-16 g
      {0x0B, -15.5, -3968},                    // 13 bits
      {0x0B, 20.0, 4095},                      // saturates at 13 bits
      {0x0B, -20.0, -4096}, {0x08, 3.0, 511},  // full res +-2 g: 10 bits
      {0x09, 3.0, 768},                        // full res +-4 g: 11 bits
      {0x03, 1.0, 32},                         // 10-bit +-16 g: 31.2 mg/LSB
      {0x00, 1.0, 256},                        // 10-bit +-2 g: 3.9 mg/LSB
      {0x00, 2.5, 511},                        // saturates
      {0x01, 1.0, 128},                        // 10-bit +-4 g
      {0x0F, 1.0, 2048},                       // full res +-16 g left-justified: LSB in D3 of DATAx0
      {0x0F, -1.0, -2048},
  };
  for (const Case& c : cases) {
    model_.PowerCycle();
    Set(0.0, 0.0, c.g);
    StartMeasuring(0x0A, c.format, 0x80);
    clock_.Advance(Micros(11'100));
    EXPECT_EQ(PopSample()[2], c.raw) << std::hex << int{c.format} << " " << c.g;
  }
}

// "Data Formatting of Upper Data Rates": at 1600 and 3200 Hz the LSB is 0 in
// full resolution; at 800 Hz it is valid.
TEST_F(Adxl345ModelTest, UpperDataRatesHaveLsbZero) {
  Set(0.0, 3.0 / 256, -3.0 / 256);  // +3 and -3 LSB
  StartMeasuring(0x0F);
  clock_.Advance(Millis(2));
  std::array<int16_t, 3> s = PopSample();
  EXPECT_EQ(s[1], 2);
  EXPECT_EQ(s[2], -4);
  model_.PowerCycle();
  StartMeasuring(0x0D);
  clock_.Advance(Millis(3));
  s = PopSample();
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s[2], -3);
}

// Registers 0x1E..0x20: 15.6 mg/LSB, added to the output.
TEST_F(Adxl345ModelTest, OffsetRegistersAdd) {
  Set(0.0, 0.0, 0.0);
  SpiWrite(reg::kOfsX, 0x40);  // +64 x 15.6 mg = 0.9984 g
  SpiWrite(reg::kOfsX + 2, static_cast<uint8_t>(-10));
  StartMeasuring();
  clock_.Advance(Micros(11'100));
  const std::array<int16_t, 3> s = PopSample();
  EXPECT_EQ(s[0], 256);  // 255.6 LSB
  EXPECT_EQ(s[2], -40);  // -0.156 g = -39.9 LSB
}

TEST_F(Adxl345ModelTest, SineKnobIsTheAcRmsPerAxis) {
  Adxl345Model::Vibration v;
  v.gravity_g[2] = 1.0;
  v.rms_g[0] = 0.5;
  v.rms_g[1] = 0.25;
  v.frequency_hz = 100.0;  // 8 samples per cycle at 800 Hz
  model_.SetVibration(v);
  StartMeasuring(0x0D);
  clock_.Advance(Millis(10));
  for (int i = SpiRead1(reg::kFifoStatus); i > 0; --i) PopSample();
  clock_.Advance(Millis(40));  // 32 samples = 4 cycles
  ASSERT_EQ(SpiRead1(reg::kFifoStatus), 32);
  double sum[3] = {}, sum_sq[3] = {};
  for (int i = 0; i < 32; ++i) {
    const std::array<int16_t, 3> s = PopSample();
    for (int k = 0; k < 3; ++k) {
      sum[k] += s[k] / 256.0;
      sum_sq[k] += (s[k] / 256.0) * (s[k] / 256.0);
    }
  }
  auto ac_rms = [&](int k) { return std::sqrt(sum_sq[k] / 32 - (sum[k] / 32) * (sum[k] / 32)); };
  EXPECT_NEAR(ac_rms(0), 0.5, 0.005);
  EXPECT_NEAR(ac_rms(1), 0.25, 0.005);
  EXPECT_NEAR(ac_rms(2), 0.0, 1e-9);
  EXPECT_NEAR(sum[2] / 32, 1.0, 1e-9);
}

// A sample's noise depends on the seed and its instant only: reading often
// or rarely gives the same samples; another seed gives others.
TEST_F(Adxl345ModelTest, NoiseIsDeterministicPerSeedAndStatisticallyRight) {
  auto collect = [](uint64_t seed, Micros gap) {
    ManualClock clock;
    Adxl345Model model(clock, seed);
    SimI2cBus bus;
    EXPECT_TRUE(bus.Attach(kAddress, model).ok());
    Adxl345Model::Vibration v;
    v.noise_g = 0.05;
    model.SetVibration(v);
    const uint8_t setup[][2] = {{reg::kDataFormat, 0x0B}, {reg::kFifoCtl, 0x80}, {reg::kPowerCtl, 0x08}};
    for (const auto& s : setup) EXPECT_TRUE(bus.Write(kAddress, s, Millis(10)).ok());
    std::vector<int16_t> xs;
    while (xs.size() < 2000) {
      clock.Advance(gap);
      uint8_t entries = 0;
      const uint8_t status = reg::kFifoStatus;
      EXPECT_TRUE(bus.WriteRead(kAddress, ConstBytes(&status, 1), MutBytes(&entries, 1), Millis(10)).ok());
      for (int i = 0; i < entries; ++i) {
        uint8_t b[6];
        const uint8_t data = reg::kDataX0;
        EXPECT_TRUE(bus.WriteRead(kAddress, ConstBytes(&data, 1), b, Millis(10)).ok());
        xs.push_back(ParseSample(b).x);
      }
    }
    xs.resize(2000);
    return xs;
  };
  const std::vector<int16_t> a = collect(42, Millis(100));
  EXPECT_EQ(a, collect(42, Millis(250)));
  EXPECT_NE(a, collect(43, Millis(100)));
  double sum = 0, sum_sq = 0;
  for (int16_t x : a) {
    sum += x / 256.0;
    sum_sq += (x / 256.0) * (x / 256.0);
  }
  const double mean = sum / 2000;
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(sum_sq / 2000 - mean * mean), 0.05, 0.0035);
}

// However long the chip went unread, an access does at most a FIFO's worth
// of work, and the counts stay exact.
TEST_F(Adxl345ModelTest, LongGapsAreBoundedWork) {
  StartMeasuring(0x0F);  // 3200 Hz
  clock_.Advance(std::chrono::hours(24));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 32);
  const uint64_t due = (24ull * 3600 * 1'000'000 - 1100) * 3200 / 1'000'000;
  EXPECT_EQ(model_.samples_generated(), due);
  EXPECT_EQ(model_.samples_discarded(), due - 32);
}

TEST_F(Adxl345ModelTest, PowerCycleRestoresResetState) {
  StartMeasuring();
  SpiWrite(reg::kOfsX, 0x12);
  clock_.Advance(Millis(100));
  ASSERT_GT(SpiRead1(reg::kFifoStatus), 0);
  model_.PowerCycle();
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);
  EXPECT_EQ(SpiRead1(reg::kPowerCtl), 0x00);
  EXPECT_EQ(SpiRead1(reg::kBwRate), 0x0A);
  EXPECT_EQ(SpiRead1(reg::kOfsX), 0x00);
  EXPECT_EQ(SpiRead1(reg::kIntSource), 0x02);
  clock_.Advance(Millis(100));
  EXPECT_EQ(SpiRead1(reg::kFifoStatus), 0);  // standby
}

TEST_F(Adxl345ModelTest, DeviceIdKnob) {
  model_.SetDeviceId(0x1A);
  EXPECT_EQ(SpiRead1(reg::kDevId), 0x1A);
  EXPECT_EQ(I2cRead(reg::kDevId, 1)[0], 0x1A);
}

}  // namespace
}  // namespace edgeforge
