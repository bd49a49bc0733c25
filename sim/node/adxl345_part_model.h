// The ADXL345 in the simulator (sim/node/part_model.h): an Adxl345Model at
// the device's chip select or address, at rest (1 g on z, sensor noise)
// until a machine shakes it.
#pragma once

#include <memory>

#include "sim/models/adxl345_model.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

const PartModelEntry& Adxl345PartModel();

class Adxl345Part final : public PartModel {
 public:
  Adxl345Part(const Clock& clock, uint64_t seed, double noise_g);
  static Result<std::unique_ptr<PartModel>> Attach(ModelContext& c);
  Adxl345Model& model() { return model_; }
  void Measure(const Stimulus& s) override;

 private:
  Adxl345Model model_;
  double noise_g_;
  BusPlacement placement_;
};

}  // namespace edgeforge::sim
