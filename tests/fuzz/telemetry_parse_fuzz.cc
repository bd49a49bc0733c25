// Fuzz target: telemetry parsers (bytes off the wire, after the signature
// check): ParseEnvelope, ParseTelemetry (v2) and Parse (v1 or v2, v1 view).
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/telemetry.h"

namespace telemetry = edgeforge::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = telemetry::ParseEnvelope(in);
  auto t = telemetry::ParseTelemetry(in);
  if (t.ok()) {
    // A parsed window is a fixpoint of serialize -> parse: nothing lost or reordered.
    if (!e.ok() || e->seq != t->seq || e->dev != t->dev) __builtin_trap();
    const std::string bytes = telemetry::Serialize(*t);
    auto again = telemetry::ParseTelemetry(bytes);
    if (!again.ok() || telemetry::Serialize(*again) != bytes) __builtin_trap();
  }
  auto m = telemetry::Parse(in);
  if (m.ok()) {
    if (!e.ok() || e->seq != m->seq || e->type != telemetry::MessageType::kTelemetry) __builtin_trap();
    // Whatever parses must serialize (as v1) and parse again to the same fields.
    auto again = telemetry::Parse(telemetry::Serialize(*m));
    if (!again.ok() || again->seq != m->seq || again->dev != m->dev || again->readings.size() != m->readings.size()) {
      __builtin_trap();
    }
  }
  return 0;
}
