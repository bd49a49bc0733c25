// Fuzz target: alarm message parser (bytes off the wire, after the signature check).
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/telemetry.h"

namespace telemetry = edgeforge::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = telemetry::ParseEnvelope(in);
  auto a = telemetry::ParseAlarm(in);
  if (a.ok()) {
    if (!e.ok() || e->type != telemetry::MessageType::kAlarm || e->seq != a->seq || e->dev != a->dev) __builtin_trap();
    if (telemetry::Parse(in).ok()) __builtin_trap();  // an alarm is never telemetry
    const std::string bytes = telemetry::Serialize(*a);
    auto again = telemetry::ParseAlarm(bytes);
    if (!again.ok() || telemetry::Serialize(*again) != bytes) __builtin_trap();
  }
  return 0;
}
