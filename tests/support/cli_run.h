// Test support: run the project's binaries as a user does (real processes),
// capturing stdout and stderr together.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgeforge::testing_support {

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  bool Has(const std::string& s) const { return output.find(s) != std::string::npos; }
};

/// Runs `command` through the shell (stderr with stdout) and waits for it.
inline CliRun RunShell(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Runs `<build dir>/<binary> <args>` through the shell and waits for it.
inline CliRun RunBinary(const std::string& binary, const std::string& args) {
  return RunShell(std::string(EDGEFORGE_BIN_DIR) + "/" + binary + " " + args);
}

/// Starts `<build dir>/<binary>` with `args`, sends `sig` after `after`,
/// collects its output until it exits.
inline CliRun RunBinaryInterrupted(const std::string& binary, const std::vector<std::string>& args, int sig,
                                   std::chrono::milliseconds after) {
  int fds[2];
  CliRun r;
  if (::pipe(fds) != 0) return r;
  const std::string bin = std::string(EDGEFORGE_BIN_DIR) + "/" + binary;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::this_thread::sleep_for(after);
  ::kill(pid, sig);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Polls `output()` (a background process's output so far) every 50 ms until
/// it holds `text` (true) or `limit` passes (false).
template <typename Output>
bool PollOutputFor(Output output, const std::string& text, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (output().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

/// A command for BackgroundRun: argv[0] is the program's path (or a name
/// the shell would find on PATH), e.g. {"qemu-aarch64", ".../edgeforge-device", "--check"}.
struct Command {
  std::vector<std::string> argv;
};

inline Command WithProgram(const std::string& program, const std::vector<std::string>& args) {
  Command c{{program}};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  return c;
}

/// `<build dir>/<binary> args` (or any Command) running in the background,
/// its output collected: the test sends signals when it chooses and then waits.
class BackgroundRun {
 public:
  BackgroundRun(const std::string& binary, const std::vector<std::string>& args)
      : BackgroundRun(WithProgram(std::string(EDGEFORGE_BIN_DIR) + "/" + binary, args)) {}
  explicit BackgroundRun(const Command& command) {
    int fds[2];
    if (command.argv.empty() || ::pipe(fds) != 0) return;
    std::vector<char*> argv;
    for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd_, buf, sizeof buf)) > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        output_.append(buf, static_cast<size_t>(n));
      }
    });
  }
  ~BackgroundRun() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      (void)Wait();
    }
  }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  void Signal(int sig) const { ::kill(pid_, sig); }
  /// Whether the process still runs (has not exited).
  bool Running() const {
    if (pid_ <= 0 || waited_) return false;
    siginfo_t info{};
    // WNOWAIT: look without reaping, so that Wait() still gets the status.
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  /// What it printed so far.
  std::string Output() {
    std::lock_guard<std::mutex> lock(mu_);
    return output_;
  }
  /// Polls Output() for `text` until `limit` passes.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds limit) {
    return PollOutputFor([this] { return Output(); }, text, limit);
  }
  CliRun Wait() {
    CliRun r;
    if (pid_ <= 0) return r;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    waited_ = true;
    if (reader_.joinable()) reader_.join();
    ::close(fd_);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.output = Output();
    return r;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool waited_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::string output_;
};

}  // namespace edgeforge::testing_support
