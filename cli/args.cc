#include "cli/args.h"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>

namespace edgeforge::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

}  // namespace

bool Args::Help() const {
  for (const auto& a : args_) {
    if (a == "-h" || a == "--help" || a == "help") return true;
  }
  return false;
}

Result<std::optional<std::string>> Args::Value(const std::string& name) {
  const std::string eq = name + "=";
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == name) {
      if (i + 1 >= args_.size() || args_[i + 1].rfind("--", 0) == 0) {
        return InvalidArgument(name + " needs a value");
      }
      std::string v = args_[i + 1];
      args_.erase(args_.begin() + static_cast<long>(i), args_.begin() + static_cast<long>(i) + 2);
      return std::optional<std::string>(std::move(v));
    }
    if (args_[i].rfind(eq, 0) == 0) {
      std::string v = args_[i].substr(eq.size());
      args_.erase(args_.begin() + static_cast<long>(i));
      if (v.empty()) return InvalidArgument(name + " needs a value");
      return std::optional<std::string>(std::move(v));
    }
  }
  return std::optional<std::string>();
}

bool Args::Flag(const std::string& name) {
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == name) {
      args_.erase(args_.begin() + static_cast<long>(i));
      return true;
    }
  }
  return false;
}

Status Args::String(const std::string& name, std::string& out) {
  auto v = Value(name);
  if (!v.ok()) return v.status();
  if (v->has_value()) out = **v;
  return Status::Ok();
}

Status Args::Duration(const std::string& name, std::chrono::milliseconds& out) {
  auto v = Value(name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::Ok();
  auto d = ParseDuration(**v, name);
  if (!d.ok()) return d.status();
  out = *d;
  return Status::Ok();
}

Status Args::Int(const std::string& name, long long min, long long max, long long& out) {
  auto v = Value(name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::Ok();
  auto n = ParseInt(**v, name, min, max);
  if (!n.ok()) return n.status();
  out = *n;
  return Status::Ok();
}

Status Args::Strings(const std::string& name, std::vector<std::string>& out) {
  std::vector<std::string> found;
  for (;;) {
    auto v = Value(name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) break;
    found.push_back(std::move(**v));
  }
  if (!found.empty()) out = std::move(found);
  return Status::Ok();
}

Status Args::Double(const std::string& name, double min, double max, double& out) {
  auto v = Value(name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::Ok();
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod((*v)->c_str(), &end);
  if ((*v)->empty() || *end != '\0' || errno != 0 || !(d >= min && d <= max)) {
    return InvalidArgument(name + " '" + **v + "' must be a number in " + std::to_string(min) + ".." +
                           std::to_string(max));
  }
  out = d;
  return Status::Ok();
}

Status Args::Finish() const {
  if (args_.empty()) return Status::Ok();
  const std::string& a = args_.front();
  return InvalidArgument((a.rfind('-', 0) == 0 ? "unknown option '" : "unexpected argument '") + a + "'");
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

bool StopRequested() { return g_stop != 0; }

void InstallStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace edgeforge::cli
