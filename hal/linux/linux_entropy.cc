#include "hal/linux/linux_entropy.h"

#include <sys/random.h>

#include <cerrno>

#include "hal/linux/fs.h"

namespace edgeforge {

Status LinuxEntropy::DoFill(MutBytes out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs::ErrnoStatus(errno, "getrandom(" + std::to_string(out.size() - done) + " bytes)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace edgeforge
