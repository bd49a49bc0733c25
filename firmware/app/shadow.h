// The device's classic (unnamed) AWS IoT device shadow: desired config in,
// reported state out (docs/shadow.md). Pure: no I/O, no clock; the device
// loop publishes what these functions build and feeds them what arrives.
//
// A delta (AWS IoT Core developer guide, "Device Shadow service documents")
// is {"version":N,"timestamp":T,"state":{...},"metadata":{...},"clientToken"?}
// where state holds only the desired fields that differ from reported; a
// nested object carries only its changed leaves and an array is a value
// (replaced whole). The only desired key this firmware owns is "config".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "firmware/app/device_config.h"
#include "firmware/board/board.h"
#include "hal/status.h"

namespace edgeforge::app {

/// IoT Core refuses a shadow whose desired + reported state is over 8 KB
/// (developer guide, "Diagnosing problems with shadows"; metadata does not count).
inline constexpr size_t kMaxShadowStateBytes = 8 * 1024;
/// A delta message carries per-leaf metadata next to its state, so the
/// whole message may be a few times the state: refused before parsing above this.
inline constexpr size_t kMaxDeltaBytes = 4 * kMaxShadowStateBytes;
/// A /get/accepted document holds desired, reported, delta and their metadata.
inline constexpr size_t kMaxGetAcceptedBytes = 8 * kMaxShadowStateBytes;
/// IoT Core refuses state documents nested more than 6 levels ("Device
/// Shadow error messages"); a delta adds one level (the message) and its
/// metadata one more (the timestamp objects).
inline constexpr int kMaxDeltaNesting = 8;
inline constexpr int kMaxGetAcceptedNesting = 9;
/// Reported strings that carry outside text (a fault, a rejection) are cut to
/// this many bytes so that the reported document stays small.
inline constexpr size_t kMaxReportedTextBytes = 256;

/// A thing name as IoT Core's registry allows it: 1..128 characters of
/// [a-zA-Z0-9:_-] (API reference, CreateThing). INVALID_ARGUMENT naming the problem.
Status ValidateThingName(std::string_view thing);

/// `$aws/things/<thing>/shadow/...`, the classic shadow's reserved topics
/// (developer guide, "Reserved topics").
struct ShadowTopics {
  std::string update;           // publish: reported state
  std::string update_delta;     // subscribe: desired differs from reported
  std::string update_accepted;  // subscribe: an update was taken
  std::string update_rejected;  // subscribe: an update was refused (e.g. 413: over 8 KB)
  std::string get;              // publish (empty payload): ask for the whole shadow
  std::string get_accepted;     // subscribe: the whole shadow
  std::string get_rejected;     // subscribe: no shadow yet (404) or refused
};
Result<ShadowTopics> ShadowTopicsFor(std::string_view thing);

/// The complete config after `delta_json`: `current` with state.config merged
/// in (report_ms and each sample_ms entry replace theirs; alarms replace the
/// whole list; null puts a field, or one device's period, back to the
/// board's; a null config puts everything back), carrying the delta's
/// version. INVALID_ARGUMENT naming the JSON path, `current` untouched:
///   "state.config.sample_ms.vib0: must be in 10..3600000, got 5"
///   "state.config.report_sm: unknown key (did you mean \"report_ms\"?)"
///   "state.lights: unknown key (known: config)"
/// Refused before parsing: over kMaxDeltaBytes, nested over kMaxDeltaNesting.
/// Also refused: not JSON, a repeated key, no version/state, a state over
/// kMaxShadowStateBytes, a config over app::kMaxConfigBytes. Members of the
/// message outside "state" (timestamp, metadata, clientToken, anything IoT
/// Core adds later) are the service's envelope and are not checked beyond
/// their types.
Result<DeviceConfig> ApplyDelta(std::string_view delta_json, const DeviceConfig& current,
                                     const board::Board& board, const std::set<std::string>& channels);

/// A /get/accepted document turned into a delta message for ApplyDelta /
/// ConfigShadow: {"version":N,"state":<its state.delta, or {}>}. The device
/// asks for the shadow after connecting: IoT Core sends a delta only when an
/// update happens, not to a device that was offline when desired changed.
Result<std::string> DeltaFromGetAccepted(std::string_view get_accepted_json);

/// The last rejected delta, as reported.
struct ConfigError {
  uint64_t version = 0;  // the delta's shadow version
  std::string message;   // the path-naming error
};

struct QueueReport {
  uint64_t depth = 0;  // messages waiting
  uint64_t bytes = 0;  // their size
  uint64_t dropped_alarm = 0;
  uint64_t dropped_state = 0;
  uint64_t dropped_bulk = 0;
};

/// Seqs the previous boot issued that the device can no longer deliver (issue 8).
struct CrashLossReport {
  uint64_t boot = 0;  // the previous boot
  uint64_t lost = 0;
};

struct ReportedInfo {
  std::string firmware_version;
  DeviceConfig config;                    // active
  std::optional<ConfigError> config_error;     // null once a config is applied
  std::map<std::string, std::string> sensors;  // device name -> "ok" or its fault
  QueueReport queue;
  uint64_t reconnects = 0;
  uint64_t storage_errors = 0;  // failed storage operations since boot (outbox log, state files)
  uint64_t refused = 0;         // publishes refused by the broker (MQTT 5 0x87) since boot
  std::optional<CrashLossReport> crash_loss;  // after the first boot: "crash_loss":{"boot":B,"lost":K}
  /// This run of the firmware and when its current connection began (wall
  /// clock, ms since the epoch): "session":{"instance":"...","since":T}.
  /// Another instance's session in the shadow, newer than this run's start,
  /// means two devices use one identity (ReportedSessionFromGetAccepted).
  std::string instance;  // empty: not reported
  int64_t connected_since_ms = 0;
};

struct ReportedSession {
  std::string instance;
  int64_t since_ms = 0;
};
/// state.reported.session of a get/accepted document, if it has a
/// well-formed one (advisory: anything else is nullopt, never an error).
std::optional<ReportedSession> ReportedSessionFromGetAccepted(std::string_view get_accepted_json);

/// The payload for ShadowTopics::update, compact, keys in this order:
///   {"state":{"reported":{"firmware":"0.4.0","config":{...},"config_version":12,
///    "config_error":null,"sensors":{"env0":"ok"},"queue":{"depth":0,"bytes":0,
///    "dropped":{"alarm":0,"state":0,"bulk":0}},"link":{"reconnects":0},
///    "storage_errors":0,"refused":0,
///    "crash_loss":{"boot":3,"lost":0},     (crash_loss only after a first boot)
///    "session":{"instance":"1-1700000000000","since":1700000012345}}}}  (with an instance)
/// config_error is {"version":N,"message":"..."} or null (IoT Core deletes a
/// field reported as null, which clears an old error). Fault and error texts
/// are cut to kMaxReportedTextBytes.
std::string ReportedState(const ReportedInfo& info);

/// What the device does with one delta.
enum class DeltaAction : uint8_t {
  kApply,   // a change: Pipeline::Reconfigure, SaveConfig, then Commit() and report
  kReject,  // invalid: the old config stays; report config_error (error())
  kIgnore,  // nothing new: do not report, or the report would bring the same delta back
};

struct DeltaDecision {
  DeltaAction action = DeltaAction::kIgnore;
  DeviceConfig config;  // kApply: the complete new config
  ConfigError error;         // kReject
};

/// The device's side of the desired/reported exchange, and what stops it
/// looping. IoT Core publishes a delta after every accepted update while
/// desired and reported differ, with a new version each time (every update,
/// the device's own reports included, bumps the version). After a rejection
/// the device reports config_error and leaves desired alone, so the same
/// delta comes back after each later report: a delta whose state equals the
/// last rejected one is ignored, whatever its version. A delta that changes
/// nothing (same settings as active, no error to clear) is ignored too, which
/// also ends any exchange a representation mismatch could start.
class ConfigShadow {
 public:
  /// `board` must outlive this object.
  ConfigShadow(const board::Board& board, std::set<std::string> channels, DeviceConfig active);

  /// Decides on one /update/delta payload (or DeltaFromGetAccepted's output).
  /// On kReject the error is remembered (error()).
  DeltaDecision OnDelta(std::string_view delta_json);
  /// The config from a kApply is live and persisted: it becomes active, the error is cleared.
  void Commit(DeviceConfig applied);
  /// A kApply that failed downstream (Reconfigure or SaveConfig): report it, keep the old config.
  void Fail(ConfigError error);

  const DeviceConfig& active() const { return active_; }
  const std::optional<ConfigError>& error() const { return error_; }

 private:
  const board::Board& board_;
  std::set<std::string> channels_;
  DeviceConfig active_;
  std::optional<ConfigError> error_;
  std::string rejected_state_;  // canonical JSON of the last rejected delta's state (or its bytes, if unparsable)
  std::string pending_state_;   // the same for the last kApply, until Commit or Fail
};

}  // namespace edgeforge::app
