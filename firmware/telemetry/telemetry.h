// Telemetry and alarm message schema v2 (docs/telemetry.md). The serialized
// bytes are the MQTT payload and the JWS payload, so IoT rule SQL reads these
// fields as is. v1 (one sample per message) is still parsed for old captures.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/telemetry/jws.h"
#include "hal/status.h"

namespace edgeforge::telemetry {

/// What devices emit.
inline constexpr int kSchemaVersion = 2;
/// Still accepted by Parse / ParseEnvelope (captures from older firmware).
inline constexpr int kSchemaVersionV1 = 1;
/// AWS IoT Core rejects payloads over 128 KB.
inline constexpr size_t kMaxPayloadBytes = 128 * 1024;
/// Longest node kind accepted (kinds are short names: "factory", "traffic").
inline constexpr size_t kMaxKindBytes = 32;

/// How the pipeline folds a channel's samples over a reporting window.
enum class Aggregation : uint8_t {
  kMean,  // a level (temperature, current, speed): n, min, max, mean
  kRms,   // a vibration amplitude: n, min, max, mean and RMS over the window
  kSum,   // a count of events in the sample period (vehicles): the window's total
};
/// "mean" | "rms" | "sum", as on the wire.
const char* AggregationName(Aggregation a);

/// One sample of one channel, as a sensor source produces it.
struct Reading {
  std::string name;   // "temperature", "pressure", "humidity"
  double value = 0;   // meaningful only if fault is empty
  std::string unit;   // UCUM code: "Cel", "Pa", "%"
  std::string fault;  // non-empty: the reading is invalid and this says why
  Aggregation agg = Aggregation::kMean;
};

/// v2 `status.prev_boot`: what the boot before this one left undelivered
/// (crash-loss accounting, docs/telemetry.md). A verifier expects every seq up
/// to last_seq to arrive, or `lost` of them not to.
struct PrevBoot {
  uint64_t boot = 0;      // the previous boot's number
  uint64_t last_seq = 0;  // the last seq issued before this boot
  bool exact = true;      // false: last_seq is an upper bound (the lease limit, after a power cut)
  uint64_t lost = 0;      // seqs up to last_seq that the device can no longer deliver
};

struct DeviceStatus {
  int64_t uptime_s = 0;
  uint64_t dropped = 0;             // messages this device could not deliver, since boot
  std::vector<std::string> faults;  // sources failing ("env0: ..."): in this sample (v1) / window (v2)
  uint64_t skipped_samples = 0;     // v2: scheduled samples not taken because the device was late, since boot
  // v2 with the reliable link (optional on parse: absent reads as 0):
  uint64_t queue_depth = 0;                    // messages in the durable outbox, not yet PUBACKed
  std::array<uint64_t, 3> dropped_by_class{};  // drops since boot by class (outbox + before it): alarm, state, bulk
  uint64_t quarantined = 0;                    // corrupt outbox records set aside at this boot
  uint64_t reconnects = 0;                     // connections re-established since boot
  // Issue 8 (optional on parse: absent reads as 0):
  uint64_t storage_errors = 0;  // failed storage operations (outbox log, state files) since boot
  uint64_t refused = 0;         // publishes the broker refused (MQTT 5 reason 0x87) since boot; not in dropped
  std::optional<PrevBoot> prev_boot;  // v2, optional: set in every window of a boot after one that issued seqs
  /// v2, optional: a signing-key rotation under way. The public key the
  /// device will sign with once the broker accepted a window carrying it
  /// (docs/telemetry.md "Signing-key rotation"); `thing` is empty (it is dev's).
  std::optional<jws::Jwk> next_key;
};

/// A v1 message: one sample per message. Devices emit v2; v1 remains for old
/// captures (Parse) and for tools that still write it (Serialize).
struct Message {
  std::string dev;    // thing name; must equal the topic's <thing>
  uint64_t seq = 0;   // per device, monotonic, never reused (persisted)
  uint64_t boot = 0;  // boot counter, persisted, +1 per start
  int64_t ts = 0;     // sample time, ms since the Unix epoch (UTC)
  std::vector<Reading> readings;
  DeviceStatus status;
};

/// One channel over one report window (v2 `readings.<name>`). Statistics cover
/// the `n` valid samples only; faulted samples are counted in `faults`.
struct ChannelWindow {
  std::string name;
  std::string unit;
  Aggregation agg = Aggregation::kMean;
  uint64_t n = 0;       // valid samples in the window; 0: the statistics are null
  double value = 0;     // headline: mean (kMean), RMS (kRms), sum (kSum)
  double min = 0;       // kMean, kRms
  double max = 0;       // kMean, kRms
  double mean = 0;      // kMean (== value), kRms
  uint64_t faults = 0;  // faulted samples in the window
  std::string fault;    // the last fault's text, when faults > 0
};

/// The two v2 message types; the name is also the topic's last level.
enum class MessageType : uint8_t {
  kTelemetry,  // dt/<app>/<site>/<thing>/telemetry: one report window
  kAlarm,      // dt/<app>/<site>/<thing>/alarm: one threshold crossing
};
/// "telemetry" | "alarm".
const char* MessageTypeName(MessageType t);

/// v2 telemetry: one report window.
struct Telemetry {
  std::string dev;
  std::string kind;  // node kind from the board: "factory", "traffic", [a-z0-9_-]+
  uint64_t seq = 0;  // shared with the device's alarm messages
  uint64_t boot = 0;
  int64_t ts = 0;            // window end, ms since the Unix epoch (UTC)
  int64_t window_start = 0;  // window start, ms since the Unix epoch (UTC)
  uint64_t window_ms = 0;    // window length on the device's monotonic clock
  std::vector<ChannelWindow> readings;
  DeviceStatus status;
};

enum class AlarmCondition : uint8_t {
  kAbove,  // raised when the value goes above the threshold
  kBelow,  // raised when the value goes below the threshold
};
enum class AlarmState : uint8_t {
  kRaised,   // the value crossed the threshold
  kCleared,  // the value came back past threshold -/+ hysteresis
};
const char* AlarmConditionName(AlarmCondition c);  // "above" | "below"
const char* AlarmStateName(AlarmState s);          // "raised" | "cleared"

struct Alarm {
  std::string channel;
  AlarmState state = AlarmState::kRaised;
  AlarmCondition condition = AlarmCondition::kAbove;
  double threshold = 0;
  double hysteresis = 0;  // >= 0
  double value = 0;       // the sample that changed the state
  std::string severity;   // "warning" | "critical"
};

/// v2 alarm: one state change of one rule.
struct AlarmMessage {
  std::string dev;
  std::string kind;
  uint64_t seq = 0;
  uint64_t boot = 0;
  int64_t ts = 0;  // time of the sample that changed the state, ms since the Unix epoch
  Alarm alarm;
};

/// The fields every message has: what a verifier tracks.
struct Envelope {
  int v = kSchemaVersion;
  MessageType type = MessageType::kTelemetry;  // v1 has no `type`: always telemetry
  std::string dev;
  uint64_t seq = 0;
  uint64_t boot = 0;
  int64_t ts = 0;
};

/// Compact JSON, keys in schema order. Values are written with the shortest
/// decimal that round-trips; integral values of v2 messages as integers.
std::string Serialize(const Message& m);  // v1
std::string Serialize(const Telemetry& m);
std::string Serialize(const AlarmMessage& m);

/// Strict parse of the envelope of a v1 or v2 message (either type); errors
/// name the field. At most kMaxPayloadBytes.
Result<Envelope> ParseEnvelope(std::string_view json);

/// Strict parse of a v2 telemetry message: every field present with its type,
/// statistics null exactly when n == 0, `fault` exactly when faults > 0;
/// errors name the field ("readings.speed.n").
Result<Telemetry> ParseTelemetry(std::string_view json);

/// Strict parse of a v2 alarm message.
Result<AlarmMessage> ParseAlarm(std::string_view json);

/// Strict parse of v1 or v2 telemetry into the v1 view: one Reading per
/// channel carrying its headline `value` (what `readings.<name>.value` means
/// in both versions); a v2 channel with n == 0 becomes a faulted reading.
Result<Message> Parse(std::string_view json);

/// A node kind: 1..32 bytes of [a-z0-9_-].
Status ValidateKind(std::string_view kind);

}  // namespace edgeforge::telemetry
