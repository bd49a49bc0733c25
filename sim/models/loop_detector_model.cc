#include "sim/models/loop_detector_model.h"

#include <cmath>
#include <string>

namespace edgeforge {
namespace {

Micros FromSeconds(double s) { return Micros(std::llround(s * 1e6)); }

}  // namespace

LoopDetectorModel::LoopDetectorModel(SimGpioLine& upstream, SimGpioLine& downstream, LoopGeometry geometry)
    : up_{&upstream}, down_{&downstream}, geometry_(geometry) {}

Status LoopDetectorModel::Close(Loop& loop) {
  if (!loop.open) return Status::Ok();
  loop.open = false;
  return loop.line->Drive(false, loop.end);
}

Status LoopDetectorModel::Present(Loop& loop, Micros start, Micros end) {
  loop.last_start = start;
  if (loop.open && start <= loop.end) {
    // Presence-mode output stays active: one longer pulse.
    if (end > loop.end) loop.end = end;
    ++merged_;
    return Status::Ok();
  }
  EF_RETURN_IF_ERROR(Close(loop));
  EF_RETURN_IF_ERROR(loop.line->Drive(true, start));
  loop.open = true;
  loop.end = end;
  return Status::Ok();
}

Status LoopDetectorModel::AddVehicle(Micros front_reaches_upstream, double speed_mps, double length_m) {
  if (!(std::isfinite(speed_mps) && speed_mps > 0) || !(std::isfinite(length_m) && length_m > 0)) {
    return InvalidArgument("loop model: vehicle speed and length must be > 0, got " + std::to_string(speed_mps) +
                           " m/s, " + std::to_string(length_m) + " m");
  }
  const Micros presence = FromSeconds((length_m + geometry_.loop_length_m) / speed_mps);
  const Micros up_start = front_reaches_upstream;
  const Micros down_start = up_start + FromSeconds(geometry_.spacing_m / speed_mps);
  if (vehicles_ > 0 && up_start < up_.last_start) {
    return InvalidArgument("loop model: vehicle at " + std::to_string(up_start.count()) +
                           " us is before the previous one at " + std::to_string(up_.last_start.count()) + " us");
  }
  if (vehicles_ > 0 && down_start < down_.last_start) {
    return InvalidArgument("loop model: vehicle at " + std::to_string(up_start.count()) +
                           " us would overtake the previous one between the loops");
  }
  EF_RETURN_IF_ERROR(Present(up_, up_start, up_start + presence));
  EF_RETURN_IF_ERROR(Present(down_, down_start, down_start + presence));
  ++vehicles_;
  return Status::Ok();
}

Status LoopDetectorModel::Flush() {
  EF_RETURN_IF_ERROR(Close(up_));
  return Close(down_);
}

}  // namespace edgeforge
