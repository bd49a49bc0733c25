#include "sim/node/adxl345_part_model.h"

#include <utility>

#include "sim/physics/random.h"

namespace edgeforge::sim {
namespace {

// Independent seed stream per device, derived from WorldOptions::seed.
constexpr uint64_t kAdxlStream = 0x61786C;  // "axl"

}  // namespace

const PartModelEntry& Adxl345PartModel() {
  static const PartModelEntry kEntry = {"adi,adxl345", Adxl345Part::Attach};
  return kEntry;
}

Adxl345Part::Adxl345Part(const Clock& clock, uint64_t seed, double noise_g) : model_(clock, seed), noise_g_(noise_g) {
  Adxl345Model::Vibration rest;  // 1 g on z, no vibration
  rest.noise_g = noise_g_;
  model_.SetVibration(rest);
}

Result<std::unique_ptr<PartModel>> Adxl345Part::Attach(ModelContext& c) {
  auto part = std::make_unique<Adxl345Part>(c.clock, physics::Mix(c.options.seed ^ (kAdxlStream + c.index)),
                                            c.options.adxl345_noise_g);
  if (c.device.cs) {
    EF_RETURN_IF_ERROR(part->placement_.Attach(c, static_cast<SpiPeripheral&>(part->model_)));
  } else {
    EF_RETURN_IF_ERROR(part->placement_.Attach(c, static_cast<I2cPeripheral&>(part->model_)));
  }
  return std::unique_ptr<PartModel>(std::move(part));
}

void Adxl345Part::Measure(const Stimulus& s) {
  if (s.machine == nullptr) return;  // no machine: stays at rest
  const MachineSample& m = *s.machine;
  Adxl345Model::Vibration v;
  v.gravity_g[0] = m.gravity_g.x;
  v.gravity_g[1] = m.gravity_g.y;
  v.gravity_g[2] = m.gravity_g.z;
  v.rms_g[0] = m.vibration_rms_g.x;
  v.rms_g[1] = m.vibration_rms_g.y;
  v.rms_g[2] = m.vibration_rms_g.z;
  v.frequency_hz = m.vibration_hz;
  v.noise_g = noise_g_;
  model_.SetVibration(v);
}

}  // namespace edgeforge::sim
