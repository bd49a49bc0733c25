// Command-line parsing for edgeforge and edgeforge-device, on CLI11 (the CLI
// edge: CLI11's exceptions are caught here and become a Status).
//
// Conventions every command shares: `--opt value` and `--opt=value`; an
// option given twice is an error unless declared repeatable; unknown options
// and stray arguments are named; typed options (durations, whole numbers,
// broker URIs) are checked while parsing and their errors name the option.
// Help texts are the commands' own (kUsage), printed for -h / --help.
#pragma once

#include <chrono>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "hal/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace edgeforge::cli {

/// The usage error exit status of every command.
inline constexpr int kExitUsage = 2;

class CommandLine {
 public:
  /// `program` names the command in errors and in the help hint
  /// ("edgeforge sim" -> "(see edgeforge sim --help)").
  explicit CommandLine(std::string program);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Options. Each leaves `out` unchanged when absent; `out` must outlive Parse().
  // A value may not be empty nor start with "--" (that is a missing value).
  void String(const std::string& name, std::string& out);
  /// Repeatable: every occurrence, in order (replaces `out` if given at all).
  void Strings(const std::string& name, std::vector<std::string>& out);
  /// A positive duration ("30", "30s", "500ms", "2m", "1h"; bare numbers are
  /// seconds). 0 is refused; `zero_hint` says what to do instead (e.g. how to
  /// run until a signal).
  void Duration(const std::string& name, std::chrono::milliseconds& out, const std::string& zero_hint);
  void Int(const std::string& name, long long min, long long max, long long& out);
  void Double(const std::string& name, double min, double max, double& out);
  /// A broker URI as firmware/link/broker_uri.h accepts.
  void BrokerUri(const std::string& name, std::string& out);
  /// A bare flag: `out` becomes true when given.
  void Flag(const std::string& name, bool& out);

  /// Parses `args` (without the program name). INVALID_ARGUMENT names the
  /// option or argument. After -h / --help, help() is true and the other
  /// options are not to be trusted.
  Status Parse(const std::vector<std::string>& args);
  bool help() const { return help_; }
  /// Whether `name` was given on the command line (after Parse()).
  bool Given(const std::string& name) const;

  /// Prints "<program>: <message>\n(see <program> --help)\n" to `err` and
  /// returns kExitUsage.
  int UsageError(const Status& s, std::ostream& err) const;

 private:
  Status Check() const;

  std::string program_;
  std::unique_ptr<CLI::App> app_;
  std::set<std::string> repeatable_;
  bool help_ = false;
};

/// "30", "30s", "500ms", "2m", "1h" -> milliseconds; bare numbers are seconds.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text, const std::string& option);
/// A whole number in [min, max]; the error names the option.
Result<long long> ParseInt(const std::string& text, const std::string& option, long long min, long long max);

}  // namespace edgeforge::cli
