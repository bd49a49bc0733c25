// Latency as a histogram with fixed bucket bounds (a 1-2-5 series from
// 100 us to 100 s, then +Inf), so that histograms from different runs or
// shards merge exactly by adding counts, and Prometheus can scrape it as a
// `histogram`. Exact percentiles still come from the samples the fleet keeps
// (LatencyRecorder); the histogram is what crosses process boundaries.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgeforge::sim {

class LatencyHistogram {
 public:
  /// Upper bounds in seconds (inclusive, as Prometheus's `le`); the last
  /// bucket (index kBounds.size()) is +Inf.
  static constexpr std::array<double, 19> kBounds = {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                                                     0.2,    0.5,    1,      2,     5,     10,    20,   50,   100};
  static constexpr size_t kBuckets = kBounds.size() + 1;

  void Add(double seconds);
  /// Adds `other`'s counts, sum and max: the histogram of both sets of samples.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double max() const { return max_; }
  /// Samples in bucket i (not cumulative).
  uint64_t bucket(size_t i) const { return buckets_[i]; }
  /// The upper bound of the bucket holding the p-quantile (p in [0,1]): an
  /// upper estimate, at most one bucket step high; the max for the top bucket.
  /// 0 when empty.
  double QuantileUpperBound(double p) const;
  /// The Prometheus text lines of a histogram family named `name`.
  std::string Prometheus(const std::string& name, const std::string& help) const;

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  double max_ = 0;
};

}  // namespace edgeforge::sim
