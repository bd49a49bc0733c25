// edgeforge-device as an operator runs it: the firmware binary on this
// machine's (missing) device nodes, and hardware-in-the-loop with simulated
// parts against a real mosquitto over mutual TLS, checked by the verifier.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <future>
#include <mutex>
#include <set>

#include "firmware/board/builtin.h"
#include "firmware/link/paho_session.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/verifier.h"
#include "tests/support/cli_run.h"
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
    auto s = link::MakePahoSession(c);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ingest_ = std::move(*s);
    ASSERT_TRUE(ingest_->Connect().ok());
    ASSERT_TRUE(ingest_
                    ->Subscribe("dt/+/+/+/+", 1,
                                [this](const link::IncomingMessage& m) {
                                  verifier_->Check(m.topic, m.payload, m.UserProperty("jws"));
                                  std::lock_guard<std::mutex> lock(mu_);
                                  payloads_.push_back(m.payload);
                                })
                    .ok());
  }
  void TearDown() override {
    if (ingest_) (void)ingest_->Disconnect(2000ms);
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

}  // namespace
}  // namespace edgeforge
