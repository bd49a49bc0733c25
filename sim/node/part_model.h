// A sensor part in the simulator: its register-level model (sim/models/)
// attached at the board device's place on the SimBuses, and the generic knob
// through which the node's physics sets what the chip measures (Measure()).
// One entry per part, under the part's line in firmware/drivers/parts.h:
// sim::<Name>PartModel() in sim/node/<part>_part_model.cc, listed by
// part_models.cc. SimWorld builds and drives every part through these entries
// (its typed accessors, bme280() and the like, only look parts up by type).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "firmware/board/board.h"
#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/status.h"
#include "sim/node/sim_buses.h"
#include "sim/node/vehicle_feed.h"
#include "sim/node/world_options.h"
#include "sim/physics/environment.h"
#include "sim/physics/machine.h"
#include "sim/physics/road.h"

namespace edgeforge::sim {

/// What the node's physics says at one instant. A part takes what its chip
/// measures and keeps its last (or neutral) input for what is absent.
struct Stimulus {
  Micros now{0};                           // device clock, monotonic
  EnvironmentModel::Ambient ambient;       // the air around the node (factory: the machine's room)
  const MachineSample* machine = nullptr;  // factory boards: the machine
  VehicleFeed* vehicles = nullptr;         // traffic boards: the road's vehicles, fetched for `now`
};

/// What a part's model factory gets.
struct ModelContext {
  const board::Board& board;
  const board::Device& device;
  size_t index;    // the device's position on the board (seeds an independent noise stream)
  size_t ordinal;  // devices of the same part before it on the board (the k-th loop pair watches lane k)
  SimBuses& buses;
  const Clock& clock;
  const WorldOptions& options;
  RoadSpec& road;         // the road the world builds after its parts; a part that fixes its geometry sets it
  VehicleFeed& vehicles;  // where a traffic part registers as a reader
  std::string where;      // "boards/x.json: devices[1] (vib0)", to prefix errors
};

class PartModel {
 public:
  virtual ~PartModel() = default;
  /// Sets what the chip measures from the physics at `s.now`; on every
  /// SimWorld::Advance(), once the physics is there.
  virtual void Measure(const Stimulus& s) = 0;
};

struct PartModelEntry {
  std::string_view compatible;  // the firmware part's compatible string
  /// Makes the model and attaches it at the device's place. Errors are
  /// prefixed with context.where (ALREADY_EXISTS: the place is taken).
  Result<std::unique_ptr<PartModel>> (*attach)(ModelContext& context) = nullptr;
};

/// The model entry for `compatible`, or nullptr.
const PartModelEntry* FindPartModel(std::string_view compatible);

/// A register model's place on an I2C address or SPI chip select, released
/// when destroyed (declare it after the model it holds, so it goes first).
class BusPlacement {
 public:
  BusPlacement() = default;
  BusPlacement(const BusPlacement&) = delete;
  BusPlacement& operator=(const BusPlacement&) = delete;
  ~BusPlacement();
  /// At the device's address on its i2c bus, or its chip select on its spi bus.
  Status Attach(const ModelContext& c, I2cPeripheral& model);
  Status Attach(const ModelContext& c, SpiPeripheral& model);

 private:
  SimI2cBus* i2c_ = nullptr;
  SimSpiBus* spi_ = nullptr;
  uint8_t at_ = 0;
};

}  // namespace edgeforge::sim
