// Fuzz target: telemetry::Parse (bytes off the wire, after signature check).
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/telemetry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = edgeforge::telemetry::Parse(in);
  if (m.ok()) {
    // Whatever parses must serialize and parse again to the same fields.
    auto again = edgeforge::telemetry::Parse(edgeforge::telemetry::Serialize(*m));
    if (!again.ok() || again->seq != m->seq || again->dev != m->dev) __builtin_trap();
  }
  return 0;
}
