// Issue 10: reading a run. The HTML report drawn in headless Chromium (Debian's
// chromium, which scripts/install-deps installs), `edgeforge report html` and
// `edgeforge report merge`, and a fleet run as three shard processes started
// the way the Kubernetes Indexed Job in deploy/k8s starts them, whose merged
// report has the same devices and totals as one process running them all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "sim/broker/local_broker.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using nlohmann::json;
using testing_support::CliRun;
using testing_support::MakeTempDir;
using testing_support::ReadAll;

const std::string kBin = EDGEFORGE_BIN_DIR;

CliRun Edgeforge(const std::string& args) { return testing_support::RunBinary("edgeforge", args); }

CliRun Shell(const std::string& cmd) { return testing_support::RunShell(cmd); }

/// A small run with a fault window, a stage change and a rollout, so that
/// every chart of the page has data.
std::string WriteScenario(const std::string& dir) {
  const std::string file = dir + "/page.json";
  std::ofstream(file) << R"({"schema": "edgeforge.scenario/1", "name": "page", "duration": "8s", "seed": 2,
    "time_scale": 60, "groups": [
      {"name": "presses", "board": "factory-node", "count": 3, "things": "p-{n}", "report": "1s"},
      {"name": "roads", "board": "traffic-node", "count": 3, "things": "r-{n}", "report": "1s"}],
    "stages": [{"name": "calm", "duration": "4s"},
               {"name": "busy", "duration": "4s", "group": "roads", "desired": {"config": {"report_ms": 2000}}}],
    "faults": [{"name": "lag", "kind": "network", "mode": "latency", "latency": "300ms", "at": "1s",
                "duration": "3s", "share": 0.5}],
    "rollouts": [{"name": "vib", "group": "presses", "at": "1s",
                  "desired": {"config": {"sample_ms": {"vib0": 100}}}, "steps": [{"share": 1, "hold": "3s"}]}]})";
  return file;
}

/// The value of data-drawn on the element with `id` in Chromium's DOM dump, or -1.
int Drawn(const std::string& dom, const std::string& id) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("id=\"" + id + "\"[^>]*data-drawn=\"([0-9]+)\""))) return -1;
  return std::stoi(m[1]);
}

TEST(ReportCliTest, TheHtmlReportDrawsItsChartsInChromium) {
  ASSERT_EQ(::access("/usr/bin/chromium", X_OK), 0)
      << "Debian's chromium is missing: scripts/install-deps installs it (apt-get install chromium)";
  const std::string dir = MakeTempDir("reporthtml");
  const CliRun run = Edgeforge("sim --scenario " + WriteScenario(dir) + " --work " + dir + "/work --report-json " +
                               dir + "/r.json --report-html " + dir + "/r.html");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The page `report html` draws from the JSON is the page the run wrote.
  const CliRun redraw = Edgeforge("report html " + dir + "/r.json -o " + dir + "/again.html");
  ASSERT_EQ(redraw.exit_code, 0) << redraw.output;
  EXPECT_EQ(ReadAll(dir + "/again.html"), ReadAll(dir + "/r.html"));

  // Headless, offline (no network is needed: the page fetches nothing), a
  // fresh profile; the DOM after the page's script ran.
  const std::string chromium =
      "timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" +
      dir + "/profile --virtual-time-budget=5000 ";
  const CliRun dom = Shell(chromium + "--dump-dom file://" + dir + "/r.html 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0) << dom.output.substr(0, 2000);
  EXPECT_NE(dom.output.find("data-charts=\"ok\""), std::string::npos) << "the script did not finish";
  for (const char* chart : {"connections", "rate", "latency", "latency-time", "groups", "group-errors", "loss",
                            "windows", "window-errors"}) {
    EXPECT_GT(Drawn(dom.output, chart), 0) << chart << " drew nothing";
  }
  EXPECT_NE(dom.output.find("<td>lag</td>"), std::string::npos) << "the fault window's row";
  EXPECT_NE(dom.output.find("<td>busy</td>"), std::string::npos) << "the stage's row";
  EXPECT_NE(dom.output.find("<td>vib</td>"), std::string::npos) << "the rollout's row";
  // And the screenshot docs/report.md gives.
  const CliRun shot =
      Shell(chromium + "--screenshot=" + dir + "/r.png --window-size=1280,2400 file://" + dir + "/r.html");
  ASSERT_EQ(shot.exit_code, 0) << shot.output;
  EXPECT_GT(ReadAll(dir + "/r.png").size(), 20000u) << "a blank page is a few KB";
}

TEST(ReportCliTest, BadInputIsNamed) {
  const std::string dir = MakeTempDir("reportbad");
  std::ofstream(dir + "/not.json") << "{nope";
  std::ofstream(dir + "/other.json") << R"({"schema": "edgeforge.scenario/1"})";
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  const Case cases[] = {
      {"report html " + dir + "/missing.json -o " + dir + "/x.html", 1, dir + "/missing.json"},
      {"report html " + dir + "/not.json -o " + dir + "/x.html", 1, "not.json: not valid JSON"},
      {"report html " + dir + "/other.json -o " + dir + "/x.html", 1, "schema: must be \"edgeforge.report/1\""},
      {"report html " + dir + "/not.json", 2, "html: -o FILE is required"},
      {"report html a.json b.json -o x.html", 2, "expected one REPORT.json, got 2"},
      {"report draw a.json -o x", 2, "unknown subcommand 'draw'"},
      {"report", 2, "expected 'html' or 'merge'"},
      {"report merge -o x.json", 2, "expected the shards' REPORT.json files"},
      {"report html a.json -o x --bogus", 2, "unknown option '--bogus'"},
  };
  for (const Case& c : cases) {
    const CliRun r = Edgeforge(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.output;
    EXPECT_TRUE(r.Has(c.says)) << c.args << "\n" << r.output;
  }
  EXPECT_EQ(Edgeforge("report --help").exit_code, 0);
}

std::set<std::string> Things(const json& report) {
  std::set<std::string> out;
  for (const json& g : report["groups"]) {
    for (const json& t : g["things"]) out.insert(t.get<std::string>());
  }
  return out;
}

// Three processes, each given --shard $(JOB_COMPLETION_INDEX)/3 as the Job in
// deploy/k8s gives it (the shell expands it here, the kubelet there), with a
// PKI holding only the CA (as the Job's CA Secret), against one broker.
TEST(ReportCliTest, ShardsRunTheFleetsDevicesAndTheirMergeEqualsOneProcess) {
  const std::string dir = MakeTempDir("shards");
  const std::string pki = dir + "/pki";
  ASSERT_EQ(Edgeforge("certs init --dir " + pki).exit_code, 0);
  sim::BrokerOptions b;
  b.pki_dir = pki;
  b.work_dir = dir + "/broker";
  auto broker = sim::LocalBroker::Start(b);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const std::string common = " --devices 9 --duration 6s --interval 1s --time-scale 60 --broker " + (*broker)->uri() +
                             " --certs " + pki + " --issue-identities";
  std::string shards;
  for (int i = 0; i < 3; ++i) {
    shards += "JOB_COMPLETION_INDEX=" + std::to_string(i) + " sh -c '" + kBin + "/edgeforge sim" + common +
              " --shard ${JOB_COMPLETION_INDEX}/3 --work " + dir + "/w${JOB_COMPLETION_INDEX} --report-json " + dir +
              "/shard-${JOB_COMPLETION_INDEX}.json > " + dir + "/shard-${JOB_COMPLETION_INDEX}.log 2>&1' & ";
  }
  const CliRun ran = Shell("(" + shards + "wait)");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  for (int i = 0; i < 3; ++i) {
    const std::string log = ReadAll(dir + "/shard-" + std::to_string(i) + ".log");
    EXPECT_NE(log.find("shard " + std::to_string(i) + "/3: 3 of 9 devices"), std::string::npos) << log;
    EXPECT_NE(log.find("result: PASS"), std::string::npos) << log;
  }
  // The same fleet in one process, after the shards (the same identities
  // must not be connected twice at once).
  const CliRun single = Edgeforge("sim" + common + " --work " + dir + "/single --report-json " + dir + "/single.json");
  ASSERT_EQ(single.exit_code, 0) << single.output;

  const std::string files = dir + "/shard-0.json " + dir + "/shard-1.json " + dir + "/shard-2.json";
  const CliRun merge = Edgeforge("report merge " + files + " -o " + dir + "/merged.json");
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  EXPECT_TRUE(merge.Has("merged 3 reports: " + dir + "/merged.json (PASS)")) << merge.output;
  const json m = json::parse(ReadAll(dir + "/merged.json"));
  const json s = json::parse(ReadAll(dir + "/single.json"));
  EXPECT_EQ(m["run"]["devices"], s["run"]["devices"]);
  EXPECT_EQ(m["run"]["shards"], 3);
  EXPECT_EQ(Things(m), Things(s));
  EXPECT_EQ(Things(m).size(), 9u);
  ASSERT_EQ(m["groups"].size(), s["groups"].size());
  for (size_t g = 0; g < m["groups"].size(); ++g) EXPECT_EQ(m["groups"][g]["devices"], s["groups"][g]["devices"]);
  EXPECT_EQ(m["connect"]["connected"], 9);
  EXPECT_EQ(m["verify"]["devices"], 9);
  EXPECT_EQ(m["verify"]["lost"], 0);
  EXPECT_EQ(m["verify"]["invalid"], 0);
  EXPECT_EQ(m["result"]["pass"], true);
  // Histograms add exactly: the merged count is the shards' sum, and so the verified total.
  uint64_t count = 0, verified = 0;
  for (int i = 0; i < 3; ++i) {
    const json shard = json::parse(ReadAll(dir + "/shard-" + std::to_string(i) + ".json"));
    EXPECT_EQ(shard["run"]["shard"]["index"], i);
    count += shard["latency"]["histogram"]["count"].get<uint64_t>();
    verified += shard["verify"]["verified"].get<uint64_t>();
  }
  EXPECT_EQ(m["latency"]["histogram"]["count"].get<uint64_t>(), count);
  EXPECT_EQ(m["verify"]["verified"].get<uint64_t>(), verified);

  // A shard twice, a missing shard, and a partial merge that says so.
  CliRun bad = Edgeforge("report merge " + dir + "/shard-0.json " + dir + "/shard-0.json -o " + dir + "/x.json");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.Has("shard 0/3 again")) << bad.output;
  bad = Edgeforge("report merge " + dir + "/shard-0.json " + dir + "/shard-1.json -o " + dir + "/x.json");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.Has("shards missing: 2/3 (give every shard's report, or --partial)")) << bad.output;
  const CliRun partial =
      Edgeforge("report merge " + dir + "/shard-0.json " + dir + "/shard-1.json --partial -o " + dir + "/p.json");
  EXPECT_EQ(partial.exit_code, 0) << partial.output;
  const json p = json::parse(ReadAll(dir + "/p.json"));
  EXPECT_EQ(p["result"]["pass"], false);
  EXPECT_EQ(p["run"]["devices"], 6);
  // The single run is not a shard of this run.
  bad = Edgeforge("report merge " + dir + "/shard-0.json " + dir + "/single.json --partial -o " + dir + "/x.json");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.Has("shards of different runs")) << bad.output;
}

}  // namespace
}  // namespace edgeforge
