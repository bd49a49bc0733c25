#include "firmware/app/sensor_source.h"

#include <cmath>

namespace edgeforge::app {

double RoundTo(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace edgeforge::app
