// The part of a node's configuration an operator changes at run time through
// the device shadow (docs/shadow.md): sampling periods, the reporting period
// and the alarm rules. It starts as the board file's values, is validated
// against the board as strictly as the board itself (errors name the JSON
// path), is persisted as one record, and is what the shadow reports as
// `config`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/app/node.h"
#include "firmware/board/board.h"
#include "firmware/board/param_reader.h"
#include "firmware/pipeline/alarm.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "hal/storage.h"

namespace edgeforge::app {

/// The Storage record holding the active config.
inline constexpr char kConfigRecord[] = "config.json";
inline constexpr size_t kMaxAlarmRules = 64;
/// SerializeConfig's output is at most this long. IoT Core holds the config
/// twice in a shadow (desired and reported) and refuses a shadow whose state
/// is over 8 KB (AWS IoT Core developer guide, "Diagnosing problems with
/// shadows"), so one copy gets half of it.
inline constexpr size_t kMaxConfigBytes = 4 * 1024;
/// Bounds for the persisted record (a config plus its envelope).
inline constexpr size_t kMaxConfigRecordBytes = 16 * 1024;
inline constexpr int kMaxConfigNesting = 8;

struct DeviceConfig {
  uint32_t report_ms = 0;                     // board::kMinReportMs..kMaxPeriodMs
  std::map<std::string, uint32_t> sample_ms;  // every board device name -> its period, kMinSampleMs..kMaxPeriodMs
  std::vector<pipeline::AlarmRule> alarms;    // <= kMaxAlarmRules, unique (channel, condition), on node channels
  uint64_t version = 0;                       // shadow version last applied; 0 = board defaults
};

/// Same periods and rules (the version is not compared).
bool SameSettings(const DeviceConfig& a, const DeviceConfig& b);

/// The board's own periods and alarms, version 0.
DeviceConfig DefaultsFrom(const board::Board& board);

/// The shadow's `config` object, compact, keys in a fixed order:
///   {"report_ms":10000,"sample_ms":{"adc0":1000,"env0":1000,"vib0":250},
///    "alarms":[{"channel":"temperature","above":40,"hysteresis":1,"severity":"warning"}]}
/// sample_ms lists every device (by name); an alarm names its threshold
/// "above" or "below" as in a board file, and carries every field: IoT Core
/// compares arrays whole, so the reported array must equal the desired one
/// for the delta to clear. Integral numbers are written without a fraction.
std::string SerializeConfig(const DeviceConfig& config);

/// How ReadConfigInto treats absent and null fields.
enum class ConfigMode : uint8_t {
  kComplete,  // a whole config (the persisted copy): report_ms, sample_ms and alarms are required, null is a type error
  kPatch,     // a shadow delta: every field optional; null puts a field (or one device's period) back to the board's
};

/// Reads the config object `r` stands for into `config`, with the board's
/// rules: sample_ms keys are the board's device names, periods in
/// board::kMinSampleMs..kMaxPeriodMs (report: kMinReportMs..kMaxPeriodMs),
/// integers only; alarms replace the list whole (<= kMaxAlarmRules), each with
/// channel (one of `channels`), exactly one of above/below, hysteresis >= 0,
/// severity info|warning|critical, no two on the same (channel, condition).
/// Problems are latched in `r` (check r.Finish()); `config` is then partly
/// changed and must be dropped. In kComplete mode a device that sample_ms
/// does not list keeps the period already in `config`.
void ReadConfigInto(board::ParamReader& r, ConfigMode mode, const board::Board& board,
                    const std::set<std::string>& channels, DeviceConfig& config);

/// INVALID_ARGUMENT when SerializeConfig(config) is over kMaxConfigBytes;
/// `where` is the JSON path the message starts with.
Status CheckConfigSize(const DeviceConfig& config, const std::string& where);

/// Parses a whole config object (kComplete, starting from the board's
/// defaults): the persisted copy, or a config written by hand. Errors name the
/// field path ("sample_ms.vib0: must be in 10..3600000, got 5"). Version 0.
Result<DeviceConfig> ParseConfig(std::string_view json, const board::Board& board,
                                 const std::set<std::string>& channels);

/// Writes {"version":N,"config":<SerializeConfig>} to kConfigRecord with WriteAtomic.
Status SaveConfig(Storage& storage, const DeviceConfig& config);

/// Reads kConfigRecord back. NOT_FOUND if it was never written (run on the
/// board's defaults); DATA_LOSS "config.json: ..." if it is not a readable
/// JSON record; INVALID_ARGUMENT "config.json: config.<path>: ..." if it does
/// not fit this board (a firmware update changed the board). On any error
/// the caller falls back to DefaultsFrom and reports why.
Result<DeviceConfig> LoadConfig(Storage& storage, const board::Board& board, const std::set<std::string>& channels);

/// Every telemetry channel the node's parts produce (what alarms may name).
std::set<std::string> ChannelsOf(const Node& node);

/// A config as Pipeline::Reconfigure takes it: one period per part, in the
/// node's part order (the order of Node::Slots()).
struct PipelineSettings {
  std::vector<Micros> sample_periods;
  Micros report_period{0};
  std::vector<pipeline::AlarmRule> rules;
};
PipelineSettings ToPipeline(const DeviceConfig& config, const Node& node);

/// Strict JSON reading shared by the config record and the shadow documents:
/// refuses (INVALID_ARGUMENT) before parsing a text over `max_bytes` or nested
/// deeper than `max_depth` (the library recurses per level); then a key
/// repeated in one object ("state.config.report_ms: key appears twice"), a
/// number outside double range ("1e999"), a root that is not an object.
/// Syntax errors give the byte offset.
Result<board::Json> ParseStrictJson(std::string_view text, size_t max_bytes, int max_depth);

}  // namespace edgeforge::app
