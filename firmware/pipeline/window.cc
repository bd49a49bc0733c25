#include "firmware/pipeline/window.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgeforge::pipeline {

using telemetry::Aggregation;

void WindowAggregator::Fault(Channel& c, std::string why) {
  ++c.out.faults;
  c.out.fault = std::move(why);
}

void WindowAggregator::Reset(Channel& c) {
  telemetry::ChannelWindow fresh;
  fresh.name = std::move(c.out.name);
  fresh.unit = std::move(c.out.unit);
  fresh.agg = c.out.agg;
  c.out = std::move(fresh);
  c.mean_sq = 0;
}

Folded WindowAggregator::Add(const telemetry::Reading& r) {
  if (r.name.empty()) return Folded::kRejected;
  const auto [it, inserted] = index_.try_emplace(r.name, channels_.size());
  if (inserted) {
    Channel c;
    c.out.name = r.name;
    c.out.unit = r.unit;
    c.out.agg = r.agg;
    channels_.push_back(std::move(c));
  }
  Channel& c = channels_[it->second];
  if (!r.fault.empty()) {
    Fault(c, r.fault);
    return Folded::kFault;
  }
  if (!c.typed) {
    c.out.unit = r.unit;
    c.out.agg = r.agg;
  }
  if (r.unit != c.out.unit || r.agg != c.out.agg) {
    Fault(c, r.name + ": sample in '" + r.unit + "' (" + telemetry::AggregationName(r.agg) + "), channel is '" +
                 c.out.unit + "' (" + telemetry::AggregationName(c.out.agg) + ")");
    return Folded::kFault;
  }
  // Running means (mean += (x - mean) / n) rather than sum / n: a constant
  // signal then reports exactly its value (20.2, not 20.199999999999996).
  const double v = r.value;
  const double n = static_cast<double>(c.out.n + 1);
  const double mean = c.out.mean + (v - c.out.mean) / n;
  const double mean_sq = c.mean_sq + (v * v - c.mean_sq) / n;
  const double sum = c.out.value + v;
  const bool finite = c.out.agg == Aggregation::kSum   ? std::isfinite(sum)
                      : c.out.agg == Aggregation::kRms ? std::isfinite(mean) && std::isfinite(mean_sq)
                                                       : std::isfinite(mean);
  if (!std::isfinite(v) || !finite) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", v);
    Fault(c, r.name + ": value " + value + " is not finite or overflows the window statistics");
    return Folded::kFault;
  }
  c.typed = true;
  c.out.min = c.out.n == 0 ? v : std::min(c.out.min, v);
  c.out.max = c.out.n == 0 ? v : std::max(c.out.max, v);
  ++c.out.n;
  c.out.mean = mean;
  c.mean_sq = mean_sq;
  switch (c.out.agg) {
    case Aggregation::kMean:
      c.out.value = mean;
      break;
    case Aggregation::kRms:
      c.out.value = std::sqrt(mean_sq);
      break;
    case Aggregation::kSum:
      c.out.value = sum;
      break;
  }
  return Folded::kSample;
}

std::vector<telemetry::ChannelWindow> WindowAggregator::Close() {
  std::vector<telemetry::ChannelWindow> out;
  out.reserve(channels_.size());
  for (Channel& c : channels_) {
    out.push_back(c.out);
    Reset(c);
  }
  return out;
}

}  // namespace edgeforge::pipeline
