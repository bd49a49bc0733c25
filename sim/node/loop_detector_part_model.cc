#include "sim/node/loop_detector_part_model.h"

#include <algorithm>
#include <utility>

#include "firmware/drivers/loop_detector/loop_detector_part.h"

namespace edgeforge::sim {

const PartModelEntry& LoopDetectorPartModel() {
  static const PartModelEntry kEntry = {"generic,dual-loop-detector", LoopDetectorPart::Attach};
  return kEntry;
}

LoopDetectorPart::LoopDetectorPart(SimGpioLine& upstream, SimGpioLine& downstream, LoopGeometry geometry,
                                   VehicleFeed& feed, int lane)
    : model_(upstream, downstream, geometry), feed_(feed), reader_(feed.AddReader(lane)) {}

Result<std::unique_ptr<PartModel>> LoopDetectorPart::Attach(ModelContext& c) {
  auto config = app::ParseLoopDetectorParams(c.board, c.device);
  if (!config.ok()) return config.status();
  const auto up = c.device.lines.find("upstream");
  const auto down = c.device.lines.find("downstream");
  if (up == c.device.lines.end() || down == c.device.lines.end()) {
    return InvalidArgument(c.where + ": a loop pair needs lines \"upstream\" and \"downstream\"");
  }
  LoopGeometry g;
  g.spacing_m = config->spacing_m;
  g.loop_length_m = config->loop_length_m;
  if (c.ordinal == 0) c.road.loop_length_m = g.loop_length_m;
  return std::unique_ptr<PartModel>(std::make_unique<LoopDetectorPart>(c.buses.GpioSim(c.device.bus, up->second),
                                                                       c.buses.GpioSim(c.device.bus, down->second), g,
                                                                       c.vehicles, static_cast<int>(c.ordinal)));
}

void LoopDetectorPart::Measure(const Stimulus& s) {
  if (s.vehicles == nullptr || lane() < 0) return;
  VehicleFeed& feed = *s.vehicles;
  TrafficCounters& counters = feed.counters();
  const Micros horizon = s.now + kLookahead;
  const LoopGeometry& g = model_.geometry();
  while (const Arrival* a = feed.Peek(reader_)) {
    if (a->at >= horizon) break;
    feed.Pop(reader_);
    if (a->at < s.now - VehicleFeed::kMaxCatchUp) {
      ++counters.skipped;
      continue;
    }
    if (!model_.AddVehicle(a->at, a->speed_mps, a->length_m).ok()) {
      ++counters.rejected;
      continue;
    }
    ++counters.loop_vehicles;
    const Micros presence = FromSeconds((a->length_m + g.loop_length_m) / a->speed_mps);
    up_end_ = std::max(up_end_, a->at + presence);
    down_end_ = std::max(down_end_, a->at + FromSeconds(g.spacing_m / a->speed_mps) + presence);
    open_ = true;
  }
  // Every later vehicle reaches both loops at or after `horizon`: none can
  // merge into pulses that end before it, so their ends can be scheduled
  // (with a margin for the model's own rounding).
  const Micros margin{1000};
  if (open_ && up_end_ + margin <= horizon && down_end_ + margin <= horizon) {
    if (model_.Flush().ok()) open_ = false;
  }
}

}  // namespace edgeforge::sim
