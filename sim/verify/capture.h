// Captures: what a live verifier saw, one JSON object per line
// ({"topic":..., "payload":..., "jws":...}), replayed by `verify --capture`.
//
// Reading is bounded: a line may hold at most kMaxCaptureLineBytes, read
// through a fixed buffer, so a hostile or broken file (one 200 MB line) fails
// fast, with little memory, naming its line. Writing is durable line by line:
// each line is one write(2) of the whole line with its newline on an O_APPEND
// descriptor, so a signal or a crash leaves only complete lines behind.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge::sim {

/// AWS IoT Core's payload limit (128 KiB) as JSON-escaped text in the worst
/// case (every byte a control character: "\u00XX", 6 bytes), plus 64 KiB for
/// the topic (<= 256 bytes), the JWS (~300 bytes) and the framing.
inline constexpr size_t kMaxCapturePayloadBytes = 128 * 1024;
inline constexpr size_t kMaxCaptureLineBytes = 6 * kMaxCapturePayloadBytes + 64 * 1024;

struct CaptureRecord {
  std::string topic;
  std::string payload;
  std::optional<std::string> jws;
};

/// Calls `each(line_number, line)` (1-based, without the newline) for every
/// line of `path`; stops at the first error `each` returns. Errors name the
/// path: INVALID_ARGUMENT if it is not a regular file ("is a directory"),
/// NOT_FOUND / PERMISSION_DENIED if it cannot be opened, OUT_OF_RANGE
/// "<path>:<line>: longer than N bytes" for an over-long line.
Status ForEachCaptureLine(const std::string& path,
                          const std::function<Status(size_t line_number, std::string_view line)>& each);

/// One capture line, strictly: an object with string "topic" and "payload"
/// and an optional string "jws"; a key given twice is refused (JSON would
/// keep one of them), as in board files. INVALID_ARGUMENT says what is wrong.
Result<CaptureRecord> ParseCaptureLine(std::string_view line);

/// The capture line (with its newline) for one received message.
std::string CaptureLine(const std::string& topic, const std::string& payload, const std::string* jws);

class CaptureWriter {
 public:
  /// Creates or truncates `path`. Errors name it: "is a directory"
  /// (INVALID_ARGUMENT), NOT_FOUND naming the missing directory,
  /// PERMISSION_DENIED when it exists and may not be written.
  static Result<std::unique_ptr<CaptureWriter>> Open(const std::string& path);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  /// Writes `line` (one complete line, newline included) with one write(2).
  /// Thread-safe: O_APPEND keeps concurrent lines whole.
  Status Append(std::string_view line);
  const std::string& path() const { return path_; }

 private:
  CaptureWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace edgeforge::sim
