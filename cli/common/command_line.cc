#include "cli/common/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>

#include "firmware/link/broker_uri.h"

namespace edgeforge::cli {
namespace {

// CLI11 runs option callbacks inside App::parse; a ValidationError built
// from a message keeps that message as is (CLI11_ERROR_DEF).
[[noreturn]] void Throw(const Status& s) { throw CLI::ValidationError(s.message()); }

// CLI11 takes the token after an option as its value even when it is another
// option ("--thing --check"); that is a missing value, as "--thing=" is.
void NeedValue(const std::string& name, const std::string& value) {
  if (value.empty() || value.rfind("--", 0) == 0) Throw(InvalidArgument(name + " needs a value"));
}

// "--board: 1 required TEXT missing" -> "--board needs a value".
std::string MissingValueMessage(const std::string& what) {
  const size_t colon = what.find(':');
  if (colon == std::string::npos || what.find("missing") == std::string::npos) return what;
  return what.substr(0, colon) + " needs a value";
}

}  // namespace

CommandLine::CommandLine(std::string program) : program_(std::move(program)), app_(std::make_unique<CLI::App>()) {
  app_->name(program_);
  app_->set_help_flag("-h,--help");
  // Left-over arguments are reported by Check() in our words.
  app_->allow_extras(true);
}

CommandLine::~CommandLine() = default;

void CommandLine::String(const std::string& name, std::string& out) {
  app_->add_option_function<std::string>(name,
                                         [name, &out](const std::string& v) {
                                           NeedValue(name, v);
                                           out = v;
                                         })
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::Strings(const std::string& name, std::vector<std::string>& out) {
  repeatable_.insert(name);
  app_->add_option_function<std::vector<std::string>>(name,
                                                      [name, &out](const std::vector<std::string>& v) {
                                                        for (const auto& one : v) NeedValue(name, one);
                                                        out = v;
                                                      })
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void CommandLine::Duration(const std::string& name, std::chrono::milliseconds& out, const std::string& zero_hint) {
  app_->add_option_function<std::string>(
          name,
          [name, &out, zero_hint](const std::string& v) {
            NeedValue(name, v);
            auto d = ParseDuration(v, name);
            if (!d.ok()) Throw(d.status());
            if (d->count() <= 0) {
              Throw(InvalidArgument(name + " '" + v + "' must be more than 0; " + zero_hint));
            }
            out = *d;
          })
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::Int(const std::string& name, long long min, long long max, long long& out) {
  app_->add_option_function<std::string>(name,
                                         [name, min, max, &out](const std::string& v) {
                                           NeedValue(name, v);
                                           auto n = ParseInt(v, name, min, max);
                                           if (!n.ok()) Throw(n.status());
                                           out = *n;
                                         })
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::Double(const std::string& name, double min, double max, double& out) {
  app_->add_option_function<std::string>(name,
                                         [name, min, max, &out](const std::string& v) {
                                           NeedValue(name, v);
                                           char* end = nullptr;
                                           errno = 0;
                                           const double d = std::strtod(v.c_str(), &end);
                                           if (*end != '\0' || errno != 0 || !(d >= min && d <= max)) {
                                             Throw(InvalidArgument(name + " '" + v + "' must be a number in " +
                                                                   std::to_string(min) + ".." + std::to_string(max)));
                                           }
                                           out = d;
                                         })
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::BrokerUri(const std::string& name, std::string& out) {
  app_->add_option_function<std::string>(name,
                                         [name, &out](const std::string& v) {
                                           NeedValue(name, v);
                                           auto uri = link::ParseBrokerUri(v);
                                           if (!uri.ok()) Throw(uri.status().WithContext(name));
                                           out = v;
                                         })
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::Flag(const std::string& name, bool& out) {
  app_->add_flag_callback(name, [&out] { out = true; });
}

Status CommandLine::Parse(const std::vector<std::string>& args) {
  // -h / --help anywhere wins over any other problem on the line.
  help_ = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
  if (help_) return Status::Ok();
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app_->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    help_ = true;
    return Status::Ok();
  } catch (const CLI::ArgumentMismatch& e) {
    return InvalidArgument(MissingValueMessage(e.what()));
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(e.what());
  }
  return Check();
}

Status CommandLine::Check() const {
  for (const CLI::Option* opt : app_->get_options()) {
    const std::string name = opt->get_name();
    if (opt->count() > 1 && repeatable_.count(name) == 0) {
      return InvalidArgument(name + " given twice (give it once)");
    }
  }
  const std::vector<std::string> rest = app_->remaining();
  if (rest.empty()) return Status::Ok();
  const std::string& a = rest.front();
  return InvalidArgument((a.size() > 1 && a[0] == '-' ? "unknown option '" : "unexpected argument '") + a + "'");
}

bool CommandLine::Given(const std::string& name) const {
  const CLI::Option* opt = app_->get_option_no_throw(name);
  return opt != nullptr && opt->count() > 0;
}

int CommandLine::UsageError(const Status& s, std::ostream& err) const {
  err << program_ << ": " << s.message() << "\n(see " << program_ << " --help)\n";
  return kExitUsage;
}

Result<std::chrono::milliseconds> ParseDuration(const std::string& text, const std::string& option) {
  size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  const std::string num = text.substr(0, pos);
  const std::string unit = text.substr(pos);
  char* end = nullptr;
  const double v = num.empty() ? -1 : std::strtod(num.c_str(), &end);
  double scale = -1;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  if (v < 0 || scale < 0 || end == nullptr || *end != '\0' || v * scale > 1e12) {
    return InvalidArgument(option + " '" + text + "' is not a duration (e.g. 30, 30s, 500ms, 2m, 1h)");
  }
  return std::chrono::milliseconds(static_cast<long long>(v * scale));
}

Result<long long> ParseInt(const std::string& text, const std::string& option, long long min, long long max) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
    return InvalidArgument(option + " '" + text + "' must be a whole number in " + std::to_string(min) + ".." +
                           std::to_string(max));
  }
  return v;
}

}  // namespace edgeforge::cli
