// The HTML run report (sim/fleet/report_html.h): one self-contained page,
// the report embedded so that nothing in it can end the script element, and
// the JSON report reader's errors.
#include "sim/fleet/report_html.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sim/fleet/report_json.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using Json = nlohmann::ordered_json;

Json SmallReport() {
  FleetReport r;
  r.devices = 2;
  r.connected = 2;
  r.sampled = 10;
  r.delivered = 10;
  GroupReport g;
  g.name = "presses</script><script>alert(1)</script>";
  g.devices = 2;
  g.things = {"a-1", "a-2"};
  r.groups.push_back(g);
  FleetOptions o;
  return ReportJson(r, o, {"2026-12-03T10:00:00Z", "line & <co>"});
}

TEST(ReportHtmlTest, ThePageFetchesNothingAndCarriesTheReport) {
  const Json report = SmallReport();
  const std::string html = ReportHtml(report);
  for (const char* remote : {"https://", "//cdn", "<link", "src=", "@import", "url(", "fetch(", "XMLHttpRequest"}) {
    EXPECT_EQ(html.find(remote), std::string::npos) << remote;
  }
  // The one http:// is SVG's namespace name, which nothing fetches.
  for (size_t at = html.find("http://"); at != std::string::npos; at = html.find("http://", at + 1)) {
    EXPECT_EQ(html.compare(at, 26, "http://www.w3.org/2000/svg"), 0) << html.substr(at, 40);
  }
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* chart :
       {"id=\"connections\"", "id=\"rate\"", "id=\"latency\"", "id=\"latency-time\"", "id=\"groups\"",
        "id=\"group-errors\"", "id=\"loss\"", "id=\"windows\"", "id=\"window-errors\""}) {
    EXPECT_NE(html.find(chart), std::string::npos) << chart;
  }
  // The embedded report parses back to the same document.
  const std::string open = "<script type=\"application/json\" id=\"report\">";
  const size_t from = html.find(open);
  ASSERT_NE(from, std::string::npos);
  const size_t to = html.find("</script>", from);
  ASSERT_NE(to, std::string::npos);
  EXPECT_EQ(Json::parse(html.substr(from + open.size(), to - from - open.size())), report);
  // A name holding </script> cannot end the data element early; text is escaped.
  EXPECT_EQ(html.find("</script><script>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("line &amp; &lt;co&gt;"), std::string::npos);
  EXPECT_NE(html.find("verdict pass\">PASS"), std::string::npos);
  FleetReport failed;
  failed.failures = {"3 lost <seq 4>"};
  const std::string page = ReportHtml(ReportJson(failed, FleetOptions{}, {"t", ""}));
  EXPECT_NE(page.find("verdict fail\">FAIL"), std::string::npos);
  EXPECT_NE(page.find("<li>3 lost &lt;seq 4&gt;</li>"), std::string::npos);
}

TEST(ReportHtmlTest, ReadingAReportNamesTheFileAndWhatIsWrong) {
  const std::string dir = testing_support::MakeTempDir("reporthtml");
  const auto write = [&dir](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  EXPECT_EQ(ReadReportJson(dir + "/missing.json").status().code(), StatusCode::kNotFound);
  EXPECT_NE(ReadReportJson(write("a.json", "{nope")).status().message().find("a.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(ReadReportJson(write("b.json", "[1]")).status().message().find("b.json: must be a JSON object"),
            std::string::npos);
  EXPECT_NE(ReadReportJson(write("c.json", "{}")).status().message().find("c.json: schema: missing"),
            std::string::npos);
  EXPECT_NE(ReadReportJson(write("d.json", R"({"schema":"edgeforge.report/9"})"))
                .status()
                .message()
                .find("d.json: schema: must be \"edgeforge.report/1\""),
            std::string::npos);
  const std::string good = write("e.json", SmallReport().dump());
  auto read = ReadReportJson(good);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(WriteReportHtml(dir + "/e.html", *read).ok());
  EXPECT_FALSE(WriteReportHtml(dir + "/no/such/dir/e.html", *read).ok());
}

}  // namespace
}  // namespace edgeforge::sim
