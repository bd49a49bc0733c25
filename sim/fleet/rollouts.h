// Shadow rollouts and stages (docs/scenario.md "stages", "rollouts"): an
// operator in the fleet changes devices' desired config through the device
// shadow service, as one would with IoT Core, and watches what comes back.
//
// A rollout is a canary: it sets `desired` on a growing share of a group,
// step by step; after each step's hold it counts the step's devices that
// applied the change (their reported config holds it), that rejected it
// (their reported config_error), and the alarm messages they sent meanwhile.
// Over the limits it rolls every device it touched back to the config it
// reported before, and stops; otherwise it goes on to the next step.
//
// A stage is a phase of the run with a duration; it may change the desired
// config of a share of a group when it starts (no gate). Stages follow each
// other from the moment the fleet is up; each is reported as a window.
//
// The operator is an MQTT client with the shadow-service identity (the local
// broker's ACL lets it read and write every thing's shadow), so rollouts and
// stage changes need the embedded broker. It runs on the fleet thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "sim/fleet/report.h"

namespace edgeforge::sim {

struct Provisioned;

struct RolloutStep {
  double share = 1.0;  // of the group's devices, cumulative: each step includes the ones before
  Millis hold{0};      // how long to watch before deciding
};

struct Rollout {
  std::string name;
  std::string group;  // empty: every group
  Millis at{0};       // after the fleet is up
  /// Merged into each target's state.desired, e.g. {"config":{"report_ms":2000}}.
  nlohmann::json desired;
  std::vector<RolloutStep> steps;
  /// Roll back when a step's devices rejected more than this many times, or
  /// sent more than this many alarm messages during its hold.
  uint64_t max_rejected = 0;
  uint64_t max_alarms = std::numeric_limits<uint64_t>::max();
  bool gated = true;  // false: a stage's change, applied without a decision
};

struct StageChange {
  std::string group;  // empty: every group
  double share = 1.0;
  nlohmann::json desired;
};

struct Stage {
  std::string name;
  Millis duration{0};
  std::vector<StageChange> changes;  // applied when the stage starts
};

/// The stages' changes as ungated one-step rollouts, each starting with its stage.
std::vector<Rollout> StageRollouts(const std::vector<Stage>& stages);
/// The stages as report windows (kind "stage"), the fleet up at `up_s`
/// seconds into the run; their counts come from FillFaultWindows.
std::vector<FaultWindowReport> StageWindows(const std::vector<Stage>& stages, double up_s);

/// Checks rollouts against the fleet: groups exist, the embedded broker
/// (the shadow service) is there, every step ends inside `duration`.
/// Errors name "rollouts[i] (name)".
Status ValidateRollouts(const std::vector<Rollout>& rollouts, const Provisioned& p, bool local_broker,
                        std::chrono::milliseconds duration);

/// Whether `have` holds everything in `want` (objects recursively; other
/// values, arrays included, compare whole): a reported config that holds a
/// desired change.
bool JsonContains(const nlohmann::json& have, const nlohmann::json& want);

/// The desired state that undoes `change` on a device whose state was
/// `before`: before's values for what the change touched, and null (IoT
/// Core deletes the key) for what before did not have. Desired merges, so
/// setting `before` alone would leave a key the change added.
nlohmann::json RestoreDesired(const nlohmann::json& change, const nlohmann::json& before);

class RolloutEngine {
 public:
  struct Options {
    std::string broker_uri;
    std::string pki_dir;  // shadow.crt / shadow.key: the operator's identity
    uint64_t seed = 1;
    /// Verified alarm messages of a thing so far (the verifier's count); null: 0.
    std::function<uint64_t(const std::string& thing)> alarms_of;
  };
  /// Connects the operator and subscribes to every thing's update/documents.
  static Result<std::unique_ptr<RolloutEngine>> Start(const std::vector<Rollout>& rollouts, const Provisioned& p,
                                                      Options options);
  ~RolloutEngine();

  /// The fleet thread, every tick: starts, decides and rolls back steps.
  void Tick(Micros now, Micros up, std::ostream& log);
  /// When the measured window ended (fleet thread): decides the steps in
  /// progress whose hold is (within a second) over, and every stage change;
  /// starts nothing new.
  void Finish(Micros now, std::ostream& log);
  /// The outcome of each rollout so far.
  std::vector<RolloutReport> Reports() const;

 private:
  RolloutEngine() = default;
  struct Run {
    Rollout spec;
    std::vector<std::string> order;  // the group's things in the order steps take them
    size_t step = 0;
    int state = 0;  // 0 waiting, 1 in a step, 2 completed, 3 rolled back
    Micros step_start{0};
    std::set<std::string> touched;
    std::map<std::string, nlohmann::json> before;  // reported config before the change
    std::map<std::string, uint64_t> alarms_before;
    std::map<std::string, bool> error_before;
    RolloutReport report;
  };
  void StartStep(Run& r, Micros now, std::ostream& log);
  void Decide(Run& r, Micros now, std::ostream& log);
  void Desire(const std::string& thing, const nlohmann::json& desired, const std::string& token);
  void OnDocuments(const link::IncomingMessage& m);

  Options o_;
  std::vector<Run> runs_;
  std::map<std::string, std::string> default_config_;  // by thing: its board's config, serialized
  std::map<std::string, nlohmann::json> reported_;     // by thing: the last reported state seen
  uint64_t publish_failures_ = 0;
  bool finishing_ = false;
  std::unique_ptr<link::Session> session_;  // last: destroyed first
};

}  // namespace edgeforge::sim
