// What the sources of every part share (each part's source sits in its folder,
// firmware/drivers/<part>/, next to its driver): the rounding to a sensor's
// resolution.
#pragma once

#include "firmware/pipeline/sensor_source.h"

namespace edgeforge::app {

/// Rounds to `decimals` places (the sensor's resolution) so telemetry carries
/// no noise digits. Dividing by a power of ten (not multiplying by 0.1) yields
/// the double nearest the decimal, which JSON then prints short: 101168.2.
double RoundTo(double v, int decimals);

}  // namespace edgeforge::app
