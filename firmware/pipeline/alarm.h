// Threshold alarms with hysteresis, evaluated on every sample (not on the
// window) so an alarm leaves the device within one sample period of the
// crossing. Pure: no clock, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::pipeline {

using Condition = telemetry::AlarmCondition;

inline constexpr char kSeverityInfo[] = "info";
inline constexpr char kSeverityWarning[] = "warning";
inline constexpr char kSeverityCritical[] = "critical";

/// kAbove: raised when a sample is > threshold, cleared when one is
///         < threshold - hysteresis.
/// kBelow: raised when a sample is < threshold, cleared when one is
///         > threshold + hysteresis.
/// Between the two the state holds (no chatter around the threshold).
struct AlarmRule {
  std::string channel;  // a Reading name ("temperature")
  Condition condition = Condition::kAbove;
  double threshold = 0;
  double hysteresis = 0;                    // >= 0, in the channel's unit
  std::string severity = kSeverityWarning;  // "info" | "warning" | "critical" (board severities)
};

/// INVALID_ARGUMENT naming the rule's index and field for: an empty channel,
/// a non-finite threshold, a negative or non-finite hysteresis, a severity
/// other than "info"/"warning"/"critical", a second rule for the same (channel, condition).
Status ValidateAlarmRules(const std::vector<AlarmRule>& rules);

/// One state change, ready to become an alarm message.
struct AlarmEvent {
  int64_t ts_ms = 0;  // wall time of the sample that changed the state
  telemetry::Alarm alarm;
};

/// Per-rule raised/cleared state; persists across report windows. Rules are
/// expected valid (ValidateAlarmRules).
class AlarmEvaluator {
 public:
  explicit AlarmEvaluator(std::vector<AlarmRule> rules);

  /// Applies one sample to every rule on its channel; appends the state
  /// changes. A faulted sample leaves every state as it was.
  void Evaluate(const telemetry::Reading& r, int64_t ts_ms, std::vector<AlarmEvent>& out);

  bool raised(size_t rule) const { return raised_[rule]; }
  const std::vector<AlarmRule>& rules() const { return rules_; }

 private:
  std::vector<AlarmRule> rules_;
  std::vector<bool> raised_;
};

}  // namespace edgeforge::pipeline
