// Scenario files (issue 10; docs/scenario.md has the schema): a load test
// written down, so that it can be reviewed, versioned and run again with the
// same devices, names and readings. `edgeforge sim --scenario FILE`.
//
// Version 1 describes the fleet: device groups (board, count, thing-name
// pattern, site, report window, sample periods), the run (duration, seed,
// time scale, connect ramp), the broker, a fault schedule, stages and
// canary rollouts through the device shadow.
//
// The parser is strict like the board parser (firmware/board): unknown keys,
// repeated keys, wrong types and out-of-range values are errors that name the
// file and the field path ("factory.json: groups[1].count: must be in
// 1..100000, got 0"). It is fuzzed (tests/fuzz/scenario_fuzz.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/status.h"
#include "sim/fleet/fleet.h"

namespace edgeforge::sim {

inline constexpr const char* kScenarioSchema = "edgeforge.scenario/1";
inline constexpr size_t kMaxScenarioBytes = 256 * 1024;
inline constexpr int kMaxScenarioNesting = 8;
inline constexpr size_t kMaxScenarioGroups = 64;
inline constexpr size_t kMaxScenarioFaults = 64;
inline constexpr size_t kMaxScenarioStages = 32;
inline constexpr size_t kMaxScenarioRollouts = 16;

struct Scenario {
  std::string source;  // the file it came from (error prefix)
  std::string name;
  std::string description;
  std::chrono::milliseconds duration{0};
  std::optional<uint64_t> seed;
  std::optional<double> time_scale;
  std::string broker_uri;  // empty: the embedded local broker
  std::optional<std::string> app;
  std::optional<double> connect_rate;
  std::optional<std::chrono::milliseconds> connect_window;
  /// Board specs are resolved: a path is relative to the scenario file's
  /// directory unless absolute; a built-in board name stays a name.
  std::vector<DeviceGroup> groups;
  /// The fault schedule (docs/scenario.md "faults"), in file order.
  std::vector<FleetFault> faults;
  /// Phases that fill the measured run, in order (docs/scenario.md "stages").
  std::vector<Stage> stages;
  /// Canary rollouts through the device shadow (docs/scenario.md "rollouts").
  std::vector<Rollout> rollouts;
  int devices() const;
};

/// Parses and validates a scenario document. `source` prefixes every error;
/// `base_dir` resolves relative board paths ("" = as given).
Result<Scenario> ParseScenario(std::string_view json, const std::string& source, const std::string& base_dir);
/// Reads and parses a scenario file (at most kMaxScenarioBytes).
Result<Scenario> LoadScenario(const std::string& path);

/// Sets `o` from the scenario: its groups and devices, duration, broker and
/// what else the file gives; fields the file leaves out keep `o`'s values.
void ApplyScenario(const Scenario& s, FleetOptions& o);

}  // namespace edgeforge::sim
