// The BME280 as a board part (firmware/app/part.h): bus facts, params (none),
// driver and source.
#pragma once

#include "firmware/app/part.h"

namespace edgeforge::app {

const Part& Bme280Part();

}  // namespace edgeforge::app
