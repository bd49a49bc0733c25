// The ADS1115 as a board part (firmware/app/part.h): bus facts, params (the
// transducer channels), driver and source. The simulator wires its model
// from the same parsed channels.
#pragma once

#include <vector>

#include "firmware/app/part.h"
#include "firmware/drivers/ads1115/ads1115_source.h"

namespace edgeforge::app {

const Part& Ads1115Part();

/// The channels the device's params describe, validated (Validate()); errors
/// name the board file and field.
Result<std::vector<Ads1115Channel>> ParseAds1115Params(const board::Board& board, const board::Device& device);

}  // namespace edgeforge::app
