#include "firmware/pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>

namespace edgeforge::pipeline {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using telemetry::Aggregation;
using telemetry::ChannelWindow;

constexpr int64_t kWall0 = 1'700'000'000'000;
int64_t Wall(Micros t) { return kWall0 + std::chrono::duration_cast<Millis>(t).count(); }

// The pipeline's input: one channel whose samples follow a script (the last
// entry repeats). Above the HAL on purpose: it is what the unit under test consumes.
class ScriptedSource final : public pipeline::SensorSource {
 public:
  enum class Kind {
    kValue,   // a valid reading
    kFault,   // error, with a faulted reading (the SensorSource contract)
    kSilent,  // error, no reading at all (a source that breaks the contract)
    kNone,    // ok, no reading (no event to measure: no vehicle passed)
  };
  struct Entry {
    Kind kind;
    double value;
  };
  static Entry V(double v) { return {Kind::kValue, v}; }
  static constexpr Entry kFault{Kind::kFault, 0};
  static constexpr Entry kSilent{Kind::kSilent, 0};
  static constexpr Entry kNone{Kind::kNone, 0};

  ScriptedSource(std::string name, std::string channel, std::string unit, Aggregation agg, std::deque<Entry> script,
                 Status init = Status::Ok())
      : pipeline::SensorSource(std::move(name)),
        channel_(std::move(channel)),
        unit_(std::move(unit)),
        agg_(agg),
        script_(std::move(script)),
        init_(std::move(init)) {}
  int samples() const { return samples_; }

 private:
  Status DoInit() override { return init_; }
  Status DoSample(std::vector<telemetry::Reading>& out) override {
    ++samples_;
    const Entry e = script_.front();
    if (script_.size() > 1) script_.pop_front();
    const Status broken = Unavailable(channel_ + " sensor: no ACK");
    switch (e.kind) {
      case Kind::kValue:
        out.push_back({channel_, e.value, unit_, "", agg_});
        return Status::Ok();
      case Kind::kFault:
        out.push_back({channel_, 0, unit_, name() + ": " + broken.ToString(), agg_});
        return broken;
      case Kind::kSilent:
        return broken;
      case Kind::kNone:
        return Status::Ok();
    }
    return Status::Ok();
  }
  std::string channel_;
  std::string unit_;
  Aggregation agg_;
  std::deque<Entry> script_;
  Status init_;
  int samples_ = 0;
};

using S = ScriptedSource;

// Steps at each `next_wake` until `until`; collects reports and alarms.
struct Trace {
  std::vector<Window> reports;
  std::vector<AlarmEvent> alarms;
  std::vector<Micros> wakes;
};
Trace RunUntil(Pipeline& p, Micros until, Micros from = Micros(0)) {
  Trace run;
  for (Micros now = from; now <= until;) {
    StepResult r = p.Step(now, Wall(now));
    for (auto& a : r.alarms) run.alarms.push_back(std::move(a));
    if (r.report) run.reports.push_back(std::move(*r.report));
    run.wakes.push_back(r.next_wake);
    EXPECT_GT(r.next_wake, now);
    now = r.next_wake;
  }
  return run;
}

TEST(PipelineTest, WindowHoldsReportPeriodOverSamplePeriodSamples) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean,
         {S::V(20.0), S::V(20.1), S::V(20.2), S::V(20.3), S::V(20.4), S::V(20.5), S::V(20.6), S::V(20.7), S::V(20.8),
          S::V(20.9), S::V(30.0)});
  Pipeline p({{&temp, seconds(1)}}, seconds(10), {});
  ASSERT_TRUE(p.Init().ok());
  Trace run = RunUntil(p, seconds(10));
  ASSERT_EQ(run.reports.size(), 1u);
  const Window& w = run.reports[0];
  EXPECT_EQ(w.start_ms, kWall0);
  EXPECT_EQ(w.end_ms, kWall0 + 10'000);
  EXPECT_EQ(w.length, seconds(10));
  ASSERT_EQ(w.channels.size(), 1u);
  EXPECT_EQ(w.channels[0].n, 10u);  // t = 1..10 s: the first sample is one period in, the 10 s one closes the window
  EXPECT_NEAR(w.channels[0].value, 20.45, 1e-9);
  EXPECT_DOUBLE_EQ(w.channels[0].min, 20.0);
  EXPECT_DOUBLE_EQ(w.channels[0].max, 20.9);
  EXPECT_TRUE(w.faults.empty());
  EXPECT_EQ(temp.samples(), 10);
  for (size_t i = 0; i < run.wakes.size(); ++i) EXPECT_EQ(run.wakes[i], seconds(static_cast<int64_t>(i) + 1));
}

TEST(PipelineTest, SourcesRunOnTheirOwnPeriodsAndNextWakeIsTheEarliestDeadline) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(21.0)});
  S vib("vib0", "vibration_rms_x", "[g]", Aggregation::kRms, {S::V(0.3), S::V(0.4)});
  Pipeline p({{&temp, seconds(1)}, {&vib, milliseconds(250)}}, seconds(2), {});
  ASSERT_TRUE(p.Init().ok());
  Trace run = RunUntil(p, seconds(4));
  ASSERT_EQ(run.reports.size(), 2u);
  for (const Window& w : run.reports) {
    ASSERT_EQ(w.channels.size(), 2u);
    EXPECT_EQ(w.channels[0].name, "vibration_rms_x");  // first to appear: at 250 ms
    EXPECT_EQ(w.channels[0].n, 8u);
    EXPECT_EQ(w.channels[1].name, "temperature");
    EXPECT_EQ(w.channels[1].n, 2u);
  }
  EXPECT_NEAR(run.reports[0].channels[0].value, std::sqrt((0.09 + 7 * 0.16) / 8), 1e-12);
  EXPECT_EQ(run.wakes[0], milliseconds(250));
  EXPECT_EQ(run.wakes[3], seconds(1));
  EXPECT_EQ(temp.samples(), 4);  // 1, 2, 3, 4 s
  EXPECT_EQ(vib.samples(), 16);  // every 250 ms from 250 ms to 4 s
}

TEST(PipelineTest, LateStepSamplesOnceAndReportsTheSkippedSamples) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(20.0)});
  Pipeline p({{&temp, seconds(1)}}, seconds(10), {});
  ASSERT_TRUE(p.Init().ok());
  (void)p.Step(seconds(0), Wall(seconds(0)));
  (void)p.Step(seconds(1), Wall(seconds(1)));
  // The device was busy: deadlines at 2, 3 and 4 s passed, 5 s is served at 5.5 s.
  StepResult late = p.Step(milliseconds(5'500), Wall(milliseconds(5'500)));
  EXPECT_EQ(late.next_wake, seconds(6));
  EXPECT_EQ(temp.samples(), 2);  // 1 s and 5.5 s
  EXPECT_EQ(p.counters().at(0).skipped, 3u);
  EXPECT_EQ(p.skipped_samples(), 3u);
  Trace run = RunUntil(p, seconds(10), seconds(6));
  ASSERT_EQ(run.reports.size(), 1u);
  EXPECT_EQ(run.reports[0].channels[0].n, 7u);  // 1, 5.5, 6, 7, 8, 9, 10
  EXPECT_EQ(run.reports[0].skipped_samples, 3u);
}

TEST(PipelineTest, AlarmsGoOutOnTheSampleAndStateSurvivesTheWindow) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean,
         {S::V(30), S::V(41), S::V(42), S::V(39.5), S::V(39.5), S::V(38), S::V(38)});
  Pipeline p({{&temp, seconds(1)}}, seconds(2), {{"temperature", Condition::kAbove, 40, 1, "critical"}});
  ASSERT_TRUE(p.Init().ok());
  EXPECT_TRUE(p.Step(seconds(0), Wall(seconds(0))).alarms.empty());  // opens the window
  EXPECT_TRUE(p.Step(seconds(1), Wall(seconds(1))).alarms.empty());  // 30
  // 2 s: 41 is sampled and raises, then the window closes: the alarm comes first.
  StepResult raised = p.Step(seconds(2), Wall(seconds(2)));
  ASSERT_EQ(raised.alarms.size(), 1u);
  EXPECT_EQ(raised.alarms[0].alarm.state, telemetry::AlarmState::kRaised);
  EXPECT_EQ(raised.alarms[0].ts_ms, Wall(seconds(2)));
  EXPECT_DOUBLE_EQ(raised.alarms[0].alarm.value, 41);
  EXPECT_TRUE(raised.report.has_value());
  EXPECT_TRUE(p.Step(seconds(3), Wall(seconds(3))).alarms.empty());  // 42: still raised, nothing new
  EXPECT_TRUE(p.Step(seconds(4), Wall(seconds(4))).alarms.empty());  // 39.5: inside the band
  EXPECT_TRUE(p.Step(seconds(5), Wall(seconds(5))).alarms.empty());  // 39.5
  StepResult cleared = p.Step(seconds(6), Wall(seconds(6)));         // 38 < 40 - 1
  ASSERT_EQ(cleared.alarms.size(), 1u);
  EXPECT_EQ(cleared.alarms[0].alarm.state, telemetry::AlarmState::kCleared);
  EXPECT_EQ(cleared.alarms[0].ts_ms, Wall(seconds(6)));
}

TEST(PipelineTest, SourceFailureIsCountedNotFatal) {
  S env("env0", "temperature", "Cel", Aggregation::kMean, {S::V(20), S::kFault, S::V(22), S::kSilent, S::V(24)});
  Pipeline p({{&env, seconds(1)}}, seconds(5), {{"temperature", Condition::kBelow, 1, 0, "warning"}});
  ASSERT_TRUE(p.Init().ok());
  Trace run = RunUntil(p, seconds(5));
  ASSERT_EQ(run.reports.size(), 1u);
  const Window& w = run.reports[0];
  const ChannelWindow& c = w.channels.at(0);
  EXPECT_EQ(c.n, 3u);
  EXPECT_DOUBLE_EQ(c.value, 22.0);  // (20 + 22 + 24) / 3: faulted samples excluded
  EXPECT_EQ(c.faults, 2u);          // including the one the source did not report
  EXPECT_NE(c.fault.find("env0: UNAVAILABLE"), std::string::npos) << c.fault;
  ASSERT_EQ(w.faults.size(), 1u);
  EXPECT_EQ(w.faults[0], "env0: UNAVAILABLE: temperature sensor: no ACK");
  EXPECT_EQ(p.counters().at(0).failures, 2u);
  EXPECT_EQ(p.counters().at(0).samples, 5u);
  EXPECT_TRUE(run.alarms.empty()) << "a faulted reading's 0 must not raise a below-1 alarm";
}

TEST(PipelineTest, ChannelWithoutSamplesStillAppears) {
  S count("loop0", "vehicle_count", "{vehicle}", Aggregation::kSum, {S::V(1), S::V(0)});
  S speed("loop0", "speed", "km/h", Aggregation::kMean, {S::V(48), S::kNone});
  Pipeline p({{&count, seconds(1)}, {&speed, seconds(1)}}, seconds(2), {});
  ASSERT_TRUE(p.Init().ok());
  Trace run = RunUntil(p, seconds(4));
  ASSERT_EQ(run.reports.size(), 2u);
  const Window& second = run.reports[1];
  ASSERT_EQ(second.channels.size(), 2u);
  EXPECT_EQ(second.channels[0].value, 0.0);
  EXPECT_EQ(second.channels[0].n, 2u);
  EXPECT_EQ(second.channels[1].name, "speed");
  EXPECT_EQ(second.channels[1].n, 0u);
  EXPECT_EQ(second.channels[1].faults, 0u);
}

TEST(PipelineTest, InitValidatesAndSurvivesAFailingSource) {
  S ok("env0", "temperature", "Cel", Aggregation::kMean, {S::V(20)});
  S dead("vib0", "vibration_rms_x", "[g]", Aggregation::kRms, {S::kFault}, Unavailable("adxl345: device id 0xff"));

  Status zero = Pipeline({{&ok, seconds(1)}, {&dead, Micros(0)}}, seconds(10), {}).Init();
  EXPECT_EQ(zero.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zero.message().find("sources[1] ('vib0').period"), std::string::npos) << zero.message();
  Status null = Pipeline({{nullptr, seconds(1)}}, seconds(10), {}).Init();
  EXPECT_NE(null.message().find("sources[0]"), std::string::npos) << null.message();
  Status report = Pipeline({{&ok, seconds(1)}}, Micros(0), {}).Init();
  EXPECT_NE(report.message().find("report period"), std::string::npos) << report.message();
  Status rule =
      Pipeline({{&ok, seconds(1)}}, seconds(10), {{"temperature", Condition::kAbove, 40, -1, "critical"}}).Init();
  EXPECT_NE(rule.message().find("alarm_rules[0].hysteresis"), std::string::npos) << rule.message();

  Pipeline p({{&ok, seconds(1)}, {&dead, seconds(1)}}, seconds(1), {});
  EXPECT_TRUE(p.Step(seconds(0), kWall0).next_wake > seconds(0));
  EXPECT_EQ(ok.samples(), 0) << "no sampling before Init";
  ASSERT_TRUE(p.Init().ok()) << "a dead sensor must not stop the device";
  Trace run = RunUntil(p, seconds(1));
  ASSERT_EQ(run.reports.size(), 1u);
  ASSERT_EQ(run.reports[0].faults.size(), 1u);
  EXPECT_NE(run.reports[0].faults[0].find("vib0"), std::string::npos) << run.reports[0].faults[0];
  EXPECT_EQ(p.counters().at(1).name, "vib0");
  EXPECT_EQ(p.counters().at(1).failures, 2u);  // Init, then the sample at 1 s
}

// Reconfigure: a shadow delta applied between Steps.

TEST(PipelineReconfigureTest, InvalidConfigurationIsRejectedAndNothingChanges) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(30), S::V(41), S::V(39.5), S::V(38)});
  Pipeline p({{&temp, seconds(1)}}, seconds(4), {{"temperature", Condition::kAbove, 40, 1, "warning"}});
  ASSERT_TRUE(p.Init().ok());
  Trace before = RunUntil(p, seconds(1));  // opens the window at 0, samples 30 at 1 s

  Status count = p.Reconfigure(seconds(1), {seconds(1), seconds(1)}, seconds(4), {});
  EXPECT_EQ(count.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(count.message().find("2 sample periods for 1 sources"), std::string::npos) << count.message();
  Status zero = p.Reconfigure(seconds(1), {Micros(0)}, seconds(1), {});
  EXPECT_NE(zero.message().find("sources[0].period: must be > 0"), std::string::npos) << zero.message();
  Status report = p.Reconfigure(seconds(1), {milliseconds(100)}, Micros(0), {});
  EXPECT_NE(report.message().find("report period must be > 0"), std::string::npos) << report.message();
  Status dup = p.Reconfigure(
      seconds(1), {milliseconds(100)}, seconds(1),
      {{"temperature", Condition::kAbove, 40, 1, "warning"}, {"temperature", Condition::kAbove, 50, 1, "critical"}});
  EXPECT_NE(dup.message().find("alarm_rules[1].condition: duplicates rule 0"), std::string::npos) << dup.message();

  // Still 1 s samples, a 4 s window and the 40 rule (the 100 ms / 1 s / no-rule attempts left no trace).
  Trace after = RunUntil(p, seconds(4), seconds(2));
  ASSERT_EQ(after.reports.size(), 1u);
  EXPECT_EQ(after.reports[0].end_ms, kWall0 + 4'000);
  EXPECT_EQ(after.reports[0].channels[0].n, 4u);
  EXPECT_EQ(temp.samples(), 4);
  ASSERT_EQ(after.alarms.size(), 2u);  // 41 raises at 2 s, 38 clears at 4 s
  EXPECT_EQ(after.alarms[0].alarm.state, telemetry::AlarmState::kRaised);
  EXPECT_EQ(after.alarms[1].alarm.state, telemetry::AlarmState::kCleared);
}

TEST(PipelineReconfigureTest, ChangedSamplePeriodReanchorsAtNowAndUnchangedOnesKeepTheirPhase) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(21.0)});
  S vib("vib0", "vibration_rms_x", "[g]", Aggregation::kRms, {S::V(0.3)});
  Pipeline p({{&temp, seconds(1)}, {&vib, milliseconds(300)}}, seconds(10), {});
  ASSERT_TRUE(p.Init().ok());
  (void)RunUntil(p, seconds(2));  // temp at 1, 2 s; vib at 0.3 .. 1.8 s (6 samples), next 2.1 s
  ASSERT_EQ(temp.samples(), 2);
  ASSERT_EQ(vib.samples(), 6);

  // At 2.05 s (between wakes): temp every 400 ms from now, vib unchanged.
  const Micros now = milliseconds(2'050);
  ASSERT_TRUE(p.Reconfigure(now, {milliseconds(400), milliseconds(300)}, seconds(10), {}).ok());
  StepResult r = p.Step(now, Wall(now));
  EXPECT_EQ(r.next_wake, milliseconds(2'100)) << "vib keeps its 300 ms phase (0.3 * 7)";
  Trace run = RunUntil(p, seconds(4), r.next_wake);
  // temp: 2.45, 2.85, 3.25, 3.65 s; vib: 2.1, 2.4, ..., 3.9 s.
  EXPECT_EQ(temp.samples(), 2 + 4);
  EXPECT_EQ(vib.samples(), 6 + 7);
  EXPECT_NE(std::find(run.wakes.begin(), run.wakes.end(), milliseconds(2'450)), run.wakes.end());
  EXPECT_NE(std::find(run.wakes.begin(), run.wakes.end(), milliseconds(3'650)), run.wakes.end());
  EXPECT_EQ(p.counters().at(0).skipped, 0u);
}

TEST(PipelineReconfigureTest, ReportPeriodChangeKeepsTheOpenWindowsStart) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(20.0)});
  Pipeline p({{&temp, seconds(1)}}, seconds(10), {});
  ASSERT_TRUE(p.Init().ok());
  (void)RunUntil(p, seconds(3));
  // Shorter, not yet passed: the window opened at 0 closes at 0 + 5 s.
  ASSERT_TRUE(p.Reconfigure(seconds(3), {seconds(1)}, seconds(5), {}).ok());
  Trace first = RunUntil(p, seconds(7), seconds(4));
  ASSERT_EQ(first.reports.size(), 1u);
  EXPECT_EQ(first.reports[0].start_ms, kWall0);
  EXPECT_EQ(first.reports[0].end_ms, kWall0 + 5'000);
  EXPECT_EQ(first.reports[0].channels[0].n, 5u);
  // At 7 s the window opened at 5 s; a 1 s period would have closed it at 6 s,
  // which has passed: it closes now, holding the 6 and 7 s samples.
  ASSERT_TRUE(p.Reconfigure(seconds(7), {seconds(1)}, seconds(1), {}).ok());
  StepResult now = p.Step(seconds(7), Wall(seconds(7)));
  ASSERT_TRUE(now.report.has_value());
  EXPECT_EQ(now.report->start_ms, kWall0 + 5'000);
  EXPECT_EQ(now.report->end_ms, kWall0 + 7'000);
  EXPECT_EQ(now.report->channels[0].n, 2u);
  Trace next = RunUntil(p, seconds(9), now.next_wake);
  ASSERT_EQ(next.reports.size(), 2u);  // 8 s and 9 s
  EXPECT_EQ(next.reports[1].start_ms, kWall0 + 8'000);
  EXPECT_EQ(next.reports[1].end_ms, kWall0 + 9'000);
}

TEST(PipelineReconfigureTest, KeptRulesKeepTheirStateRemovedOnesAreRetiredSilently) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(41), S::V(42), S::V(45), S::V(5), S::V(30)});
  S hum("env1", "humidity", "%", Aggregation::kMean, {S::V(95), S::V(10)});
  Pipeline p({{&temp, seconds(1)}, {&hum, seconds(1)}}, seconds(60),
             {{"temperature", Condition::kAbove, 40, 1, "warning"}, {"humidity", Condition::kAbove, 90, 5, "info"}});
  ASSERT_TRUE(p.Init().ok());
  Trace raised = RunUntil(p, seconds(1));
  ASSERT_EQ(raised.alarms.size(), 2u);  // 41 > 40 and 95 > 90

  // Same temperature rule, new severity; the humidity rule is gone; a new low-temperature rule.
  ASSERT_TRUE(p.Reconfigure(seconds(1), {seconds(1), seconds(1)}, seconds(60),
                            {{"temperature", Condition::kAbove, 40, 1, "critical"},
                             {"temperature", Condition::kBelow, 10, 2, "warning"}})
                  .ok());
  // 2 s: 42 is still over 40: no second "raised"; humidity 10 clears nothing (rule retired).
  EXPECT_TRUE(p.Step(seconds(2), Wall(seconds(2))).alarms.empty());

  // Kept state under a new threshold: raised at > 40, now > 50 with hysteresis 1.
  ASSERT_TRUE(p.Reconfigure(seconds(2), {seconds(1), seconds(1)}, seconds(60),
                            {{"temperature", Condition::kAbove, 50, 1, "critical"},
                             {"temperature", Condition::kBelow, 10, 2, "warning"}})
                  .ok());
  StepResult cleared = p.Step(seconds(3), Wall(seconds(3)));  // 45 < 50 - 1
  ASSERT_EQ(cleared.alarms.size(), 1u);
  EXPECT_EQ(cleared.alarms[0].alarm.state, telemetry::AlarmState::kCleared);
  EXPECT_DOUBLE_EQ(cleared.alarms[0].alarm.threshold, 50);
  EXPECT_EQ(cleared.alarms[0].alarm.severity, "critical");
  StepResult low = p.Step(seconds(4), Wall(seconds(4)));  // 5 < 10: the added rule starts cleared and raises
  ASSERT_EQ(low.alarms.size(), 1u);
  EXPECT_EQ(low.alarms[0].alarm.condition, Condition::kBelow);
  EXPECT_EQ(low.alarms[0].alarm.state, telemetry::AlarmState::kRaised);
}

TEST(PipelineReconfigureTest, BeforeTheFirstStepOnlyTheConfigurationChanges) {
  S temp("env0", "temperature", "Cel", Aggregation::kMean, {S::V(20.0)});
  Pipeline p({{&temp, seconds(1)}}, seconds(10), {});
  ASSERT_TRUE(p.Reconfigure(seconds(0), {milliseconds(500)}, seconds(2), {}).ok());
  ASSERT_TRUE(p.Init().ok());
  Trace run = RunUntil(p, seconds(4), seconds(1));
  ASSERT_EQ(run.reports.size(), 1u);  // 500 ms samples in a 2 s window opened by the first Step
  EXPECT_EQ(run.reports[0].start_ms, kWall0 + 1'000);
  EXPECT_EQ(run.reports[0].end_ms, kWall0 + 3'000);
  EXPECT_EQ(run.reports[0].channels[0].n, 4u);
}

}  // namespace
}  // namespace edgeforge::pipeline
