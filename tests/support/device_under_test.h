// Test support: which edgeforge-device a hardware-in-the-loop test runs.
//
// By default this build's own binary. EDGEFORGE_DEVICE_UNDER_TEST names
// another command, split at spaces, e.g. a cross-built binary under
// qemu-user: "qemu-aarch64 /src/build/arm64/edgeforge-device" (what
// `scripts/test --target arm64` sets). EDGEFORGE_DEVICE_MACHINE, when set,
// is the ELF machine that binary must be built for ("aarch64", "arm",
// "x86-64"), so a job meant to test an ARM build cannot pass on the host's.
#pragma once

#include <elf.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cli_run.h"

namespace edgeforge::testing_support {

/// The device command (program and any leading arguments, such as an emulator).
inline Command DeviceUnderTest() {
  const char* env = std::getenv("EDGEFORGE_DEVICE_UNDER_TEST");
  if (env == nullptr || *env == '\0') return Command{{std::string(EDGEFORGE_BIN_DIR) + "/edgeforge-device"}};
  Command c;
  std::istringstream words(env);
  for (std::string w; words >> w;) c.argv.push_back(w);
  return c;
}

/// The device binary in that command: its last word.
inline std::string DeviceBinary() {
  const Command c = DeviceUnderTest();
  return c.argv.empty() ? "" : c.argv.back();
}

/// "x86-64", "aarch64", "arm", "other (<e_machine>)", or "" when `path` is not an ELF file.
inline std::string ElfMachine(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char ident[EI_NIDENT + 4] = {};
  if (!in.read(reinterpret_cast<char*>(ident), sizeof ident)) return "";
  if (ident[EI_MAG0] != ELFMAG0 || ident[EI_MAG1] != ELFMAG1 || ident[EI_MAG2] != ELFMAG2 ||
      ident[EI_MAG3] != ELFMAG3 || ident[EI_DATA] != ELFDATA2LSB) {
    return "";
  }
  // e_type (2 bytes) then e_machine (2 bytes, little-endian) follow e_ident.
  const unsigned machine = ident[EI_NIDENT + 2] | (ident[EI_NIDENT + 3] << 8);
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_AARCH64:
      return "aarch64";
    case EM_ARM:
      return "arm";
    default:
      return "other (" + std::to_string(machine) + ")";
  }
}

/// The machine EDGEFORGE_DEVICE_MACHINE requires, or "" for any.
inline std::string RequiredDeviceMachine() {
  const char* env = std::getenv("EDGEFORGE_DEVICE_MACHINE");
  return env == nullptr ? "" : env;
}

/// The device command with `args` appended.
inline Command DeviceCommand(const std::vector<std::string>& args) {
  Command c = DeviceUnderTest();
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  return c;
}

}  // namespace edgeforge::testing_support
