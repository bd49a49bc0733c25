// Test support: where this build's binaries and the source tree are, found
// at run time, so that a test's object file does not depend on where the
// tree was cloned (ccache then shares compiled tests between clones: see
// the ccache note in CMakeLists.txt). Force-included into every test
// (tests/CMakeLists.txt), which sees them as EDGEFORGE_BIN_DIR and
// EDGEFORGE_SOURCE_DIR.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace edgeforge::testing_support {

/// The build directory: test binaries live in its tests/ folder
/// (/proc/self/exe names the binary, also under qemu-user).
inline const char* BinDir() {
  static const std::string dir = [] {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) std::abort();
    std::string p(buf, static_cast<size_t>(n));
    p = p.substr(0, p.rfind('/'));                                                           // the binary's folder
    if (p.size() >= 6 && p.compare(p.size() - 6, 6, "/tests") == 0) p.resize(p.size() - 6);  // <build>/tests
    return p;
  }();
  return dir.c_str();
}

/// The source tree this build was configured from (CMAKE_HOME_DIRECTORY in
/// the build's CMakeCache.txt).
inline const char* SourceDir() {
  static const std::string dir = [] {
    std::ifstream cache(std::string(BinDir()) + "/CMakeCache.txt");
    const std::string key = "CMAKE_HOME_DIRECTORY:INTERNAL=";
    for (std::string line; std::getline(cache, line);) {
      if (line.compare(0, key.size(), key) == 0) return line.substr(key.size());
    }
    std::abort();  // not a CMake build tree: nothing a test could do
  }();
  return dir.c_str();
}

}  // namespace edgeforge::testing_support
