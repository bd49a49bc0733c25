// Issue 9's bounded fleet test: 1,000 devices for 20 s against the local
// mosquitto with mutual TLS, verifier on: every device connected inside the
// connect window, 0 lost, at least 99% of the schedule achieved, PASS.
// ctest label `scale` (not `integration`): it is the one CPU-heavy fleet run,
// which the sanitizer run leaves out.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "sim/fleet/fleet.h"
#include "sim/fleet/provisioning.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakeTempDir;

TEST(FleetScaleTest, AThousandDevicesAllConnectNothingLostScheduleMet) {
  constexpr int kDevices = 1000;
  FleetOptions o;
  o.devices = kDevices;
  o.duration = 20s;
  o.interval = 5s;  // 200 msg/s across the fleet (~175 scheduled in 20 s: first windows are staggered)
  o.work_dir = MakeTempDir("fleetscale");
  o.sync = link::SyncPolicy::kNever;  // the engine is under test, not the disk
  std::ostringstream log;
  auto r = RunFleet(o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  std::ostringstream report;
  PrintReport(*r, report);
  const std::string all = log.str() + report.str();
  EXPECT_EQ(r->connected, kDevices) << all;
  EXPECT_EQ(r->late, 0) << all;
  EXPECT_EQ(r->never_published, 0) << all;
  EXPECT_GT(r->scheduled, 0u) << all;
  EXPECT_GE(static_cast<double>(r->achieved), 0.99 * static_cast<double>(r->scheduled)) << all;
  EXPECT_EQ(r->verify.lost, 0u) << all;
  EXPECT_EQ(r->verify.invalid, 0u) << all;
  EXPECT_EQ(r->lost_unacked + r->lost_after_ack, 0u) << all;
  EXPECT_TRUE(r->Passed()) << all;
  // One descriptor per device (its socket), so 10,000 fit a 20,000 limit.
  EXPECT_GE(r->open_files, static_cast<size_t>(kDevices)) << all;
  EXPECT_LE(r->open_files, FileDescriptorsNeeded(o)) << all;
}

}  // namespace
}  // namespace edgeforge::sim
