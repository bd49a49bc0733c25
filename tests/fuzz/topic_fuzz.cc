// Fuzz target: topic validation and parsing (topics off the wire).
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/topic.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)edgeforge::topic::ValidatePublishTopic(in);
  auto p = edgeforge::topic::ParseTelemetryTopic(in);
  if (p.ok()) {
    auto t = edgeforge::topic::TelemetryTopic(p->app, p->site, p->thing);
    if (p->type == "telemetry" && in.size() <= 256 && (!t.ok() || *t != in)) __builtin_trap();
  }
  (void)edgeforge::topic::FilterMatches(in, "dt/a/b/c/telemetry");
  return 0;
}
