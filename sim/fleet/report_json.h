// The run report as JSON (`edgeforge sim --report-json FILE`; schema in
// docs/report.md, "edgeforge.report/1"): what a CI pipeline or a notebook
// reads instead of scraping the printed summary. Counts are exact; latency
// is a histogram with fixed bounds (LatencyHistogram) so that reports of
// shards can be added; the time series is columnar, one point per second.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "hal/status.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/report.h"

namespace edgeforge::sim {

inline constexpr const char* kReportSchema = "edgeforge.report/1";

/// What the report says about how the run was asked for.
struct RunInfo {
  std::string started_utc;  // ISO 8601, e.g. 2026-12-03T10:39:20Z
  std::string scenario;     // its name; empty: command-line options
};

nlohmann::ordered_json ReportJson(const FleetReport& r, const FleetOptions& o, const RunInfo& info);

/// Writes ReportJson to `path` atomically (a reader never sees half a
/// report); errors name the path.
Status WriteReportJson(const std::string& path, const FleetReport& r, const FleetOptions& o, const RunInfo& info);

/// Now as ISO 8601 UTC with a Z, to the second.
std::string UtcNow();

}  // namespace edgeforge::sim
