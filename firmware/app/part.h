// A sensor part as the firmware knows it: one registry entry per compatible
// string, defined in the part's own folder (firmware/drivers/<part>/
// <part>_part.cc, next to its driver and source) and listed once in
// firmware/drivers/parts.h. The board parser reads the entry's bus facts, the
// node builder its factory; the simulator finds the part's model under the
// same line of the list (sim/node/part_model.h). docs/boards.md "Adding a
// part" has the steps.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firmware/app/node.h"
#include "firmware/board/board.h"
#include "firmware/board/compatible.h"
#include "firmware/pipeline/sensor_source.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::app {

/// What a part's factory needs; Make() hands ownership of every object to the node.
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

/// A built part: its source (owned by the node) and the channels it emits.
struct BuiltPart {
  pipeline::SensorSource* source = nullptr;
  std::vector<std::string> channels;
};

struct Part {
  board::Compatible facts;  // name, buses, placement: what the board parser checks
  /// Parses the device's params (errors name the board file and field), makes
  /// its driver on the bus the context hands out, and the source sampling it.
  Result<BuiltPart> (*build)(PartContext& context) = nullptr;
};

/// Every part this firmware has, sorted by compatible name.
const std::vector<const Part*>& Parts();

/// The part named `compatible`, or nullptr.
const Part* FindPart(std::string_view compatible);

}  // namespace edgeforge::app
