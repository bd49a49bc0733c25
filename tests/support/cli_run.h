// Test support: run the project's binaries as a user does (real processes),
// capturing stdout and stderr together.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace edgeforge::testing_support {

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  bool Has(const std::string& s) const { return output.find(s) != std::string::npos; }
};

/// Runs `<build dir>/<binary> <args>` through the shell and waits for it.
inline CliRun RunBinary(const std::string& binary, const std::string& args) {
  const std::string cmd = std::string(EDGEFORGE_BIN_DIR) + "/" + binary + " " + args + " 2>&1";
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

}  // namespace edgeforge::testing_support
