// edgeforge-device as an operator runs it: the firmware binary on this
// machine's (missing) device nodes, and hardware-in-the-loop with simulated
// parts against a real mosquitto over mutual TLS, checked by the verifier.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "edgeforge/version.h"
#include "firmware/board/builtin.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/verifier.h"
#include "tests/support/cli_run.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using namespace std::chrono_literals;
using testing_support::CliRun;
using testing_support::MakePki;
using testing_support::MakeTempDir;

CliRun Device(const std::string& args) { return testing_support::RunBinary("edgeforge-device", args); }

/// A built-in board with its report window and slow sample periods shortened,
/// written to a file (so the test also exercises --board <path>).
std::string BoardFile(const std::string& name, const std::string& dir, int report_ms) {
  std::string json;
  for (const auto& b : board::BuiltinBoards()) {
    if (b.name == name) json = std::string(b.json);
  }
  const std::string from = "\"report_ms\": 10000";
  const size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos) << name;
  if (at != std::string::npos) json.replace(at, from.size(), "\"report_ms\": " + std::to_string(report_ms));
  // Parts sampled every 10 s on the board sample every second here.
  for (size_t p = json.find("\"sample_ms\": 10000"); p != std::string::npos; p = json.find("\"sample_ms\": 10000")) {
    json.replace(p, 18, "\"sample_ms\": 1000");
  }
  const std::string path = dir + "/" + name + ".json";
  std::ofstream(path) << json;
  return path;
}

TEST(EdgeforgeDeviceTest, HelpAndUsageErrors) {
  CliRun r = Device("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("usage: edgeforge-device")) << r.output;
  r = Device("--thing a");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--board is required")) << r.output;
  r = Device("--board factory-node --thing a --certs /tmp");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--broker is required")) << r.output;
  r = Device("--board factory-node --check --bogus");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("unknown option '--bogus'")) << r.output;
  r = Device("--board fabric-node --check");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("not a built-in board (factory-node, traffic-node)")) << r.output;
}

// Issue 8 item 7: an option given twice was "unknown", a bad broker URI
// exited 1, and --duration 0 meant "forever" on the device only.
TEST(EdgeforgeDeviceTest, OptionErrorsAreUsageErrorsNamingTheOption) {
  CliRun r = Device("--board factory-node --board=traffic-node --check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--board given twice")) << r.output;
  EXPECT_TRUE(r.Has("(see edgeforge-device --help)")) << r.output;
  r = Device("--board=factory-node --check --sim-sensors --seed=0x1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--seed '0x1' must be a whole number")) << r.output;
  r = Device("--board factory-node --thing a --certs /tmp --broker ssl://nohost:notaport");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--broker: 'ssl://nohost:notaport': port 'notaport' is not a number")) << r.output;
  r = Device("--board factory-node --thing a --certs /tmp --broker=ssl://localhost:8883/x");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("'/x' after the port")) << r.output;
  r = Device("--board factory-node --thing a --certs /tmp --broker ssl://localhost:8883 --duration 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--duration '0' must be more than 0; to run until SIGINT/SIGTERM, omit --duration")) << r.output;
  r = Device("--thing --check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--thing needs a value")) << r.output;
  r = Device("--version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "edgeforge-device " + std::string(kVersion) + "\n");
}

// The radar queues one report per target between samples; --check printed
// radar_speed once per report (14 times) instead of once for the part. The
// road's traffic follows the time of day, so a 1 s check may see no vehicle:
// a few tries, and every line that has reports must name the reading once.
TEST(EdgeforgeDeviceTest, CheckPrintsEachReadingOncePerPart) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const CliRun r = Device("--board traffic-node --check --sim-sensors");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const auto line_start = r.output.find("radar0");
    ASSERT_NE(line_start, std::string::npos) << r.output;
    const std::string line = r.output.substr(line_start, r.output.find('\n', line_start) - line_start);
    size_t count = 0;
    for (size_t at = line.find("radar_speed="); at != std::string::npos; at = line.find("radar_speed=", at + 1)) {
      ++count;
    }
    EXPECT_LE(count, 1u) << line;
    if (count == 1) {
      EXPECT_NE(line.find(" km/h"), std::string::npos) << line;  // the latest value (and the count if > 1)
      return;
    }
  }
}

// This machine has no I2C adapter: --check names the part, the bus and the
// node it could not open, the way it would on a gateway with a wrong overlay.
TEST(EdgeforgeDeviceTest, CheckOnThisMachineNamesTheMissingDeviceNode) {
  const CliRun r = Device("--board factory-node --check");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("NOT_FOUND")) << r.output;
  EXPECT_TRUE(r.Has("devices[0] (env0)")) << r.output;
  EXPECT_TRUE(r.Has("/dev/i2c-1")) << r.output;
}

TEST(EdgeforgeDeviceTest, CheckWithSimulatedPartsSamplesEveryPart) {
  CliRun r = Device("--board factory-node --check --sim-sensors");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* part :
       {"env0", "vib0", "adc0", "temperature=", "vibration_rms_z=", "motor_current=", "check: all parts answered"}) {
    EXPECT_TRUE(r.Has(part)) << part << "\n" << r.output;
  }
  r = Device("--board traffic-node --check --sim-sensors");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* part : {"env0", "loop0", "radar0", "occupancy=", "check: all parts answered"}) {
    EXPECT_TRUE(r.Has(part)) << part << "\n" << r.output;
  }
}

TEST(EdgeforgeDeviceTest, ABadBoardFileNamesTheFileAndTheField) {
  const std::string dir = MakeTempDir("badboard");
  const std::string path = dir + "/x.json";
  std::string json = std::string(board::BuiltinBoards()[0].json);
  json.replace(json.find("bosch,bme280"), 12, "bosch,bme281");
  std::ofstream(path) << json;
  const CliRun r = Device("--board " + path + " --check");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has(path + ": devices[0].compatible")) << r.output;
  EXPECT_TRUE(r.Has("bosch,bme281")) << r.output;
}

class HilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({"fac-1", "trf-1", "sig-1"}, "hil");
    sim::BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = MakeTempDir("hilbroker");
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    verifier_ = std::make_unique<sim::TelemetryVerifier>(testing_support::Jwks(pki_), jws::Backend::kOpenSsl);
    link::SessionConfig c;
    c.server_uri = broker_->uri();
    c.client_id = sim::kIngestIdentity;
    c.tls = {pki_ + "/ca.crt", pki_ + "/ingest.crt", pki_ + "/ingest.key"};
    auto s = testing_support::MakePumpedPahoSession(c);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ingest_ = std::move(*s);
    ASSERT_TRUE(testing_support::ConnectAndWait(*ingest_).ok());
    ASSERT_TRUE(testing_support::SubscribeAndWait(*ingest_, "dt/+/+/+/+", 1, [this](const link::IncomingMessage& m) {
                  verifier_->Check(m.topic, m.payload, m.UserProperty("jws"));
                  std::lock_guard<std::mutex> lock(mu_);
                  payloads_.push_back(m.payload);
                }).ok());
  }
  void TearDown() override {
    if (ingest_) ingest_->Disconnect();
  }
  std::string DeviceArgs(const std::string& thing, const std::string& board, const std::string& work) {
    return "--board " + board + " --sim-sensors --thing " + thing + " --broker " + broker_->uri() + " --certs " + pki_ +
           " --state " + work + "/" + thing;
  }

  std::string pki_;
  std::unique_ptr<sim::LocalBroker> broker_;
  std::unique_ptr<sim::TelemetryVerifier> verifier_;
  std::unique_ptr<link::Session> ingest_;
  std::mutex mu_;
  std::vector<std::string> payloads_;
};

// The real firmware binary, one factory node and one traffic node, each on
// simulated parts driven by physics: their signed windows reach the broker
// and verify, with no sequence gap.
TEST_F(HilTest, FactoryAndTrafficNodesPublishVerifiedTelemetry) {
  const std::string work = MakeTempDir("hilwork");
  const std::string factory = BoardFile("factory-node", work, 1000);
  const std::string traffic = BoardFile("traffic-node", work, 1000);
  auto fac =
      std::async(std::launch::async, [&] { return Device(DeviceArgs("fac-1", factory, work) + " --duration 6s"); });
  auto trf =
      std::async(std::launch::async, [&] { return Device(DeviceArgs("trf-1", traffic, work) + " --duration 6s"); });
  const CliRun f = fac.get();
  const CliRun t = trf.get();
  EXPECT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(f.Has("stopped: published")) << f.output;
  std::this_thread::sleep_for(500ms);
  const auto report = verifier_->Report();
  EXPECT_GE(report.verified, 8u);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.invalid, 0u) << (report.examples.empty() ? "" : report.examples[0]);
  EXPECT_EQ(report.devices, 2u);
  std::set<std::string> kinds;
  bool motor_current = false;
  bool vehicle_count = false;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& p : payloads_) {
    auto m = telemetry::ParseTelemetry(p);
    if (!m.ok()) continue;  // an alarm
    kinds.insert(m->kind);
    for (const auto& ch : m->readings) {
      if (ch.name == "motor_current" && ch.n > 0) motor_current = true;
      if (ch.name == "vehicle_count") vehicle_count = true;
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"factory", "traffic"}));
  EXPECT_TRUE(motor_current);
  EXPECT_TRUE(vehicle_count);
}

TEST_F(HilTest, SigtermStopsTheDeviceAndPersistsItsSequence) {
  const std::string work = MakeTempDir("hilsig");
  const std::string factory = BoardFile("factory-node", work, 1000);
  std::vector<std::string> args{"--board", factory,    "--sim-sensors", "--thing",
                                "sig-1",   "--broker", broker_->uri(),  "--certs",
                                pki_,      "--state",  work + "/sig-1"};
  const auto start = std::chrono::steady_clock::now();
  const CliRun r = testing_support::RunBinaryInterrupted("edgeforge-device", args, SIGTERM, 3500ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("stopped: published")) << r.output;
  const std::string counters = testing_support::ReadAll(work + "/sig-1/counters.json");
  EXPECT_NE(counters.find("\"boot\":1"), std::string::npos) << counters;
}

// SIGHUP is a daemon's reload signal: the device (no configuration file yet)
// logs it and keeps publishing; SIGTERM then stops it cleanly. The firmware
// version it reports in its shadow is the one `edgeforge version` prints.
TEST_F(HilTest, SighupIsLoggedAndIgnoredAndTheShadowReportsTheProjectVersion) {
  // Shared with the subscription, which may still deliver after this body returns.
  auto firmware = std::make_shared<std::vector<std::string>>();
  ASSERT_TRUE(testing_support::SubscribeAndWait(*ingest_, "$aws/things/sig-1/shadow/update", 1,
                                                [this, firmware](const link::IncomingMessage& m) {
                                                  auto j = nlohmann::json::parse(m.payload, nullptr, false);
                                                  if (!j.is_object()) return;
                                                  const auto reported =
                                                      j.value("/state/reported"_json_pointer, nlohmann::json());
                                                  if (!reported.is_object() || !reported.contains("firmware")) return;
                                                  std::lock_guard<std::mutex> lock(mu_);
                                                  firmware->push_back(reported["firmware"].dump());
                                                })
                  .ok());
  const std::string work = MakeTempDir("hilhup");
  const std::string factory = BoardFile("factory-node", work, 1000);
  testing_support::BackgroundRun device(
      "edgeforge-device", {"--board", factory, "--sim-sensors", "--thing", "sig-1", "--broker", broker_->uri(),
                           "--certs", pki_, "--state", work + "/sig-1"});
  ASSERT_TRUE(device.WaitForOutput("publishing to", 30s)) << device.Output();
  device.Signal(SIGHUP);
  ASSERT_TRUE(device.WaitForOutput("SIGHUP: no configuration file to reload; ignored", 10s)) << device.Output();
  // Still running and still publishing after the SIGHUP.
  const size_t before = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return payloads_.size();
  }();
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (payloads_.size() > before) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(device.Running()) << device.Output();
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_GT(payloads_.size(), before) << "no telemetry after SIGHUP\n" << device.Output();
  }
  device.Signal(SIGTERM);
  const CliRun r = device.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("stopped: published")) << r.output;

  const CliRun version = testing_support::RunBinary("edgeforge", "version");
  ASSERT_EQ(version.exit_code, 0) << version.output;
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_FALSE(firmware->empty()) << "no shadow report";
  for (const std::string& f : *firmware)
    EXPECT_EQ("edgeforge " + nlohmann::json::parse(f).get<std::string>() + "\n", version.output);
}

// The config file as a service runs the device: `--config F --check` passes,
// the device publishes verified telemetry from the file's settings, its log
// lines carry journald priorities under systemd (JOURNAL_STREAM) with the
// file's level, a command-line option wins over the file, and --check names
// each problem with its fix.
TEST_F(HilTest, AConfigFileRunsTheDeviceAndCheckNamesEachProblemWithItsFix) {
  const std::string work = MakeTempDir("hilcfg");
  const std::string factory = BoardFile("factory-node", work, 1000);
  const std::string config = work + "/device.json";
  nlohmann::json c = {{"thing", "fac-1"},
                      {"broker", broker_->uri()},
                      {"certs", pki_},
                      {"board", factory},
                      {"state_dir", work + "/state"},
                      {"sim_sensors", true},
                      {"log_level", "debug"},
                      {"sync", "batch"}};
  std::ofstream(config) << c.dump(2);
  ASSERT_EQ(::chmod(config.c_str(), 0640), 0);
  const std::string bin = std::string(EDGEFORGE_BIN_DIR) + "/edgeforge-device";

  CliRun r = testing_support::RunShell(bin + " --config " + config + " --check");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("config " + config + ": ok (thing fac-1")) << r.output;
  EXPECT_TRUE(r.Has("identity: ok CN=fac-1")) << r.output;
  EXPECT_TRUE(r.Has("state " + work + "/state: ok")) << r.output;
  EXPECT_TRUE(r.Has("check: all passed")) << r.output;

  r = testing_support::RunShell("JOURNAL_STREAM=8:12345 " + bin + " --config " + config + " --duration 4s");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("<6>edgeforge-device: identity CN=fac-1")) << r.output;
  EXPECT_TRUE(r.Has("<6>edgeforge-device: fac-1 (factory-node, simulated parts) boot 1, publishing to")) << r.output;
  EXPECT_TRUE(r.Has("<7>edgeforge-device: published telemetry 1")) << r.output;
  EXPECT_TRUE(r.Has("<6>edgeforge-device: stopped: published")) << r.output;
  std::this_thread::sleep_for(500ms);
  const auto report = verifier_->Report();
  EXPECT_GE(report.verified, 2u);
  EXPECT_EQ(report.invalid, 0u);

  // --log-level on the command line wins over the file's debug: no info lines.
  r = testing_support::RunShell(bin + " --config " + config + " --log-level warn --duration 2s");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(r.Has("publishing to")) << r.output;
  EXPECT_FALSE(r.Has("published telemetry")) << r.output;

  // Problems --check finds, each with its fix.
  const std::string key = pki_ + "/devices/fac-1/device.key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  ASSERT_EQ(::chmod((work + "/state").c_str(), 0777), 0);
  r = testing_support::RunShell(bin + " --config " + config + " --check");
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("identity: FAIL identity of fac-1: TLS key '" + key + "' has mode 0644")) << r.output;
  EXPECT_TRUE(r.Has("chmod 600 " + key)) << r.output;
  EXPECT_TRUE(r.Has("state " + work + "/state: FAIL " + work + "/state: writable by others (mode 777)")) << r.output;
  EXPECT_TRUE(r.Has("fix: chmod 700 " + work + "/state")) << r.output;
  EXPECT_TRUE(r.Has("check: 2 problems")) << r.output;

  // A setting the run needs, missing from the file: named with the file, exit 1.
  nlohmann::json partial = c;
  partial.erase("thing");
  std::ofstream(config) << partial.dump();
  r = testing_support::RunShell(bin + " --config " + config);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has(config + ": --thing is required (or \"thing\" in the config file)")) << r.output;
}

}  // namespace
}  // namespace edgeforge
