// Fuzz target: cli::ParseDeviceFile (/etc/edgeforge/device.json as a person
// wrote it, or a broken one).
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/device_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto f = edgeforge::cli::ParseDeviceFile(in, "fuzz.json");
  if (!f.ok()) {
    // Every error names the file.
    if (f.status().message().rfind("fuzz.json", 0) != 0) __builtin_trap();
    return 0;
  }
  // What parses is within the documented ranges.
  if (f->queue_bytes && (*f->queue_bytes < 4096 || *f->queue_bytes > edgeforge::cli::MaxQueueBytes())) __builtin_trap();
  if (f->time_scale && (*f->time_scale < 0.001 || *f->time_scale > 10000)) __builtin_trap();
  if (f->thing && f->thing->empty()) __builtin_trap();
  edgeforge::cli::DeviceOptions o;
  edgeforge::cli::ApplyDeviceFile(
      *f, [](const std::string&) { return false; }, o);
  return 0;
}
