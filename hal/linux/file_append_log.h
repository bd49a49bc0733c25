// AppendLog on a real file (hal/append_log.h): DIR/<log> opened with
// O_APPEND, fdatasync(2), rename-based Replace with the directory fsync'd,
// and an flock(2) on DIR/<lock> held for the object's lifetime so a second
// process (or a second object) cannot interleave its records with ours.
#pragma once

#include <memory>
#include <string>

#include "hal/append_log.h"
#include "hal/status.h"

namespace edgeforge {

class FileAppendLog final : public AppendLog {
 public:
  /// Creates `dir` (0700) if missing, takes the lock on dir/`lock_name`
  /// without waiting (FAILED_PRECONDITION naming the directory when another
  /// holder has it) and opens dir/`log_name` for appending (created 0600).
  /// Errors name the path.
  static Result<std::unique_ptr<FileAppendLog>> Open(const std::string& dir, const std::string& log_name,
                                                     const std::string& lock_name);
  ~FileAppendLog() override;
  FileAppendLog(const FileAppendLog&) = delete;
  FileAppendLog& operator=(const FileAppendLog&) = delete;

  const std::string& dir() const { return dir_; }

 private:
  FileAppendLog(std::string dir, std::string path) : dir_(std::move(dir)), path_(std::move(path)) {}
  Status OpenForAppend();

  const std::string& DoName() const override { return path_; }
  Result<std::string> DoReadAll() override;
  Status DoAppend(std::string_view bytes) override;
  Status DoSync() override;
  Status DoReplace(std::string_view content) override;
  uint64_t DoSize() const override { return size_; }
  Result<std::string> DoWriteSideFile(std::string_view prefix, std::string_view content) override;
  Status DoReplaceRecord(std::string_view name, std::string_view content) override;
  Result<std::string> DoReadRecord(std::string_view name) override;

  const std::string dir_;
  const std::string path_;
  int lock_fd_ = -1;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace edgeforge
