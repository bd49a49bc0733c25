// edgeforge report: works on JSON run reports (edgeforge sim --report-json).
//   report html FILE.json -o FILE.html   redraws a report as its HTML page
//   report merge FILE.json... -o FILE    adds shard reports into one
#include <iostream>
#include <string>
#include <vector>

#include "cli/common/command_line.h"
#include "sim/cli/commands.h"
#include "sim/fleet/report_html.h"
#include "sim/fleet/report_merge.h"

namespace edgeforge::cli {
namespace {

constexpr const char* kUsage = R"(usage: edgeforge report html REPORT.json -o REPORT.html
       edgeforge report merge SHARD.json... -o MERGED.json [--partial]

Works on JSON run reports (edgeforge sim --report-json, schema
edgeforge.report/1, docs/report.md).

  html    draws the report as one self-contained HTML page with charts (no
          network fetch), the page 'edgeforge sim --report-html' writes
  merge   adds the reports of the shards of one run (edgeforge sim --shard i/N)
          into the report of the whole fleet: counts add, latency histograms
          add bucket by bucket (p50/p99 become bucket bounds, max stays exact),
          groups merge by name, the per-second series add; a shard given
          twice, shards of different runs or overlapping devices are refused,
          and so is a missing shard unless --partial

options:
  -o, --output FILE  where to write (atomically); required
  --partial          merge: accept a subset of the shards (the merged report
                     says which are missing and does not PASS)
  -h, --help         this text

exit status: 0 written, 1 a report could not be read, merged or written,
2 for a usage error.
)";

struct ReportArgs {
  std::string sub;
  std::vector<std::string> inputs;
  std::string output;
  bool partial = false;
  bool help = false;
};

/// Options and positionals by hand: the subcommand takes file names.
Status Parse(const Argv& args, ReportArgs& a) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "-h" || s == "--help") {
      a.help = true;
    } else if (s == "-o" || s == "--output") {
      if (i + 1 >= args.size() || args[i + 1].empty()) return InvalidArgument(s + ": needs a file name");
      if (!a.output.empty()) return InvalidArgument(s + ": given twice");
      a.output = args[++i];
    } else if (s.rfind("--output=", 0) == 0) {
      if (!a.output.empty()) return InvalidArgument("--output: given twice");
      a.output = s.substr(9);
    } else if (s == "--partial") {
      a.partial = true;
    } else if (!s.empty() && s[0] == '-') {
      return InvalidArgument("unknown option '" + s + "'");
    } else if (a.sub.empty()) {
      a.sub = s;
    } else {
      a.inputs.push_back(s);
    }
  }
  return Status::Ok();
}

int Fail(const Status& s, std::ostream& err) {
  err << "edgeforge report: " << s.ToString() << "\n";
  return 1;
}

int Usage(const std::string& why, std::ostream& err) {
  err << "edgeforge report: " << why << "\n(see edgeforge report --help)\n";
  return kExitUsage;
}

}  // namespace

int RunReport(const Argv& args, std::ostream& out, std::ostream& err) {
  ReportArgs a;
  if (Status s = Parse(args, a); !s.ok()) return Usage(s.message(), err);
  if (a.help) {
    out << kUsage;
    return 0;
  }
  if (a.sub != "html" && a.sub != "merge") {
    return Usage(a.sub.empty() ? "expected 'html' or 'merge'" : "unknown subcommand '" + a.sub + "' (html, merge)",
                 err);
  }
  if (a.output.empty()) return Usage(a.sub + ": -o FILE is required", err);
  if (a.sub == "html") {
    if (a.inputs.size() != 1)
      return Usage("html: expected one REPORT.json, got " + std::to_string(a.inputs.size()), err);
    if (a.partial) return Usage("--partial applies to merge only", err);
    auto report = sim::ReadReportJson(a.inputs[0]);
    if (!report.ok()) return Fail(report.status(), err);
    if (Status s = sim::WriteReportHtml(a.output, *report); !s.ok()) return Fail(s, err);
    out << "report: " << a.output << "\n";
    return 0;
  }
  if (a.inputs.empty()) return Usage("merge: expected the shards' REPORT.json files", err);
  std::vector<nlohmann::ordered_json> shards;
  for (const std::string& path : a.inputs) {
    auto report = sim::ReadReportJson(path);
    if (!report.ok()) return Fail(report.status(), err);
    shards.push_back(std::move(*report));
  }
  auto merged = sim::MergeReports(shards, a.inputs, a.partial);
  if (!merged.ok()) return Fail(merged.status(), err);
  if (Status s = sim::WriteMergedReport(a.output, *merged); !s.ok()) return Fail(s, err);
  out << "merged " << shards.size() << " reports: " << a.output << " ("
      << ((*merged)["result"]["pass"].get<bool>() ? "PASS" : "FAIL") << ")\n";
  return 0;
}

}  // namespace edgeforge::cli
