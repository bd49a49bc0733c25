// The OPS243-A radar as a board part (firmware/app/part.h): bus facts, params
// (`units`), driver and source.
#pragma once

#include "firmware/app/part.h"
#include "firmware/drivers/ops243/ops243.h"

namespace edgeforge::app {

const Part& Ops243Part();

/// The driver's config from the device's params; errors name the board file
/// and field.
Result<Ops243Config> ParseOps243Params(const board::Board& board, const board::Device& device);

}  // namespace edgeforge::app
