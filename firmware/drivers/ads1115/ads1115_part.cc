#include "firmware/drivers/ads1115/ads1115_part.h"

#include <map>
#include <string>
#include <utility>

namespace edgeforge::app {
namespace {

Result<Ads1115Mux> MuxFromName(const std::string& s) {
  static const std::map<std::string, Ads1115Mux> kMux = {
      {"ain0-ain1", Ads1115Mux::kAin0Ain1}, {"ain0-ain3", Ads1115Mux::kAin0Ain3}, {"ain1-ain3", Ads1115Mux::kAin1Ain3},
      {"ain2-ain3", Ads1115Mux::kAin2Ain3}, {"ain0", Ads1115Mux::kAin0},          {"ain1", Ads1115Mux::kAin1},
      {"ain2", Ads1115Mux::kAin2},          {"ain3", Ads1115Mux::kAin3}};
  auto it = kMux.find(s);
  if (it == kMux.end()) return InvalidArgument("unknown input");
  return it->second;
}

Ads1115Pga PgaFromVolts(double v) {
  static const std::pair<double, Ads1115Pga> kPga[] = {{6.144, Ads1115Pga::kFsr6144mV}, {4.096, Ads1115Pga::kFsr4096mV},
                                                       {2.048, Ads1115Pga::kFsr2048mV}, {1.024, Ads1115Pga::kFsr1024mV},
                                                       {0.512, Ads1115Pga::kFsr512mV},  {0.256, Ads1115Pga::kFsr256mV}};
  for (const auto& [volts, pga] : kPga) {
    if (volts == v) return pga;
  }
  return Ads1115Pga::kFsr2048mV;  // unreachable after EnumOr-style validation below
}

Result<Ads1115Channel> ReadChannel(board::ParamReader& ch) {
  Ads1115Channel out;
  out.name = ch.String("name");
  const std::string input =
      ch.Enum("input", {"ain0-ain1", "ain0-ain3", "ain1-ain3", "ain2-ain3", "ain0", "ain1", "ain2", "ain3"});
  const double pga = ch.Number("pga_v");
  if (ch.ok() && pga != 6.144 && pga != 4.096 && pga != 2.048 && pga != 1.024 && pga != 0.512 && pga != 0.256) {
    ch.Fail("pga_v", "must be one of 6.144, 4.096, 2.048, 1.024, 0.512, 0.256 (datasheet table 3), got " +
                         board::FormatNumber(pga));
  }
  const std::string transducer = ch.Enum("transducer", {"current_transformer", "loop_4_20ma"});
  if (transducer == "current_transformer") {
    out.kind = Ads1115Channel::Kind::kCurrentTransformer;
    out.ct.turns_ratio = ch.Number("turns_ratio", board::Range::Above(0));
    out.ct.burden_ohm = ch.Number("burden_ohm", board::Range::Above(0));
    out.ct.mains_hz = ch.NumberOr("mains_hz", out.ct.mains_hz, board::Range::Between(45, 65));
    out.ct.cycles = static_cast<int>(ch.IntegerOr("cycles", out.ct.cycles, 1, 50));
  } else if (transducer == "loop_4_20ma") {
    out.kind = Ads1115Channel::Kind::kLoop4To20mA;
    out.loop.shunt_ohm = ch.Number("shunt_ohm", board::Range::Above(0));
    const std::vector<double> range = ch.Numbers("range", 2, 2);
    if (range.size() == 2) {
      out.loop.range_min = range[0];
      out.loop.range_max = range[1];
    }
    out.loop.unit = ch.String("unit");
  }
  if (!ch.ok()) return ch.Finish();
  auto mux = MuxFromName(input);
  if (mux.ok()) out.mux = *mux;
  out.pga = PgaFromVolts(pga);
  return out;
}

Result<BuiltPart> Build(PartContext& c) {
  auto channels = ParseAds1115Params(c.board, c.device);
  if (!channels.ok()) return channels.status();
  auto bus = c.buses.I2c(c.bus);
  if (!bus.ok()) return c.Error(bus.status());
  Ads1115& adc = c.Make<Ads1115>(**bus, *c.device.address, c.clock);
  BuiltPart b;
  for (const auto& ch : *channels) b.channels.push_back(ch.name);
  b.source = &c.Make<Ads1115Source>(c.device.name, adc, std::move(*channels));
  return b;
}

}  // namespace

Result<std::vector<Ads1115Channel>> ParseAds1115Params(const board::Board& board, const board::Device& device) {
  board::ParamReader p = board::ReadParams(board, device);
  std::vector<Ads1115Channel> channels;
  for (board::ParamReader& ch : p.Objects("channels", 1, 8)) {
    auto parsed = ReadChannel(ch);
    if (parsed.ok()) channels.push_back(std::move(*parsed));
  }
  EF_RETURN_IF_ERROR(p.Finish());
  if (Status v = Validate(channels); !v.ok()) {
    return InvalidArgument(board.source + ": " + device.params_path + ".channels: " + v.message());
  }
  return channels;
}

const Part& Ads1115Part() {
  static const Part kPart = {
      {"ti,ads1115",
       "16-bit 4-channel delta-sigma ADC with PGA (current transformers, 4-20 mA loops), I2C",
       board::BusBit(board::BusType::kI2c),
       {0x48, 0x49, 0x4A, 0x4B},
       0,
       -1,
       {},
       {},
       "ADS1115 datasheet SBAS444 section 9.5.1.1 (ADDR to GND 0x48, VDD 0x49, SDA 0x4A, SCL 0x4B)"},
      Build};
  return kPart;
}

}  // namespace edgeforge::app
