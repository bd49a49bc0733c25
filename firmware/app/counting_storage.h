// A Storage decorator that counts failed writes of the device's state files
// (the sequence lease, config.json) and logs them once per episode, so a
// full or failing disk is never silent there either (issue 8). Reads pass
// through uncounted: a failed read at boot is reported by its caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "hal/storage.h"

namespace edgeforge::app {

class CountingStorage final : public Storage {
 public:
  using LogFn = std::function<void(const std::string&)>;
  explicit CountingStorage(Storage& inner, LogFn log = {}) : inner_(inner), log_(std::move(log)) {}

  /// Failed WriteAtomic and Overwrite calls since construction (any thread may read it).
  uint64_t errors() const { return errors_.load(); }
  void set_log(LogFn log) { log_ = std::move(log); }

 private:
  Result<std::string> DoRead(const std::string& name) override { return inner_.Read(name); }
  Status DoWriteAtomic(const std::string& name, const std::string& data) override {
    return Counted(name, inner_.WriteAtomic(name, data));
  }
  Status DoOverwrite(const std::string& name, const std::string& data) override {
    return Counted(name, inner_.Overwrite(name, data));
  }
  Result<std::string> DoReadOverwritten(const std::string& name) override { return inner_.ReadOverwritten(name); }
  /// Counts a failed write and logs the first and the last of an episode.
  Status Counted(const std::string& name, Status st);

  Storage& inner_;
  LogFn log_;
  std::atomic<uint64_t> errors_{0};
  bool failing_ = false;  // in a failure episode (writes run on the device thread)
  uint64_t episode_failures_ = 0;
};

}  // namespace edgeforge::app
