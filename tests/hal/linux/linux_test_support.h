// Checks every hal/linux backend's Open() must pass on a machine without the
// device nodes: a missing node, a regular file where the node should be, and a
// node the caller may not open. The backends differ only in how they open a
// path, so each test passes an OpenFn and names what a regular file is not.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "hal/status.h"
#include "hal/linux/fs.h"

namespace edgeforge::testing_support {

/// Opens the node at `path` the way one backend does and returns the status
/// of that open (whatever it opened is closed again before it returns).
using OpenFn = std::function<Status(const std::string& path)>;

/// An empty regular file, mode 0600, in the test temp dir. The caller unlinks it.
inline std::string MakeRegularFile() {
  std::string path = ::testing::TempDir() + "edgeforge_linux_hal_testXXXXXX";
  const int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0) << path;
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(::chmod(path.c_str(), 0600), 0) << path;
  return path;
}

/// A missing node is NOT_FOUND with exactly "<path>: No such file or directory".
inline void ExpectMissingNodeIsNotFound(const OpenFn& open, const std::string& path) {
  const Status st = open(path);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_EQ(st.message(), path + ": No such file or directory");
}

/// A regular file is FAILED_PRECONDITION "<path>: <not_what>..." (the backend's
/// first ioctl gets ENOTTY; ENOSYS under qemu-user), and the descriptor opened to find out is closed.
inline void ExpectRegularFileRefusedWithoutFdLeak(const OpenFn& open, const std::string& not_what) {
  const std::string path = MakeRegularFile();
  const size_t fds = fs::OpenDescriptorCount();
  const Status st = open(path);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find(path + ": " + not_what), std::string::npos) << st.message();
  EXPECT_EQ(fs::OpenDescriptorCount(), fds);
  ::unlink(path.c_str());
}

/// A node the caller may not open (a mode 0600 file of another user) is
/// PERMISSION_DENIED naming the path. Root bypasses file modes, so the open
/// runs in a forked child that first drops to nobody (uid and gid 65534).
inline void ExpectOpenRefusedAsNobody(const OpenFn& open) {
  const std::string path = MakeRegularFile();
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
          std::fprintf(stderr, "cannot drop root\n");
          std::_Exit(2);
        }
        const Status st = open(path);
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        std::_Exit(st.code() == StatusCode::kPermissionDenied && st.message().find(path) != std::string::npos ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "PERMISSION_DENIED");
  ::unlink(path.c_str());
}

}  // namespace edgeforge::testing_support
