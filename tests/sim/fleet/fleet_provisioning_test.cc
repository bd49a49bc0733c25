// The fleet's open-file check and its local broker's persistence
// (sim/fleet/provisioning.h). Open files: the soft limit is
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
              return log.str().find("limit raised from 256") == std::string::npos ? 14 : 0;
            }),
            0);
}

TEST(FleetFileLimitTest, AHardLimitTooLowNamesWhatIsNeededAndUlimit) {
  // More than fs.nr_open (1,048,576 by default): not even root may raise the
  // hard limit that far, so the error path runs for every user.
  EXPECT_EQ(InChild([] {
              struct rlimit lim {
                128, 128
              };
              if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 10;
              std::ostringstream log;
              const Status s = RaiseFileLimit(4000000, log);
              if (s.ok()) return 11;
              const std::string m = s.message();
              if (m.find("needs about 4000000 open files, the limit is") == std::string::npos) return 12;
              return m.find("'ulimit -n 4000000'") == std::string::npos ? 13 : 0;
            }),
            0);
}

TEST(FleetFileLimitTest, TheHardLimitIsRaisedWhenThisProcessMayElseTheErrorNamesIt) {
  // This box's hard limit is 20,000 and its sandbox has no CAP_SYS_RESOURCE,
  // so even root may not raise it.
  // Both branches are checked against what the kernel allows here.
  EXPECT_EQ(InChild([] {
              struct rlimit lim {
                256, 512
              };
              if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 10;
              const bool may_raise = InChild([] {
                                       struct rlimit up {
                                         5000, 5000
                                       };
                                       return ::setrlimit(RLIMIT_NOFILE, &up) == 0 ? 0 : 1;
                                     }) == 0;
              std::ostringstream log;
              const Status s = RaiseFileLimit(5000, log);
              struct rlimit now {};
              ::getrlimit(RLIMIT_NOFILE, &now);
              if (may_raise) return s.ok() && now.rlim_cur >= 5000 ? 0 : 11;
              if (s.ok() || now.rlim_cur != 512) return 12;
              return s.message().find("needs about 5000 open files, the limit is 512") == std::string::npos ? 13 : 0;
            }),
            0);
}

TEST(FleetFileLimitTest, OnlyPerDeviceOutboxFilesCostFilesPerDevice) {
  FleetOptions o;
  o.devices = 1000;
  o.sync = link::SyncPolicy::kAlways;
  const uint64_t files = FileDescriptorsNeeded(o);
  EXPECT_GE(files, 3000u) << "socket, outbox log and lock file per device";
  for (auto shared : {link::SyncPolicy::kBatch, link::SyncPolicy::kNever}) {
    o.sync = shared;
    EXPECT_GE(FileDescriptorsNeeded(o), 1000u) << "a socket per device at least";
    // 10,000 devices must fit this box's 20,000 (FleetScaleTest measures the real count).
    EXPECT_LT(FileDescriptorsNeeded(o), 2000u);
  }
}

// The local broker's database is saved after every change only while that
// keeps up with the fleet (10,000 devices at one message per 10 s did not).
/// Devices dealt in turn to a board reporting every 10 s and one every 5 s.
Provisioned TwoBoards(int devices) {
  Provisioned p;
  p.boards.resize(2);
  p.boards[0].report_ms = 10000;
  p.boards[1].report_ms = 5000;
  p.groups = {{"slow", "site-1", 0}, {"fast", "site-1", 1}};
  for (int i = 0; i < devices; ++i) p.group_of.push_back(static_cast<uint32_t>(i % 2));
  return p;
}

TEST(FleetBrokerPersistenceTest, EveryChangeUpToTheRateLimitThenOffSayingSoUnlessChosen) {
  FleetOptions o;
  o.devices = 100;  // 50 at 0.1/s + 50 at 0.2/s
  EXPECT_NEAR(ScheduledMessageRate(o, TwoBoards(o.devices)), 15.0, 1e-9);
  std::ostringstream log;
  EXPECT_EQ(LocalBrokerPersistence(o, TwoBoards(o.devices), log), kFleetBrokerPersistence);
  EXPECT_EQ(log.str(), "");

  o.devices = 10000;  // 1,500 msg/s
  EXPECT_EQ(LocalBrokerPersistence(o, TwoBoards(o.devices), log), BrokerPersistence::kOff);
  EXPECT_NE(log.str().find("persistence off: 1500 msg/s scheduled"), std::string::npos) << log.str();

  // A schedule that kills the broker keeps the verifier's queue on disk.
  std::ostringstream fault_log;
  FleetFault kill;
  kill.name = "crash";
  kill.kind = FleetFaultKind::kBrokerRestart;
  o.faults = {kill};
  EXPECT_EQ(LocalBrokerPersistence(o, TwoBoards(o.devices), fault_log), kFleetBrokerPersistence);
  EXPECT_NE(fault_log.str().find("persistence kept for the crash fault at 1500 msg/s"), std::string::npos)
      << fault_log.str();
  o.faults.clear();

  std::ostringstream chosen_log;
  o.broker_persistence = BrokerPersistence::kEveryChange;
  EXPECT_EQ(LocalBrokerPersistence(o, TwoBoards(o.devices), chosen_log), BrokerPersistence::kEveryChange);
  EXPECT_EQ(chosen_log.str(), "");
}

}  // namespace
}  // namespace edgeforge::sim
