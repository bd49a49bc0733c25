// The outbox on a Linux file system: DIR/outbox.log behind a flock on
// DIR/outbox.lock (hal/linux/file_append_log.h). The outbox itself
// (firmware/link/outbox.h) sees only the HAL's AppendLog.
#pragma once

#include <memory>

#include "firmware/link/outbox.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::link {

/// Creates options.dir (0700) if missing, locks it (DIR/outbox.lock, so a
/// second process is refused) and opens DIR/outbox.log, then
/// Outbox::Open(log, options, clock). Errors name the directory.
Result<std::unique_ptr<Outbox>> OpenFileOutbox(const OutboxOptions& options, const Clock& clock);

}  // namespace edgeforge::link
