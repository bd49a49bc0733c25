#include <time.h>

#include <cerrno>

#include "hal/clock.h"

namespace edgeforge {

Micros SystemClock::DoMonotonic() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Micros(int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000);
}

int64_t SystemClock::DoWallMillis() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void SystemClock::DoSleepFor(Micros d) {
  if (d.count() <= 0) return;
  timespec req{static_cast<time_t>(d.count() / 1'000'000),
               static_cast<long>((d.count() % 1'000'000) * 1000)};
  while (nanosleep(&req, &req) != 0 && errno == EINTR) {
  }
}

}  // namespace edgeforge
