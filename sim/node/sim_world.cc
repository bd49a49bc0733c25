#include "sim/node/sim_world.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "firmware/board/param_reader.h"
#include "sim/physics/random.h"

namespace edgeforge::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;

// Independent seed streams derived from WorldOptions::seed.
constexpr uint64_t kEnvironmentStream = 0x656E76;  // "env"
constexpr uint64_t kAdxlStream = 0x61786C;         // "axl"

constexpr const char* kBme280 = "bosch,bme280";
constexpr const char* kAdxl345 = "adi,adxl345";
constexpr const char* kAds1115 = "ti,ads1115";
constexpr const char* kLoopDetector = "generic,dual-loop-detector";
constexpr const char* kOps243 = "omnipresense,ops243-a";

Micros FromSeconds(double s) { return Micros(static_cast<int64_t>(std::llround(s * 1e6))); }

// "ain0-ain1" -> {0, 1}; "ain2" -> {2, -1} (single-ended: against GND).
std::pair<int, int> MuxPins(const std::string& input) {
  const int pos = input[3] - '0';
  const int neg = input.size() > 4 ? input[8] - '0' : -1;
  return {pos, neg};
}

}  // namespace

/// One transducer channel of an ADS1115, as the board's params describe it.
struct SimWorld::AdcChannel {
  std::string name;
  bool ct = true;  // current transformer; else a 4-20 mA loop
  int pos = 0;
  int neg = -1;  // -1: single-ended
  double turns_ratio = 1;
  double burden_ohm = 0;
  double mains_hz = 50;
  double shunt_ohm = 0;
  double range_min = 0;
  double range_max = 1;
};

struct SimWorld::AdcPart {
  const board::Device* device = nullptr;
  std::unique_ptr<Ads1115Model> model;
  // The pin functions read these (heap-held, so their address is stable):
  // Advance() rewrites a few doubles instead of installing new functions.
  std::array<PinDrive, 4> pins{};
  std::vector<AdcChannel> channels;
};

struct SimWorld::LoopPart {
  const board::Device* device = nullptr;
  std::unique_ptr<LoopDetectorModel> model;
  int lane = -1;
  uint64_t cursor = 0;  // next arrival (absolute index) to look at
  // The latest pulses whose end the model has not scheduled yet (see Flush()).
  bool open = false;
  Micros up_end{0};
  Micros down_end{0};
};

struct SimWorld::RadarPart {
  const board::Device* device = nullptr;
  std::unique_ptr<Ops243Model> model;
  uint64_t cursor = 0;
  // The vehicle being reported: one report per FFT buffer from `next` while
  // it is in the beam.
  bool in_beam = false;
  Micros next{0};
  Micros leaves{0};
  double speed_mps = 0;
  Micros last_fed{std::numeric_limits<int64_t>::min() / 2};
};

SimWorld::SimWorld(const board::Board& board, SimBuses& buses, const Clock& clock, WorldOptions options)
    : board_(board), buses_(buses), clock_(clock), options_(options) {}

SimWorld::~SimWorld() {
  for (const auto& b : bme280_) buses_.I2cSim(b.device->bus).Detach(*b.device->address);
  for (const auto& a : adxl345_) {
    if (a.device->cs) {
      buses_.SpiSim(a.device->bus).Detach(*a.device->cs);
    } else {
      buses_.I2cSim(a.device->bus).Detach(*a.device->address);
    }
  }
  for (const auto& a : ads1115_) buses_.I2cSim(a->device->bus).Detach(*a->device->address);
  // Ops243Model detaches itself from its UART; loop models only hold lines.
}

Result<std::unique_ptr<SimWorld>> SimWorld::Create(const board::Board& board, SimBuses& buses, const Clock& clock,
                                                   WorldOptions options) {
  if (!(std::isfinite(options.time_scale) && options.time_scale > 0)) {
    return InvalidArgument("sim world: time_scale must be > 0, got " + board::FormatNumber(options.time_scale));
  }
  if (!std::isfinite(options.start_seconds)) return InvalidArgument("sim world: start_seconds must be finite");
  if (!(std::isfinite(options.radar_beam_m) && options.radar_beam_m >= 0)) {
    return InvalidArgument("sim world: radar_beam_m must be >= 0");
  }
  if (!(std::isfinite(options.adxl345_noise_g) && options.adxl345_noise_g >= 0)) {
    return InvalidArgument("sim world: adxl345_noise_g must be >= 0");
  }
  std::unique_ptr<SimWorld> world(new SimWorld(board, buses, clock, options));
  EF_RETURN_IF_ERROR(world->Build());
  return world;
}

std::string SimWorld::Where(const board::Device& d) const {
  return (board_.source.empty() ? board_.name : board_.source) + ": " + d.path + " (" + d.name + ")";
}

Status SimWorld::Build() {
  for (size_t i = 0; i < board_.devices.size(); ++i) EF_RETURN_IF_ERROR(AddPart(board_.devices[i], i));
  EF_RETURN_IF_ERROR(BuildPhysics());
  SetAdcKnobs(0, 0, false);  // neutral until (unless) the machine drives them
  const Micros now = clock_.Monotonic();
  fetched_until_ = RoadSeconds(now);
  Advance(now);
  return Status::Ok();
}

Status SimWorld::AddPart(const board::Device& d, size_t index) {
  const std::string& c = d.compatible;
  if (c != kBme280 && c != kAdxl345 && c != kAds1115 && c != kLoopDetector && c != kOps243) {
    return Unimplemented(Where(d) + ": no simulator model for \"" + c + "\" (sim/node/sim_world.cc)");
  }
  if (c == kAds1115) return AddAds1115(d);
  if (c == kLoopDetector) return AddLoopDetector(d);
  if (c == kOps243) {
    radars_.push_back(std::make_unique<RadarPart>());
    radars_.back()->device = &d;
    radars_.back()->model = std::make_unique<Ops243Model>(buses_.UartSim(d.bus), clock_);
    return Status::Ok();
  }
  if (c == kBme280) {
    auto model = std::make_unique<Bme280Model>();
    EF_RETURN_IF_ERROR(buses_.I2cSim(d.bus).Attach(*d.address, *model).WithContext(Where(d)));
    bme280_.push_back({&d, std::move(model)});
    return Status::Ok();
  }
  auto model = std::make_unique<Adxl345Model>(clock_, physics::Mix(options_.seed ^ (kAdxlStream + index)));
  Adxl345Model::Vibration rest;  // 1 g on z, no vibration
  rest.noise_g = options_.adxl345_noise_g;
  model->SetVibration(rest);
  if (d.cs) {
    EF_RETURN_IF_ERROR(buses_.SpiSim(d.bus).Attach(*d.cs, *model).WithContext(Where(d)));
  } else {
    EF_RETURN_IF_ERROR(buses_.I2cSim(d.bus).Attach(*d.address, *model).WithContext(Where(d)));
  }
  adxl345_.push_back({&d, std::move(model)});
  return Status::Ok();
}

Status SimWorld::AddAds1115(const board::Device& d) {
  auto part = std::make_unique<AdcPart>();
  part->device = &d;
  board::ParamReader p = board::ReadParams(board_, d);
  // Only what the wiring needs; the firmware's node builder validates the rest.
  for (board::ParamReader& ch : p.Objects("channels", 1, 8)) {
    AdcChannel a;
    a.name = ch.String("name");
    const std::string input =
        ch.Enum("input", {"ain0-ain1", "ain0-ain3", "ain1-ain3", "ain2-ain3", "ain0", "ain1", "ain2", "ain3"});
    const std::string transducer = ch.Enum("transducer", {"current_transformer", "loop_4_20ma"});
    if (!ch.ok()) break;
    std::tie(a.pos, a.neg) = MuxPins(input);
    a.ct = transducer == "current_transformer";
    if (a.ct) {
      a.turns_ratio = ch.Number("turns_ratio", board::Range::Above(0));
      a.burden_ohm = ch.Number("burden_ohm", board::Range::Above(0));
      a.mains_hz = ch.NumberOr("mains_hz", a.mains_hz, board::Range::Between(45, 65));
    } else {
      a.shunt_ohm = ch.Number("shunt_ohm", board::Range::Above(0));
      const std::vector<double> range = ch.Numbers("range", 2, 2);
      if (range.size() == 2) {
        a.range_min = range[0];
        a.range_max = range[1];
        if (range[0] == range[1]) ch.Fail("range", "must not be empty");
      }
    }
    part->channels.push_back(std::move(a));
  }
  if (!p.ok()) return p.Finish();

  // One transducer per pin: a signal pin is wired once; a reference pin may be
  // shared by channels that want the same level (the CT bias, or GND).
  enum class Role : uint8_t { kFree, kSignal, kBias, kGround };
  std::array<Role, 4> roles{};
  std::array<const std::string*, 4> owner{};
  for (const AdcChannel& a : part->channels) {
    const auto clash = [&](int pin) {
      return InvalidArgument(Where(d) + ": channel " + a.name + " wires AIN" + std::to_string(pin) +
                             ", already wired by channel " + *owner[static_cast<size_t>(pin)] +
                             " (the simulator puts one transducer on a pin)");
    };
    const auto pos = static_cast<size_t>(a.pos);
    if (roles[pos] != Role::kFree) return clash(a.pos);
    roles[pos] = Role::kSignal;
    owner[pos] = &a.name;
    if (a.neg < 0) continue;
    const auto neg = static_cast<size_t>(a.neg);
    const Role want = a.ct ? Role::kBias : Role::kGround;
    if (roles[neg] != Role::kFree && roles[neg] != want) return clash(a.neg);
    roles[neg] = want;
    owner[neg] = &a.name;
  }

  part->model = std::make_unique<Ads1115Model>(clock_);
  for (int pin = 0; pin < 4; ++pin) {
    const PinDrive* drive = &part->pins[static_cast<size_t>(pin)];
    Status s = part->model->SetInput(
        pin, [drive](double t) { return drive->dc + drive->amplitude * std::sin(drive->omega * t); });
    if (!s.ok()) return s.WithContext(Where(d));
  }
  EF_RETURN_IF_ERROR(buses_.I2cSim(d.bus).Attach(*d.address, *part->model).WithContext(Where(d)));
  ads1115_.push_back(std::move(part));
  return Status::Ok();
}

Status SimWorld::AddLoopDetector(const board::Device& d) {
  board::ParamReader p = board::ReadParams(board_, d);
  LoopGeometry g;
  g.spacing_m = p.NumberOr("spacing_m", g.spacing_m, board::Range::Above(0));
  g.loop_length_m = p.NumberOr("loop_length_m", g.loop_length_m, board::Range::Above(0));
  if (!p.ok()) return p.Finish();
  const auto up = d.lines.find("upstream");
  const auto down = d.lines.find("downstream");
  if (up == d.lines.end() || down == d.lines.end()) {
    return InvalidArgument(Where(d) + ": a loop pair needs lines \"upstream\" and \"downstream\"");
  }
  auto part = std::make_unique<LoopPart>();
  part->device = &d;
  part->model =
      std::make_unique<LoopDetectorModel>(buses_.GpioSim(d.bus, up->second), buses_.GpioSim(d.bus, down->second), g);
  part->lane = static_cast<int>(loops_.size());  // lanes beyond the road's are cleared in BuildPhysics()
  loops_.push_back(std::move(part));
  return Status::Ok();
}

Status SimWorld::BuildPhysics() {
  const std::string where = board_.source.empty() ? board_.name : board_.source;
  if (board_.kind == "factory") {
    auto m = MachineModel::Create(options_.seed, options_.machine);
    if (!m.ok()) return m.status().WithContext(where + ": simulated machine");
    machine_.emplace(*m);
    return Status::Ok();
  }
  environment_.emplace(physics::Mix(options_.seed ^ kEnvironmentStream));
  if (board_.kind != "traffic") return Status::Ok();
  RoadSpec spec = options_.road;
  if (!loops_.empty()) spec.loop_length_m = loops_.front()->model->geometry().loop_length_m;
  auto r = RoadSegmentModel::Create(options_.seed, spec);
  if (!r.ok()) return r.status().WithContext(where + ": simulated road");
  road_.emplace(*r);
  for (auto& l : loops_) {
    if (l->lane >= road_->spec().lanes) l->lane = -1;
  }
  return Status::Ok();
}

double SimWorld::PhysicsSeconds(Micros now) const {
  return options_.start_seconds + static_cast<double>(now.count()) * 1e-6 * options_.time_scale;
}

double SimWorld::RoadSeconds(Micros now) const {
  return options_.start_seconds + static_cast<double>(now.count()) * 1e-6;
}

Micros SimWorld::MonotonicAt(double seconds) const { return FromSeconds(seconds - options_.start_seconds); }

void SimWorld::Advance(Micros now) {
  if (now < last_now_) return;
  last_now_ = now;
  const double t = PhysicsSeconds(now);
  if (machine_) {
    AdvanceFactory(t);
  } else {
    ambient_ = environment_->At(t);
  }
  for (const auto& b : bme280_) b.model->SetAmbient(ambient_.celsius, ambient_.pascal, ambient_.rel_humidity);
  if (road_) {
    traffic_ = road_->At(RoadSeconds(now));
    AdvanceTraffic(now);
  }
}

void SimWorld::AdvanceFactory(double t) {
  machine_sample_ = machine_->At(t);
  const MachineSample& m = machine_sample_;
  ambient_ = m.ambient;
  Adxl345Model::Vibration v;
  v.gravity_g[0] = m.gravity_g.x;
  v.gravity_g[1] = m.gravity_g.y;
  v.gravity_g[2] = m.gravity_g.z;
  v.rms_g[0] = m.vibration_rms_g.x;
  v.rms_g[1] = m.vibration_rms_g.y;
  v.rms_g[2] = m.vibration_rms_g.z;
  v.frequency_hz = m.vibration_hz;
  v.noise_g = options_.adxl345_noise_g;
  for (const auto& a : adxl345_) a.model->SetVibration(v);
  SetAdcKnobs(m.motor_current_a, m.outlet_bar, true);
}

void SimWorld::SetAdcKnobs(double current_a, double pressure, bool have_pressure) {
  for (const auto& part : ads1115_) {
    for (const AdcChannel& a : part->channels) {
      PinDrive& pos = part->pins[static_cast<size_t>(a.pos)];
      if (a.ct) {
        // Secondary current I / N through the burden; AIN1 holds the bias
        // (analog_inputs.h "Wiring assumed"). Single-ended: the sine still
        // rides on the bias, which is what the pin carries.
        pos = {kCtBiasVolts, kSqrt2 * current_a / a.turns_ratio * a.burden_ohm, 2 * kPi * a.mains_hz};
        if (a.neg >= 0) part->pins[static_cast<size_t>(a.neg)] = {kCtBiasVolts, 0, 0};
        continue;
      }
      // 4-20 mA proportional to the process value over the range (clamped:
      // a transmitter saturates at its range ends).
      const double lo = std::min(a.range_min, a.range_max);
      const double hi = std::max(a.range_min, a.range_max);
      const double value = have_pressure ? std::clamp(pressure, lo, hi) : a.range_min;
      const double milliamps = 4.0 + 16.0 * (value - a.range_min) / (a.range_max - a.range_min);
      pos = {milliamps * 1e-3 * a.shunt_ohm, 0, 0};
      if (a.neg >= 0) part->pins[static_cast<size_t>(a.neg)] = {0, 0, 0};
    }
  }
}

void SimWorld::AdvanceTraffic(Micros now) {
  if (loops_.empty() && radars_.empty()) return;
  const double floor = RoadSeconds(now - kMaxCatchUp);
  if (fetched_until_ < floor) fetched_until_ = floor;  // a long gap: do not generate what nobody can use
  Fetch(now + kFetchAhead);
  FeedLoops(now);
  FeedRadars(now);
  Trim();
}

void SimWorld::Fetch(Micros until) {
  const double target = RoadSeconds(until);
  const double slot = road_->spec().slot_s;
  std::array<bool, 256> watched{};
  if (!radars_.empty()) watched[0] = true;
  for (const auto& l : loops_) {
    if (l->lane >= 0) watched[static_cast<size_t>(l->lane)] = true;
  }
  while (fetched_until_ < target) {
    // Whole slots: Vehicles() generates every vehicle of the slots it touches.
    const double t1 = (std::floor(fetched_until_ / slot) + 1) * slot;
    scratch_.clear();
    road_->Vehicles(fetched_until_, t1, scratch_);
    for (const Vehicle& v : scratch_) {
      if (!watched[v.lane]) continue;
      arrivals_.push_back({MonotonicAt(v.at_s), v.speed_mps, v.length_m, v.lane});
    }
    fetched_until_ = t1;
  }
}

const SimWorld::Arrival* SimWorld::NextFor(int lane, uint64_t& cursor) const {
  if (cursor < arrivals_base_) cursor = arrivals_base_;
  while (cursor - arrivals_base_ < arrivals_.size()) {
    const Arrival& a = arrivals_[static_cast<size_t>(cursor - arrivals_base_)];  // < arrivals_.size()
    if (a.lane == lane) return &a;
    ++cursor;
  }
  return nullptr;
}

void SimWorld::FeedLoops(Micros now) {
  const Micros horizon = now + kLoopLookahead;
  for (auto& l : loops_) {
    if (l->lane < 0) continue;
    const LoopGeometry& g = l->model->geometry();
    while (const Arrival* a = NextFor(l->lane, l->cursor)) {
      if (a->at >= horizon) break;
      ++l->cursor;
      if (a->at < now - kMaxCatchUp) {
        ++counters_.skipped;
        continue;
      }
      if (!l->model->AddVehicle(a->at, a->speed_mps, a->length_m).ok()) {
        ++counters_.rejected;
        continue;
      }
      ++counters_.loop_vehicles;
      const Micros presence = FromSeconds((a->length_m + g.loop_length_m) / a->speed_mps);
      l->up_end = std::max(l->up_end, a->at + presence);
      l->down_end = std::max(l->down_end, a->at + FromSeconds(g.spacing_m / a->speed_mps) + presence);
      l->open = true;
    }
    // Every later vehicle reaches both loops at or after `horizon`: none can
    // merge into pulses that end before it, so their ends can be scheduled
    // (with a margin for the model's own rounding).
    const Micros margin{1000};
    if (l->open && l->up_end + margin <= horizon && l->down_end + margin <= horizon) {
      if (l->model->Flush().ok()) l->open = false;
    }
  }
}

void SimWorld::FeedRadars(Micros now) {
  for (auto& r : radars_) FeedRadar(*r, now);
}

void SimWorld::FeedRadar(RadarPart& r, Micros now) {
  const Micros limit = now + kRadarLookahead;
  const Micros step = Ops243ReportInterval(r.model->sample_rate());
  for (;;) {
    if (!r.in_beam) {
      const Arrival* a = NextFor(0, r.cursor);
      if (a == nullptr) return;
      const Micros enters = a->at - FromSeconds(options_.radar_beam_m / a->speed_mps);
      if (enters >= limit) return;
      ++r.cursor;
      const Micros leaves = a->at + FromSeconds(a->length_m / a->speed_mps);
      if (leaves < now - kMaxCatchUp) {
        ++counters_.skipped;
        continue;
      }
      ++counters_.radar_vehicles;
      // One report per FFT buffer: a vehicle entering while the previous one
      // is still reported shows up from the next buffer on.
      r.in_beam = true;
      r.next = std::max(enters, r.last_fed + step);
      r.leaves = leaves;
      r.speed_mps = a->speed_mps;
    }
    if (r.next > r.leaves) {
      r.in_beam = false;
      continue;
    }
    if (r.next >= limit) return;
    Micros at = r.next;
    Status s = r.model->AddDetection(at, r.speed_mps, /*inbound=*/true);
    if (!s.ok()) {
      // An answer to a command went on the wire after our last report; the
      // module answers at most kAnswerLatency after the command, and commands
      // come before now.
      at = std::max(at, clock_.Monotonic() + Ops243Model::kAnswerLatency);
      s = r.model->AddDetection(at, r.speed_mps, true);
    }
    if (s.ok()) {
      r.last_fed = at;
    } else {
      ++counters_.rejected;
    }
    r.next = at + step;
  }
}

void SimWorld::Trim() {
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  for (const auto& l : loops_) {
    if (l->lane >= 0) keep = std::min(keep, l->cursor);
  }
  for (const auto& r : radars_) keep = std::min(keep, r->cursor);
  while (!arrivals_.empty() && arrivals_base_ < keep) {
    arrivals_.pop_front();
    ++arrivals_base_;
  }
}

Status SimWorld::InjectFault(const std::string& device_name, const FaultSpec& fault) {
  const board::Device* d = board_.FindDevice(device_name);
  if (d == nullptr) {
    std::string known;
    for (const board::Device& x : board_.devices) known += (known.empty() ? "" : ", ") + x.name;
    return NotFound((board_.source.empty() ? board_.name : board_.source) + ": no device \"" + device_name +
                    "\" (devices: " + known + ")");
  }
  const board::Bus& bus = board_.BusOf(*d);
  const bool clear = fault.kind == FaultKind::kNone;
  switch (bus.type) {
    case board::BusType::kI2c:
      if (clear) {
        buses_.I2cSim(bus.name).ClearFault(*d->address);
      } else {
        buses_.I2cSim(bus.name).InjectFault(*d->address, fault);
      }
      break;
    case board::BusType::kSpi:
      if (clear) {
        buses_.SpiSim(bus.name).ClearFault(*d->cs);
      } else {
        buses_.SpiSim(bus.name).InjectFault(*d->cs, fault);
      }
      break;
    case board::BusType::kGpio: {
      FaultSpec line_fault = fault;
      for (const auto& [role, offset] : d->lines) {
        SimGpioLine& line = buses_.GpioSim(bus.name, offset);
        if (clear) {
          line.ClearFault();
        } else {
          line.InjectFault(line_fault);
        }
        ++line_fault.seed;  // independent noise per line
      }
      break;
    }
    case board::BusType::kUart:
      if (clear) {
        buses_.UartSim(bus.name).ClearFault();
      } else {
        buses_.UartSim(bus.name).InjectFault(fault);
      }
      break;
  }
  return Status::Ok();
}

Status SimWorld::ClearFault(const std::string& device_name) { return InjectFault(device_name, FaultSpec{}); }

namespace {

template <typename Parts>
auto FindPart(const Parts& parts, std::string_view name) -> decltype(&*parts.begin()) {
  for (const auto& p : parts) {
    if (p.device->name == name) return &p;
  }
  return nullptr;
}

template <typename Parts>
auto FindPtr(const Parts& parts, std::string_view name) -> decltype(parts.begin()->get()) {
  for (const auto& p : parts) {
    if (p->device->name == name) return p.get();
  }
  return nullptr;
}

}  // namespace

Bme280Model* SimWorld::bme280(std::string_view device) const {
  auto* p = FindPart(bme280_, device);
  return p ? p->model.get() : nullptr;
}

Adxl345Model* SimWorld::adxl345(std::string_view device) const {
  auto* p = FindPart(adxl345_, device);
  return p ? p->model.get() : nullptr;
}

Ads1115Model* SimWorld::ads1115(std::string_view device) const {
  auto* p = FindPtr(ads1115_, device);
  return p ? p->model.get() : nullptr;
}

LoopDetectorModel* SimWorld::loop_detector(std::string_view device) const {
  auto* p = FindPtr(loops_, device);
  return p ? p->model.get() : nullptr;
}

Ops243Model* SimWorld::ops243(std::string_view device) const {
  auto* p = FindPtr(radars_, device);
  return p ? p->model.get() : nullptr;
}

int SimWorld::loop_lane(std::string_view device) const {
  auto* p = FindPtr(loops_, device);
  return p ? p->lane : -1;
}

}  // namespace edgeforge::sim
