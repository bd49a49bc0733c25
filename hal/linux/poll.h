// poll(2) with a deadline, shared by the Linux backends that wait on an fd
// (GPIO line events, tty bytes). The kernel waits in real time, so deadlines
// are CLOCK_MONOTONIC (steady_clock), not an injected Clock.
#pragma once

#include <chrono>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::linux_poll {

using SteadyClock = std::chrono::steady_clock;

/// now + timeout, capped so that a "forever" timeout (Millis::max()) cannot
/// overflow the clock's nanoseconds.
SteadyClock::time_point DeadlineAfter(Millis timeout);

/// Polls `fd` for `events` until `deadline`; a signal restarts it with the
/// time left. Returns revents, or 0 when the deadline passed.
Result<short> PollUntil(int fd, short events, SteadyClock::time_point deadline);

}  // namespace edgeforge::linux_poll
