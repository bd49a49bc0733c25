#include "sim/node/ops243_part_model.h"

#include <algorithm>
#include <utility>

namespace edgeforge::sim {

const PartModelEntry& Ops243PartModel() {
  static const PartModelEntry kEntry = {"omnipresense,ops243-a", Ops243Part::Attach};
  return kEntry;
}

Ops243Part::Ops243Part(SimUart& uart, const Clock& clock, double beam_m, VehicleFeed& feed)
    : model_(uart, clock), clock_(clock), beam_m_(beam_m), reader_(feed.AddReader(0)) {}

Result<std::unique_ptr<PartModel>> Ops243Part::Attach(ModelContext& c) {
  return std::unique_ptr<PartModel>(
      std::make_unique<Ops243Part>(c.buses.UartSim(c.device.bus), c.clock, c.options.radar_beam_m, c.vehicles));
}

void Ops243Part::Measure(const Stimulus& s) {
  if (s.vehicles == nullptr) return;
  VehicleFeed& feed = *s.vehicles;
  TrafficCounters& counters = feed.counters();
  const Micros limit = s.now + kLookahead;
  const Micros step = Ops243ReportInterval(model_.sample_rate());
  for (;;) {
    if (!in_beam_) {
      const Arrival* a = feed.Peek(reader_);
      if (a == nullptr) return;
      const Micros enters = a->at - FromSeconds(beam_m_ / a->speed_mps);
      if (enters >= limit) return;
      feed.Pop(reader_);
      const Micros leaves = a->at + FromSeconds(a->length_m / a->speed_mps);
      if (leaves < s.now - VehicleFeed::kMaxCatchUp) {
        ++counters.skipped;
        continue;
      }
      ++counters.radar_vehicles;
      // One report per FFT buffer: a vehicle entering while the previous one
      // is still reported shows up from the next buffer on.
      in_beam_ = true;
      next_ = std::max(enters, last_fed_ + step);
      leaves_ = leaves;
      speed_mps_ = a->speed_mps;
    }
    if (next_ > leaves_) {
      in_beam_ = false;
      continue;
    }
    if (next_ >= limit) return;
    Micros at = next_;
    Status st = model_.AddDetection(at, speed_mps_, /*inbound=*/true);
    if (!st.ok()) {
      // An answer to a command went on the wire after our last report; the
      // module answers at most kAnswerLatency after the command, and commands
      // come before now.
      at = std::max(at, clock_.Monotonic() + Ops243Model::kAnswerLatency);
      st = model_.AddDetection(at, speed_mps_, true);
    }
    if (st.ok()) {
      last_fed_ = at;
    } else {
      ++counters.rejected;
    }
    next_ = at + step;
  }
}

}  // namespace edgeforge::sim
