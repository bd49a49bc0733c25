#include "firmware/drivers/loop_detector/loop_detector_part.h"

#include <cstddef>
#include <cstdint>

#include "firmware/drivers/loop_detector/loop_detector_source.h"

namespace edgeforge::app {
namespace {

Result<BuiltPart> Build(PartContext& c) {
  auto config = ParseLoopDetectorParams(c.board, c.device);
  if (!config.ok()) return config.status();
  GpioLine* lines[2] = {nullptr, nullptr};
  const char* roles[2] = {"upstream", "downstream"};
  for (size_t i = 0; i < 2; ++i) {
    auto offset = c.device.lines.find(roles[i]);
    if (offset == c.device.lines.end()) {
      return InvalidArgument(c.board.source + ": " + c.device.path + ".lines: missing \"" + roles[i] + "\"");
    }
    // Edges are read once per sample period. A lane at capacity (~2,200
    // vehicles/h, 2 edges each) brings ~75 edges per line in a one-minute
    // count bin, far over the kernel's default buffer of 16; 1024 (the
    // kernel's cap) holds ~13 minutes of it.
    auto line = c.buses.GpioInput(c.bus, offset->second, c.device.active_low, c.device.name, 1024);
    if (!line.ok()) return c.Error(line.status());
    lines[i] = *line;
  }
  LoopDetector& detector = c.Make<LoopDetector>(*lines[0], *lines[1], c.clock, *config);
  return BuiltPart{&c.Make<LoopDetectorSource>(c.device.name, detector),
                   {"vehicle_count", "occupancy", "speed", "vehicles_short", "vehicles_medium", "vehicles_long"}};
}

}  // namespace

Result<LoopConfig> ParseLoopDetectorParams(const board::Board& board, const board::Device& device) {
  board::ParamReader p = board::ReadParams(board, device);
  LoopConfig config;
  config.name = device.name + "@" + device.bus;
  // The trap geometry has no safe default: every speed is spacing / time.
  config.spacing_m = p.Number("spacing_m", board::Range::Above(0));
  config.loop_length_m = p.Number("loop_length_m", board::Range::Above(0));
  const double max_presence_s = p.NumberOr("max_presence_s", 120, board::Range::Between(1, 3600));
  EF_RETURN_IF_ERROR(p.Finish());
  config.max_presence = Micros(static_cast<int64_t>(max_presence_s * 1e6));
  if (Status v = ValidateLoopConfig(config); !v.ok()) {
    return InvalidArgument(board.source + ": " + device.params_path + ": " + v.message());
  }
  return config;
}

const Part& LoopDetectorPart() {
  static const Part kPart = {{"generic,dual-loop-detector",
                              "two inductive loop detector outputs (presence), one lane: counts, speed, occupancy",
                              board::BusBit(board::BusType::kGpio),
                              {},
                              0,
                              -1,
                              {"upstream", "downstream"},
                              {},
                              "detector card presence outputs wired to two GPIO inputs; spacing/loop length in params"},
                             Build};
  return kPart;
}

}  // namespace edgeforge::app
