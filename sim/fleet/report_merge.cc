#include "sim/fleet/report_merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "hal/linux/fs.h"
#include "sim/fleet/report_json.h"

namespace edgeforge::sim {
namespace {

using Json = nlohmann::ordered_json;

/// a + b for JSON numbers: integers stay integers; null + x = x.
Json Add(const Json& a, const Json& b) {
  if (a.is_null()) return b;
  if (b.is_null()) return a;
  if (!a.is_number() || !b.is_number()) return a;
  if (a.is_number_integer() && b.is_number_integer()) return a.get<int64_t>() + b.get<int64_t>();
  return a.get<double>() + b.get<double>();
}

Json Max(const Json& a, const Json& b) {
  if (!a.is_number()) return b;
  if (!b.is_number()) return a;
  return a.get<double>() >= b.get<double>() ? a : b;
}

Json Min(const Json& a, const Json& b) {
  if (!a.is_number() || a.get<double>() < 0) return b;  // -1: never
  if (!b.is_number() || b.get<double>() < 0) return a;
  return a.get<double>() <= b.get<double>() ? a : b;
}

/// Adds src's numeric members named in `keys` into dst (an object).
void AddKeys(Json& dst, const Json& src, std::initializer_list<const char*> keys) {
  if (!src.is_object()) return;
  if (!dst.is_object()) {
    dst = src;
    return;
  }
  for (const char* k : keys) {
    if (src.contains(k)) dst[k] = Add(dst.value(k, Json()), src[k]);
  }
}

const Json& At(const Json& j, const char* k) {
  static const Json kNull;
  return j.is_object() && j.contains(k) ? j[k] : kNull;
}

std::string Text(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

struct Shard {
  int index = 0;
  int count = 1;
};

Result<Shard> ShardOf(const Json& r, const std::string& name) {
  const Json& s = At(At(r, "run"), "shard");
  if (s.is_null()) return Shard{};
  if (!s.is_object() || !At(s, "index").is_number_integer() || !At(s, "count").is_number_integer()) {
    return InvalidArgument(name + ": run.shard: must be {\"index\": i, \"count\": N} or null");
  }
  Shard out{s["index"].get<int>(), s["count"].get<int>()};
  if (out.count < 1 || out.index < 0 || out.index >= out.count) {
    return InvalidArgument(name + ": run.shard: index " + std::to_string(out.index) + " is not in 0.." +
                           std::to_string(out.count - 1));
  }
  return out;
}

/// The bucket upper bound (seconds) at quantile q of a histogram, in ms.
Json QuantileMs(const Json& le, const Json& counts, uint64_t total, double q) {
  if (total == 0 || !le.is_array() || !counts.is_array()) return nullptr;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(total));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size() && i < le.size(); ++i) {
    seen += counts[i].get<uint64_t>();
    if (seen > rank || (seen == total && seen > 0)) {
      if (!le[i].is_number()) return nullptr;  // "+Inf"
      return le[i].get<double>() * 1000.0;
    }
  }
  return nullptr;
}

Status MergeLatency(Json& dst, const Json& src, const std::string& name) {
  if (src.is_null()) return Status::Ok();
  if (dst.is_null()) {
    dst = src;
    return Status::Ok();
  }
  const Json& a = At(dst, "histogram");
  const Json& b = At(src, "histogram");
  if (At(a, "le") != At(b, "le")) {
    return InvalidArgument(name +
                           ": latency.histogram.le: other bucket bounds than the first report's: "
                           "histograms only add with the same bounds");
  }
  Json h = a;
  for (size_t i = 0; i < h["counts"].size() && i < b["counts"].size(); ++i) {
    h["counts"][i] = h["counts"][i].get<uint64_t>() + b["counts"][i].get<uint64_t>();
  }
  h["count"] = Add(At(a, "count"), At(b, "count"));
  h["sum"] = Add(At(a, "sum"), At(b, "sum"));
  dst["histogram"] = h;
  dst["max_ms"] = Max(At(dst, "max_ms"), At(src, "max_ms"));
  return Status::Ok();
}

/// Windows (faults, stages) by name: counts add, the window spans the shards'.
void MergeWindows(Json& dst, const Json& src) {
  if (!src.is_array()) return;
  if (!dst.is_array()) dst = Json::array();
  for (const Json& w : src) {
    auto it = std::find_if(dst.begin(), dst.end(), [&w](const Json& d) { return d["name"] == w["name"]; });
    if (it == dst.end()) {
      dst.push_back(w);
      continue;
    }
    Json& d = *it;
    AddKeys(d, w,
            {"devices", "published", "delivered", "dropped", "refused", "connections_lost", "connect_failures", "lost",
             "duplicates", "conflicts", "invalid"});
    d["start_s"] = Min(At(d, "start_s"), At(w, "start_s"));
    d["end_s"] = Max(At(d, "end_s"), At(w, "end_s"));
    if (At(d, "error").is_null() && !At(w, "error").is_null()) d["error"] = w["error"];
  }
}

void MergeRollouts(Json& dst, const Json& src, int shard) {
  if (!src.is_array()) return;
  if (!dst.is_array()) dst = Json::array();
  for (const Json& r : src) {
    auto it = std::find_if(dst.begin(), dst.end(), [&r](const Json& d) { return d["name"] == r["name"]; });
    if (it == dst.end()) {
      Json first = r;
      if (first.value("outcome", "") != "completed")
        first["outcome"] = "shard " + std::to_string(shard) + ": " + Text(At(r, "outcome"));
      dst.push_back(first);
      continue;
    }
    Json& d = *it;
    AddKeys(d, r, {"rolled_back", "restored"});
    const std::string outcome = Text(At(r, "outcome"));
    if (outcome != "completed") {
      const std::string mine = "shard " + std::to_string(shard) + ": " + outcome;
      d["outcome"] = Text(At(d, "outcome")) == "completed" ? mine : Text(At(d, "outcome")) + "; " + mine;
    }
    const Json& steps = At(r, "steps");
    for (size_t i = 0; steps.is_array() && i < steps.size(); ++i) {
      if (i >= d["steps"].size()) {
        d["steps"].push_back(steps[i]);
        continue;
      }
      Json& ds = d["steps"][i];
      AddKeys(ds, steps[i], {"devices", "accepted", "rejected", "pending", "alarms"});
      ds["start_s"] = Min(At(ds, "start_s"), At(steps[i], "start_s"));
      ds["end_s"] = Max(At(ds, "end_s"), At(steps[i], "end_s"));
      if (At(steps[i], "decision") != At(ds, "decision"))
        ds["decision"] = Text(At(ds, "decision")) + "/" + Text(At(steps[i], "decision"));
    }
  }
}

/// Columnar series of equal-length arrays: added index by index, a shorter
/// series carrying its last value forward.
void MergeSeries(Json& dst, const Json& src) {
  if (!src.is_object()) return;
  if (!dst.is_object()) {
    dst = src;
    return;
  }
  const size_t n = std::max(At(dst, "t_s").size(), At(src, "t_s").size());
  const auto at = [](const Json& col, size_t i) -> Json {
    if (!col.is_array() || col.empty()) return nullptr;
    return i < col.size() ? col[i] : col.back();
  };
  Json out = Json::object();
  out["interval_s"] = At(dst, "interval_s");
  Json t = Json::array();
  const Json& longer = At(dst, "t_s").size() >= At(src, "t_s").size() ? At(dst, "t_s") : At(src, "t_s");
  for (size_t i = 0; i < n; ++i) t.push_back(at(longer, i));
  out["t_s"] = t;
  for (const auto& [key, col] : dst.items()) {
    if (key == "interval_s" || key == "t_s" || !col.is_array()) continue;
    Json merged = Json::array();
    for (size_t i = 0; i < n; ++i) merged.push_back(Add(at(col, i), at(At(src, key.c_str()), i)));
    out[key] = merged;
  }
  dst = out;
}

}  // namespace

static Result<Json> MergeReportsUnchecked(const std::vector<Json>& reports, const std::vector<std::string>& names,
                                          bool partial) {
  if (reports.empty()) return InvalidArgument("no reports to merge");
  std::map<int, size_t> by_shard;
  int count = 0;
  for (size_t i = 0; i < reports.size(); ++i) {
    const std::string& name = i < names.size() ? names[i] : "report " + std::to_string(i + 1);
    auto shard = ShardOf(reports[i], name);
    if (!shard.ok()) return shard.status();
    if (i == 0) count = shard->count;
    if (shard->count != count) {
      return InvalidArgument(name + ": run.shard.count is " + std::to_string(shard->count) + ", " + names[0] +
                             " says " + std::to_string(count) + ": shards of different runs");
    }
    for (const char* k : {"scenario", "seed", "duration_s"}) {
      if (At(At(reports[i], "run"), k) != At(At(reports[0], "run"), k)) {
        return InvalidArgument(name + ": run." + k + " is " + At(At(reports[i], "run"), k).dump() + ", " + names[0] +
                               " says " + At(At(reports[0], "run"), k).dump() + ": shards of different runs");
      }
    }
    if (!by_shard.emplace(shard->index, i).second) {
      return InvalidArgument(name + ": shard " + std::to_string(shard->index) + "/" + std::to_string(count) +
                             " again (also " + names[by_shard[shard->index]] + ")");
    }
  }
  std::vector<std::string> missing;
  for (int s = 0; s < count; ++s) {
    if (by_shard.count(s) == 0) missing.push_back(std::to_string(s) + "/" + std::to_string(count));
  }
  if (!missing.empty() && !partial) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    return InvalidArgument("shards missing: " + list + " (give every shard's report, or --partial)");
  }

  Json m = reports[by_shard.begin()->second];
  m["run"]["shard"] = nullptr;
  m["run"]["shards"] = count;
  Json failures = Json::array();
  bool pass = true;
  std::map<std::string, std::string> thing_shard;
  const auto note_things = [&thing_shard](const Json& r, const std::string& name) -> Status {
    for (const Json& g : At(r, "groups")) {
      for (const Json& t : At(g, "things")) {
        const std::string thing = Text(t);
        auto [it, fresh] = thing_shard.emplace(thing, name);
        if (!fresh)
          return InvalidArgument(name + ": thing " + thing + " is also in " + it->second + ": the same device twice");
      }
    }
    return Status::Ok();
  };
  bool first = true;
  for (const auto& [index, i] : by_shard) {
    const Json& r = reports[i];
    const std::string& name = i < names.size() ? names[i] : "report " + std::to_string(i + 1);
    EF_RETURN_IF_ERROR(note_things(r, name));
    const std::string tag = "shard " + std::to_string(index) + "/" + std::to_string(count) + ": ";
    const Json& result = At(r, "result");
    pass = pass && At(result, "pass").is_boolean() && result["pass"].get<bool>();
    for (const Json& f : At(result, "failures")) failures.push_back(tag + Text(f));
    if (first) {
      first = false;
      continue;
    }
    AddKeys(m["run"], At(r, "run"), {"devices", "workers"});
    m["run"]["elapsed_s"] = Max(At(m["run"], "elapsed_s"), At(At(r, "run"), "elapsed_s"));
    if (Text(At(At(r, "run"), "started_utc")) < Text(At(m["run"], "started_utc"))) {
      m["run"]["started_utc"] = r["run"]["started_utc"];
    }
    AddKeys(m["connect"], At(r, "connect"), {"connected", "late", "never_published", "open_files"});
    m["connect"]["up_s"] = Max(At(m["connect"], "up_s"), At(At(r, "connect"), "up_s"));
    AddKeys(m["schedule"], At(r, "schedule"), {"scheduled", "achieved", "scheduled_per_s", "achieved_per_s"});
    m["schedule"]["measured_s"] = Max(At(m["schedule"], "measured_s"), At(At(r, "schedule"), "measured_s"));
    m["schedule"]["worst_lag_ms"] = Max(At(m["schedule"], "worst_lag_ms"), At(At(r, "schedule"), "worst_lag_ms"));
    AddKeys(m["messages"], At(r, "messages"),
            {"published", "telemetry", "alarms", "shadow", "delivered", "dropped", "sensor_faults"});
    if (!At(r, "verify").is_null()) {
      if (m["verify"].is_null()) {
        m["verify"] = r["verify"];
      } else {
        AddKeys(m["verify"], r["verify"],
                {"received", "verified", "lost", "duplicates", "invalid", "conflicts", "devices"});
      }
    }
    if (!At(r, "loss").is_null()) {
      if (m["loss"].is_null()) {
        m["loss"] = r["loss"];
      } else {
        AddKeys(m["loss"], r["loss"], {"device_side", "broker_side"});
      }
    }
    Json latency = At(m, "latency");
    EF_RETURN_IF_ERROR(MergeLatency(latency, At(r, "latency"), name));
    m["latency"] = latency;
    for (const Json& g : At(r, "groups")) {
      auto it =
          std::find_if(m["groups"].begin(), m["groups"].end(), [&g](const Json& d) { return d["name"] == g["name"]; });
      if (it == m["groups"].end()) {
        m["groups"].push_back(g);
        continue;
      }
      AddKeys(*it, g,
              {"devices", "connected", "never_published", "published", "delivered", "dropped", "refused", "lost",
               "duplicates", "conflicts", "invalid"});
      for (const Json& t : At(g, "things")) (*it)["things"].push_back(t);
    }
    MergeWindows(m["faults"], At(r, "faults"));
    MergeWindows(m["stages"], At(r, "stages"));
    MergeRollouts(m["rollouts"], At(r, "rollouts"), index);
    m["power_cuts"] = Add(At(m, "power_cuts"), At(r, "power_cuts"));
    MergeSeries(m["series"], At(r, "series"));
  }
  // Percentiles of the merged histogram: bucket upper bounds.
  if (m.contains("latency") && m["latency"].is_object()) {
    Json& l = m["latency"];
    const Json h = At(l, "histogram");  // a copy: writing l's keys may move its members
    const uint64_t total = At(h, "count").is_number() ? h["count"].get<uint64_t>() : 0;
    l["p50_ms"] = QuantileMs(At(h, "le"), At(h, "counts"), total, 0.50);
    l["p99_ms"] = QuantileMs(At(h, "le"), At(h, "counts"), total, 0.99);
    l["percentiles"] = "bucket upper bounds of the merged histogram";
  }
  // Percentiles per second do not add across shards; the merged histogram does.
  if (by_shard.size() > 1) m.erase("latency_series");
  for (const std::string& s : missing) failures.push_back("shard " + s + " missing: a partial merge");
  m["result"]["pass"] = pass && missing.empty();
  m["result"]["failures"] = failures;
  m["merged"] = Json{{"reports", reports.size()}, {"shards", count}, {"missing", missing}};
  return m;
}

Result<Json> MergeReports(const std::vector<Json>& reports, const std::vector<std::string>& names, bool partial) {
  // A report is a file someone may have edited: a field of the wrong type is
  // an error, not a crash.
  try {
    return MergeReportsUnchecked(reports, names, partial);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument("a report has a field of the wrong type (" + std::string(e.what()) +
                           "): reports from edgeforge sim --report-json merge");
  }
}

Status WriteMergedReport(const std::string& path, const Json& report) {
  return fs::WriteFileAtomically(path, report.dump(1) + "\n", 0644, fs::Durability::kSynced).WithContext(path);
}

}  // namespace edgeforge::sim
