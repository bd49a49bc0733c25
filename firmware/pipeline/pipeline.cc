#include "firmware/pipeline/pipeline.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

namespace edgeforge::pipeline {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool HasReading(const std::vector<telemetry::Reading>& readings, const std::string& name) {
  return std::any_of(readings.begin(), readings.end(), [&](const telemetry::Reading& r) { return r.name == name; });
}

// An evaluator for `rule` in state `raised`. AlarmEvaluator keeps its state
// private, so a raised state is set by one sample just past the threshold
// (its event is dropped). A threshold at the largest double has no finite
// value past it; such a rule could never have been raised by a sample anyway.
AlarmEvaluator EvaluatorFor(const AlarmRule& rule, bool raised) {
  AlarmEvaluator ev({rule});
  if (!raised) return ev;
  const double past =
      std::nextafter(rule.threshold, rule.condition == Condition::kAbove ? std::numeric_limits<double>::infinity()
                                                                         : -std::numeric_limits<double>::infinity());
  std::vector<AlarmEvent> dropped;
  ev.Evaluate(telemetry::Reading{rule.channel, past, "", "", telemetry::Aggregation::kMean}, 0, dropped);
  return ev;
}

}  // namespace

Pipeline::Pipeline(const std::vector<SourceSlot>& sources, Micros report_period, std::vector<AlarmRule> rules)
    : report_(report_period), rules_(std::move(rules)) {
  for (const AlarmRule& r : rules_) alarms_.push_back(EvaluatorFor(r, false));
  slots_.reserve(sources.size());
  for (const SourceSlot& s : sources) slots_.push_back(Slot{s, Periodic(s.period), {}, {}, {}});
}

Status Pipeline::Init() {
  if (report_.period() <= Micros(0)) return InvalidArgument("pipeline: report period must be > 0");
  for (size_t i = 0; i < slots_.size(); ++i) {
    const SourceSlot& c = slots_[i].config;
    const std::string where = "pipeline: sources[" + std::to_string(i) + "]";
    if (c.source == nullptr) return InvalidArgument(where + ": no source");
    if (c.period <= Micros(0)) return InvalidArgument(where + " ('" + c.source->name() + "').period: must be > 0");
  }
  EF_RETURN_IF_ERROR(ValidateAlarmRules(rules_).WithContext("pipeline"));
  for (Slot& slot : slots_) {
    SensorSource& src = *slot.config.source;
    slot.counters.name = src.name();
    Status s = src.Init();
    if (!s.ok()) {
      ++slot.counters.failures;
      slot.window_fault = src.name() + ": " + s.ToString();
    }
  }
  initialized_ = true;
  return Status::Ok();
}

StepResult Pipeline::Step(Micros now_monotonic, int64_t now_wall_ms) {
  StepResult out;
  if (!initialized_) {
    out.next_wake = now_monotonic + report_.period();
    return out;
  }
  if (!open_) {
    // A source's first sample is one period after the window opens: sources
    // that measure over their period (a FIFO, vehicle counts, occupancy)
    // have nothing meaningful to say the instant they were initialised.
    Open(now_monotonic, now_wall_ms);
    for (Slot& slot : slots_) slot.schedule.Start(now_monotonic + slot.config.period);
    report_.Start(now_monotonic + report_.period());
  }
  // Sample first: a sample due exactly at the boundary measured the period
  // that ends there, so it belongs to the window that closes there.
  for (Slot& slot : slots_) {
    const Periodic::Tick tick = slot.schedule.Poll(now_monotonic);
    slot.counters.skipped += tick.skipped;
    skipped_samples_ += tick.skipped;
    if (tick.due) SampleSource(slot, now_wall_ms, out.alarms);
  }
  if (report_.Poll(now_monotonic).due) out.report = CloseWindow(now_monotonic, now_wall_ms);
  out.next_wake = NextWake();
  return out;
}

Status Pipeline::Reconfigure(Micros now_monotonic, std::vector<Micros> sample_periods, Micros report_period,
                             std::vector<AlarmRule> rules) {
  if (sample_periods.size() != slots_.size()) {
    return InvalidArgument("pipeline: reconfigure: " + std::to_string(sample_periods.size()) + " sample periods for " +
                           std::to_string(slots_.size()) + " sources");
  }
  for (size_t i = 0; i < sample_periods.size(); ++i) {
    if (sample_periods[i] <= Micros(0)) {
      return InvalidArgument("pipeline: reconfigure: sources[" + std::to_string(i) + "].period: must be > 0");
    }
  }
  if (report_period <= Micros(0)) return InvalidArgument("pipeline: reconfigure: report period must be > 0");
  EF_RETURN_IF_ERROR(ValidateAlarmRules(rules).WithContext("pipeline: reconfigure"));

  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (sample_periods[i] == slot.config.period) continue;
    slot.config.period = sample_periods[i];
    slot.schedule = Periodic(slot.config.period);
    if (open_) slot.schedule.Start(now_monotonic + slot.config.period);
  }
  if (report_period != report_.period()) {
    report_ = Periodic(report_period);
    if (open_) report_.Start(std::max(window_start_ + report_period, now_monotonic));
  }
  std::map<std::pair<std::string, Condition>, bool> raised;
  for (size_t i = 0; i < rules_.size(); ++i) raised[{rules_[i].channel, rules_[i].condition}] = alarms_[i].raised(0);
  std::vector<AlarmEvaluator> evaluators;
  evaluators.reserve(rules.size());
  for (const AlarmRule& r : rules) {
    auto it = raised.find({r.channel, r.condition});
    evaluators.push_back(EvaluatorFor(r, it != raised.end() && it->second));
  }
  rules_ = std::move(rules);
  alarms_ = std::move(evaluators);
  return Status::Ok();
}

void Pipeline::Open(Micros now, int64_t wall_ms) {
  open_ = true;
  window_start_ = now;
  window_start_ms_ = wall_ms;
}

Window Pipeline::CloseWindow(Micros now, int64_t wall_ms) {
  Window w;
  w.start_ms = window_start_ms_;
  w.end_ms = wall_ms;
  w.length = std::max(Micros(0), now - window_start_);
  w.channels = window_.Close();
  for (Slot& slot : slots_) {
    if (slot.window_fault.empty()) continue;
    w.faults.push_back(std::move(slot.window_fault));
    slot.window_fault.clear();
  }
  w.skipped_samples = skipped_samples_;
  Open(now, wall_ms);
  return w;
}

void Pipeline::SampleSource(Slot& slot, int64_t wall_ms, std::vector<AlarmEvent>& alarms) {
  SensorSource& src = *slot.config.source;
  scratch_.clear();
  ++slot.counters.samples;
  Status s = src.Sample(scratch_);
  if (!s.ok()) {
    ++slot.counters.failures;
    slot.window_fault = src.name() + ": " + s.ToString();
    // A failing source should report its channels as faulted; any it left out
    // are faulted here so that no channel's gap goes uncounted.
    for (const std::string& name : slot.channels) {
      if (!HasReading(scratch_, name)) scratch_.push_back({name, 0, "", slot.window_fault});
    }
  }
  for (const telemetry::Reading& r : scratch_) {
    const Folded f = window_.Add(r);
    if (f == Folded::kRejected) {
      slot.window_fault = src.name() + ": a reading without a channel name";
      continue;
    }
    if (f == Folded::kSample) {
      for (AlarmEvaluator& ev : alarms_) ev.Evaluate(r, wall_ms, alarms);
    }
    if (!Contains(slot.channels, r.name)) slot.channels.push_back(r.name);
  }
}

Micros Pipeline::NextWake() const {
  Micros next = report_.next_due();
  for (const Slot& slot : slots_) next = std::min(next, slot.schedule.next_due());
  return next;
}

std::vector<SourceCounters> Pipeline::counters() const {
  std::vector<SourceCounters> out;
  out.reserve(slots_.size());
  for (const Slot& slot : slots_) out.push_back(slot.counters);
  return out;
}

}  // namespace edgeforge::pipeline
