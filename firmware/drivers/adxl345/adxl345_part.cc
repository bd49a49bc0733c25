#include "firmware/drivers/adxl345/adxl345_part.h"

#include <string>

#include "firmware/drivers/adxl345/adxl345_source.h"

namespace edgeforge::app {
namespace {

Result<BuiltPart> Build(PartContext& c) {
  auto config = ParseAdxl345Params(c.board, c.device);
  if (!config.ok()) return config.status();
  Adxl345Bus* transport = nullptr;
  if (c.bus.type == board::BusType::kSpi) {
    auto spi = c.buses.Spi(c.bus, *c.device.cs);
    if (!spi.ok()) return c.Error(spi.status());
    transport = &c.Make<Adxl345SpiBus>(**spi, c.bus.name + "." + std::to_string(*c.device.cs));
  } else {
    auto i2c = c.buses.I2c(c.bus);
    if (!i2c.ok()) return c.Error(i2c.status());
    transport = &c.Make<Adxl345I2cBus>(**i2c, *c.device.address);
  }
  Adxl345& chip = c.Make<Adxl345>(*transport, c.clock, *config);
  return BuiltPart{&c.Make<Adxl345Source>(c.device.name, chip),
                   {"vibration_rms_x", "vibration_rms_y", "vibration_rms_z", "vibration_peak", "vibration_crest"}};
}

// The driver drains the FIFO once per sample period; a period longer than
// the FIFO takes to fill loses the oldest samples of every window without a
// word (stream mode, ADXL345 data sheet "FIFO"). A bad or missing odr_hz is
// left to the driver's own parameter check; the default is the driver's.
std::string SamplePeriodProblem(const board::Device& device, uint32_t sample_ms) {
  const auto odr = device.params.find("odr_hz");
  const double odr_hz = odr != device.params.end() && odr->is_number() ? odr->get<double>() : Adxl345Config{}.odr_hz;
  if (!(odr_hz > 0)) return "";
  const double samples = static_cast<double>(sample_ms) * odr_hz / 1000.0;
  if (samples <= static_cast<double>(adxl345_reg::kFifoDepth)) return "";
  const double fill_ms = static_cast<double>(adxl345_reg::kFifoDepth) * 1000.0 / odr_hz;
  return std::to_string(sample_ms) + " ms at params.odr_hz " + board::FormatNumber(odr_hz) + " is " +
         board::FormatNumber(samples) + " samples, more than the ADXL345 FIFO holds (" +
         std::to_string(adxl345_reg::kFifoDepth) + "; it fills in " + board::FormatNumber(fill_ms) +
         " ms): sample at most every " + std::to_string(static_cast<uint32_t>(fill_ms)) + " ms or lower odr_hz";
}

}  // namespace

Result<Adxl345Config> ParseAdxl345Params(const board::Board& board, const board::Device& device) {
  board::ParamReader p = board::ReadParams(board, device);
  Adxl345Config config;
  config.odr_hz = p.NumberOr("odr_hz", config.odr_hz, board::Range::Between(0.1, 3200));
  EF_RETURN_IF_ERROR(p.Finish());
  if (auto code = Adxl345RateCode(config.odr_hz); !code.ok()) {
    return InvalidArgument(board.source + ": " + p.PathOf("odr_hz") + ": " + code.status().message());
  }
  return config;
}

const Part& Adxl345Part() {
  static const Part kPart = {
      {"adi,adxl345",
       "3-axis accelerometer (vibration), 4-wire SPI or I2C",
       board::BusBit(board::BusType::kSpi) | board::BusBit(board::BusType::kI2c),
       {0x1D, 0x53},
       5'000'000,
       3,
       {},
       {},
       "ADXL345 datasheet rev. E: 'Serial communications' (SPI max 5 MHz, CPOL = 1, CPHA = 1; I2C 0x1D with "
       "ALT ADDRESS high, 0x53 low), table 10",
       SamplePeriodProblem},
      Build};
  return kPart;
}

}  // namespace edgeforge::app
