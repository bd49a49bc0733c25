#include "sim/fleet/report_json.h"

#include <ctime>

#include "edgeforge/version.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
namespace {

using Json = nlohmann::ordered_json;

Json LatencyJson(const FleetReport& r) {
  const LatencyHistogram& h = r.latency;
  Json le = Json::array();
  Json counts = Json::array();
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    if (i < LatencyHistogram::kBounds.size()) {
      le.push_back(LatencyHistogram::kBounds[i]);
    } else {
      le.push_back("+Inf");
    }
    counts.push_back(h.bucket(i));
  }
  return Json{
      {"p50_ms", r.latency_p50_ms},
      {"p99_ms", r.latency_p99_ms},
      {"max_ms", r.latency_max_ms},
      {"histogram", Json{{"unit", "s"}, {"le", le}, {"counts", counts}, {"count", h.count()}, {"sum", h.sum()}}}};
}

Json SeriesJson(const std::vector<FleetSnapshot>& series) {
  Json t = Json::array(), connected = Json::array(), online = Json::array(), published = Json::array(),
       delivered = Json::array(), verified = Json::array(), queued = Json::array(), dropped = Json::array(),
       refused = Json::array(), lost = Json::array(), failed = Json::array();
  for (const FleetSnapshot& s : series) {
    t.push_back(s.elapsed_s);
    connected.push_back(s.connected);
    online.push_back(s.online);
    published.push_back(s.published);
    delivered.push_back(s.delivered);
    if (s.verified >= 0) {
      verified.push_back(s.verified);
    } else {
      verified.push_back(nullptr);
    }
    queued.push_back(s.queued);
    dropped.push_back(s.dropped);
    refused.push_back(s.refused);
    lost.push_back(s.connections_lost);
    failed.push_back(s.connect_failures);
  }
  return Json{{"interval_s", 1},          {"t_s", t},
              {"connected", connected},   {"online", online},
              {"published", published},   {"delivered", delivered},
              {"verified", verified},     {"queued", queued},
              {"dropped", dropped},       {"refused", refused},
              {"connections_lost", lost}, {"connect_failures", failed}};
}

}  // namespace

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json ReportJson(const FleetReport& r, const FleetOptions& o, const RunInfo& info) {
  Json j;
  j["schema"] = kReportSchema;
  j["edgeforge"] = kVersion;
  j["run"] =
      Json{{"started_utc", info.started_utc},
           {"scenario", info.scenario.empty() ? Json(nullptr) : Json(info.scenario)},
           {"devices", r.devices},
           {"workers", r.workers},
           {"broker", r.broker},
           {"local_broker", r.local_broker},
           {"seed", o.seed},
           {"duration_s", static_cast<double>(o.duration.count()) / 1000.0},
           {"elapsed_s", r.elapsed_s},
           {"verified", r.verified_run},
           {"shard", r.shard_count > 1 ? Json{{"index", r.shard_index}, {"count", r.shard_count}} : Json(nullptr)}};
  j["result"] = Json{{"pass", r.Passed()}, {"failures", r.failures}};
  j["connect"] = Json{{"connected", r.connected},
                      {"late", r.late},
                      {"never_published", r.never_published},
                      {"up_s", r.up_s},
                      {"open_files", r.open_files}};
  j["schedule"] = Json{
      {"measured_s", r.measured_s},           {"scheduled", r.scheduled},           {"achieved", r.achieved},
      {"scheduled_per_s", r.ScheduledRate()}, {"achieved_per_s", r.AchievedRate()}, {"worst_lag_ms", r.worst_lag_ms}};
  j["messages"] = Json{{"published", r.sampled},          {"telemetry", r.reports},   {"alarms", r.alarms},
                       {"shadow", r.shadow_reports},      {"delivered", r.delivered}, {"dropped", r.dropped},
                       {"sensor_faults", r.sensor_faults}};
  if (r.verified_run) {
    const VerifyReport& v = r.verify;
    j["verify"] =
        Json{{"received", v.received}, {"verified", v.verified},   {"lost", v.lost},      {"duplicates", v.duplicates},
             {"invalid", v.invalid},   {"conflicts", v.conflicts}, {"devices", v.devices}};
    j["loss"] = Json{{"device_side", r.lost_unacked}, {"broker_side", r.lost_after_ack}};
    j["latency"] = LatencyJson(r);
  } else {
    j["verify"] = nullptr;
    j["loss"] = nullptr;
    j["latency"] = nullptr;
  }
  Json groups = Json::array();
  for (const GroupReport& g : r.groups) {
    groups.push_back(Json{{"name", g.name},
                          {"board", g.board},
                          {"site", g.site},
                          {"devices", g.devices},
                          {"connected", g.connected},
                          {"never_published", g.never_published},
                          {"published", g.published},
                          {"delivered", g.delivered},
                          {"dropped", g.dropped},
                          {"refused", g.refused},
                          {"lost", r.verified_run ? Json(g.lost) : Json(nullptr)},
                          {"duplicates", r.verified_run ? Json(g.duplicates) : Json(nullptr)},
                          {"conflicts", r.verified_run ? Json(g.conflicts) : Json(nullptr)},
                          {"invalid", r.verified_run ? Json(g.invalid) : Json(nullptr)},
                          {"things", g.things}});
  }
  j["groups"] = groups;
  const auto window = [](const FaultWindowReport& f) {
    return Json{{"name", f.name},
                {"kind", f.kind},
                {"detail", f.detail},
                {"at_s", f.at_s},
                {"start_s", f.start_s},
                {"end_s", f.end_s},
                {"devices", f.devices},
                {"error", f.error.empty() ? Json(nullptr) : Json(f.error)},
                {"published", f.published},
                {"delivered", f.delivered},
                {"dropped", f.dropped},
                {"refused", f.refused},
                {"connections_lost", f.connections_lost},
                {"connect_failures", f.connect_failures},
                {"lost", f.lost < 0 ? Json(nullptr) : Json(f.lost)},
                {"duplicates", f.lost < 0 ? Json(nullptr) : Json(f.duplicates)},
                {"conflicts", f.lost < 0 ? Json(nullptr) : Json(f.conflicts)},
                {"invalid", f.lost < 0 ? Json(nullptr) : Json(f.invalid)}};
  };
  Json faults = Json::array();
  for (const FaultWindowReport& f : r.faults) faults.push_back(window(f));
  j["faults"] = faults;
  Json stages = Json::array();
  for (const FaultWindowReport& s : r.stages) stages.push_back(window(s));
  j["stages"] = stages;
  Json rollouts = Json::array();
  for (const RolloutReport& ro : r.rollouts) {
    Json steps = Json::array();
    for (const RolloutStepReport& st : ro.steps) {
      steps.push_back(Json{{"share", st.share},
                           {"devices", st.devices},
                           {"start_s", st.start_s},
                           {"end_s", st.end_s},
                           {"accepted", st.accepted},
                           {"rejected", st.rejected},
                           {"pending", st.pending},
                           {"alarms", st.alarms},
                           {"decision", st.decision}});
    }
    rollouts.push_back(Json{{"name", ro.name},
                            {"group", ro.group.empty() ? Json(nullptr) : Json(ro.group)},
                            {"desired", Json::parse(ro.desired, nullptr, false)},
                            {"stage_change", !ro.gated},
                            {"outcome", ro.outcome},
                            {"rolled_back", ro.rolled_back},
                            {"restored", ro.restored},
                            {"steps", steps}});
  }
  j["rollouts"] = rollouts;
  j["power_cuts"] = r.power_cuts;
  Json latency_series = Json::array();
  for (const LatencyPoint& p : r.latency_series) {
    latency_series.push_back(
        Json{{"t_s", p.t_s}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"max_ms", p.max_ms}, {"count", p.count}});
  }
  j["latency_series"] = latency_series;
  j["series"] = SeriesJson(r.series);
  return j;
}

Status WriteReportJson(const std::string& path, const FleetReport& r, const FleetOptions& o, const RunInfo& info) {
  return fs::WriteFileAtomically(path, ReportJson(r, o, info).dump(1) + "\n", 0644, fs::Durability::kSynced)
      .WithContext("--report-json");
}

}  // namespace edgeforge::sim
