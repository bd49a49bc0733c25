// Scenario files (sim/scenario/scenario.h, docs/scenario.md): the shipped
// examples parse, every field lands in FleetOptions, and bad input is an
// error naming the file and the field path.
#include "sim/scenario/scenario.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "sim/fleet/provisioning.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

const std::string kSource = EDGEFORGE_SOURCE_DIR;

std::string Doc(const std::string& groups, const std::string& extra = "") {
  return R"({"schema": "edgeforge.scenario/1", "name": "t", "duration": "30s", )" + extra + R"("groups": [)" + groups +
         "]}";
}
const std::string kGroup = R"({"name": "a", "board": "factory-node", "count": 3, "things": "a-{n}"})";

/// The message of a parse that must fail.
std::string ErrorOf(const std::string& json) {
  auto s = ParseScenario(json, "t.json", "");
  EXPECT_FALSE(s.ok()) << json;
  return s.ok() ? "" : s.status().message();
}

TEST(ScenarioTest, ShippedScenariosParseAndFitTheEngine) {
  for (const char* name : {"factory-line", "city-corridor"}) {
    auto s = LoadScenario(kSource + "/scenarios/" + name + ".json");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->name, name);
    EXPECT_FALSE(s->description.empty());
    FleetOptions o;
    ApplyScenario(*s, o);
    EXPECT_TRUE(ValidateFleetOptions(o).ok()) << ValidateFleetOptions(o).ToString();
    EXPECT_GE(s->groups.size(), 2u);
  }
  auto faults = LoadScenario(kSource + "/scenarios/factory-faults.json");
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  std::set<FleetFaultKind> kinds;
  for (const FleetFault& f : faults->faults) kinds.insert(f.kind);
  EXPECT_EQ(kinds.size(), 6u) << "the shipped fault scenario shows every kind of fault";
  auto canary = LoadScenario(kSource + "/scenarios/city-rollout.json");
  ASSERT_TRUE(canary.ok()) << canary.status().ToString();
  EXPECT_GE(canary->stages.size(), 2u);
  EXPECT_GE(canary->rollouts.size(), 2u);
}

TEST(ScenarioTest, EveryFieldReachesTheFleetOptions) {
  auto s = ParseScenario(
      R"({"schema": "edgeforge.scenario/1", "name": "line-1", "description": "d", "duration": "2m", "seed": 9,
          "time_scale": 60, "broker": "mqtts://broker.example:8883", "app": "factory",
          "connect": {"rate": 50, "window": "90s"},
          "groups": [{"name": "presses", "board": "factory-node", "count": 12, "things": "press-{n:02}",
                      "site": "line-1", "report": "5s", "sample": {"vib0": "100ms"}},
                     {"name": "roads", "board": "boards/custom.json", "count": 3, "things": "road-{n}"}]})",
      "s.json", "/etc/scenarios");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  EXPECT_EQ(o.devices, 15);
  EXPECT_EQ(o.duration, 120s);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_DOUBLE_EQ(o.time_scale, 60);
  EXPECT_EQ(o.broker_uri, "mqtts://broker.example:8883");
  EXPECT_EQ(o.app, "factory");
  EXPECT_DOUBLE_EQ(o.connect_rate, 50);
  EXPECT_EQ(o.connect_window, 90s);
  ASSERT_EQ(o.groups.size(), 2u);
  const DeviceGroup& g = o.groups[0];
  EXPECT_EQ(g.board, "factory-node");  // built in: stays a name
  EXPECT_EQ(g.site, "line-1");
  EXPECT_EQ(g.report, 5s);
  EXPECT_EQ(g.sample_ms.at("vib0"), 100u);
  EXPECT_EQ(GroupThingName(g, 1), "press-01");
  EXPECT_EQ(GroupThingName(g, 12), "press-12");
  EXPECT_EQ(o.groups[1].board, "/etc/scenarios/boards/custom.json");  // relative to the file
  EXPECT_EQ(GroupThingName(o.groups[1], 3), "road-3");
  EXPECT_TRUE(o.groups[1].site.empty());  // the run's --site
}

TEST(ScenarioTest, LeftOutFieldsKeepTheCommandLineValues) {
  auto s = ParseScenario(Doc(kGroup), "t.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  o.seed = 4;
  o.app = "mine";
  ApplyScenario(*s, o);
  EXPECT_EQ(o.seed, 4u);
  EXPECT_EQ(o.app, "mine");
  EXPECT_TRUE(o.broker_uri.empty());  // the embedded broker
}

TEST(ScenarioTest, BadInputNamesTheFileAndTheFieldPath) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"schema": "edgeforge.scenario/2", "name": "t", "duration": "1s", "groups": [)" + kGroup + "]}",
       "t.json: schema: must be \"edgeforge.scenario/1\""},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 0, "things": "a-{n}"})"), "t.json: groups[0].count"},
      {Doc(R"({"name": "A b", "board": "factory-node", "count": 1, "things": "a-{n}"})"), "t.json: groups[0].name"},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 1, "things": "a-"})"),
       "t.json: groups[0].things: thing pattern \"a-\" needs {n}"},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 1, "things": "{n}-{n}"})"),
       "t.json: groups[0].things: thing pattern \"{n}-{n}\" may hold only one {n}"},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 1, "things": "a{n}", "report": "5 s"})"),
       "t.json: groups[0].report: '5 s' is not a duration"},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 1, "things": "a{n}", "sample": {"vib0": "1ms"}})"),
       "t.json: groups[0].sample.vib0: must be in 10 ms..3600000 ms, got 1ms"},
      {Doc(kGroup + "," + kGroup), "t.json: groups[1].name: \"a\" names another group too"},
      {Doc(R"({"name": "a", "board": "factory-node", "count": 1, "things": "a{n}", "cuont": 2})"),
       "t.json: groups[0].cuont"},
      {Doc(kGroup, R"("faults": [], )"), "t.json: faults: must have at least 1 element"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "flood", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].kind: unknown fault kind \"flood\" (kinds: broker-restart, network, sensor"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "network", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].mode"},
      {Doc(kGroup,
           R"("faults": [{"name": "f", "kind": "network", "mode": "latency", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].latency"},
      {Doc(kGroup,
           R"("faults": [{"name": "f", "kind": "network", "mode": "reset", "at": "20s", "duration": "11s"}], )"),
       "t.json: faults[0].duration: the window ends 31000 ms into the measured run, after its duration (30000 ms)"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "power-cut", "share": 0, "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].share"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "power-cut", "group": "zz", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].group: no group \"zz\" in groups"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "sensor", "sensor": "vib0", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].group"},
      {Doc(kGroup,
           R"("faults": [{"name": "f", "kind": "clock-skew", "skew": "soon", "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].skew: 'soon' is not a signed duration"},
      {Doc(kGroup,
           R"("faults": [{"name": "f", "kind": "broker-restart", "share": 0.5, "at": "1s", "duration": "1s"}], )"),
       "t.json: faults[0].share"},
      {Doc(kGroup, R"("faults": [{"name": "f", "kind": "power-cut", "at": "1s", "duration": "1s"},
                                 {"name": "f", "kind": "power-cut", "at": "2s", "duration": "1s"}], )"),
       "t.json: faults[1].name: \"f\" names another fault too"},
      {Doc(kGroup, R"("stages": [{"name": "s1", "duration": "10s"}], )"),
       "t.json: stages: add up to 10000 ms; the run's duration is 30000 ms"},
      {Doc(kGroup, R"("stages": [{"name": "s1", "duration": "30s", "group": "a"}], )"),
       "t.json: stages[0].desired: missing"},
      {Doc(kGroup, R"("stages": [{"name": "s1", "duration": "30s", "desired": 5}], )"),
       "t.json: stages[0].desired: must be a non-empty JSON object"},
      {Doc(kGroup, R"("rollouts": [{"name": "r", "at": "1s", "desired": {"config": {"report_ms": 2000}},
                                     "steps": [{"share": 0.5, "hold": "2s"}, {"share": 0.2, "hold": "2s"}]}], )"),
       "t.json: rollouts[0].steps[1].share: steps only grow"},
      {Doc(kGroup, R"("rollouts": [{"name": "r", "at": "25s", "desired": {"config": {"report_ms": 2000}},
                                     "steps": [{"share": 1, "hold": "10s"}]}], )"),
       "t.json: rollouts[0].steps: the last step ends 35000 ms into the measured run"},
      {Doc(kGroup, R"("rollouts": [{"name": "r", "group": "b", "at": "1s", "desired": {"config": {}},
                                     "steps": [{"share": 1, "hold": "1s"}]}], )"),
       "t.json: rollouts[0].group: no group \"b\" in groups"},
      {Doc(kGroup, R"("rollouts": [{"name": "r", "at": "1s", "desired": {"config": {"report_ms": 2000}},
                                     "steps": [{"share": 1, "hold": "1s"}], "abort": {"rejects": 1}}], )"),
       "t.json: rollouts[0].abort.rejects"},
      {Doc(kGroup, R"("broker": "http://x", )"), "t.json: broker: \"embedded\" or a broker URI"},
      {Doc(kGroup, R"("seed": -1, )"), "t.json: seed"},
      {Doc(kGroup, R"("duration": "1s", )"), "key appears twice"},
      {Doc(""), "t.json: groups"},
      {R"({"schema": "edgeforge.scenario/1", "name": "t", "duration": "1s", "groups": [)", "t.json:1:"},
      {"[]", "t.json: must be a JSON object"},
  };
  for (const auto& [json, want] : cases) {
    const std::string got = ErrorOf(json);
    EXPECT_NE(got.find(want), std::string::npos) << "want: " << want << "\ngot:  " << got;
  }
}

TEST(ScenarioTest, FaultScheduleReachesTheFleetOptions) {
  auto s = ParseScenario(Doc(kGroup, R"("faults": [
      {"name": "crash", "kind": "broker-restart", "at": "5s", "duration": "3s"},
      {"name": "lag", "kind": "network", "mode": "latency", "latency": "250ms", "share": 0.5, "group": "a",
       "at": "1s", "duration": "2s"},
      {"name": "hole", "kind": "network", "mode": "blackhole", "at": "0s", "duration": "10s"},
      {"name": "vib", "kind": "sensor", "group": "a", "sensor": "vib0", "fault": "stuck", "at": "1s", "duration": "1s"},
      {"name": "ntp", "kind": "clock-skew", "skew": "-90s", "share": 0.25, "at": "1s", "duration": "1s"},
      {"name": "cut", "kind": "power-cut", "at": "1s", "duration": "1s"},
      {"name": "twin", "kind": "duplicate-client-id", "at": "1s", "duration": "1s"}], )"),
                         "t.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  ASSERT_EQ(o.faults.size(), 7u);
  EXPECT_EQ(o.faults[0].kind, FleetFaultKind::kBrokerRestart);
  EXPECT_EQ(o.faults[0].at, 5s);
  EXPECT_EQ(o.faults[0].duration, 3s);
  EXPECT_EQ(o.faults[1].network.mode, transport::NetworkFault::Mode::kLatency);
  EXPECT_EQ(o.faults[1].network.latency, 250ms);
  EXPECT_DOUBLE_EQ(o.faults[1].share, 0.5);
  EXPECT_EQ(o.faults[1].group, "a");
  EXPECT_EQ(o.faults[2].network.mode, transport::NetworkFault::Mode::kBlackhole);
  EXPECT_DOUBLE_EQ(o.faults[2].share, 1.0);
  EXPECT_EQ(o.faults[3].sensor, "vib0");
  EXPECT_EQ(o.faults[3].sensor_fault, FaultKind::kStuck);
  EXPECT_EQ(o.faults[4].skew, -90s);
  EXPECT_EQ(o.faults[5].kind, FleetFaultKind::kPowerCut);
  EXPECT_EQ(o.faults[6].kind, FleetFaultKind::kDuplicateClient);
  EXPECT_EQ(o.faults[1].Describe(), "network latency +250 ms, 50% of a");
  EXPECT_EQ(o.faults[4].Describe(), "clock skew -90 s, 25% of the fleet");
}

TEST(ScenarioTest, StagesAndRolloutsReachTheFleetOptions) {
  auto s = ParseScenario(Doc(kGroup, R"("stages": [
      {"name": "calm", "duration": "10s"},
      {"name": "peak", "duration": "20s", "group": "a", "share": 0.5, "desired": {"config": {"report_ms": 1000}}}],
    "rollouts": [{"name": "vib", "group": "a", "at": "2s", "desired": {"config": {"sample_ms": {"vib0": 100}}},
                  "steps": [{"share": 0.1, "hold": "5s"}, {"share": 1, "hold": "5s"}],
                  "abort": {"rejected": 1, "alarms": 4}}], )"),
                         "t.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  ASSERT_EQ(o.stages.size(), 2u);
  EXPECT_EQ(o.stages[0].duration, 10s);
  EXPECT_TRUE(o.stages[0].changes.empty());
  ASSERT_EQ(o.stages[1].changes.size(), 1u);
  EXPECT_EQ(o.stages[1].changes[0].group, "a");
  EXPECT_DOUBLE_EQ(o.stages[1].changes[0].share, 0.5);
  EXPECT_EQ(o.stages[1].changes[0].desired.dump(), R"({"config":{"report_ms":1000}})");
  ASSERT_EQ(o.rollouts.size(), 1u);
  const Rollout& r = o.rollouts[0];
  EXPECT_EQ(r.at, 2s);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(r.steps[0].share, 0.1);
  EXPECT_EQ(r.steps[1].hold, 5s);
  EXPECT_EQ(r.max_rejected, 1u);
  EXPECT_EQ(r.max_alarms, 4u);
  EXPECT_TRUE(r.gated);
}

TEST(ScenarioTest, FilesAreReadWithLimitsAndErrorsNameThem) {
  const std::string dir = testing_support::MakeTempDir("scenario");
  EXPECT_EQ(LoadScenario(dir + "/missing.json").status().code(), StatusCode::kNotFound);
  const std::string big = dir + "/big.json";
  std::ofstream(big) << std::string(kMaxScenarioBytes + 1, ' ');
  auto s = LoadScenario(big);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(big + ": scenario is over the 256 KiB limit"), std::string::npos)
      << s.status().message();
}

// The groups become devices: names from the patterns in group order, each
// device on its group's board with its report window, sample periods and site.
TEST(ScenarioTest, ProvisionedGroupsGiveEachDeviceItsNameBoardAndSite) {
  auto s = ParseScenario(
      Doc(R"({"name": "a", "board": "factory-node", "count": 2, "things": "a-{n:03}", "site": "s1", "report": "2s",
              "sample": {"vib0": "100ms"}},
             {"name": "b", "board": "traffic-node", "count": 1, "things": "b-{n}"})"),
      "t.json", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  FleetOptions o;
  ApplyScenario(*s, o);
  o.work_dir = testing_support::MakeTempDir("scenprov");
  std::ostringstream log;
  auto p = Provision(o, log);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->things, (std::vector<std::string>{"a-001", "a-002", "b-1"}));
  EXPECT_EQ(p->GroupOf(1).name, "a");
  EXPECT_EQ(p->GroupOf(1).site, "s1");
  EXPECT_EQ(p->GroupOf(2).site, o.site);
  EXPECT_EQ(p->BoardOf(0).report_ms, 2000u);
  EXPECT_EQ(p->BoardOf(2).report_ms, 10000u);  // the board's own
  const board::Device* vib = p->BoardOf(0).FindDevice("vib0");
  ASSERT_NE(vib, nullptr);
  EXPECT_EQ(vib->sample_ms, 100u);
  EXPECT_DOUBLE_EQ(ScheduledMessageRate(o, *p), 0.5 + 0.5 + 0.1);

  // A name two groups would both use, and a sample period for a device the board lacks.
  o.groups[1].things = "a-00{n}";
  o.groups[1].board = "factory-node";
  auto clash = Provision(o, log);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("group 'b': thing a-001 is also in group 'a'"), std::string::npos)
      << clash.status().message();
  o.groups[1].things = "b-{n}";
  o.groups[1].sample_ms["radar9"] = 100;
  auto missing = Provision(o, log);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("group 'b': sample: board factory-node has no device 'radar9'"),
            std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace edgeforge::sim
