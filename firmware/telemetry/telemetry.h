// Telemetry message schema v1 (docs/telemetry.md). The serialized bytes are the
// MQTT payload and the JWS payload, so IoT rule SQL reads these fields as is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hal/status.h"

namespace edgeforge::telemetry {

inline constexpr int kSchemaVersion = 1;
/// AWS IoT Core rejects payloads over 128 KB.
inline constexpr size_t kMaxPayloadBytes = 128 * 1024;

/// How the pipeline folds a channel's samples over a reporting window.
enum class Aggregation : uint8_t {
  kMean,  // a level (temperature, current, speed): n, min, max, mean
  kRms,   // a vibration amplitude: n, min, max, mean and RMS over the window
  kSum,   // a count of events in the sample period (vehicles): the window's total
};

/// One sample of one channel, as a sensor source produces it.
struct Reading {
  std::string name;   // "temperature", "pressure", "humidity"
  double value = 0;   // meaningful only if fault is empty
  std::string unit;   // UCUM code: "Cel", "Pa", "%"
  std::string fault;  // non-empty: the reading is invalid and this says why
  Aggregation agg = Aggregation::kMean;
};

struct DeviceStatus {
  int64_t uptime_s = 0;
  uint64_t dropped = 0;             // readings this device could not deliver, since boot
  std::vector<std::string> faults;  // sensors currently failing ("env0: ...")
};

struct Message {
  std::string dev;    // thing name; must equal the topic's <thing>
  uint64_t seq = 0;   // per device, monotonic, never reused (persisted)
  uint64_t boot = 0;  // boot counter, persisted, +1 per start
  int64_t ts = 0;     // sample time, ms since the Unix epoch (UTC)
  std::vector<Reading> readings;
  DeviceStatus status;
};

/// Compact JSON, keys in schema order. Values are written with the shortest
/// decimal that round-trips.
std::string Serialize(const Message& m);

/// Strict parse of a v1 message: every required field present with its type,
/// `v` == 1, names non-empty; errors name the field ("readings.temperature.unit").
Result<Message> Parse(std::string_view json);

}  // namespace edgeforge::telemetry
