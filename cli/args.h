// Command-line parsing for the edgeforge subcommands (the CLI edge: the only
// place besides Paho's API where exceptions would be allowed; none are used).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hal/status.h"

namespace edgeforge::cli {

/// Consumes options from an argument list: `--name VALUE`, `--name=VALUE` and
/// bare `--flag`. Whatever is left when Finish() runs is an error.
class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {}

  bool Help() const;  // -h, --help or help anywhere
  /// The value of `--name`; INVALID_ARGUMENT if the option is given without one.
  Result<std::optional<std::string>> Value(const std::string& name);
  bool Flag(const std::string& name);

  // Typed options: leave `out` unchanged when the option is absent; an error
  // names the option. These are what the subcommands use.
  Status String(const std::string& name, std::string& out);
  Status Duration(const std::string& name, std::chrono::milliseconds& out);
  Status Int(const std::string& name, long long min, long long max, long long& out);
  Status Double(const std::string& name, double min, double max, double& out);
  /// Every occurrence of a repeatable option, in order (replaces `out` if any).
  Status Strings(const std::string& name, std::vector<std::string>& out);
  /// INVALID_ARGUMENT naming the first unconsumed argument.
  Status Finish() const;

 private:
  std::vector<std::string> args_;
};

/// "30", "30s", "500ms", "2m", "1h" -> milliseconds; bare numbers are seconds.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text, const std::string& option);
/// A whole number in [min, max]; the error names the option.
Result<long long> ParseInt(const std::string& text, const std::string& option, long long min, long long max);

/// SIGINT/SIGTERM set this (installed by InstallStopSignals): long-running
/// subcommands poll it to stop cleanly and still print their report.
bool StopRequested();
void InstallStopSignals();

}  // namespace edgeforge::cli
