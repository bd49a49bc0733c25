// The fault schedule's pure parts (sim/fleet/faults.h): which devices a
// fault hits, how a schedule is checked against the fleet, and how a
// window's counts come out of the report's series.
#include <gtest/gtest.h>

#include "firmware/board/builtin.h"
#include "sim/fleet/faults.h"
#include "sim/fleet/provisioning.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

/// 30 devices: 20 in "presses" (factory-node), 10 in "roads" (traffic-node).
Provisioned Fleet() {
  Provisioned p;
  p.boards.push_back(*board::LoadBoardSpec("factory-node"));
  p.boards.push_back(*board::LoadBoardSpec("traffic-node"));
  p.groups = {{"presses", "s", 0}, {"roads", "s", 1}};
  for (int i = 0; i < 30; ++i) {
    p.things.push_back("d-" + std::to_string(i));
    p.group_of.push_back(i < 20 ? 0 : 1);
  }
  return p;
}

FleetFault Fault(FleetFaultKind kind, double share = 1.0, std::string group = "") {
  FleetFault f;
  f.name = "f";
  f.kind = kind;
  f.at = 1s;
  f.duration = 2s;
  f.share = share;
  f.group = std::move(group);
  return f;
}

TEST(FleetFaultsTest, TargetsAreTheShareOfTheGroupAndTheSameForTheSameSeed) {
  const Provisioned p = Fleet();
  const FleetFault f = Fault(FleetFaultKind::kPowerCut, 0.25, "presses");
  const auto a = FaultTargets(f, 0, p, 7);
  ASSERT_EQ(a.size(), 5u);  // 25% of 20
  for (size_t d : a) EXPECT_LT(d, 20u) << "only the group's devices";
  EXPECT_EQ(FaultTargets(f, 0, p, 7), a) << "same seed, same devices";
  EXPECT_NE(FaultTargets(f, 0, p, 8), a) << "another seed picks others";
  EXPECT_NE(FaultTargets(f, 1, p, 7), a) << "another fault of the schedule picks others";
  // At least one device, never more than there are.
  EXPECT_EQ(FaultTargets(Fault(FleetFaultKind::kNetwork, 0.001), 0, p, 7).size(), 1u);
  EXPECT_EQ(FaultTargets(Fault(FleetFaultKind::kNetwork, 1.0), 0, p, 7).size(), 30u);
  EXPECT_TRUE(FaultTargets(Fault(FleetFaultKind::kBrokerRestart), 0, p, 7).empty());
}

TEST(FleetFaultsTest, ScheduleIsCheckedAgainstTheFleet) {
  const Provisioned p = Fleet();
  EXPECT_TRUE(ValidateFaults({Fault(FleetFaultKind::kNetwork)}, p, false, 10s).ok());
  const auto error = [&p](const FleetFault& f, bool local, std::chrono::milliseconds run) {
    const Status s = ValidateFaults({f}, p, local, run);
    EXPECT_FALSE(s.ok());
    return s.message();
  };
  EXPECT_NE(error(Fault(FleetFaultKind::kNetwork), true, 2s).find("faults[0] (f): ends 3000 ms after the fleet is up"),
            std::string::npos);
  EXPECT_NE(error(Fault(FleetFaultKind::kBrokerRestart), false, 10s).find("broker-restart needs the embedded broker"),
            std::string::npos);
  EXPECT_NE(error(Fault(FleetFaultKind::kPowerCut, 1, "lines"), true, 10s).find("group: no group \"lines\""),
            std::string::npos);
  FleetFault sensor = Fault(FleetFaultKind::kSensor, 1, "roads");
  sensor.sensor = "vib0";  // a factory part, not on the traffic board
  EXPECT_NE(error(sensor, true, 10s).find("sensor: no device \"vib0\" on board traffic-node (devices: "),
            std::string::npos)
      << error(sensor, true, 10s);
  sensor.group = "presses";
  EXPECT_TRUE(ValidateFaults({sensor}, p, true, 10s).ok());
}

TEST(FleetFaultsTest, WindowCountsAreTheSeriesChangeAndLossBySendTime) {
  std::vector<FleetSnapshot> series;
  for (int t = 1; t <= 20; ++t) {
    FleetSnapshot s;
    s.elapsed_s = t;
    s.published = static_cast<uint64_t>(10 * t);
    s.delivered = static_cast<uint64_t>(t < 5 ? 10 * t : 40 + 5 * (t - 4));
    s.connections_lost = t >= 6 ? 4 : 0;
    s.connect_failures = t >= 7 ? static_cast<uint64_t>(t - 6) : 0;
    series.push_back(s);
  }
  std::vector<FaultWindowReport> w(2);
  w[0].start_s = 5.5;
  w[0].end_s = 8.5;
  w[1].start_s = -1;  // never applied: left alone
  WindowEvidence evidence;
  evidence.verified = true;
  evidence.unreceived_s = {4.0, 6.0, 8.4, 9.0};
  evidence.duplicates_s = {5.0, 7.0, 13.0, 14.0};  // counted up to 5 s after the end: 7 and 13
  evidence.invalid_s = {9.0};
  FillFaultWindows(w, series, evidence);
  // From the sample at or before the start (t=5) to the first at or after end + 5 s (t=14).
  EXPECT_EQ(w[0].published, 90u);
  EXPECT_EQ(w[0].delivered, 45u);
  EXPECT_EQ(w[0].connections_lost, 4u);
  EXPECT_EQ(w[0].connect_failures, 8u);
  EXPECT_EQ(w[0].lost, 2) << "sent at 6.0 and 8.4, inside [5.5, 8.5]";
  EXPECT_EQ(w[0].duplicates, 2u);
  EXPECT_EQ(w[0].invalid, 1u);
  EXPECT_EQ(w[0].conflicts, 0u);
  EXPECT_EQ(w[1].published, 0u);
  EXPECT_EQ(w[1].lost, -1);
  // Without a verifier there is no loss figure.
  std::vector<FaultWindowReport> unverified(1);
  unverified[0].start_s = 1;
  unverified[0].end_s = 2;
  FillFaultWindows(unverified, series, WindowEvidence{});
  EXPECT_EQ(unverified[0].lost, -1);
}

TEST(FleetFaultsTest, KindsHaveNamesBothWays) {
  for (const char* name : {"broker-restart", "network", "sensor", "power-cut", "clock-skew", "duplicate-client-id"}) {
    auto k = ParseFleetFaultKind(name);
    ASSERT_TRUE(k.ok()) << name;
    EXPECT_STREQ(FleetFaultKindName(*k), name);
  }
  EXPECT_FALSE(ParseFleetFaultKind("flood").ok());
}

}  // namespace
}  // namespace edgeforge::sim
