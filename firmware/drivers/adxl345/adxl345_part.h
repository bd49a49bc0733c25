// The ADXL345 as a board part (firmware/app/part.h): bus facts (SPI or I2C),
// params (`odr_hz`), the sample period its FIFO allows, driver and source.
#pragma once

#include "firmware/app/part.h"
#include "firmware/drivers/adxl345/adxl345.h"

namespace edgeforge::app {

const Part& Adxl345Part();

/// The driver's config from the device's params; errors name the board file
/// and field.
Result<Adxl345Config> ParseAdxl345Params(const board::Board& board, const board::Device& device);

}  // namespace edgeforge::app
