#include "firmware/pipeline/schedule.h"

namespace edgeforge::pipeline {

Periodic::Tick Periodic::Poll(Micros now) {
  if (now < next_due_ || period_ <= Micros(0)) return {};
  const auto late_periods = static_cast<uint64_t>((now - next_due_) / period_);
  next_due_ += period_ * static_cast<int64_t>(late_periods + 1);
  return Tick{true, late_periods};
}

}  // namespace edgeforge::pipeline
