#include "firmware/linux/file_outbox.h"

#include <utility>

#include "hal/linux/file_append_log.h"

namespace edgeforge::link {

Result<std::unique_ptr<Outbox>> OpenFileOutbox(const OutboxOptions& options, const Clock& clock) {
  if (options.dir.empty()) return InvalidArgument("outbox: empty directory path");
  if (options.max_bytes == 0) return InvalidArgument("outbox '" + options.dir + "': max_bytes must be > 0");
  auto log = FileAppendLog::Open(options.dir, Outbox::kLogName, Outbox::kLockName);
  if (!log.ok()) return log.status().WithContext("outbox");
  return Outbox::Open(std::move(*log), options, clock);
}

}  // namespace edgeforge::link
