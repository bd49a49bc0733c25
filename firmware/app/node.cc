#include "firmware/app/node.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

#include "firmware/app/ads1115_source.h"
#include "firmware/app/adxl345_source.h"
#include "firmware/app/loop_detector_source.h"
#include "firmware/app/radar_source.h"
#include "firmware/drivers/ads1115/ads1115.h"
#include "firmware/drivers/adxl345/adxl345.h"
#include "firmware/drivers/bme280/bme280.h"
#include "firmware/drivers/loop_detector/loop_detector.h"
#include "firmware/drivers/ops243/ops243.h"

namespace edgeforge::app {
namespace {

/// What a part factory needs; Make() hands ownership of every object to the node.
struct PartContext {
  const board::Board& board;
  const board::Device& device;
  const board::Bus& bus;
  BusProvider& buses;
  Clock& clock;
  std::vector<std::shared_ptr<void>>& owned;

  template <typename T, typename... Args>
  T& Make(Args&&... args) {
    auto p = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *p;
    owned.push_back(std::move(p));
    return ref;
  }
  /// "boards/x.json: devices[1] (vib0): <what>", keeping the code.
  Status Error(const Status& s) const {
    return s.WithContext(board.source + ": " + device.path + " (" + device.name + ")");
  }
};

struct Built {
  pipeline::SensorSource* source = nullptr;
  std::vector<std::string> channels;
};

using PartFactory = std::function<Result<Built>(PartContext&)>;

Result<Built> MakeBme280(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  EF_RETURN_IF_ERROR(p.Finish());
  auto bus = c.buses.I2c(c.bus);
  if (!bus.ok()) return c.Error(bus.status());
  Bme280& chip = c.Make<Bme280>(**bus, *c.device.address, c.clock);
  return Built{&c.Make<Bme280Source>(c.device.name, chip), {"temperature", "pressure", "humidity"}};
}

Result<Built> MakeAdxl345(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  Adxl345Config config;
  config.odr_hz = p.NumberOr("odr_hz", config.odr_hz, board::Range::Between(0.1, 3200));
  EF_RETURN_IF_ERROR(p.Finish());
  if (auto code = Adxl345RateCode(config.odr_hz); !code.ok()) {
    return InvalidArgument(c.board.source + ": " + p.PathOf("odr_hz") + ": " + code.status().message());
  }
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
  Adxl345& chip = c.Make<Adxl345>(*transport, c.clock, config);
  return Built{&c.Make<Adxl345Source>(c.device.name, chip),
               {"vibration_rms_x", "vibration_rms_y", "vibration_rms_z", "vibration_peak", "vibration_crest"}};
}

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

Result<Ads1115Channel> ReadAdsChannel(board::ParamReader& ch) {
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

Result<Built> MakeAds1115(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  std::vector<Ads1115Channel> channels;
  for (board::ParamReader& ch : p.Objects("channels", 1, 8)) {
    auto parsed = ReadAdsChannel(ch);
    if (parsed.ok()) channels.push_back(std::move(*parsed));
  }
  EF_RETURN_IF_ERROR(p.Finish());
  if (Status v = Validate(channels); !v.ok()) {
    return InvalidArgument(c.board.source + ": " + c.device.params_path + ".channels: " + v.message());
  }
  auto bus = c.buses.I2c(c.bus);
  if (!bus.ok()) return c.Error(bus.status());
  Ads1115& adc = c.Make<Ads1115>(**bus, *c.device.address, c.clock);
  Built b;
  for (const auto& ch : channels) b.channels.push_back(ch.name);
  b.source = &c.Make<Ads1115Source>(c.device.name, adc, std::move(channels));
  return b;
}

Result<Built> MakeLoopDetector(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  LoopConfig config;
  config.name = c.device.name + "@" + c.bus.name;
  // The trap geometry has no safe default: every speed is spacing / time.
  config.spacing_m = p.Number("spacing_m", board::Range::Above(0));
  config.loop_length_m = p.Number("loop_length_m", board::Range::Above(0));
  const double max_presence_s = p.NumberOr("max_presence_s", 120, board::Range::Between(1, 3600));
  EF_RETURN_IF_ERROR(p.Finish());
  config.max_presence = Micros(static_cast<int64_t>(max_presence_s * 1e6));
  if (Status v = ValidateLoopConfig(config); !v.ok()) {
    return InvalidArgument(c.board.source + ": " + c.device.params_path + ": " + v.message());
  }
  GpioLine* lines[2] = {nullptr, nullptr};
  const char* roles[2] = {"upstream", "downstream"};
  for (size_t i = 0; i < 2; ++i) {
    auto offset = c.device.lines.find(roles[i]);
    if (offset == c.device.lines.end()) {
      return InvalidArgument(c.board.source + ": " + c.device.path + ".lines: missing \"" + roles[i] + "\"");
    }
    // Edges are read once per sample period. A lane at capacity (~2,200
    // vehicles/h, 2 edges each) brings ~75 edges per line in a one-minute
    // count bin, far over the kernel's default buffer of 16; 1024 (the
    // kernel's cap) holds ~13 minutes of it.
    auto line = c.buses.GpioInput(c.bus, offset->second, c.device.active_low, c.device.name, 1024);
    if (!line.ok()) return c.Error(line.status());
    lines[i] = *line;
  }
  LoopDetector& detector = c.Make<LoopDetector>(*lines[0], *lines[1], c.clock, config);
  return Built{&c.Make<LoopDetectorSource>(c.device.name, detector),
               {"vehicle_count", "occupancy", "speed", "vehicles_short", "vehicles_medium", "vehicles_long"}};
}

Result<Built> MakeOps243(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  Ops243Config config;
  config.name = c.device.name + "@" + c.bus.name;
  // The unit the module reports in; RadarSource converts to km/h either way.
  static const std::map<std::string, Ops243Unit, std::less<>> kUnits = {{"km/h", Ops243Unit::kKilometersPerHour},
                                                                        {"m/s", Ops243Unit::kMetersPerSecond},
                                                                        {"mph", Ops243Unit::kMilesPerHour},
                                                                        {"ft/s", Ops243Unit::kFeetPerSecond},
                                                                        {"cm/s", Ops243Unit::kCentimetersPerSecond}};
  const std::string units = p.EnumOr("units", "km/h", {"km/h", "m/s", "mph", "ft/s", "cm/s"});
  EF_RETURN_IF_ERROR(p.Finish());
  config.unit = kUnits.at(units);
  auto uart = c.buses.UartPort(c.bus);
  if (!uart.ok()) return c.Error(uart.status());
  Ops243& radar = c.Make<Ops243>(**uart, c.clock, config);
  return Built{&c.Make<RadarSource>(c.device.name, radar), {"radar_speed"}};
}

const std::map<std::string, PartFactory, std::less<>>& Factories() {
  static const std::map<std::string, PartFactory, std::less<>> kFactories = {
      {"bosch,bme280", MakeBme280},          {"adi,adxl345", MakeAdxl345},
      {"ti,ads1115", MakeAds1115},           {"generic,dual-loop-detector", MakeLoopDetector},
      {"omnipresense,ops243-a", MakeOps243},
  };
  return kFactories;
}

pipeline::AlarmRule ToRule(const board::AlarmSpec& a) {
  pipeline::AlarmRule r;
  r.channel = a.channel;
  r.condition =
      a.condition == board::AlarmCondition::kAbove ? pipeline::Condition::kAbove : pipeline::Condition::kBelow;
  r.threshold = a.threshold;
  r.hysteresis = a.hysteresis;
  r.severity = board::SeverityName(a.severity);
  return r;
}

}  // namespace

Node::Node(board::Board board) : board_(std::move(board)) {}

Node::~Node() {
  parts_.clear();
  while (!owned_.empty()) owned_.pop_back();  // sources before drivers before transports
}

std::vector<pipeline::SourceSlot> Node::Slots() const {
  std::vector<pipeline::SourceSlot> slots;
  for (const NodePart& p : parts_) slots.push_back({p.source, Millis(p.device->sample_ms)});
  return slots;
}

Result<std::unique_ptr<Node>> BuildNode(const board::Board& board, BusProvider& buses, Clock& clock) {
  std::unique_ptr<Node> node(new Node(board));
  const board::Board& b = node->board_;
  std::map<std::string, std::string> channel_owner;  // channel -> device name
  for (const board::Device& d : b.devices) {
    auto factory = Factories().find(d.compatible);
    if (factory == Factories().end()) {
      return Unimplemented(b.source + ": " + d.path + ".compatible: " + d.compatible +
                           " is a known part but this firmware has no driver for it");
    }
    PartContext ctx{b, d, b.BusOf(d), buses, clock, node->owned_};
    auto built = factory->second(ctx);
    if (!built.ok()) return built.status();
    for (const std::string& ch : built->channels) {
      auto [it, fresh] = channel_owner.emplace(ch, d.name);
      if (!fresh) {
        return InvalidArgument(b.source + ": " + d.path + ": channel \"" + ch + "\" is also produced by " + it->second +
                               " (channel names must be unique on a board)");
      }
    }
    node->parts_.push_back({&d, built->source, std::move(built->channels)});
  }
  for (const board::AlarmSpec& a : b.alarms) {
    if (channel_owner.count(a.channel) == 0) {
      std::string known;
      for (const auto& [ch, owner] : channel_owner) known += (known.empty() ? "" : ", ") + ch;
      return InvalidArgument(b.source + ": " + a.path + ".channel: no part on this board produces \"" + a.channel +
                             "\" (channels: " + known + ")");
    }
    node->rules_.push_back(ToRule(a));
  }
  if (Status s = pipeline::ValidateAlarmRules(node->rules_); !s.ok()) return s.WithContext(b.source + ": alarms");
  return node;
}

}  // namespace edgeforge::app
