#include "sim/node/bme280_part_model.h"

#include <utility>

namespace edgeforge::sim {

const PartModelEntry& Bme280PartModel() {
  static const PartModelEntry kEntry = {"bosch,bme280", Bme280Part::Attach};
  return kEntry;
}

Result<std::unique_ptr<PartModel>> Bme280Part::Attach(ModelContext& c) {
  auto part = std::make_unique<Bme280Part>();
  EF_RETURN_IF_ERROR(part->placement_.Attach(c, part->model_));
  return std::unique_ptr<PartModel>(std::move(part));
}

void Bme280Part::Measure(const Stimulus& s) {
  model_.SetAmbient(s.ambient.celsius, s.ambient.pascal, s.ambient.rel_humidity);
}

}  // namespace edgeforge::sim
