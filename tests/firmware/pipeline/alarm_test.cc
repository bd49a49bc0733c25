#include "firmware/pipeline/alarm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

namespace edgeforge::pipeline {
namespace {

using telemetry::AlarmState;
using telemetry::Reading;

AlarmRule Rule(std::string channel, Condition c, double threshold, double hysteresis,
               std::string severity = "critical") {
  return AlarmRule{std::move(channel), c, threshold, hysteresis, std::move(severity)};
}

// Feeds `values` of `channel` one by one; returns, per sample, "" or the
// state change ("raised" / "cleared").
std::vector<std::string> Feed(AlarmEvaluator& e, const std::string& channel, std::initializer_list<double> values) {
  std::vector<std::string> out;
  int64_t ts = 1000;
  for (double v : values) {
    std::vector<AlarmEvent> events;
    e.Evaluate(Reading{channel, v, "Cel", ""}, ts++, events);
    EXPECT_LE(events.size(), 1u);
    out.push_back(events.empty() ? "" : telemetry::AlarmStateName(events[0].alarm.state));
  }
  return out;
}

TEST(AlarmTest, AboveRaisesClearsPastTheHysteresisAndDoesNotChatter) {
  AlarmEvaluator e({Rule("temperature", Condition::kAbove, 40, 1)});
  const std::vector<std::string> want = {"", "", "raised", "", "", "", "", "", "cleared", "", "", "raised"};
  EXPECT_EQ(Feed(e, "temperature", {39, 40, 40.5, 39.5, 40.8, 39.2, 39.0, 39.5, 38.9, 39.5, 40, 40.1}), want);
}

TEST(AlarmTest, BelowCondition) {
  AlarmEvaluator e({Rule("line_pressure", Condition::kBelow, 5, 0.5, "warning")});
  const std::vector<std::string> want = {"", "raised", "", "", "", "cleared", ""};
  EXPECT_EQ(Feed(e, "line_pressure", {6, 4.9, 5.3, 4.0, 5.5, 5.6, 5.2}), want);
}

TEST(AlarmTest, EventCarriesTheRuleAndTheSample) {
  AlarmEvaluator e({Rule("temperature", Condition::kAbove, 40, 1)});
  std::vector<AlarmEvent> events;
  e.Evaluate(Reading{"temperature", 41.2, "Cel", ""}, 1'700'000'012'345, events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ts_ms, 1'700'000'012'345);
  EXPECT_EQ(events[0].alarm.channel, "temperature");
  EXPECT_EQ(events[0].alarm.state, AlarmState::kRaised);
  EXPECT_EQ(events[0].alarm.condition, Condition::kAbove);
  EXPECT_EQ(events[0].alarm.threshold, 40);
  EXPECT_EQ(events[0].alarm.hysteresis, 1);
  EXPECT_EQ(events[0].alarm.value, 41.2);
  EXPECT_EQ(events[0].alarm.severity, "critical");
  EXPECT_TRUE(e.raised(0));
}

TEST(AlarmTest, FaultedSampleLeavesTheStateUnchanged) {
  AlarmEvaluator e({Rule("temperature", Condition::kAbove, 40, 1)});
  std::vector<AlarmEvent> events;
  e.Evaluate(Reading{"temperature", 45, "Cel", ""}, 1, events);
  ASSERT_EQ(events.size(), 1u);
  // A faulted reading carries value 0, which would clear the alarm if used.
  e.Evaluate(Reading{"temperature", 0, "Cel", "env0: UNAVAILABLE: no ACK"}, 2, events);
  e.Evaluate(Reading{"temperature", std::nan(""), "Cel", ""}, 3, events);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(e.raised(0));
}

TEST(AlarmTest, OnlyItsChannelAndBothConditionsOnOneChannel) {
  AlarmEvaluator e({Rule("temperature", Condition::kAbove, 40, 1), Rule("temperature", Condition::kBelow, 0, 1),
                    Rule("humidity", Condition::kAbove, 90, 2)});
  std::vector<AlarmEvent> events;
  e.Evaluate(Reading{"pressure", 1e9, "Pa", ""}, 1, events);
  EXPECT_TRUE(events.empty());
  e.Evaluate(Reading{"temperature", -3, "Cel", ""}, 2, events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alarm.condition, Condition::kBelow);
  EXPECT_FALSE(e.raised(0));
  EXPECT_TRUE(e.raised(1));
  EXPECT_FALSE(e.raised(2));
}

TEST(AlarmTest, ValidationNamesRuleIndexAndField) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(AlarmRule&)> mutate;
    const char* want;
  };
  const std::vector<Case> cases = {
      {[](AlarmRule& r) { r.channel = ""; }, "alarm_rules[1].channel"},
      {[&](AlarmRule& r) { r.threshold = inf; }, "alarm_rules[1].threshold"},
      {[](AlarmRule& r) { r.threshold = std::nan(""); }, "alarm_rules[1].threshold"},
      {[](AlarmRule& r) { r.hysteresis = -0.5; }, "alarm_rules[1].hysteresis"},
      {[](AlarmRule& r) { r.hysteresis = std::nan(""); }, "alarm_rules[1].hysteresis"},
      {[](AlarmRule& r) { r.severity = "fatal"; }, "alarm_rules[1].severity"},
  };
  for (const auto& c : cases) {
    std::vector<AlarmRule> rules = {Rule("temperature", Condition::kAbove, 40, 1),
                                    Rule("humidity", Condition::kAbove, 90, 2)};
    c.mutate(rules[1]);
    Status s = ValidateAlarmRules(rules);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.want;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ValidateAlarmRules({Rule("t", Condition::kAbove, 40, 0), Rule("t", Condition::kBelow, 0, 0)}).ok());
  Status dup = ValidateAlarmRules(
      {Rule("t", Condition::kAbove, 40, 0), Rule("h", Condition::kAbove, 1, 0), Rule("t", Condition::kAbove, 50, 0)});
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.message().find("alarm_rules[2].condition"), std::string::npos) << dup.message();
  EXPECT_NE(dup.message().find("rule 0"), std::string::npos) << dup.message();
}

}  // namespace
}  // namespace edgeforge::pipeline
