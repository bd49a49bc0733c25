// The BME280 in the simulator (sim/node/part_model.h): a Bme280Model at the
// device's address, measuring the ambient air.
#pragma once

#include <memory>

#include "sim/models/bme280_model.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

const PartModelEntry& Bme280PartModel();

class Bme280Part final : public PartModel {
 public:
  static Result<std::unique_ptr<PartModel>> Attach(ModelContext& c);
  Bme280Model& model() { return model_; }
  void Measure(const Stimulus& s) override;

 private:
  Bme280Model model_;
  BusPlacement placement_;
};

}  // namespace edgeforge::sim
