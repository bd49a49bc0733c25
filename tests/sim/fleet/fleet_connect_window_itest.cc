// Issue 9: 5,000 devices, none connected inside the 30 s connect window,
// nothing published, and the summary said "connected 5000/5000 ... PASS".
// The same shape at a size CI affords: a connect window (2 s) much shorter
// than the connect ramp (300 devices at 50/s: 6 s). The run must FAIL and
// say why: devices that connected late or never, and the missed schedule.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "sim/fleet/fleet.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakeTempDir;

bool Says(const std::vector<std::string>& why, const std::string& text) {
  for (const auto& w : why) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(FleetConnectWindowTest, AConnectWindowShorterThanTheRampFailsNamingLateDevicesAndTheSchedule) {
  constexpr int kDevices = 300;
  FleetOptions o;
  o.devices = kDevices;
  o.duration = 3s;  // the run ends ~5 s in: the ramp (6 s) never finishes
  o.interval = 1s;
  o.connect_rate = 50;
  o.connect_window = 2s;
  o.work_dir = MakeTempDir("fleetwindow");
  o.sync = link::SyncPolicy::kNever;
  std::ostringstream log;
  auto r = RunFleet(o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  std::ostringstream report;
  PrintReport(*r, report);
  const std::string all = log.str() + report.str();

  EXPECT_FALSE(r->Passed()) << all;
  EXPECT_NE(all.find("result: FAIL"), std::string::npos) << all;
  // At 2 s about 100 of 300 had their ramp slot; the rest connect late or never.
  EXPECT_LT(r->connected - r->late, kDevices / 2) << all;
  EXPECT_GT(r->late + (kDevices - r->connected), kDevices / 2) << all;
  if (r->connected < kDevices) {
    EXPECT_TRUE(Says(r->failures, std::to_string(kDevices - r->connected) + " of 300 devices never connected")) << all;
  }
  if (r->late > 0) {
    EXPECT_TRUE(Says(r->failures, std::to_string(r->late) + " of 300 devices connected late")) << all;
  }
  EXPECT_TRUE(Says(r->failures, "schedule missed at ")) << all;
  EXPECT_LT(static_cast<double>(r->achieved), 0.99 * static_cast<double>(r->scheduled)) << all;
  EXPECT_NE(all.find("the connect window (2.00 s) ended"), std::string::npos) << all;
}

}  // namespace
}  // namespace edgeforge::sim
