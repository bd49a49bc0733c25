// Issue 10: a scenario's fault schedule against a real fleet on the embedded
// broker (real mosquitto, TLS, ACL, per-device identities, the verifier).
// Every kind of fault is applied in its window, each window is reported with
// its counts, and nothing is lost: the broker crash, the network faults and
// the power cuts only delay readings, the firmware stores and forwards them.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/fleet/fleet.h"
#include "sim/scenario/scenario.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kScenario = R"({
  "schema": "edgeforge.scenario/1", "name": "faults-quick", "duration": "40s", "seed": 3, "time_scale": 60,
  "app": "factory",
  "groups": [
    {"name": "presses", "board": "factory-node", "count": 10, "things": "press-{n:02}", "report": "2s"},
    {"name": "corridor", "board": "traffic-node", "count": 10, "things": "cam-{n:02}", "report": "2s"}
  ],
  "faults": [
    {"name": "broker-crash", "kind": "broker-restart", "at": "4s", "duration": "3s"},
    {"name": "dead-link", "kind": "network", "mode": "blackhole", "group": "presses", "share": 0.4, "at": "8s",
     "duration": "12s"},
    {"name": "lag", "kind": "network", "mode": "latency", "latency": "400ms", "share": 0.3, "at": "10s", "duration": "8s"},
    {"name": "nat-reset", "kind": "network", "mode": "reset", "group": "corridor", "share": 0.3, "at": "12s",
     "duration": "4s"},
    {"name": "loose-vib", "kind": "sensor", "group": "presses", "sensor": "vib0", "fault": "disconnect",
     "share": 0.5, "at": "14s", "duration": "8s"},
    {"name": "outage", "kind": "power-cut", "share": 0.1, "at": "18s", "duration": "5s"},
    {"name": "ntp", "kind": "clock-skew", "skew": "-90s", "share": 0.2, "at": "20s", "duration": "10s"},
    {"name": "clone", "kind": "duplicate-client-id", "group": "corridor", "share": 0.1, "at": "24s", "duration": "6s"}
  ]})";

const FaultWindowReport* Window(const FleetReport& r, const std::string& name) {
  for (const FaultWindowReport& w : r.faults) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

TEST(FleetFaultScheduleTest, EveryFaultIsAppliedReportedAndNothingIsLost) {
  auto s = ParseScenario(kScenario, "faults-quick.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  o.work_dir = testing_support::MakeTempDir("fleetfaults");
  std::ostringstream log;
  auto r = RunFleet(o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  std::ostringstream report;
  PrintReport(*r, report);
  const std::string all = log.str() + report.str();

  EXPECT_TRUE(r->Passed()) << all;
  EXPECT_EQ(r->connected, 20) << all;
  EXPECT_EQ(r->verify.lost, 0u) << all;
  EXPECT_EQ(r->verify.invalid, 0u) << all;
  EXPECT_EQ(r->lost_unacked, 0u) << all;
  EXPECT_EQ(r->lost_after_ack, 0u) << all;
  EXPECT_EQ(r->verify.devices, 20u) << all;
  ASSERT_EQ(r->faults.size(), 8u) << all;
  for (const FaultWindowReport& w : r->faults) {
    EXPECT_GE(w.start_s, r->up_s) << w.name << "\n" << all;
    EXPECT_GT(w.end_s, w.start_s) << w.name << "\n" << all;
    EXPECT_TRUE(w.error.empty()) << w.name << ": " << w.error << "\n" << all;
    EXPECT_EQ(w.lost, 0) << w.name << "\n" << all;
    EXPECT_GT(w.published, 0u) << w.name << ": the fleet kept publishing\n" << all;
  }
  // Each fault did what it says, as the fleet saw it.
  const FaultWindowReport* crash = Window(*r, "broker-crash");
  ASSERT_NE(crash, nullptr);
  EXPECT_EQ(crash->devices, 0);
  EXPECT_GE(crash->connections_lost, 20u) << "every device lost the broker\n" << all;
  EXPECT_GE(r->verify.disconnects, 1u) << "so did the verifier\n" << all;
  EXPECT_EQ(Window(*r, "dead-link")->devices, 4);
  EXPECT_EQ(Window(*r, "lag")->devices, 6);
  const FaultWindowReport* reset = Window(*r, "nat-reset");
  EXPECT_EQ(reset->devices, 3);
  EXPECT_GE(reset->connections_lost, 3u) << "each reset device lost its connection\n" << all;
  EXPECT_GT(r->sensor_faults, 0u) << "the loose accelerometers were reported in telemetry\n" << all;
  EXPECT_EQ(r->power_cuts, 2) << all;
  EXPECT_EQ(r->verify.device_reported_lost, 0u) << "a power cut after the outbox append loses nothing\n" << all;
  EXPECT_GE(Window(*r, "clone")->connections_lost, 1u) << "the twin took the session over\n" << all;
  // Readings held in the black hole and behind the dead broker arrived late, not never.
  EXPECT_GE(r->latency_max_ms, 3000) << all;
  EXPECT_NE(all.find("fault dead-link: network blackhole, 40% of presses (4 devices) from t="), std::string::npos)
      << all;
}

}  // namespace
}  // namespace edgeforge::sim
