// Fuzz target: app::ApplyDelta and ConfigShadow on /update/delta payloads
// (bytes from the network), plus DeltaFromGetAccepted and the reported
// document built from whatever came out.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "firmware/app/device_config.h"
#include "firmware/board/builtin.h"
#include "firmware/app/shadow.h"

namespace {

using namespace edgeforge;

const board::Board& Factory() {
  static const board::Board b = *board::LoadBoardSpec("factory-node");
  return b;
}

const std::set<std::string>& Channels() {
  static const std::set<std::string> c = {"temperature",     "pressure",        "humidity",       "vibration_rms_x",
                                          "vibration_rms_y", "vibration_rms_z", "vibration_peak", "vibration_crest",
                                          "motor_current",   "line_pressure"};
  return c;
}

// What ApplyDelta accepts is a config the device can run, persist and read back.
void CheckAccepted(const app::DeviceConfig& c) {
  const std::string json = app::SerializeConfig(c);
  if (json.size() > app::kMaxConfigBytes) __builtin_trap();
  if (c.report_ms < board::kMinReportMs || c.report_ms > board::kMaxPeriodMs) __builtin_trap();
  if (c.sample_ms.size() != Factory().devices.size()) __builtin_trap();
  for (const auto& [name, ms] : c.sample_ms) {
    if (Factory().FindDevice(name) == nullptr || ms < board::kMinSampleMs || ms > board::kMaxPeriodMs) __builtin_trap();
  }
  if (c.alarms.size() > app::kMaxAlarmRules || !pipeline::ValidateAlarmRules(c.alarms).ok()) __builtin_trap();
  auto back = app::ParseConfig(json, Factory(), Channels());
  if (!back.ok() || !app::SameSettings(*back, c)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  app::DeviceConfig current = app::DefaultsFrom(Factory());
  auto next = app::ApplyDelta(in, current, Factory(), Channels());
  app::ReportedInfo info;
  info.firmware_version = "fuzz";
  if (next.ok()) {
    CheckAccepted(*next);
    info.config = *next;
  } else {
    // Every rejection is INVALID_ARGUMENT with something to report.
    if (next.status().code() != StatusCode::kInvalidArgument || next.status().message().empty()) __builtin_trap();
    info.config = current;
    info.config_error = app::ConfigError{0, next.status().message()};
  }
  // Error texts quote the input (possibly invalid UTF-8): the report must still serialize.
  (void)app::ReportedState(info);

  app::ConfigShadow shadow(Factory(), Channels(), current);
  const app::DeltaDecision d = shadow.OnDelta(in);
  if ((d.action == app::DeltaAction::kReject) != !next.ok()) __builtin_trap();
  if (d.action == app::DeltaAction::kReject && shadow.OnDelta(in).action != app::DeltaAction::kIgnore) {
    __builtin_trap();  // the same delta again must not be reported again
  }

  auto from_get = app::DeltaFromGetAccepted(in);
  if (from_get.ok()) (void)app::ApplyDelta(*from_get, current, Factory(), Channels());
  return 0;
}
