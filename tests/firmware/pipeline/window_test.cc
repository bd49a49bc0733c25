#include "firmware/pipeline/window.h"

#include <gtest/gtest.h>

#include <cmath>

namespace edgeforge::pipeline {
namespace {

using telemetry::Aggregation;
using telemetry::ChannelWindow;
using telemetry::Reading;

Reading R(const std::string& name, double v, const std::string& unit, Aggregation agg) {
  return Reading{name, v, unit, "", agg};
}
Reading Faulted(const std::string& name, const std::string& unit, const std::string& why) {
  return Reading{name, 0, unit, why};
}

TEST(WindowTest, MeanOfHandComputedVector) {
  WindowAggregator w;
  for (double v : {20.1, 20.3, 20.2, 19.8})
    EXPECT_EQ(w.Add(R("temperature", v, "Cel", Aggregation::kMean)), Folded::kSample);
  const auto out = w.Close();
  ASSERT_EQ(out.size(), 1u);
  const ChannelWindow& c = out[0];
  EXPECT_EQ(c.name, "temperature");
  EXPECT_EQ(c.unit, "Cel");
  EXPECT_EQ(c.agg, Aggregation::kMean);
  EXPECT_EQ(c.n, 4u);
  EXPECT_NEAR(c.value, 20.1, 1e-12);  // (20.1 + 20.3 + 20.2 + 19.8) / 4 = 80.4 / 4
  EXPECT_NEAR(c.mean, 20.1, 1e-12);
  EXPECT_DOUBLE_EQ(c.min, 19.8);
  EXPECT_DOUBLE_EQ(c.max, 20.3);
  EXPECT_EQ(c.faults, 0u);
}

TEST(WindowTest, ConstantSignalReportsExactlyItsValue) {
  WindowAggregator w;
  for (int i = 0; i < 10; ++i) (void)w.Add(R("temperature", 20.2, "Cel", Aggregation::kMean));
  for (int i = 0; i < 7; ++i) (void)w.Add(R("vib", 0.1, "[g]", Aggregation::kRms));
  const auto out = w.Close();
  EXPECT_EQ(out[0].value, 20.2);  // exact: no 20.199999999999996 in the JSON
  EXPECT_EQ(out[1].value, 0.1);
  EXPECT_EQ(out[1].mean, 0.1);
}

TEST(WindowTest, RmsOfHandComputedVector) {
  WindowAggregator w;
  for (double v : {1.0, 2.0, 2.0}) (void)w.Add(R("vibration_rms_x", v, "[g]", Aggregation::kRms));
  const ChannelWindow c = w.Close().at(0);
  EXPECT_EQ(c.n, 3u);
  EXPECT_NEAR(c.value, std::sqrt(3.0), 1e-12);  // sqrt((1 + 4 + 4) / 3)
  EXPECT_NEAR(c.mean, 5.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(c.min, 1.0);
  EXPECT_DOUBLE_EQ(c.max, 2.0);
}

// Samples that are RMS values over equal sub-windows fold into the RMS of the
// whole signal: mean of the sub-windows' mean squares = the overall mean square.
TEST(WindowTest, RmsOfSubWindowRmsIsTheRmsOfTheWholeSignal) {
  const double signal[8] = {0.5, -1.5, 2.0, -0.25, 3.0, -3.0, 1.0, 0.0};
  double total_sq = 0;
  for (double x : signal) total_sq += x * x;
  WindowAggregator w;
  for (int part = 0; part < 2; ++part) {
    double sq = 0;
    for (int i = 0; i < 4; ++i) sq += signal[part * 4 + i] * signal[part * 4 + i];
    (void)w.Add(R("vibration_rms_x", std::sqrt(sq / 4), "[g]", Aggregation::kRms));
  }
  EXPECT_NEAR(w.Close().at(0).value, std::sqrt(total_sq / 8), 1e-12);
}

TEST(WindowTest, SumOfHandComputedVector) {
  WindowAggregator w;
  for (double v : {3.0, 0.0, 5.0, 2.0}) (void)w.Add(R("vehicle_count", v, "{vehicle}", Aggregation::kSum));
  const ChannelWindow c = w.Close().at(0);
  EXPECT_EQ(c.agg, Aggregation::kSum);
  EXPECT_EQ(c.n, 4u);
  EXPECT_EQ(c.value, 10.0);
}

TEST(WindowTest, FaultsAreCountedAndExcludedFromStatistics) {
  WindowAggregator w;
  (void)w.Add(R("temperature", 10, "Cel", Aggregation::kMean));
  EXPECT_EQ(w.Add(Faulted("temperature", "Cel", "env0: UNAVAILABLE: first")), Folded::kFault);
  (void)w.Add(R("temperature", 14, "Cel", Aggregation::kMean));
  EXPECT_EQ(w.Add(Faulted("temperature", "Cel", "env0: UNAVAILABLE: second")), Folded::kFault);
  EXPECT_EQ(w.Add(R("temperature", std::nan(""), "Cel", Aggregation::kMean)), Folded::kFault);
  const ChannelWindow c = w.Close().at(0);
  EXPECT_EQ(c.n, 2u);
  EXPECT_DOUBLE_EQ(c.value, 12.0);
  EXPECT_DOUBLE_EQ(c.min, 10.0);
  EXPECT_DOUBLE_EQ(c.max, 14.0);
  EXPECT_EQ(c.faults, 3u);
  EXPECT_NE(c.fault.find("not finite"), std::string::npos) << c.fault;  // the last one
  // The next window starts clean.
  const ChannelWindow next = w.Close().at(0);
  EXPECT_EQ(next.faults, 0u);
  EXPECT_TRUE(next.fault.empty());
}

TEST(WindowTest, ChannelWithoutSamplesStaysInFirstAppearanceOrder) {
  WindowAggregator w;
  (void)w.Add(R("vehicle_count", 1, "{vehicle}", Aggregation::kSum));
  (void)w.Add(R("speed", 52.0, "km/h", Aggregation::kMean));
  (void)w.Add(R("occupancy", 3.5, "%", Aggregation::kMean));
  (void)w.Close();
  // No vehicle in the next window: no speed sample at all.
  (void)w.Add(R("occupancy", 0, "%", Aggregation::kMean));
  (void)w.Add(R("vehicle_count", 0, "{vehicle}", Aggregation::kSum));
  const auto out = w.Close();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name, "vehicle_count");
  EXPECT_EQ(out[1].name, "speed");
  EXPECT_EQ(out[2].name, "occupancy");
  EXPECT_EQ(out[1].n, 0u);
  EXPECT_EQ(out[1].unit, "km/h");
  EXPECT_EQ(out[1].faults, 0u);
  EXPECT_EQ(out[0].n, 1u);
  EXPECT_EQ(out[0].value, 0.0);  // a real zero count, not "no data"
}

TEST(WindowTest, UnitChangeIsAFaultNotACrash) {
  WindowAggregator w;
  (void)w.Add(R("pressure", 101325, "Pa", Aggregation::kMean));
  EXPECT_EQ(w.Add(R("pressure", 1013.25, "hPa", Aggregation::kMean)), Folded::kFault);
  EXPECT_EQ(w.Add(R("pressure", 5, "Pa", Aggregation::kSum)), Folded::kFault);
  const ChannelWindow c = w.Close().at(0);
  EXPECT_EQ(c.unit, "Pa");
  EXPECT_EQ(c.n, 1u);
  EXPECT_DOUBLE_EQ(c.value, 101325);
  EXPECT_EQ(c.faults, 2u);
  EXPECT_NE(c.fault.find("pressure"), std::string::npos) << c.fault;
}

// A source that fails before its first good sample may not know the channel's
// aggregation; the first valid sample fixes it.
TEST(WindowTest, FirstValidSampleFixesUnitAndAggregation) {
  WindowAggregator w;
  (void)w.Add(Faulted("vehicle_count", "{vehicle}", "loop0: UNAVAILABLE"));  // agg defaults to kMean
  EXPECT_EQ(w.Add(R("vehicle_count", 4, "{vehicle}", Aggregation::kSum)), Folded::kSample);
  EXPECT_EQ(w.Add(R("vehicle_count", 2, "{vehicle}", Aggregation::kSum)), Folded::kSample);
  const ChannelWindow c = w.Close().at(0);
  EXPECT_EQ(c.agg, Aggregation::kSum);
  EXPECT_EQ(c.value, 6.0);
  EXPECT_EQ(c.faults, 1u);
}

TEST(WindowTest, OverflowingStatisticsAreAFault) {
  WindowAggregator w;
  (void)w.Add(R("vib", 1e200, "[g]", Aggregation::kRms));  // squares overflow a double
  (void)w.Add(R("count", 1.5e308, "1", Aggregation::kSum));
  EXPECT_EQ(w.Add(R("count", 1.5e308, "1", Aggregation::kSum)), Folded::kFault);
  const auto out = w.Close();
  EXPECT_EQ(out[0].n, 0u);
  EXPECT_EQ(out[0].faults, 1u);
  EXPECT_EQ(out[1].n, 1u);
  EXPECT_TRUE(std::isfinite(out[1].value));
}

TEST(WindowTest, ReadingWithoutANameIsRejected) {
  WindowAggregator w;
  EXPECT_EQ(w.Add(R("", 1, "Cel", Aggregation::kMean)), Folded::kRejected);
  EXPECT_EQ(w.channel_count(), 0u);
}

}  // namespace
}  // namespace edgeforge::pipeline
