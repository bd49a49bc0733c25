// Append-only log file: the storage boundary under the durable outbox
// (firmware/link/outbox.h). The outbox decides what to write; a backend
// decides how it reaches a disk: hal/linux/file_append_log.h (a real file,
// fdatasync, rename) or hal/sim/sim_append_log.h (in memory, with the
// durable image kept apart from the page cache, fault injection and
// simulated power loss).
//
// A backend owns one log plus its side files (quarantine copies) and, where
// the platform has one, the lock that keeps a second writer off them.
// Not synchronized: the outbox calls it under its own mutex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge {

class AppendLog {
 public:
  virtual ~AppendLog() = default;

  /// Where the log lives, for messages (a path, or a simulated name).
  const std::string& name() const { return DoName(); }

  /// The whole log as it is now (recovery). Empty when the log does not
  /// exist yet. Errors: whatever reading failed with, naming the path.
  Result<std::string> ReadAll() { return DoReadAll(); }

  /// Appends `bytes` whole, or fails. On failure Size() tells the state:
  /// unchanged (the partial write, if any, was cut off again), or larger
  /// when a torn prefix could not be removed; the latter returns DATA_LOSS
  /// naming the byte count left. Other codes: RESOURCE_EXHAUSTED (ENOSPC,
  /// EDQUOT), UNKNOWN (EIO), PERMISSION_DENIED (EROFS), each naming the path
  /// and the errno text. The bytes reach the page cache, not the disk: see Sync.
  Status Append(std::string_view bytes) { return DoAppend(bytes); }

  /// fdatasync(2): everything appended so far is durable on OK. After a
  /// failure, a later OK does not prove that the failed bytes reached the disk
  /// (the kernel may have dropped them: PostgreSQL's "fsyncgate", 2018);
  /// only a Replace is trustworthy then.
  Status Sync() { return DoSync(); }

  /// Replaces the whole log with `content`, atomically and durably: after a
  /// crash the old log or the new one is there, never a mix, and the new one
  /// is durable on OK. On failure the old log is untouched and appends
  /// continue on it.
  Status Replace(std::string_view content) { return DoReplace(content); }

  /// Bytes in the log (the page-cache view, what ReadAll would return).
  uint64_t Size() const { return DoSize(); }

  /// Writes `content` durably to a new side file `<prefix>-<n>.bin`, n the
  /// first unused number from 1, and returns its name (a path on Linux).
  /// Used for the quarantine copies of corrupt records.
  Result<std::string> WriteSideFile(std::string_view prefix, std::string_view content) {
    return DoWriteSideFile(prefix, content);
  }

  /// A small named record beside the log (the outbox's crash-loss floor),
  /// replaced atomically and durably: after a crash the old or the new
  /// content is there, and the new one is durable on OK. Errors as Append's.
  Status ReplaceRecord(std::string_view name, std::string_view content) { return DoReplaceRecord(name, content); }
  /// The record's content; NOT_FOUND if it was never written.
  Result<std::string> ReadRecord(std::string_view name) { return DoReadRecord(name); }

 private:
  virtual const std::string& DoName() const = 0;
  virtual Result<std::string> DoReadAll() = 0;
  virtual Status DoAppend(std::string_view bytes) = 0;
  virtual Status DoSync() = 0;
  virtual Status DoReplace(std::string_view content) = 0;
  virtual uint64_t DoSize() const = 0;
  virtual Result<std::string> DoWriteSideFile(std::string_view prefix, std::string_view content) = 0;
  virtual Status DoReplaceRecord(std::string_view name, std::string_view content) = 0;
  virtual Result<std::string> DoReadRecord(std::string_view name) = 0;
};

}  // namespace edgeforge
