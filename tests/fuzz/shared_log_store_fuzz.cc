// Fuzz target: the SharedLogStore recovery scan (hal/linux/shared_log_store.h),
// which reads a whole fleet worker's store file at every start. When the
// first byte is odd, the rest is also wrapped into one valid frame appended
// to the input, so the scan gets past the CRC to what follows it. Checks:
// the frames lie in order inside the valid data, corrupt regions lie between
// them, the wrapped frame is found (or covered by a frame that passed its
// CRC across it), and rescanning the valid prefix finds the same frames.
#include <cstdint>
#include <string>

#include "firmware/link/outbox_format.h"
#include "hal/linux/shared_log_store.h"

namespace {

void Put(std::string& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The frame layout documented in shared_log_store.h; the same CRC-32C.
std::string Frame(uint8_t kind, const std::string& tenant, const std::string& record, const std::string& body) {
  std::string f;
  Put(f, 0x31534645u, 4);
  f.push_back(static_cast<char>(kind));
  f.push_back(0);
  Put(f, static_cast<uint32_t>(tenant.size()), 2);
  Put(f, static_cast<uint32_t>(record.size()), 2);
  Put(f, 0, 2);
  Put(f, static_cast<uint32_t>(body.size()), 4);
  const uint32_t crc = edgeforge::link::outbox_log::Crc32c(0, f + tenant + record + body);
  Put(f, crc, 4);
  return f + tenant + record + body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edgeforge::ScanStoreImage;
  using edgeforge::StoreScan;
  std::string in(reinterpret_cast<const char*>(data), size);
  if (size > 1 && (data[0] & 1) != 0) {
    const auto kind = static_cast<uint8_t>(1 + data[1] % 3);
    in += Frame(kind, "t" + std::to_string(data[1]), kind == 3 ? "floor" : "", in.substr(2, 64));
  }
  const StoreScan scan = ScanStoreImage(in);
  if (scan.valid_end > in.size()) __builtin_trap();
  uint64_t at = 0;
  size_t corrupt = 0;
  for (const auto& f : scan.frames) {
    if (corrupt < scan.corrupt.size() && scan.corrupt[corrupt].first == at) {
      at += scan.corrupt[corrupt].second;
      ++corrupt;
    }
    if (f.offset != at || f.size < 20 || f.body_offset + f.body_size != f.offset + f.size) __builtin_trap();
    if (f.tenant.empty() || (f.kind == 3) == f.record.empty()) __builtin_trap();
    at += f.size;
  }
  if (corrupt != scan.corrupt.size() || at != scan.valid_end) __builtin_trap();
  if (size > 1 && (data[0] & 1) != 0) {
    // The wrapped frame ends the valid data, read at its own offset, unless a
    // frame that starts before it is still running there. That frame passed
    // its CRC-32C over the wrapped frame's first bytes: a 2^-32 chance for a
    // real file, but libFuzzer finds it by watching the CRC comparison (the
    // first minute-long run did, tests/fuzz/corpus/shared_log_store/
    // straddling_crc_match.bin). The scan then rightly reads on from that
    // frame, as it does through any file written in order.
    bool wrapped_found = false;
    bool straddled = false;
    for (const auto& f : scan.frames) {
      wrapped_found = wrapped_found || f.offset == size;
      straddled = straddled || (f.offset < size && f.offset + f.size > size);
    }
    if (wrapped_found == straddled) __builtin_trap();  // exactly one of the two readings
    if (wrapped_found && scan.valid_end != in.size()) __builtin_trap();
  }
  const StoreScan again = ScanStoreImage(std::string_view(in).substr(0, static_cast<size_t>(scan.valid_end)));
  if (again.frames.size() != scan.frames.size() || again.valid_end != scan.valid_end) __builtin_trap();
  return 0;
}
