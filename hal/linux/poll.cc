#include "hal/linux/poll.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "hal/linux/fs.h"

namespace edgeforge::linux_poll {
namespace {

int PollMillis(SteadyClock::duration left) {
  const auto ms = std::chrono::ceil<Millis>(left).count();
  return static_cast<int>(std::clamp<decltype(ms)>(ms, 0, INT_MAX));
}

}  // namespace

SteadyClock::time_point DeadlineAfter(Millis timeout) { return SteadyClock::now() + std::min(timeout, Millis(INT_MAX)); }

Result<short> PollUntil(int fd, short events, SteadyClock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, PollMillis(deadline - SteadyClock::now()));
    if (rc >= 0) return rc == 0 ? short{0} : p.revents;
    if (errno != EINTR) return fs::ErrnoStatus(errno, "poll");
  }
}

}  // namespace edgeforge::linux_poll
