// A dual-loop detector as a board part (firmware/app/part.h): bus facts,
// params (the trap geometry), driver and source.
#pragma once

#include "firmware/app/part.h"
#include "firmware/drivers/loop_detector/loop_detector.h"

namespace edgeforge::app {

const Part& LoopDetectorPart();

/// The driver's config from the device's params, validated; errors name the
/// board file and field.
Result<LoopConfig> ParseLoopDetectorParams(const board::Board& board, const board::Device& device);

}  // namespace edgeforge::app
