// Fuzz target: the outbox floor file (firmware/link/crash_loss.h), read at
// every device start. The input is the file's body; a correct CRC line is
// appended half of the time so that the line parser behind the CRC check is
// reached, not only the CRC check. Whatever decodes must encode to a file
// that decodes again.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

#include "firmware/link/crash_loss.h"
#include "firmware/link/outbox_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeforge::link;
  std::string in(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1) != 0) {
    char crc[16];
    std::snprintf(crc, sizeof crc, "%08" PRIx32, outbox_log::Crc32c(0, in));
    in += std::string("crc ") + crc + "\n";
  }
  auto floor = crash_loss::DecodeFloor(in);
  if (floor.ok() && !crash_loss::DecodeFloor(crash_loss::EncodeFloor(*floor)).ok()) __builtin_trap();
  return 0;
}
