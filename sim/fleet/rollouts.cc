#include "sim/fleet/rollouts.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "firmware/app/device_config.h"
#include "firmware/link/paho/paho_session.h"
#include "sim/fleet/provisioning.h"
#include "sim/physics/random.h"

namespace edgeforge::sim {
namespace {

using nlohmann::json;

constexpr Millis kOperatorTimeout{10000};
constexpr const char* kDocumentsFilter = "$aws/things/+/shadow/update/documents";

/// A bijective hash (SplitMix64, as the physics' noise uses it).
uint64_t Mix(uint64_t x) { return physics::Mix(x + physics::kGolden); }

double Seconds(Micros t) { return std::chrono::duration<double>(t).count(); }

/// The thing of "$aws/things/<thing>/shadow/update/documents".
std::string ThingOf(const std::string& topic) {
  const std::string prefix = "$aws/things/";
  if (topic.rfind(prefix, 0) != 0) return "";
  const size_t end = topic.find('/', prefix.size());
  return end == std::string::npos ? "" : topic.substr(prefix.size(), end - prefix.size());
}

size_t StepCount(double share, size_t n) {
  const auto k = static_cast<size_t>(std::llround(share * static_cast<double>(n)));
  return std::clamp<size_t>(k, n == 0 ? 0 : 1, n);
}

}  // namespace

std::vector<Rollout> StageRollouts(const std::vector<Stage>& stages) {
  std::vector<Rollout> out;
  Millis start{0};
  for (const Stage& s : stages) {
    for (size_t k = 0; k < s.changes.size(); ++k) {
      const StageChange& c = s.changes[k];
      Rollout r;
      r.name = "stage " + s.name + (s.changes.size() > 1 ? " change " + std::to_string(k + 1) : "");
      r.group = c.group;
      r.at = start;
      r.desired = c.desired;
      r.steps = {{c.share, s.duration}};
      r.gated = false;
      r.max_rejected = std::numeric_limits<uint64_t>::max();
      out.push_back(std::move(r));
    }
    start += s.duration;
  }
  return out;
}

std::vector<FaultWindowReport> StageWindows(const std::vector<Stage>& stages, double up_s) {
  std::vector<FaultWindowReport> out;
  double at = 0;
  for (const Stage& s : stages) {
    FaultWindowReport w;
    w.name = s.name;
    w.kind = "stage";
    for (const StageChange& c : s.changes) {
      std::ostringstream d;
      d << "desired " << c.desired.dump() << " on " << std::setprecision(3) << c.share * 100 << "% of "
        << (c.group.empty() ? "the fleet" : c.group);
      w.detail = d.str();
    }
    if (w.detail.empty()) w.detail = "no change";
    const double length = std::chrono::duration<double>(s.duration).count();
    w.at_s = at;
    w.start_s = up_s + at;
    w.end_s = up_s + at + length;
    at += length;
    out.push_back(std::move(w));
  }
  return out;
}

Status ValidateRollouts(const std::vector<Rollout>& rollouts, const Provisioned& p, bool local_broker,
                        std::chrono::milliseconds duration) {
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const Rollout& r = rollouts[i];
    const std::string where = (r.gated ? "rollouts[" + std::to_string(i) + "] (" : "stages (") + r.name + ")";
    if (!local_broker) {
      return InvalidArgument(where +
                             ": changes desired state through the embedded broker's shadow service; not "
                             "with --broker / \"broker\"");
    }
    if (!r.group.empty()) {
      bool known = false;
      for (const ProvisionedGroup& g : p.groups) known = known || g.name == r.group;
      if (!known) return InvalidArgument(where + ": group: no group \"" + r.group + "\" in the run");
    }
    Millis end = r.at;
    for (const RolloutStep& s : r.steps) end += s.hold;
    if (end > duration) {
      return InvalidArgument(where + ": its last step ends " + std::to_string(end.count()) +
                             " ms after the fleet is up, after the run (" + std::to_string(duration.count()) + " ms)");
    }
  }
  return Status::Ok();
}

bool JsonContains(const json& have, const json& want) {
  if (!want.is_object()) return have == want;
  if (!have.is_object()) return false;
  for (const auto& [key, value] : want.items()) {
    auto it = have.find(key);
    if (it == have.end() || !JsonContains(*it, value)) return false;
  }
  return true;
}

json RestoreDesired(const json& change, const json& before) {
  json out = before.is_object() ? before : json::object();
  if (!change.is_object()) return out;
  for (const auto& [key, value] : change.items()) {
    auto it = before.is_object() ? before.find(key) : before.end();
    if (!before.is_object() || it == before.end()) {
      out[key] = nullptr;
    } else if (value.is_object() && it->is_object()) {
      out[key] = RestoreDesired(value, *it);
    }
  }
  return out;
}

Result<std::unique_ptr<RolloutEngine>> RolloutEngine::Start(const std::vector<Rollout>& rollouts, const Provisioned& p,
                                                            Options options) {
  std::unique_ptr<RolloutEngine> e(new RolloutEngine());
  e->o_ = std::move(options);
  for (size_t i = 0; i < p.things.size(); ++i) {
    e->default_config_[p.things[i]] = app::SerializeConfig(app::DefaultsFrom(p.BoardOf(i)));
  }
  for (size_t k = 0; k < rollouts.size(); ++k) {
    Run r;
    r.spec = rollouts[k];
    // The group's things in a seeded order: each step takes the next ones,
    // so the canary set only grows and the same seed picks the same devices.
    std::vector<std::pair<uint64_t, std::string>> ranked;
    for (size_t i = 0; i < p.things.size(); ++i) {
      if (!r.spec.group.empty() && p.GroupOf(i).name != r.spec.group) continue;
      ranked.emplace_back(Mix(e->o_.seed ^ Mix(0x7011ULL + k) ^ Mix(i)), p.things[i]);
    }
    std::sort(ranked.begin(), ranked.end());
    for (auto& [h, thing] : ranked) r.order.push_back(std::move(thing));
    r.report.name = r.spec.name;
    r.report.group = r.spec.group;
    r.report.desired = r.spec.desired.dump();
    r.report.gated = r.spec.gated;
    r.report.outcome = "not started";
    e->runs_.push_back(std::move(r));
  }

  link::SessionConfig c;
  c.server_uri = e->o_.broker_uri;
  c.client_id = "edgeforge-rollout-" + std::to_string(::getpid());
  c.tls = {e->o_.pki_dir + "/ca.crt", e->o_.pki_dir + "/shadow.crt", e->o_.pki_dir + "/shadow.key"};
  c.connect_timeout = kOperatorTimeout;
  auto session = link::MakePahoSession(c);
  if (!session.ok()) return session.status().WithContext("rollout operator");
  e->session_ = std::move(*session);
  SystemClock clock;
  EF_RETURN_IF_ERROR(link::ConnectAndWait(*e->session_, clock, kOperatorTimeout + Millis(4000))
                         .WithContext("rollout operator (shadow identity)"));
  RolloutEngine* raw = e.get();
  EF_RETURN_IF_ERROR(link::SubscribeAndWait(*e->session_, clock, kOperatorTimeout, kDocumentsFilter, 1,
                                            [raw](const link::IncomingMessage& m) { raw->OnDocuments(m); })
                         .WithContext("rollout operator"));
  return e;
}

RolloutEngine::~RolloutEngine() {
  if (session_) {
    session_->Disconnect();
    (void)session_->Dispatch();
  }
}

void RolloutEngine::OnDocuments(const link::IncomingMessage& m) {
  const std::string thing = ThingOf(m.topic);
  if (thing.empty()) return;
  json doc = json::parse(m.payload, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return;
  const json* reported = nullptr;
  if (auto cur = doc.find("current"); cur != doc.end() && cur->is_object()) {
    if (auto st = cur->find("state"); st != cur->end() && st->is_object()) {
      if (auto rep = st->find("reported"); rep != st->end() && rep->is_object()) reported = &*rep;
    }
  }
  if (reported != nullptr) reported_[thing] = *reported;
}

void RolloutEngine::Desire(const std::string& thing, const json& desired, const std::string& token) {
  json request{{"state", {{"desired", desired}}}, {"clientToken", token}};
  const Status s =
      session_->Publish({"$aws/things/" + thing + "/shadow/update", request.dump(), 1, {}}, [this](Status done) {
        if (!done.ok()) ++publish_failures_;
      });
  if (!s.ok()) ++publish_failures_;
}

void RolloutEngine::StartStep(Run& r, Micros now, std::ostream& log) {
  const RolloutStep& step = r.spec.steps[r.step];
  const size_t n = StepCount(step.share, r.order.size());
  for (size_t i = 0; i < n; ++i) {
    const std::string& thing = r.order[i];
    if (r.touched.count(thing) != 0) continue;
    const auto rep = reported_.find(thing);
    const json* config = rep != reported_.end() && rep->second.contains("config") ? &rep->second["config"] : nullptr;
    r.before[thing] = config != nullptr ? *config : json::parse(default_config_[thing]);
    r.touched.insert(thing);
    Desire(thing, r.spec.desired, "rollout-" + r.spec.name);
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& thing = r.order[i];
    r.alarms_before[thing] = o_.alarms_of ? o_.alarms_of(thing) : 0;
    const auto rep = reported_.find(thing);
    r.error_before[thing] =
        rep != reported_.end() && rep->second.contains("config_error") && !rep->second["config_error"].is_null();
  }
  RolloutStepReport sr;
  sr.share = step.share;
  sr.devices = static_cast<int>(n);
  sr.start_s = Seconds(now);
  r.report.steps.push_back(sr);
  r.step_start = now;
  r.state = 1;
  r.report.outcome = "incomplete: the run ended during step " + std::to_string(r.step + 1);
  log << (r.spec.gated ? "rollout " : "") << r.spec.name << ": step " << r.step + 1 << "/" << r.spec.steps.size()
      << ": desired " << r.spec.desired.dump() << " on " << n << " of " << r.order.size() << " devices"
      << (r.spec.group.empty() ? "" : " of " + r.spec.group) << "\n";
}

void RolloutEngine::Decide(Run& r, Micros now, std::ostream& log) {
  RolloutStepReport& sr = r.report.steps.back();
  sr.end_s = Seconds(now);
  const json want = r.spec.desired.contains("config") ? r.spec.desired["config"] : json::object();
  for (int i = 0; i < sr.devices; ++i) {
    const std::string& thing = r.order[static_cast<size_t>(i)];
    const auto rep = reported_.find(thing);
    const bool error =
        rep != reported_.end() && rep->second.contains("config_error") && !rep->second["config_error"].is_null();
    if (rep != reported_.end() && rep->second.contains("config") && JsonContains(rep->second["config"], want) &&
        !error) {
      ++sr.accepted;
    } else if (error && !r.error_before[thing]) {
      ++sr.rejected;
    } else {
      ++sr.pending;
    }
    const uint64_t alarms = o_.alarms_of ? o_.alarms_of(thing) : 0;
    sr.alarms += alarms > r.alarms_before[thing] ? alarms - r.alarms_before[thing] : 0;
  }
  std::string why;
  if (r.spec.gated && static_cast<uint64_t>(sr.rejected) > r.spec.max_rejected) {
    why = std::to_string(sr.rejected) + " rejected, at most " + std::to_string(r.spec.max_rejected) + " allowed";
  } else if (r.spec.gated && sr.alarms > r.spec.max_alarms) {
    why = std::to_string(sr.alarms) + " alarms, at most " + std::to_string(r.spec.max_alarms) + " allowed";
  }
  log << (r.spec.gated ? "rollout " : "") << r.spec.name << ": step " << r.step + 1 << ": " << sr.accepted
      << " applied, " << sr.rejected << " rejected, " << sr.pending << " pending, " << sr.alarms << " alarms";
  if (!why.empty()) {
    sr.decision = "roll back";
    for (const std::string& thing : r.touched) {
      Desire(thing, RestoreDesired(r.spec.desired, json{{"config", r.before[thing]}}), "rollback-" + r.spec.name);
      ++r.report.rolled_back;
    }
    r.state = 3;
    r.report.outcome = "rolled back at step " + std::to_string(r.step + 1) + " (" + why + ")";
    log << ": rolling " << r.report.rolled_back << " devices back (" << why << ")\n";
    return;
  }
  if (r.step + 1 == r.spec.steps.size()) {
    sr.decision = "done";
    r.state = 2;
    r.report.outcome = "completed";
    log << ": completed\n";
    return;
  }
  sr.decision = "continue";
  if (finishing_) {
    r.report.outcome = "incomplete: the run ended after step " + std::to_string(r.step + 1);
    log << ": the run ended\n";
    return;
  }
  log << ": continuing\n";
  ++r.step;
  StartStep(r, now, log);
}

void RolloutEngine::Tick(Micros now, Micros up, std::ostream& log) {
  (void)session_->Dispatch();
  if (up.count() < 0) return;
  for (Run& r : runs_) {
    if (r.state == 0 && now >= up + std::chrono::duration_cast<Micros>(r.spec.at)) {
      StartStep(r, now, log);
    } else if (r.state == 1 && now >= r.step_start + std::chrono::duration_cast<Micros>(r.spec.steps[r.step].hold)) {
      Decide(r, now, log);
    }
  }
}

void RolloutEngine::Finish(Micros now, std::ostream& log) {
  finishing_ = true;
  (void)session_->Dispatch();
  for (Run& r : runs_) {
    if (r.state != 3) continue;
    // What the roll-back achieved: devices reporting their old config again.
    // (A device that rejected the change never left it; it keeps reporting
    // its config_error, since restoring desired to what it runs sends no
    // delta: IoT Core does the same.)
    for (const std::string& thing : r.touched) {
      const auto rep = reported_.find(thing);
      if (rep == reported_.end() || !rep->second.contains("config")) continue;
      if (JsonContains(rep->second["config"], r.before[thing])) ++r.report.restored;
    }
  }
  for (Run& r : runs_) {
    if (r.state != 1) continue;
    const Micros due = r.step_start + std::chrono::duration_cast<Micros>(r.spec.steps[r.step].hold);
    if (!r.spec.gated || now + Micros(1'000'000) >= due) Decide(r, now, log);
  }
}

std::vector<RolloutReport> RolloutEngine::Reports() const {
  std::vector<RolloutReport> out;
  for (const Run& r : runs_) out.push_back(r.report);
  return out;
}

}  // namespace edgeforge::sim
