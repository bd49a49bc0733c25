// Fuzz target: a JSON run report as `edgeforge report html|merge` read it
// (sim/fleet/report_html.h, report_merge.h): whatever the bytes, an error or
// a page, never a crash; a report merged with itself is a shard given twice.
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/fleet/report_html.h"
#include "sim/fleet/report_merge.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = edgeforge::sim::ParseReportJson(in, "fuzz.json");
  if (!r.ok()) {
    if (r.status().message().rfind("fuzz.json", 0) != 0) __builtin_trap();
    return 0;
  }
  const std::string page = edgeforge::sim::ReportHtml(*r);
  if (page.find("</script>\n</body></html>") == std::string::npos) __builtin_trap();
  (void)edgeforge::sim::MergeReports({*r}, {"a.json"}, true);
  auto twice = edgeforge::sim::MergeReports({*r, *r}, {"a.json", "b.json"}, false);
  if (twice.ok()) __builtin_trap();  // the same shard twice is never a merge
  return 0;
}
