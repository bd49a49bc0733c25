#include "cli/device_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>

#include "certs/pki.h"
#include "firmware/board/param_reader.h"
#include "firmware/board/strict_json.h"
#include "firmware/link/broker_uri.h"
#include "firmware/link/link.h"
#include "firmware/telemetry/jws.h"
#include "hal/linux/fs.h"

namespace edgeforge::cli {
namespace {

constexpr size_t kMaxFileBytes = 64 * 1024;
constexpr int kMaxNesting = 4;

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

long long MaxQueueBytes() {
  return static_cast<long long>(std::min<unsigned long long>(1ULL << 32, std::numeric_limits<size_t>::max()));
}

Result<DeviceFile> ParseDeviceFile(std::string_view text, const std::string& source) {
  auto json = board::ParseStrictObject(text, source, kMaxFileBytes, kMaxNesting, "device config");
  if (!json.ok()) return json.status();
  board::ParamReader r(*json, source, "");
  DeviceFile f;
  auto str = [&r](board::ParamReader& in, std::string_view key, std::optional<std::string>& out) {
    if (in.Has(key)) out = in.String(key);
  };
  str(r, "thing", f.thing);
  if (f.thing && r.ok()) {
    if (Status s = certs::ValidateThingName(*f.thing); !s.ok()) r.Fail("thing", s.message());
  }
  str(r, "broker", f.broker);
  if (f.broker && r.ok()) {
    if (auto u = link::ParseBrokerUri(*f.broker); !u.ok()) r.Fail("broker", u.status().message());
  }
  str(r, "certs", f.certs);
  if (r.Has("identity")) {
    board::ParamReader id = r.Object("identity");
    str(id, "ca", f.ca);
    str(id, "cert", f.cert);
    str(id, "key", f.key);
    str(id, "sign_key", f.sign_key);
  }
  str(r, "board", f.board);
  str(r, "state_dir", f.state);
  str(r, "app", f.app);
  str(r, "site", f.site);
  if (r.Has("signer")) f.signer = r.Enum("signer", {"mbedtls", "openssl"});
  if (r.Has("sync")) f.sync = r.Enum("sync", {"always", "batch", "never"});
  if (r.Has("log_level")) f.log_level = r.Enum("log_level", {"error", "warn", "info", "debug"});
  if (r.Has("queue_bytes")) f.queue_bytes = r.Integer("queue_bytes", 4096, MaxQueueBytes());
  if (r.Has("seed")) f.seed = r.Integer("seed", 0, 1LL << 62);
  if (r.Has("time_scale")) f.time_scale = r.Number("time_scale", board::Range::Between(0.001, 10000));
  if (r.Has("sim_sensors")) f.sim = r.Bool("sim_sensors");
  EF_RETURN_IF_ERROR(r.Finish());
  return f;
}

Result<DeviceFile> LoadDeviceFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fs::ErrnoStatus(errno, path);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(path + ": not a regular file");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return PermissionDenied(path + ": writable by " + ((st.st_mode & S_IWOTH) != 0 ? "others" : "its group") +
                            " (mode " + Octal(st.st_mode) +
                            "): whoever can edit it can point the device at another "
                            "broker or identity; fix: chmod 640 " +
                            path);
  }
  auto text = board::ReadBoundedFile(path, kMaxFileBytes, "device config");
  if (!text.ok()) return text.status();
  return ParseDeviceFile(*text, path);
}

void ApplyDeviceFile(const DeviceFile& file, const std::function<bool(const std::string&)>& given, DeviceOptions& o) {
  auto set = [&given](const char* option, const auto& from, auto& to) {
    if (from && !given(option)) to = *from;
  };
  set("--thing", file.thing, o.thing);
  set("--broker", file.broker, o.broker);
  set("--certs", file.certs, o.certs);
  set("--ca", file.ca, o.ca);
  set("--cert", file.cert, o.cert);
  set("--key", file.key, o.key);
  set("--sign-key", file.sign_key, o.sign_key);
  set("--board", file.board, o.board);
  set("--state", file.state, o.state);
  set("--app", file.app, o.app);
  set("--site", file.site, o.site);
  set("--signer", file.signer, o.signer);
  set("--sync", file.sync, o.sync);
  set("--log-level", file.log_level, o.log_level);
  set("--queue-bytes", file.queue_bytes, o.queue_bytes);
  set("--seed", file.seed, o.seed);
  set("--time-scale", file.time_scale, o.time_scale);
  set("--sim-sensors", file.sim, o.sim);
}

}  // namespace edgeforge::cli
