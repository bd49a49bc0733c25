// The log of edgeforge-device and the edgeforge tools, on spdlog: one line
// per event, "<program>: <message>", at a level (error, warn, info, debug;
// the config's log_level or --log-level keeps that level and the ones above).
//
// Under systemd (JOURNAL_STREAM set: stdout is a journald stream) each line
// starts with its sd-daemon(3) priority, "<3>" error, "<4>" warn, "<6>" info,
// "<7>" debug, which journald strips and records as the entry's PRIORITY
// (SyslogLevelPrefix=, on by default), so `journalctl -p warning` filters.
//
// Library code (firmware/link, the outbox, storage) keeps its plain
// std::function<void(const std::string&)> callbacks and never depends on
// this; the commands route those lines here (Sink()).
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "hal/status.h"

namespace edgeforge::cli::log {

enum class Level { kError, kWarn, kInfo, kDebug };

/// "error" | "warn" | "info" | "debug"; INVALID_ARGUMENT naming the allowed ones.
Result<Level> ParseLevel(const std::string& name);

/// Sends the process's log to `out` (which must outlive the log's use),
/// keeping `level` and above. `journald`: prefix each line with its
/// priority (Init's caller passes JournaldStream()). Replaces an earlier Init.
void Init(const std::string& program, std::ostream& out, Level level, bool journald);
/// Whether stdout is a journald stream (the JOURNAL_STREAM variable is set).
bool JournaldStream();

void Error(const std::string& message);
void Warn(const std::string& message);
void Info(const std::string& message);
void Debug(const std::string& message);
bool Enabled(Level level);

/// A callback for library code's log lines, logged at `level`.
std::function<void(const std::string&)> Sink(Level level);

}  // namespace edgeforge::cli::log
