// The fleet's open-file check (sim/fleet/provisioning.h): the soft limit is
// raised to the hard one, and a hard limit too low for the fleet is an error
// that names the number needed and `ulimit -n`. Limits are per process and a
// hard limit cannot be raised again, so each case runs in a forked child.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "sim/fleet/provisioning.h"

namespace edgeforge::sim {
namespace {

/// Runs `body` in a child; its exit status (0: the checks held).
int InChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(FleetFileLimitTest, TheSoftLimitIsRaisedToTheHardLimit) {
  EXPECT_EQ(InChild([] {
              struct rlimit lim {};
              if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_max < 512) return 10;
              lim.rlim_cur = 256;
              if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 11;
              std::ostringstream log;
              if (!RaiseFileLimit(300, log).ok()) return 12;
              struct rlimit now {};
              ::getrlimit(RLIMIT_NOFILE, &now);
              if (now.rlim_cur != lim.rlim_max) return 13;
              return log.str().find("soft limit raised from 256") == std::string::npos ? 14 : 0;
            }),
            0);
}

TEST(FleetFileLimitTest, AHardLimitTooLowNamesWhatIsNeededAndUlimit) {
  EXPECT_EQ(InChild([] {
              struct rlimit lim {
                128, 128
              };
              if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 10;
              std::ostringstream log;
              const Status s = RaiseFileLimit(3256, log);
              if (s.ok()) return 11;
              const std::string m = s.message();
              if (m.find("needs about 3256 open files, the limit is 128") == std::string::npos) return 12;
              return m.find("'ulimit -n 3256'") == std::string::npos ? 13 : 0;
            }),
            0);
}

TEST(FleetFileLimitTest, OnlyPerDeviceOutboxFilesCostFilesPerDevice) {
  FleetOptions o;
  o.devices = 1000;
  o.sync = link::SyncPolicy::kAlways;
  const uint64_t files = FileDescriptorsNeeded(o);
  EXPECT_GE(files, 3000u) << "socket, log and lock file per device";
  for (auto shared : {link::SyncPolicy::kBatch, link::SyncPolicy::kNever}) {
    o.sync = shared;
    EXPECT_LT(FileDescriptorsNeeded(o), files);
    EXPECT_GE(FileDescriptorsNeeded(o), 1000u) << "one socket per device at least";
  }
}

}  // namespace
}  // namespace edgeforge::sim
