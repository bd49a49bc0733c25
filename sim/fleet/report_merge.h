// Adding the reports of a sharded run (edgeforge sim --shard i/N, one process
// per shard) into the report of the whole fleet: `edgeforge report merge`.
//
// Exact where the numbers allow it: counts add; latency histograms have
// fixed bounds (LatencyHistogram) and add bucket by bucket, so the merged
// histogram is the one a single process would have made; p50 and p99 are
// then read off it (the upper bound of the bucket that holds them: a bound,
// not an average of the shards' percentiles), max is the max. Groups merge by
// name and their thing lists join, and a thing in two shards is refused (the
// same device twice). The per-second series add index by index (each shard's
// second 0 is its own start); a shorter one carries its last value forward.
// Fault and stage windows merge by name (counts add, the window spans all
// shards'); rollouts by name and step.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hal/status.h"

namespace edgeforge::sim {

/// Merges `reports` (already read with ReadReportJson; `names` are their
/// files, for errors). Refused: reports of different runs (scenario, seed,
/// duration or shard count differ), a shard index twice, a thing in two
/// shards, histograms with different bounds, and shards missing unless
/// `partial` (then the merged report fails, naming them).
Result<nlohmann::ordered_json> MergeReports(const std::vector<nlohmann::ordered_json>& reports,
                                            const std::vector<std::string>& names, bool partial);

/// Writes a merged report atomically; errors name the path.
Status WriteMergedReport(const std::string& path, const nlohmann::ordered_json& report);

}  // namespace edgeforge::sim
