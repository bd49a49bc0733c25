// Durable key/value files for a device (sequence counters, config, later the queue).
#pragma once

#include <map>
#include <string>

#include "hal/status.h"

namespace edgeforge {

class Storage {
 public:
  virtual ~Storage() = default;
  /// Reads the whole record `name`; NOT_FOUND if it was never written.
  Result<std::string> Read(const std::string& name) { return DoRead(name); }
  /// Replaces `name` atomically: after a crash either the old or the new
  /// content is there, never a mix, and the new content is durable on return.
  Status WriteAtomic(const std::string& name, const std::string& data) { return DoWriteAtomic(name, data); }
  /// Replaces `name` in place, cheaply (no fsync): the new content survives a
  /// process crash (kill -9), not a power cut, after which the record may hold
  /// the old content, a mix, or garbage. Callers checksum what they write and
  /// keep the same length per write. Do not mix with WriteAtomic on one name.
  Status Overwrite(const std::string& name, const std::string& data) { return DoOverwrite(name, data); }
  /// What the last Overwrite of `name` wrote, when it is known to be exactly
  /// that: written since the machine last started (a process crash keeps the
  /// page cache; a power cut or reboot may leave a stale but well-formed
  /// record, so then FAILED_PRECONDITION). NOT_FOUND if never written.
  Result<std::string> ReadOverwritten(const std::string& name) { return DoReadOverwritten(name); }

 private:
  virtual Result<std::string> DoRead(const std::string& name) = 0;
  virtual Status DoWriteAtomic(const std::string& name, const std::string& data) = 0;
  virtual Status DoOverwrite(const std::string& name, const std::string& data) = 0;
  virtual Result<std::string> DoReadOverwritten(const std::string& name) = 0;
};

/// Files in one directory: write to a temp file, fsync, rename, fsync the directory.
/// Overwrite keeps the record's file open and pwrite(2)s it at offset 0: one
/// syscall per call, into the page cache (hence kill -9 safe, not power safe).
/// It prefixes the content with the kernel's boot id
/// (/proc/sys/kernel/random/boot_id, new at every OS start) so that
/// ReadOverwritten can tell a process crash from a machine restart.
class FileStorage final : public Storage {
 public:
  /// What Overwrite does with a record's descriptor. A device keeps it open:
  /// one pwrite(2) per call. A simulated fleet reopens it per call (open,
  /// pwrite, close: the same page-cache guarantee for two more syscalls),
  /// because 10,000 devices each holding one would not fit beside their
  /// sockets under a 20,000 open-file limit (issue 9).
  enum class RecordFds { kKeepOpen, kReopen };
  explicit FileStorage(std::string dir, RecordFds fds = RecordFds::kKeepOpen) : dir_(std::move(dir)), fds_(fds) {}
  ~FileStorage() override;
  FileStorage(const FileStorage&) = delete;
  FileStorage& operator=(const FileStorage&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  struct OpenRecord {
    int fd = -1;      // -1: closed (RecordFds::kReopen between calls)
    size_t size = 0;  // bytes last written
  };
  Result<std::string> DoRead(const std::string& name) override;
  Status DoWriteAtomic(const std::string& name, const std::string& data) override;
  Status DoOverwrite(const std::string& name, const std::string& data) override;
  Result<std::string> DoReadOverwritten(const std::string& name) override;
  Status WriteRecord(OpenRecord& rec, const std::string& path, const std::string& framed);
  void CloseRecord(const std::string& name);
  std::string dir_;
  RecordFds fds_;
  std::map<std::string, OpenRecord> open_;  // records Overwrite has written
  std::string host_boot_;                   // boot id + '\n', read once; empty if unknown
  bool host_boot_read_ = false;
};

/// In memory, for tests that do not care about durability (nothing outlives
/// the object, so an overwritten record is always exact).
class MemoryStorage final : public Storage {
 private:
  Result<std::string> DoRead(const std::string& name) override;
  Status DoWriteAtomic(const std::string& name, const std::string& data) override;
  Status DoOverwrite(const std::string& name, const std::string& data) override;
  Result<std::string> DoReadOverwritten(const std::string& name) override;
  std::map<std::string, std::string> files_;
};

}  // namespace edgeforge
