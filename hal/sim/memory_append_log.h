// AppendLog in memory for fleet devices run with `--sync never` (issue 9):
// the content lives only in this process, like a log whose writes reach the
// page cache and never the disk, so it survives nothing the process does not.
// Chosen over SimAppendLog for that role because SimAppendLog is a test
// instrument: 920 bytes of fault and power-cut state per log, a second copy
// of the whole content as the "durable image" after every Sync or Replace,
// and 8 bytes per Append until the next Sync. This one holds the content, the
// records and the side files, nothing else (sizeof 168 bytes on x86-64).
// Sync is a no-op that reports OK: with nothing durable promised, everything
// appended is as durable as it will ever be.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "hal/append_log.h"

namespace edgeforge {

class MemoryAppendLog final : public AppendLog {
 public:
  explicit MemoryAppendLog(std::string name) : name_(std::move(name)) {}

  const std::string& content() const { return content_; }
  const std::map<std::string, std::string>& side_files() const { return side_files_; }

 private:
  const std::string& DoName() const override { return name_; }
  Result<std::string> DoReadAll() override { return content_; }
  Status DoAppend(std::string_view bytes) override {
    content_.append(bytes);
    return Status::Ok();
  }
  Status DoSync() override { return Status::Ok(); }
  Status DoReplace(std::string_view content) override {
    // A fresh string: a compacted log should give the memory of the old one back.
    content_ = std::string(content);
    return Status::Ok();
  }
  uint64_t DoSize() const override { return content_.size(); }
  Result<std::string> DoWriteSideFile(std::string_view prefix, std::string_view content) override;
  Status DoReplaceRecord(std::string_view name, std::string_view content) override {
    records_[std::string(name)] = std::string(content);
    return Status::Ok();
  }
  Result<std::string> DoReadRecord(std::string_view name) override;

  const std::string name_;
  std::string content_;
  std::map<std::string, std::string> records_;
  std::map<std::string, std::string> side_files_;
};

}  // namespace edgeforge
