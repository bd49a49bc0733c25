// Issue 10: stages and canary rollouts through the device shadow, on a real
// fleet with the embedded broker and its shadow service (real mosquitto,
// TLS, ACL). A good change goes out step by step to the whole group; a
// change the devices refuse is rolled back after the first canary; a change
// that makes devices raise alarms is rolled back on its alarms, and the
// devices are back on their old config; stages change the report period and
// the schedule follows.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/fleet/fleet.h"
#include "sim/scenario/scenario.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

constexpr const char* kScenario = R"({
  "schema": "edgeforge.scenario/1", "name": "rollout-quick", "duration": "40s", "seed": 5, "time_scale": 60,
  "app": "factory",
  "groups": [
    {"name": "presses", "board": "factory-node", "count": 10, "things": "press-{n:02}", "report": "2s"},
    {"name": "corridor", "board": "traffic-node", "count": 6, "things": "cam-{n:02}", "report": "2s"}
  ],
  "stages": [
    {"name": "baseline", "duration": "12s"},
    {"name": "peak", "duration": "14s", "group": "corridor", "desired": {"config": {"report_ms": 1000}}},
    {"name": "cool-down", "duration": "14s", "group": "corridor", "desired": {"config": {"report_ms": 4000}}}
  ],
  "rollouts": [
    {"name": "faster-vib", "group": "presses", "at": "2s", "desired": {"config": {"sample_ms": {"vib0": 100}}},
     "steps": [{"share": 0.2, "hold": "4s"}, {"share": 0.6, "hold": "4s"}, {"share": 1, "hold": "4s"}]},
    {"name": "bad-part", "group": "presses", "at": "16s", "desired": {"config": {"sample_ms": {"vib9": 100}}},
     "steps": [{"share": 0.2, "hold": "4s"}, {"share": 1, "hold": "4s"}]},
    {"name": "noisy-alarm", "group": "presses", "at": "22s",
     "desired": {"config": {"alarms": [{"channel": "temperature", "above": -50, "hysteresis": 1, "severity": "warning"}]}},
     "steps": [{"share": 0.3, "hold": "5s"}, {"share": 1, "hold": "5s"}], "abort": {"alarms": 0}}
  ]})";

const RolloutReport* Find(const FleetReport& r, const std::string& name) {
  for (const RolloutReport& ro : r.rollouts) {
    if (ro.name == name) return &ro;
  }
  return nullptr;
}

TEST(FleetRolloutTest, CanariesGoOutOrRollBackAndStagesChangeTheSchedule) {
  auto s = ParseScenario(kScenario, "rollout-quick.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  o.work_dir = testing_support::MakeTempDir("fleetrollout");
  std::ostringstream log;
  auto r = RunFleet(o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  std::ostringstream report;
  PrintReport(*r, report);
  const std::string all = log.str() + report.str();
  EXPECT_TRUE(r->Passed()) << all;
  EXPECT_EQ(r->verify.lost, 0u) << all;

  const RolloutReport* good = Find(*r, "faster-vib");
  ASSERT_NE(good, nullptr) << all;
  EXPECT_EQ(good->outcome, "completed") << all;
  ASSERT_EQ(good->steps.size(), 3u) << all;
  const int devices[] = {2, 6, 10};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(good->steps[i].devices, devices[i]) << all;
    EXPECT_EQ(good->steps[i].accepted, devices[i]) << "step " << i + 1 << "\n" << all;
  }

  const RolloutReport* bad = Find(*r, "bad-part");
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->outcome, "rolled back at step 1 (2 rejected, at most 0 allowed)") << all;
  ASSERT_EQ(bad->steps.size(), 1u) << "the canary stopped it\n" << all;
  EXPECT_EQ(bad->rolled_back, 2) << all;
  EXPECT_EQ(bad->restored, 2) << all;

  const RolloutReport* noisy = Find(*r, "noisy-alarm");
  ASSERT_NE(noisy, nullptr);
  EXPECT_EQ(noisy->outcome.rfind("rolled back at step 1 (", 0), 0u) << all;
  ASSERT_EQ(noisy->steps.size(), 1u) << all;
  EXPECT_EQ(noisy->steps[0].accepted, 3) << "applied, then alarmed\n" << all;
  EXPECT_GE(noisy->steps[0].alarms, 1u) << all;
  EXPECT_EQ(noisy->rolled_back, 3) << all;
  EXPECT_EQ(noisy->restored, 3) << "back on the board's alarm rules\n" << all;

  // Stage changes are rollouts without a gate: applied by every corridor node.
  int stage_changes = 0;
  for (const RolloutReport& ro : r->rollouts) {
    if (ro.gated) continue;
    ++stage_changes;
    EXPECT_EQ(ro.outcome, "completed") << ro.name << "\n" << all;
    ASSERT_EQ(ro.steps.size(), 1u);
    EXPECT_EQ(ro.steps[0].accepted, 6) << ro.name << "\n" << all;
  }
  EXPECT_EQ(stage_changes, 2);
  ASSERT_EQ(r->stages.size(), 3u);
  EXPECT_EQ(r->stages[1].name, "peak");
  // Corridor nodes at 1 s in the peak, 4 s after it (presses at 2 s throughout).
  EXPECT_GT(r->stages[1].published, r->stages[2].published + 30) << all;
  // The schedule follows the report periods the devices ran: 10 presses at 0.5/s
  // for 40 s, corridor 12 s at 0.5/s, 14 s at 1/s and 14 s at 0.25/s: about 200 + 6 * 23.5.
  EXPECT_GT(r->scheduled, 300u) << all;
  EXPECT_LT(r->scheduled, 360u) << all;
}

}  // namespace
}  // namespace edgeforge::sim
