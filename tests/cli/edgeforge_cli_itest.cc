// The edgeforge binary as a user runs it: real processes, real broker, real files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgeforge/version.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/fleet/provisioning.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using testing_support::MakePki;
using testing_support::MakeTempDir;

using testing_support::CliRun;

CliRun Edgeforge(const std::string& args) { return testing_support::RunBinary("edgeforge", args); }

bool Has(const CliRun& r, const std::string& s) { return r.Has(s); }

CliRun EdgeforgeInterrupted(const std::vector<std::string>& args, int sig, std::chrono::milliseconds after) {
  return testing_support::RunBinaryInterrupted("edgeforge", args, sig, after);
}

TEST(EdgeforgeCliTest, SimWithEmbeddedBrokerVerifiesEveryMessage) {
  const std::string work = MakeTempDir("simwork");
  const CliRun r = Edgeforge("sim --devices 20 --duration 4s --interval 1s --work " + work);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "connected    20/20")) << r.output;
  EXPECT_TRUE(Has(r, "lost         0")) << r.output;
  EXPECT_TRUE(Has(r, "invalid      0")) << r.output;
  EXPECT_TRUE(Has(r, "result: PASS")) << r.output;
  // A second run in the same work dir reuses the PKI and continues each
  // device's persisted sequence in a new boot.
  const CliRun again = Edgeforge("sim --devices 20 --duration 2s --interval 1s --work " + work + " --signer mbedtls");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  const std::string counters = testing_support::ReadAll(work + "/devices/edge-00001/counters.json");
  EXPECT_NE(counters.find("\"boot\":2"), std::string::npos) << counters;
}

// A scenario file's groups become the fleet (names from the patterns, every
// device verified), and the shape options do not mix with it.
TEST(EdgeforgeCliTest, SimRunsAScenarioFile) {
  const std::string dir = MakeTempDir("simscenario");
  const std::string file = dir + "/two-lines.json";
  std::ofstream(file) << R"({"schema": "edgeforge.scenario/1", "name": "two-lines", "duration": "3s", "seed": 5,
    "app": "plant", "groups": [
      {"name": "presses", "board": "factory-node", "count": 4, "things": "press-{n:02}", "site": "line-1",
       "report": "1s"},
      {"name": "junctions", "board": "traffic-node", "count": 2, "things": "jct-{n}", "site": "road-9",
       "report": "1s"}]})";
  const CliRun r = Edgeforge("sim --scenario " + file + " --work " + dir + "/work --report-json " + dir + "/r.json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The JSON report says what the summary says, per group too.
  EXPECT_TRUE(Has(r, "report: " + dir + "/r.json")) << r.output;
  const auto j = nlohmann::json::parse(testing_support::ReadAll(dir + "/r.json"));
  EXPECT_EQ(j["schema"], "edgeforge.report/1");
  EXPECT_EQ(j["run"]["scenario"], "two-lines");
  EXPECT_EQ(j["run"]["devices"], 6);
  EXPECT_EQ(j["run"]["seed"], 5);
  EXPECT_EQ(j["result"]["pass"], true);
  EXPECT_EQ(j["verify"]["lost"], 0);
  EXPECT_TRUE(Has(r, "verified     " + std::to_string(j["verify"]["verified"].get<uint64_t>()) + " ")) << r.output;
  ASSERT_EQ(j["groups"].size(), 2u);
  EXPECT_EQ(j["groups"][0]["name"], "presses");
  EXPECT_EQ(j["groups"][0]["site"], "line-1");
  EXPECT_EQ(j["groups"][0]["devices"], 4);
  EXPECT_EQ(j["groups"][1]["board"], "traffic-node");
  EXPECT_EQ(j["groups"][0]["published"].get<uint64_t>() + j["groups"][1]["published"].get<uint64_t>(),
            j["messages"]["published"].get<uint64_t>());
  EXPECT_EQ(j["latency"]["histogram"]["count"], j["verify"]["verified"]);
  EXPECT_GE(j["series"]["t_s"].size(), 3u);
  EXPECT_EQ(j["series"]["t_s"].size(), j["series"]["published"].size());
  EXPECT_TRUE(Has(r, "scenario two-lines (" + file + "), 2 groups, 6 devices, 3 s")) << r.output;
  EXPECT_TRUE(Has(r, "verified     ")) << r.output;
  EXPECT_TRUE(Has(r, "(devices 6;")) << r.output;
  EXPECT_TRUE(Has(r, "result: PASS")) << r.output;
  for (const char* thing : {"press-01", "press-04", "jct-1", "jct-2"}) {
    EXPECT_TRUE(std::filesystem::is_directory(dir + "/work/devices/" + thing)) << thing;
  }

  const CliRun mixed = Edgeforge("sim --scenario " + file + " --devices 3");
  EXPECT_EQ(mixed.exit_code, 2) << mixed.output;
  EXPECT_TRUE(Has(mixed, "--devices does not go with --scenario")) << mixed.output;
  std::ofstream(dir + "/bad.json") << R"({"schema": "edgeforge.scenario/1", "name": "b", "duration": "3s",
    "groups": [{"name": "a", "board": "factory-node", "count": 0, "things": "a{n}"}]})";
  const CliRun bad = Edgeforge("sim --scenario " + dir + "/bad.json");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(Has(bad, dir + "/bad.json: groups[0].count")) << bad.output;
}

TEST(EdgeforgeCliTest, SimAgainstANamedBroker) {
  // An external broker's PKI is provisioned beforehand (sim creates none for it).
  const std::string pki = MakePki({"edge-00001", "edge-00002", "edge-00003", "edge-00004", "edge-00005"}, "named");
  sim::BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("namedbroker");
  auto broker = sim::LocalBroker::Start(o);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const CliRun r = Edgeforge("sim --devices 5 --duration 2s --broker " + (*broker)->uri() + " --certs " + pki +
                             " --work " + MakeTempDir("namedwork") + " --app plant --site hall-2 --interval 500ms");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "result: PASS")) << r.output;
  EXPECT_FALSE(Has(r, "local mosquitto")) << r.output;
}

// The sim's verifier reads <certs>/revoked.json too (docs/telemetry.md
// "Revoked keys"): a fleet device signing with a revoked key fails the run.
TEST(EdgeforgeCliTest, SimRefusesARevokedSigningKey) {
  const std::string pki = MakePki({"edge-00001", "edge-00002"}, "simrevoked");
  const std::string kid = testing_support::SignerFor(pki, "edge-00002")->kid();
  std::ofstream(pki + "/revoked.json") << R"({"revoked":[{"kid":")" << kid << R"(","at":"2025-03-01T12:00:00Z"}]})";
  const CliRun r = Edgeforge("sim --devices 2 --duration 2s --interval 500ms --certs " + pki + " --work " +
                             MakeTempDir("simrevokedwork"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "invalid: revoked kid x")) << r.output;
  EXPECT_TRUE(Has(r, "result: FAIL")) << r.output;
}

TEST(EdgeforgeCliTest, NoVerifyRunsWithoutTheIngestVerifier) {
  const CliRun r =
      Edgeforge("sim --devices 3 --duration 1s --interval 200ms --no-verify --work " + MakeTempDir("noverify"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Three devices, 200 ms windows staggered over the first second: every
  // message built was delivered.
  const auto at = r.output.find("published    ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const unsigned long published = std::stoul(r.output.substr(at + 13));
  EXPECT_GE(published, 6u) << r.output;
  const auto plus = r.output.find(") + ", at);
  ASSERT_NE(plus, std::string::npos) << r.output;
  const unsigned long shadow = std::stoul(r.output.substr(plus + 4));
  EXPECT_EQ(shadow, 6u) << "per device one reported state and one /shadow/get at start";
  EXPECT_TRUE(Has(r, "delivered " + std::to_string(published + shadow) + ", dropped 0")) << r.output;
  EXPECT_TRUE(Has(r, "verification off")) << r.output;
  EXPECT_FALSE(Has(r, "verified ")) << r.output;
}

TEST(EdgeforgeCliTest, UnreachableBrokerFailsWithAClearMessage) {
  const std::string pki = MakePki({"edge-00001", "edge-00002"}, "unreach");
  // Port 1 on loopback: nothing listens there.
  const CliRun r = Edgeforge("sim --devices 2 --duration 1s --broker ssl://localhost:1 --certs " + pki + " --work " +
                             MakeTempDir("unreachwork"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "verifier")) << r.output;
  EXPECT_TRUE(Has(r, "ssl://localhost:1")) << r.output;
}

// verify's live mode: subscribes as the ingest identity while a fleet runs,
// stops after --count messages, and its --save capture replays to the same result.
TEST(EdgeforgeCliTest, VerifyLiveSavesACaptureThatReplays) {
  const std::string pki = MakePki({}, "live");
  sim::BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("livebroker");
  auto broker = sim::LocalBroker::Start(o);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const std::string work = MakeTempDir("livework");
  // Provision first so the verifier's JWK set already holds the devices' keys.
  ASSERT_EQ(Edgeforge("certs devices --dir " + pki + " --count 2").exit_code, 0);
  const std::string capture = work + "/capture.jsonl";
  testing_support::BackgroundRun live("edgeforge", {"verify", "--broker", (*broker)->uri(), "--certs", pki, "--count",
                                                    "8", "--duration", "30s", "--save", capture});
  // The fleet starts once the verifier is subscribed (a fixed sleep was too
  // short under ASan on a loaded box: the first windows went unseen).
  ASSERT_TRUE(live.WaitForOutput("verify: subscribed", std::chrono::seconds(30))) << live.Output();
  const CliRun fleet = Edgeforge("sim --devices 2 --duration 2s --interval 250ms --no-verify --broker " +
                                 (*broker)->uri() + " --certs " + pki + " --work " + work);
  ASSERT_EQ(fleet.exit_code, 0) << fleet.output;
  const CliRun r = live.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "verified 8 (devices 2)")) << r.output;
  const CliRun replay = Edgeforge("verify --certs " + pki + " --capture " + capture);
  EXPECT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_TRUE(Has(replay, "verified 8 (devices 2)")) << replay.output;
}

// Ctrl-C / SIGTERM: the fleet drains, reports what it did and stops its broker.
TEST(EdgeforgeCliTest, SigtermEndsTheRunCleanlyWithAReport) {
  const std::string work = MakeTempDir("sigterm");
  const auto start = std::chrono::steady_clock::now();
  const CliRun r =
      EdgeforgeInterrupted({"sim", "--devices", "5", "--duration", "10m", "--interval", "1s", "--work", work}, SIGTERM,
                           std::chrono::milliseconds(4000));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(60)) << "did not stop on SIGTERM";
  EXPECT_TRUE(Has(r, "stop requested")) << r.output;
  EXPECT_TRUE(Has(r, "lost         0")) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The broker it started is gone: its pid no longer exists.
  const auto pos = r.output.find("local mosquitto pid ");
  ASSERT_NE(pos, std::string::npos) << r.output;
  const pid_t broker = static_cast<pid_t>(std::stol(r.output.substr(pos + 20)));
  EXPECT_NE(::kill(broker, 0), 0) << "mosquitto " << broker << " still running";
}

TEST(EdgeforgeCliTest, UsageErrorsExitTwoAndNameTheOption) {
  CliRun r = Edgeforge("sim --devices 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--devices")) << r.output;
  r = Edgeforge("sim --duration soon");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--duration 'soon'")) << r.output;
  r = Edgeforge("sim --frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "unknown option '--frobnicate'")) << r.output;
  r = Edgeforge("sim --signer rsa");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--signer")) << r.output;
  r = Edgeforge("sim --site a/b");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--site")) << r.output;
  r = Edgeforge("sim --workers 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--workers")) << r.output;
  r = Edgeforge("sim --connect-rate 0.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--connect-rate")) << r.output;
  r = Edgeforge("sim --connect-window 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--connect-window '0' must be more than 0; omit --connect-window")) << r.output;
  r = Edgeforge("warp");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "unknown command 'warp'")) << r.output;
  r = Edgeforge("verify");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r, "--capture or --broker")) << r.output;
}

// Issue 8 item 7: options given twice were reported as unknown; a bad broker
// URI exited 1 (or 'paho rc -1' at connect time); --duration 0 differed by tool.
TEST(EdgeforgeCliTest, OptionsGivenTwiceOrMalformedAreUsageErrorsNamingTheOption) {
  CliRun r = Edgeforge("sim --devices 2 --devices 3");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--devices given twice")) << r.output;
  EXPECT_TRUE(Has(r, "(see edgeforge sim --help)")) << r.output;
  r = Edgeforge("verify --capture a --capture=b");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--capture given twice")) << r.output;
  r = Edgeforge("broker --port 1 --port 2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--port given twice")) << r.output;
  // --opt=value is parsed as --opt value is (and checked the same way).
  r = Edgeforge("sim --devices=0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--devices '0' must be a whole number in 1..100000")) << r.output;
  r = Edgeforge("verify --broker=ssl://localhost:8883 --frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "unknown option '--frobnicate'")) << r.output;
  r = Edgeforge("sim --board");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--board needs a value")) << r.output;
  for (const std::string cmd : {"sim", "verify"}) {
    r = Edgeforge(cmd + " --broker ssl://nohost:notaport");
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.output;
    EXPECT_TRUE(Has(r, "--broker: 'ssl://nohost:notaport': port 'notaport' is not a number")) << r.output;
    EXPECT_FALSE(Has(r, "paho")) << r.output;
    r = Edgeforge(cmd + " --broker=tcp://localhost:1883");
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.output;
    EXPECT_TRUE(Has(r, "scheme 'tcp://' is not ssl:// or mqtts://")) << r.output;
  }
  r = Edgeforge("sim --duration 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--duration '0' must be more than 0; to run until a signal")) << r.output;
  r = Edgeforge("verify --broker ssl://localhost:8883 --duration=0s");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r, "--duration '0s' must be more than 0; to run until a signal, omit --duration")) << r.output;
  // Repeatable options stay repeatable: all three boards reach the fleet,
  // which refuses the third when it loads it.
  r = Edgeforge("sim --board factory-node --board traffic-node --board nowhere-node");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "nowhere-node")) << r.output;
  EXPECT_FALSE(Has(r, "given twice")) << r.output;
}

// SIGHUP (a closed terminal) ends sim and verify as SIGTERM does: drained,
// with the report and the normal exit status, not killed with 129.
TEST(EdgeforgeCliTest, SighupEndsSimWithAReport) {
  const std::string work = MakeTempDir("sighup");
  const CliRun r =
      EdgeforgeInterrupted({"sim", "--devices", "3", "--duration", "10m", "--interval", "1s", "--work", work}, SIGHUP,
                           std::chrono::milliseconds(4000));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "stop requested")) << r.output;
  EXPECT_TRUE(Has(r, "connected    3/3")) << r.output;
  EXPECT_TRUE(Has(r, "result: PASS")) << r.output;
}

TEST(EdgeforgeCliTest, SighupEndsLiveVerifyWithAReport) {
  const std::string pki = MakePki({}, "hupverify");
  sim::BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("hupbroker");
  auto broker = sim::LocalBroker::Start(o);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const std::string work = MakeTempDir("hupwork");
  ASSERT_EQ(Edgeforge("certs devices --dir " + pki + " --count 2").exit_code, 0);
  testing_support::BackgroundRun verify("edgeforge", {"verify", "--broker=" + (*broker)->uri(), "--certs", pki});
  ASSERT_TRUE(verify.WaitForOutput("verify: subscribed", std::chrono::seconds(30))) << verify.Output();
  const CliRun fleet = Edgeforge("sim --devices 2 --duration 2s --interval 250ms --no-verify --broker " +
                                 (*broker)->uri() + " --certs " + pki + " --work " + work);
  ASSERT_EQ(fleet.exit_code, 0) << fleet.output;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the last PUBACKed messages reach it
  EXPECT_TRUE(verify.Running()) << verify.Output();
  verify.Signal(SIGHUP);
  const CliRun r = verify.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "(devices 2)")) << r.output;
  EXPECT_TRUE(Has(r, "result: PASS")) << r.output;
}

TEST(EdgeforgeCliTest, SighupStopsTheBrokerCleanly) {
  const std::string dir = MakeTempDir("hupbrokercli");
  testing_support::BackgroundRun broker("edgeforge", {"broker", "--certs", dir + "/pki", "--work=" + dir + "/broker"});
  ASSERT_TRUE(broker.WaitForOutput("stop with Ctrl-C", std::chrono::seconds(30))) << broker.Output();
  const auto pos = broker.Output().find("mosquitto pid ");
  ASSERT_NE(pos, std::string::npos) << broker.Output();
  const pid_t mosquitto = static_cast<pid_t>(std::stol(broker.Output().substr(pos + 14)));
  broker.Signal(SIGHUP);
  const CliRun r = broker.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "broker: stopped")) << r.output;
  EXPECT_NE(::kill(mosquitto, 0), 0) << "mosquitto " << mosquitto << " still running";
}

TEST(EdgeforgeCliTest, VersionIsTheProjectVersion) {
  const CliRun r = Edgeforge("version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "edgeforge " + std::string(kVersion) + "\n");
  EXPECT_EQ(Edgeforge("--version").output, r.output);
  EXPECT_EQ(Edgeforge("version --bogus").exit_code, 2);
}

TEST(EdgeforgeCliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"--help", "sim --help", "broker --help", "verify --help", "certs --help"}) {
    const CliRun r = Edgeforge(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
    EXPECT_TRUE(Has(r, "usage: edgeforge")) << cmd << "\n" << r.output;
  }
  // The text states the rate limit the code applies.
  const std::string limit = std::to_string(static_cast<int>(sim::kEveryChangeMaxRate)) + " msg/s";
  EXPECT_TRUE(Has(Edgeforge("sim --help"), "scheduled at most " + limit)) << limit;
}

TEST(EdgeforgeCliTest, BrokerStartsAndStops) {
  const std::string dir = MakeTempDir("brokercli");
  const CliRun r = Edgeforge("broker --duration 1s --certs " + dir + "/pki --work " + dir + "/broker");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "broker: ssl://localhost:")) << r.output;
  EXPECT_TRUE(Has(r, "broker: stopped")) << r.output;
  const std::string conf = testing_support::ReadAll(dir + "/broker/mosquitto.conf");
  EXPECT_NE(conf.find("require_certificate true"), std::string::npos);
}

class VerifyCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({"dev-a"}, "capture");
    signer_ = testing_support::SignerFor(pki_, "dev-a");
  }
  std::string Line(uint64_t seq, bool tamper = false) {
    telemetry::Message m;
    m.dev = "dev-a";
    m.seq = seq;
    m.boot = 1;
    m.ts = 1'700'000'000'000;
    m.readings = {{"temperature", 21.5, "Cel", ""}};
    std::string payload = telemetry::Serialize(m);
    const std::string sig = *signer_->Sign(payload);
    if (tamper) payload.replace(payload.find("21.5"), 4, "99.5");
    nlohmann::json j = {{"topic", "dt/edgeforge/site-1/dev-a/telemetry"}, {"payload", payload}, {"jws", sig}};
    return j.dump() + "\n";
  }
  std::string Write(const std::string& text) {
    const std::string path = MakeTempDir("cap") + "/capture.jsonl";
    std::ofstream(path) << text;
    return path;
  }
  std::string pki_;
  std::unique_ptr<jws::Signer> signer_;
};

TEST_F(VerifyCaptureTest, CleanCapturePasses) {
  const CliRun r = Edgeforge("verify --certs " + pki_ + " --capture " + Write(Line(0) + Line(1) + Line(1)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r, "verified 2")) << r.output;
  EXPECT_TRUE(Has(r, "duplicated 1")) << r.output;
}

TEST_F(VerifyCaptureTest, TamperedOrMissingMessagesFail) {
  const CliRun r = Edgeforge("verify --certs " + pki_ + " --capture " + Write(Line(0) + Line(1, true) + Line(3)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "invalid 1")) << r.output;
  EXPECT_TRUE(Has(r, "lost 2")) << r.output;  // 1 (tampered, not trusted) and 2
  EXPECT_TRUE(Has(r, "capture.jsonl:2: invalid")) << r.output;
}

TEST_F(VerifyCaptureTest, MalformedCaptureLineNamesFileAndLine) {
  const CliRun r = Edgeforge("verify --certs " + pki_ + " --capture " + Write(Line(0) + "{\"topic\": 3}\n"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "capture.jsonl:2")) << r.output;
}

// docs/telemetry.md "Revoked keys": <certs>/revoked.json is read when it
// exists, --revoked names another; a list that cannot be read or parsed stops
// the run with the file and the field, never a run without it.
TEST_F(VerifyCaptureTest, ARevocationListRefusesTheKeyAndABadOneStopsTheRun) {
  const std::string capture = Write(Line(0) + Line(1));
  std::ofstream(pki_ + "/revoked.json") << R"({"revoked":[{"kid":")" << signer_->kid()
                                        << R"(","at":"2025-03-01T12:00:00Z","reason":"stolen"}]})";
  CliRun r = Edgeforge("verify --certs " + pki_ + " --capture " + capture);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "invalid: revoked kid x2")) << r.output;
  EXPECT_TRUE(Has(r, "was revoked at 2025-03-01T12:00:00Z (stolen)")) << r.output;
  const std::string empty = MakeTempDir("revoked") + "/none.json";
  std::ofstream(empty) << R"({"revoked":[]})";
  r = Edgeforge("verify --certs " + pki_ + " --revoked " + empty + " --capture " + capture);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Edgeforge("verify --certs " + pki_ + " --revoked /nonexistent/revoked.json --capture " + capture);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "cannot read revocation list /nonexistent/revoked.json")) << r.output;
  std::ofstream(pki_ + "/revoked.json") << R"({"revoked":[{"kid":")" << signer_->kid() << R"(","at":"2025-03-01"}]})";
  r = Edgeforge("verify --certs " + pki_ + " --capture " + capture);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, pki_ + "/revoked.json: revocations revoked[0].at: '2025-03-01' is not an RFC 3339 date-time"))
      << r.output;
}

TEST_F(VerifyCaptureTest, MissingJwksIsAClearError) {
  const CliRun r = Edgeforge("verify --jwks /nonexistent/jwks.json --capture " + Write(Line(0)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r, "/nonexistent/jwks.json")) << r.output;
}

}  // namespace
}  // namespace edgeforge
