#include "sim/node/sim_world.h"

#include <cmath>
#include <map>
#include <utility>

#include "firmware/board/param_reader.h"
#include "sim/physics/random.h"

namespace edgeforge::sim {
namespace {

// Independent seed stream derived from WorldOptions::seed.
constexpr uint64_t kEnvironmentStream = 0x656E76;  // "env"

}  // namespace

SimWorld::SimWorld(const board::Board& board, SimBuses& buses, const Clock& clock, WorldOptions options)
    : board_(board),
      buses_(buses),
      clock_(clock),
      options_(options),
      road_spec_(options.road),
      vehicles_(options.start_seconds) {}

// Each part model leaves its place on the buses as it goes.
SimWorld::~SimWorld() = default;

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
  std::map<std::string, size_t, std::less<>> seen;  // compatible -> devices of it so far
  for (size_t i = 0; i < board_.devices.size(); ++i) {
    const board::Device& d = board_.devices[i];
    const PartModelEntry* entry = FindPartModel(d.compatible);
    if (entry == nullptr) {
      return Unimplemented(Where(d) + ": no simulator model for \"" + d.compatible + "\" (sim/node/sim_world.cc)");
    }
    ModelContext context{board_, d, i, seen[d.compatible]++, buses_, clock_, options_, road_spec_, vehicles_, Where(d)};
    auto model = entry->attach(context);
    if (!model.ok()) return model.status();
    parts_.push_back({&d, std::move(*model)});
  }
  EF_RETURN_IF_ERROR(BuildPhysics());
  const Micros now = clock_.Monotonic();
  vehicles_.Start(road_ ? &*road_ : nullptr, now);
  Advance(now);
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
  auto r = RoadSegmentModel::Create(options_.seed, road_spec_);
  if (!r.ok()) return r.status().WithContext(where + ": simulated road");
  road_.emplace(*r);
  return Status::Ok();
}

double SimWorld::PhysicsSeconds(Micros now) const {
  return options_.start_seconds + static_cast<double>(now.count()) * 1e-6 * options_.time_scale;
}

double SimWorld::RoadSeconds(Micros now) const {
  return options_.start_seconds + static_cast<double>(now.count()) * 1e-6;
}

Micros SimWorld::MonotonicAt(double seconds) const { return vehicles_.MonotonicAt(seconds); }

void SimWorld::Advance(Micros now) {
  if (now < last_now_) return;
  last_now_ = now;
  const double t = PhysicsSeconds(now);
  Stimulus s;
  s.now = now;
  if (machine_) {
    machine_sample_ = machine_->At(t);
    ambient_ = machine_sample_.ambient;
    s.machine = &machine_sample_;
  } else {
    ambient_ = environment_->At(t);
  }
  s.ambient = ambient_;
  const bool feeding = road_ && vehicles_.has_readers();
  if (road_) traffic_ = road_->At(RoadSeconds(now));
  if (feeding) {
    vehicles_.Fetch(now);
    s.vehicles = &vehicles_;
  }
  for (const Placed& p : parts_) p.model->Measure(s);
  if (feeding) vehicles_.Trim();
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

PartModel* SimWorld::FindPart(std::string_view device) const {
  for (const Placed& p : parts_) {
    if (p.device->name == device) return p.model.get();
  }
  return nullptr;
}

Bme280Model* SimWorld::bme280(std::string_view device) const {
  auto* p = part<Bme280Part>(device);
  return p ? &p->model() : nullptr;
}

Adxl345Model* SimWorld::adxl345(std::string_view device) const {
  auto* p = part<Adxl345Part>(device);
  return p ? &p->model() : nullptr;
}

Ads1115Model* SimWorld::ads1115(std::string_view device) const {
  auto* p = part<Ads1115Part>(device);
  return p ? &p->model() : nullptr;
}

LoopDetectorModel* SimWorld::loop_detector(std::string_view device) const {
  auto* p = part<LoopDetectorPart>(device);
  return p ? &p->model() : nullptr;
}

Ops243Model* SimWorld::ops243(std::string_view device) const {
  auto* p = part<Ops243Part>(device);
  return p ? &p->model() : nullptr;
}

int SimWorld::loop_lane(std::string_view device) const {
  auto* p = part<LoopDetectorPart>(device);
  return p ? p->lane() : -1;
}

}  // namespace edgeforge::sim
