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
  Status WriteAtomic(const std::string& name, const std::string& data) {
    return DoWriteAtomic(name, data);
  }

 private:
  virtual Result<std::string> DoRead(const std::string& name) = 0;
  virtual Status DoWriteAtomic(const std::string& name, const std::string& data) = 0;
};

/// Files in one directory: write to a temp file, fsync, rename, fsync the directory.
class FileStorage final : public Storage {
 public:
  explicit FileStorage(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

 private:
  Result<std::string> DoRead(const std::string& name) override;
  Status DoWriteAtomic(const std::string& name, const std::string& data) override;
  std::string dir_;
};

/// In memory, for tests that do not care about durability.
class MemoryStorage final : public Storage {
 private:
  Result<std::string> DoRead(const std::string& name) override;
  Status DoWriteAtomic(const std::string& name, const std::string& data) override;
  std::map<std::string, std::string> files_;
};

}  // namespace edgeforge
