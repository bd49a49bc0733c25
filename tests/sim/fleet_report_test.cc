// Why a fleet run is not a PASS (sim/fleet/fleet.h FleetFailureReasons):
// issue 8 (4), "FAIL with every counter 0 and no reason", and "published 0
// ... PASS" at 5,000 devices.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/fleet/fleet.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

bool Says(const std::vector<std::string>& why, const std::string& text) {
  for (const auto& w : why) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

/// A clean verified run of 2 devices.
FleetReport Clean() {
  FleetReport r;
  r.devices = r.connected = 2;
  r.broker = "ssl://localhost:1";
  r.sampled = r.reports = 10;
  r.delivered = 12;
  r.verified_run = true;
  r.verify.received = r.verify.verified = 10;
  r.verify.devices = 2;
  return r;
}

TEST(FleetFailureReasonsTest, ACleanRunHasNone) { EXPECT_TRUE(FleetFailureReasons(Clean(), 30s, 10s).empty()); }

TEST(FleetFailureReasonsTest, NoDeviceConnected) {
  FleetReport r = Clean();
  r.connected = 0;
  r.sampled = r.reports = r.delivered = 0;
  r.verify = VerifyReport{};
  const auto why = FleetFailureReasons(r, 30s, 10s);
  EXPECT_TRUE(Says(why, "no device connected to ssl://localhost:1")) << why.size();
}

TEST(FleetFailureReasonsTest, SomeDevicesDidNotConnect) {
  FleetReport r = Clean();
  r.connected = 1;
  EXPECT_TRUE(Says(FleetFailureReasons(r, 30s, 10s), "1 of 2 devices did not connect"));
}

TEST(FleetFailureReasonsTest, ARunShorterThanTheFirstReportWindow) {
  FleetReport r = Clean();
  r.sampled = r.reports = r.delivered = 0;
  r.verify = VerifyReport{};
  const auto why = FleetFailureReasons(r, 1s, 10s);
  EXPECT_TRUE(Says(why, "the run (1 s) is shorter than the first report window (10 s)"));
  EXPECT_FALSE(Says(why, "nothing arrived")) << "said once, as the cause";
}

// At 5,000 devices sim said "published 0 (telemetry 0)" and PASS.
TEST(FleetFailureReasonsTest, NothingPublishedIsNeverAPassEvenWithoutVerification) {
  FleetReport r = Clean();
  r.sampled = r.reports = r.delivered = 0;
  r.verified_run = false;
  EXPECT_TRUE(Says(FleetFailureReasons(r, 30s, 10s), "nothing was published"));
}

TEST(FleetFailureReasonsTest, NothingDelivered) {
  FleetReport r = Clean();
  r.delivered = 0;
  EXPECT_TRUE(Says(FleetFailureReasons(r, 30s, 10s), "nothing was delivered: 10 published, none PUBACKed"));
}

TEST(FleetFailureReasonsTest, LossIsAttributed) {
  FleetReport r = Clean();
  r.verify.lost = 5;
  r.lost_unacked = 3;
  r.lost_after_ack = 2;
  r.verify.invalid = 1;
  const auto why = FleetFailureReasons(r, 30s, 10s);
  EXPECT_TRUE(Says(why, "5 lost"));
  EXPECT_TRUE(Says(why, "3 published but never acknowledged by the broker (device side"));
  EXPECT_TRUE(Says(why, "2 acknowledged by the broker but never received (broker side)"));
  EXPECT_TRUE(Says(why, "1 received but invalid"));
}

TEST(FleetFailureReasonsTest, DropsFailAnUnverifiedRun) {
  FleetReport r = Clean();
  r.verified_run = false;
  r.dropped = 4;
  EXPECT_TRUE(Says(FleetFailureReasons(r, 30s, 10s), "4 dropped by the devices"));
}

}  // namespace
}  // namespace edgeforge::sim
