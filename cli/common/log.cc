#include "cli/common/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>

namespace edgeforge::cli::log {
namespace {

/// "%*" in the pattern: the sd-daemon priority prefix of the line's level.
class PriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/, spdlog::memory_buf_t& dest) override {
    const char* p = "<6>";
    switch (msg.level) {
      case spdlog::level::critical:
      case spdlog::level::err:
        p = "<3>";
        break;
      case spdlog::level::warn:
        p = "<4>";
        break;
      case spdlog::level::debug:
      case spdlog::level::trace:
        p = "<7>";
        break;
      default:
        break;
    }
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

spdlog::level::level_enum ToSpd(Level l) {
  switch (l) {
    case Level::kError:
      return spdlog::level::err;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kDebug:
      return spdlog::level::debug;
  }
  return spdlog::level::info;
}

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}

/// The process's logger; before Init, one on std::cout at info.
std::shared_ptr<spdlog::logger>& Logger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

std::shared_ptr<spdlog::logger> Current() {
  std::lock_guard<std::mutex> lock(Mu());
  if (!Logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cout, /*force_flush=*/true);
    Logger() = std::make_shared<spdlog::logger>("edgeforge", sink);
    Logger()->set_pattern("edgeforge: %v");
    Logger()->set_level(spdlog::level::info);
  }
  return Logger();
}

void Log(Level level, const std::string& message) { Current()->log(ToSpd(level), "{}", message); }

}  // namespace

Result<Level> ParseLevel(const std::string& name) {
  if (name == "error") return Level::kError;
  if (name == "warn") return Level::kWarn;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  return InvalidArgument("log level '" + name + "': must be error, warn, info or debug");
}

bool JournaldStream() {
  const char* s = std::getenv("JOURNAL_STREAM");
  return s != nullptr && *s != '\0';
}

void Init(const std::string& program, std::ostream& out, Level level, bool journald) {
  // Every line is flushed: a device's log is read live (journald, a test
  // waiting for a line) and must not sit in a buffer when it is killed.
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out, /*force_flush=*/true);
  auto logger = std::make_shared<spdlog::logger>(program, sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  // The program name is literal text in the pattern: escape spdlog's '%'.
  std::string name;
  for (char c : program) name += (c == '%' ? std::string("%%") : std::string(1, c));
  formatter->add_flag<PriorityFlag>('*').set_pattern(std::string(journald ? "%*" : "") + name + ": %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(ToSpd(level));
  std::lock_guard<std::mutex> lock(Mu());
  Logger() = std::move(logger);
}

void Error(const std::string& message) { Log(Level::kError, message); }
void Warn(const std::string& message) { Log(Level::kWarn, message); }
void Info(const std::string& message) { Log(Level::kInfo, message); }
void Debug(const std::string& message) { Log(Level::kDebug, message); }
bool Enabled(Level level) { return Current()->should_log(ToSpd(level)); }

std::function<void(const std::string&)> Sink(Level level) {
  return [level](const std::string& line) { Log(level, line); };
}

}  // namespace edgeforge::cli::log
