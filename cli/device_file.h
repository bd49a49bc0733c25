// edgeforge-device's settings: its command-line options and the config file
// (`--config /etc/edgeforge/device.json`, docs/device-config.md) that can
// hold the same settings. An option given on the command line wins over the
// file; the file wins over the defaults.
//
// The file is strict like a board file: one JSON object of known keys, each
// of its type and range, no key twice; every error names the file and the
// field ("/etc/edgeforge/device.json: identity.sign_key: must be a string").
// A config file that group or others may write is refused (anyone who can
// edit it can point the device at another broker or identity), as AWS IoT
// Device Client refuses one.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge::cli {

/// Log levels of edgeforge-device (and the sd-daemon priority journald
/// records each at: error 3, warn 4, info 6, debug 7).
inline constexpr const char* kLogLevels[] = {"error", "warn", "info", "debug"};

struct DeviceOptions {
  std::string config;  // --config: the file read (empty: none)
  std::string board;
  std::string thing;
  std::string broker;
  std::string certs;
  std::string ca, cert, key, sign_key;
  std::string state;
  std::string app = "edgeforge";
  std::string site = "site-1";
  std::string signer = "mbedtls";
  long long queue_bytes = 8LL << 20;
  std::string sync = "always";
  std::string log_level = "info";
  std::chrono::milliseconds duration{0};
  bool sim = false;
  long long seed = 1;
  double time_scale = 1;
  bool check = false;
  bool csr = false;  // --csr: make the TLS key here (if missing) and print a CSR for it
};

/// The largest --queue-bytes / queue_bytes: 4 GiB, or what a size_t holds on
/// a 32-bit target (armhf): one byte less.
long long MaxQueueBytes();

/// A config file's settings: what the file holds, nothing else.
struct DeviceFile {
  std::optional<std::string> thing, broker, certs, ca, cert, key, sign_key, board, state, app, site, signer, sync,
      log_level;
  std::optional<long long> queue_bytes, seed;
  std::optional<double> time_scale;
  std::optional<bool> sim;
};

/// Parses a config file's text; errors start with `source` (its path).
Result<DeviceFile> ParseDeviceFile(std::string_view text, const std::string& source);

/// Reads `path` (at most 64 KiB), refuses it if group or others may write
/// it (naming the mode and the chmod that fixes it), and parses it.
Result<DeviceFile> LoadDeviceFile(const std::string& path);

/// Copies each setting of `file` into `o` unless `given(option)` says the
/// command line gave that option ("--thing", "--sim-sensors", ...).
void ApplyDeviceFile(const DeviceFile& file, const std::function<bool(const std::string&)>& given, DeviceOptions& o);

}  // namespace edgeforge::cli
