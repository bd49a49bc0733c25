// The device's sampling pipeline: each source on its own period, per-channel
// window statistics over a report period, threshold alarms on every sample.
// No I/O of its own besides calling the sources it is given, no clock: time is
// an argument of Step (coreMQTT style), so a test or the simulator drives it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "firmware/pipeline/sensor_source.h"
#include "firmware/pipeline/alarm.h"
#include "firmware/pipeline/schedule.h"
#include "firmware/pipeline/window.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::pipeline {

struct SourceSlot {
  SensorSource* source = nullptr;  // not owned; outlives the Pipeline
  Micros period{0};                     // sample period, > 0
};

struct SourceCounters {
  std::string name;
  uint64_t samples = 0;   // Sample() calls
  uint64_t failures = 0;  // Init() or Sample() calls that returned an error
  uint64_t skipped = 0;   // scheduled samples never taken because a Step came late
};

/// A closed report window: the body of one telemetry message.
struct Window {
  int64_t start_ms = 0;  // wall time when the window opened
  int64_t end_ms = 0;    // wall time when it closed (the message's ts)
  Micros length{0};      // on the monotonic clock
  std::vector<telemetry::ChannelWindow> channels;
  std::vector<std::string> faults;  // "<source>: <error>", each source that failed in the window (its last error)
  uint64_t skipped_samples = 0;     // all sources, since Init
};

struct StepResult {
  std::vector<AlarmEvent> alarms;  // publish these first: they are the urgent ones
  std::optional<Window> report;    // a closed window, when one was due
  Micros next_wake{0};             // the next deadline: call Step again then
};

class Pipeline {
 public:
  Pipeline(const std::vector<SourceSlot>& sources, Micros report_period, std::vector<AlarmRule> rules);

  /// Validates the configuration (INVALID_ARGUMENT naming the source or the
  /// rule) and initialises every source. A source that fails to initialise is
  /// not fatal: it is counted, shows in the first window's faults, and its
  /// own Sample retries.
  Status Init();

  /// Runs what is due at `now_monotonic`. The first Step opens the first
  /// window; each source's first sample is one sample period later. Due
  /// samples are taken before a due report closes, so windows are half-open
  /// (start, end] and hold report_period / sample_period samples, each
  /// measuring the period that ends at its instant. A late Step takes one
  /// sample per source and counts the deadlines it missed. Requires
  /// Init() == OK; before that it does nothing.
  StepResult Step(Micros now_monotonic, int64_t now_wall_ms);

  /// Replaces the configuration between two Steps (a device shadow delta).
  /// Validates first: on INVALID_ARGUMENT (wrong number of periods, a period
  /// <= 0, a bad rule) nothing changes. Then, at `now_monotonic`:
  ///  - a source whose period changed is re-anchored: its next sample is one
  ///    new period after `now`; an unchanged period keeps its phase;
  ///  - a changed report period closes nothing early: the open window keeps
  ///    its start and closes at start + new period, or at `now` if that has
  ///    passed (the next Step closes it);
  ///  - a rule that still exists (same channel and condition) keeps its
  ///    raised/cleared state under its new threshold, hysteresis and
  ///    severity; a removed rule is retired without an event, even if raised
  ///    (there is no sample that clears it; the shadow's reported config
  ///    version tells the consumer that the rule set changed).
  /// Before the first Step only the configuration is replaced. Deadlines can
  /// move earlier: call Step(now) afterwards for the next wake.
  Status Reconfigure(Micros now_monotonic, std::vector<Micros> sample_periods, Micros report_period,
                     std::vector<AlarmRule> rules);

  std::vector<SourceCounters> counters() const;
  uint64_t skipped_samples() const { return skipped_samples_; }

 private:
  struct Slot {
    SourceSlot config;
    Periodic schedule;
    SourceCounters counters;
    std::vector<std::string> channels;  // every channel this source has produced
    std::string window_fault;           // its last error in the open window
  };

  void Open(Micros now, int64_t wall_ms);
  Window CloseWindow(Micros now, int64_t wall_ms);
  void SampleSource(Slot& slot, int64_t wall_ms, std::vector<AlarmEvent>& alarms);
  Micros NextWake() const;

  std::vector<Slot> slots_;
  Periodic report_;
  std::vector<AlarmRule> rules_;
  // One evaluator per rule, so a rule's state moves with it on Reconfigure.
  std::vector<AlarmEvaluator> alarms_;
  WindowAggregator window_;
  std::vector<telemetry::Reading> scratch_;
  bool initialized_ = false;
  bool open_ = false;
  Micros window_start_{0};
  int64_t window_start_ms_ = 0;
  uint64_t skipped_samples_ = 0;
};

}  // namespace edgeforge::pipeline
