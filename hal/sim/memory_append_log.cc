#include "hal/sim/memory_append_log.h"

namespace edgeforge {

Result<std::string> MemoryAppendLog::DoWriteSideFile(std::string_view prefix, std::string_view content) {
  // Same naming as FileAppendLog: the first unused <prefix>-<n>.bin.
  for (uint64_t n = 1;; ++n) {
    std::string file = std::string(prefix) + "-" + std::to_string(n) + ".bin";
    if (side_files_.count(file) != 0) continue;
    side_files_.emplace(file, std::string(content));
    return name_ + ":" + file;
  }
}

Result<std::string> MemoryAppendLog::DoReadRecord(std::string_view name) {
  auto it = records_.find(std::string(name));
  if (it == records_.end()) return NotFound(name_ + ": no record '" + std::string(name) + "'");
  return it->second;
}

}  // namespace edgeforge
