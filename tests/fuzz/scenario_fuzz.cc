// Fuzz target: sim::ParseScenario (a load test a person wrote, or a broken one).
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/scenario/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = edgeforge::sim::ParseScenario(in, "fuzz.json", "");
  if (!s.ok()) {
    // Every error names the source.
    if (s.status().message().rfind("fuzz.json", 0) != 0) __builtin_trap();
    return 0;
  }
  // What parses is a fleet the engine accepts as far as options go.
  edgeforge::sim::FleetOptions o;
  edgeforge::sim::ApplyScenario(*s, o);
  if (s->groups.empty() || o.devices != s->devices()) __builtin_trap();
  if (!edgeforge::sim::ValidateFleetOptions(o).ok()) __builtin_trap();
  for (const auto& g : s->groups) {
    if (edgeforge::sim::GroupThingName(g, g.count).empty()) __builtin_trap();
  }
  return 0;
}
