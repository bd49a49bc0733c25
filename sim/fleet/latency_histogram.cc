#include "sim/fleet/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "sim/fleet/metrics_server.h"

namespace edgeforge::sim {

void LatencyHistogram::Add(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // NaN or a clock step back: the fastest bucket, not lost
  const auto it = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  ++buckets_[static_cast<size_t>(it - kBounds.begin())];
  ++count_;
  sum_ += seconds;
  max_ = std::max(max_, seconds);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::QuantileUpperBound(double p) const {
  if (count_ == 0) return 0;
  const double rank = std::ceil(std::clamp(p, 0.0, 1.0) * static_cast<double>(count_));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (static_cast<double>(seen) >= std::max(rank, 1.0)) return i < kBounds.size() ? std::min(kBounds[i], max_) : max_;
  }
  return max_;
}

std::string LatencyHistogram::Prometheus(const std::string& name, const std::string& help) const {
  std::vector<std::pair<std::string, double>> samples;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBounds[i]);
    samples.push_back({std::string("_bucket{le=\"") + le + "\"}", static_cast<double>(cumulative)});
  }
  samples.push_back({"_bucket{le=\"+Inf\"}", static_cast<double>(count_)});
  samples.push_back({"_sum", sum_});
  samples.push_back({"_count", static_cast<double>(count_)});
  return PrometheusFamily(name, "histogram", help, samples);
}

}  // namespace edgeforge::sim
