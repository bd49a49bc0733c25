// The latency histogram (sim/fleet/latency_histogram.h): fixed buckets, so
// histograms merge exactly, and the Prometheus histogram lines.
#include "sim/fleet/latency_histogram.h"

#include <gtest/gtest.h>

namespace edgeforge::sim {
namespace {

TEST(LatencyHistogramTest, BucketsAreInclusiveUpperBoundsWithAnInfBucket) {
  LatencyHistogram h;
  h.Add(0.0001);   // exactly on the first bound: in it (le)
  h.Add(0.00011);  // the second bucket
  h.Add(0.3);      // le 0.5
  h.Add(1000);     // +Inf
  h.Add(-1);       // a clock step back: counted in the first bucket, never dropped
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(11), 1u);  // 0.5
  EXPECT_EQ(h.bucket(LatencyHistogram::kBuckets - 1), 1u);
  EXPECT_DOUBLE_EQ(h.max(), 1000);
  EXPECT_NEAR(h.sum(), 0.0001 + 0.00011 + 0.3 + 1000, 1e-9);
}

TEST(LatencyHistogramTest, TwoHalvesMergeIntoTheWhole) {
  LatencyHistogram whole, a, b;
  for (int i = 0; i < 1000; ++i) {
    const double s = 0.0002 * (i % 97) + 0.001 * (i % 13);
    whole.Add(s);
    (i % 3 == 0 ? a : b).Add(s);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), whole.count());
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) EXPECT_EQ(a.bucket(i), whole.bucket(i)) << i;
  EXPECT_NEAR(a.sum(), whole.sum(), 1e-9);
  EXPECT_DOUBLE_EQ(a.max(), whole.max());
  EXPECT_DOUBLE_EQ(a.QuantileUpperBound(0.99), whole.QuantileUpperBound(0.99));
}

TEST(LatencyHistogramTest, QuantilesAreTheBucketUpperBoundCappedAtTheMax) {
  LatencyHistogram h;
  EXPECT_EQ(h.QuantileUpperBound(0.5), 0);
  for (int i = 0; i < 90; ++i) h.Add(0.0015);  // le 0.002
  for (int i = 0; i < 10; ++i) h.Add(0.04);    // le 0.05
  EXPECT_DOUBLE_EQ(h.QuantileUpperBound(0.5), 0.002);
  EXPECT_DOUBLE_EQ(h.QuantileUpperBound(0.9), 0.002);
  EXPECT_DOUBLE_EQ(h.QuantileUpperBound(0.91), 0.04);  // the max caps the 0.05 bound
  EXPECT_DOUBLE_EQ(h.QuantileUpperBound(1.0), 0.04);
}

TEST(LatencyHistogramTest, PrometheusLinesAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.Add(0.0003);
  h.Add(0.004);
  h.Add(7);
  const std::string text = h.Prometheus("x_seconds", "Latency.");
  EXPECT_NE(text.find("# TYPE x_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.0002\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.005\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"10\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum 7.0043\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace edgeforge::sim
