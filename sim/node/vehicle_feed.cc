#include "sim/node/vehicle_feed.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace edgeforge::sim {

size_t VehicleFeed::AddReader(int lane) {
  readers_.push_back({lane, arrivals_base_});
  return readers_.size() - 1;
}

int VehicleFeed::lane(size_t id) const {
  const int l = readers_[id].lane;
  return road_ != nullptr && l >= road_->spec().lanes ? -1 : l;
}

void VehicleFeed::Start(const RoadSegmentModel* road, Micros now) {
  road_ = road;
  fetched_until_ = RoadSeconds(now);
}

double VehicleFeed::RoadSeconds(Micros now) const { return start_seconds_ + static_cast<double>(now.count()) * 1e-6; }

Micros VehicleFeed::MonotonicAt(double seconds) const { return FromSeconds(seconds - start_seconds_); }

void VehicleFeed::Fetch(Micros now) {
  if (road_ == nullptr) return;
  const double floor = RoadSeconds(now - kMaxCatchUp);
  if (fetched_until_ < floor) fetched_until_ = floor;  // a long gap: do not generate what nobody can use
  const double target = RoadSeconds(now + kFetchAhead);
  const double slot = road_->spec().slot_s;
  std::array<bool, 256> watched{};
  for (size_t id = 0; id < readers_.size(); ++id) {
    if (lane(id) >= 0) watched[static_cast<size_t>(lane(id))] = true;
  }
  while (fetched_until_ < target) {
    // Whole slots: Vehicles() generates every vehicle of the slots it touches.
    const double t1 = (std::floor(fetched_until_ / slot) + 1) * slot;
    scratch_.clear();
    road_->Vehicles(fetched_until_, t1, scratch_);
    for (const Vehicle& v : scratch_) {
      if (!watched[v.lane]) continue;
      arrivals_.push_back({MonotonicAt(v.at_s), v.speed_mps, v.length_m, v.lane});
    }
    fetched_until_ = t1;
  }
}

const Arrival* VehicleFeed::Peek(size_t id) {
  Reader& r = readers_[id];
  if (r.cursor < arrivals_base_) r.cursor = arrivals_base_;
  while (r.cursor - arrivals_base_ < arrivals_.size()) {
    const Arrival& a = arrivals_[static_cast<size_t>(r.cursor - arrivals_base_)];  // < arrivals_.size()
    if (a.lane == r.lane) return &a;
    ++r.cursor;
  }
  return nullptr;
}

void VehicleFeed::Trim() {
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  for (size_t id = 0; id < readers_.size(); ++id) {
    if (lane(id) >= 0) keep = std::min(keep, readers_[id].cursor);
  }
  while (!arrivals_.empty() && arrivals_base_ < keep) {
    arrivals_.pop_front();
    ++arrivals_base_;
  }
}

}  // namespace edgeforge::sim
