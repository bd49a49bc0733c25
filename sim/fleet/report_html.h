// The run report as one self-contained HTML page (`edgeforge sim
// --report-html FILE`, `edgeforge report html FILE.json -o FILE.html`): the
// JSON report (report_json.h) embedded as data and drawn by a small inline
// script into SVG charts, with no network fetch at all, so the page can be
// mailed, archived as CI evidence or opened offline.
//
// Charts: connections over time; scheduled vs achieved msg/s; the latency
// histogram (and percentiles over time when a report carries them); messages
// per group; loss attribution; fault and stage windows as bands on the time
// charts and as a table; rollouts step by step. Each chart element
// (svg.chart) gets data-drawn = the number of marks drawn (0 and a 'no data'
// note when its data is missing), and <body data-charts="ok"> once all are
// drawn: what tests/cli/report_cli_itest.cc checks in Chromium.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge::sim {

/// The page for a report of schema edgeforge.report/1.
std::string ReportHtml(const nlohmann::ordered_json& report);

/// Writes ReportHtml atomically (a reader never sees half a page); errors name the path.
Status WriteReportHtml(const std::string& path, const nlohmann::ordered_json& report);

/// Reads a JSON report (at most kMaxReportBytes): a JSON object whose
/// `schema` is edgeforge.report/1; errors name the file and what is wrong.
inline constexpr size_t kMaxReportBytes = size_t{64} << 20;
Result<nlohmann::ordered_json> ReadReportJson(const std::string& path);
/// The same for text in memory; `path` names it in errors.
Result<nlohmann::ordered_json> ParseReportJson(std::string_view text, const std::string& path);

}  // namespace edgeforge::sim
