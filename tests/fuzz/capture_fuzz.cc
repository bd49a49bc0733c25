// Fuzz target: capture lines (`edgeforge verify --capture FILE`). What
// parses must write back to a line that parses to the same record.
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/verify/capture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeforge::sim;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = ParseCaptureLine(in);
  if (!r.ok()) return 0;
  std::string line = CaptureLine(r->topic, r->payload, r->jws ? &*r->jws : nullptr);
  if (line.empty() || line.back() != '\n') __builtin_trap();
  line.pop_back();
  auto again = ParseCaptureLine(line);
  if (!again.ok() || again->topic != r->topic || again->payload != r->payload || again->jws != r->jws) {
    __builtin_trap();
  }
  return 0;
}
