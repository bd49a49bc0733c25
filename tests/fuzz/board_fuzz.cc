// Fuzz target: board::ParseBoard (a file a person wrote, or a broken one).
#include <cstdint>
#include <string>
#include <string_view>

#include "firmware/board/board.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto b = edgeforge::board::ParseBoard(in, "fuzz.json");
  if (!b.ok()) {
    // Every error names the source.
    if (b.status().message().rfind("fuzz.json", 0) != 0) __builtin_trap();
    return 0;
  }
  // What parses holds the invariants the node builders rely on.
  for (const auto& d : b->devices) {
    const auto* bus = b->FindBus(d.bus);
    if (bus == nullptr || !d.params.is_object()) __builtin_trap();
    if ((bus->type == edgeforge::board::BusType::kI2c) != d.address.has_value()) __builtin_trap();
    if ((bus->type == edgeforge::board::BusType::kSpi) != d.cs.has_value()) __builtin_trap();
    auto p = edgeforge::board::ReadParams(*b, d);
    (void)p.NumberOr("x", 0);
    (void)p.Objects("channels", 0);
    (void)p.Finish();
  }
  return 0;
}
