#include "firmware/pipeline/alarm.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

namespace edgeforge::pipeline {
namespace {

std::string Short(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Status RuleError(size_t i, const char* field, const std::string& problem) {
  return InvalidArgument("alarm_rules[" + std::to_string(i) + "]." + field + ": " + problem);
}

Status ValidateRule(size_t i, const AlarmRule& r) {
  if (r.channel.empty()) return RuleError(i, "channel", "is empty");
  if (!std::isfinite(r.threshold)) return RuleError(i, "threshold", "is not a finite number");
  if (!std::isfinite(r.hysteresis) || r.hysteresis < 0) {
    return RuleError(i, "hysteresis", Short(r.hysteresis) + " must be a finite number >= 0");
  }
  if (r.severity != kSeverityInfo && r.severity != kSeverityWarning && r.severity != kSeverityCritical) {
    return RuleError(i, "severity", "'" + r.severity + "' is not \"info\", \"warning\" or \"critical\"");
  }
  return Status::Ok();
}

bool Crosses(const AlarmRule& r, double v) {
  return r.condition == Condition::kAbove ? v > r.threshold : v < r.threshold;
}

bool ComesBack(const AlarmRule& r, double v) {
  return r.condition == Condition::kAbove ? v < r.threshold - r.hysteresis : v > r.threshold + r.hysteresis;
}

}  // namespace

Status ValidateAlarmRules(const std::vector<AlarmRule>& rules) {
  std::map<std::pair<std::string, Condition>, size_t> seen;
  for (size_t i = 0; i < rules.size(); ++i) {
    EF_RETURN_IF_ERROR(ValidateRule(i, rules[i]));
    const auto [it, inserted] = seen.emplace(std::make_pair(rules[i].channel, rules[i].condition), i);
    if (!inserted) {
      return RuleError(i, "condition",
                       std::string("duplicates rule ") + std::to_string(it->second) + " ('" + rules[i].channel + "' " +
                           telemetry::AlarmConditionName(rules[i].condition) + ")");
    }
  }
  return Status::Ok();
}

AlarmEvaluator::AlarmEvaluator(std::vector<AlarmRule> rules)
    : rules_(std::move(rules)), raised_(rules_.size(), false) {}

void AlarmEvaluator::Evaluate(const telemetry::Reading& r, int64_t ts_ms, std::vector<AlarmEvent>& out) {
  if (!r.fault.empty() || !std::isfinite(r.value)) return;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const AlarmRule& rule = rules_[i];
    if (rule.channel != r.name) continue;
    const bool change = raised_[i] ? ComesBack(rule, r.value) : Crosses(rule, r.value);
    if (!change) continue;
    raised_[i] = !raised_[i];
    AlarmEvent e;
    e.ts_ms = ts_ms;
    e.alarm.channel = rule.channel;
    e.alarm.state = raised_[i] ? telemetry::AlarmState::kRaised : telemetry::AlarmState::kCleared;
    e.alarm.condition = rule.condition;
    e.alarm.threshold = rule.threshold;
    e.alarm.hysteresis = rule.hysteresis;
    e.alarm.value = r.value;
    e.alarm.severity = rule.severity;
    out.push_back(std::move(e));
  }
}

}  // namespace edgeforge::pipeline
