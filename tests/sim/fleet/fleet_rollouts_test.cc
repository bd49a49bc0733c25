// The pure parts of shadow rollouts and stages (sim/fleet/rollouts.h).
#include <gtest/gtest.h>

#include "firmware/board/builtin.h"
#include "sim/fleet/provisioning.h"
#include "sim/fleet/rollouts.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(FleetRolloutsTest, AReportedConfigHoldsAChangeWhenEveryLeafMatches) {
  const json reported = json::parse(R"({"report_ms":2000,"sample_ms":{"vib0":100,"env0":1000},"alarms":[1,2]})");
  EXPECT_TRUE(JsonContains(reported, json::parse(R"({"sample_ms":{"vib0":100}})")));
  EXPECT_TRUE(JsonContains(reported, json::parse(R"({})")));
  EXPECT_FALSE(JsonContains(reported, json::parse(R"({"sample_ms":{"vib0":250}})")));
  EXPECT_FALSE(JsonContains(reported, json::parse(R"({"sample_ms":{"vib9":100}})")));
  EXPECT_FALSE(JsonContains(reported, json::parse(R"({"alarms":[1]})"))) << "arrays compare whole, as IoT Core does";
  EXPECT_TRUE(JsonContains(reported, json::parse(R"({"alarms":[1,2]})")));
}

TEST(FleetRolloutsTest, RestoringPutsBackOldValuesAndDeletesWhatTheChangeAdded) {
  const json before = json::parse(R"({"config":{"report_ms":2000,"sample_ms":{"vib0":250}}})");
  const json change = json::parse(R"({"config":{"sample_ms":{"vib0":100,"vib9":100}},"lights":"on"})");
  EXPECT_EQ(RestoreDesired(change, before),
            json::parse(R"({"config":{"report_ms":2000,"sample_ms":{"vib0":250,"vib9":null}},"lights":null})"));
}

TEST(FleetRolloutsTest, StagesFollowEachOtherAndTheirChangesStartWithThem) {
  std::vector<Stage> stages(3);
  stages[0] = {"calm", 10s, {}};
  stages[1] = {"peak", 20s, {{"a", 0.5, json::parse(R"({"config":{"report_ms":1000}})")}}};
  stages[2] = {"cool", 5s, {{"", 1, json::parse(R"({"config":{"report_ms":4000}})")}}};
  const auto rollouts = StageRollouts(stages);
  ASSERT_EQ(rollouts.size(), 2u);
  EXPECT_EQ(rollouts[0].name, "stage peak");
  EXPECT_EQ(rollouts[0].at, 10s);
  ASSERT_EQ(rollouts[0].steps.size(), 1u);
  EXPECT_EQ(rollouts[0].steps[0].hold, 20s);
  EXPECT_DOUBLE_EQ(rollouts[0].steps[0].share, 0.5);
  EXPECT_FALSE(rollouts[0].gated);
  EXPECT_EQ(rollouts[1].at, 30s);
  const auto windows = StageWindows(stages, 2.0);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_DOUBLE_EQ(windows[0].start_s, 2.0);
  EXPECT_DOUBLE_EQ(windows[1].start_s, 12.0);
  EXPECT_DOUBLE_EQ(windows[1].end_s, 32.0);
  EXPECT_EQ(windows[0].detail, "no change");
  EXPECT_EQ(windows[1].detail, R"(desired {"config":{"report_ms":1000}} on 50% of a)");
  EXPECT_EQ(windows[2].kind, "stage");
}

TEST(FleetRolloutsTest, RolloutsNeedTheShadowServiceAndFitTheRun) {
  Provisioned p;
  p.boards.push_back(*board::LoadBoardSpec("factory-node"));
  p.groups = {{"a", "s", 0}};
  p.things = {"a-1"};
  p.group_of = {0};
  Rollout r;
  r.name = "r";
  r.at = 5s;
  r.steps = {{0.5, 5s}, {1, 5s}};
  EXPECT_TRUE(ValidateRollouts({r}, p, true, 15s).ok());
  EXPECT_NE(ValidateRollouts({r}, p, false, 15s)
                .message()
                .find("rollouts[0] (r): changes desired state through "
                      "the embedded broker's shadow service"),
            std::string::npos);
  EXPECT_NE(ValidateRollouts({r}, p, true, 14s).message().find("its last step ends 15000 ms after the fleet is up"),
            std::string::npos);
  r.group = "b";
  EXPECT_NE(ValidateRollouts({r}, p, true, 15s).message().find("group: no group \"b\""), std::string::npos);
}

}  // namespace
}  // namespace edgeforge::sim
