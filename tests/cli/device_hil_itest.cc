// Hardware-in-the-loop for the firmware binary as a gateway runs it: one
// edgeforge-device on simulated parts against the host's local broker (real
// mosquitto, mutual TLS, the ACL) and its shadow service, for a bounded time.
//
// By default it runs this build's binary. `scripts/test --target arm64`
// (and armhf) runs the same test with EDGEFORGE_DEVICE_UNDER_TEST set to
// the cross-built binary under qemu-user and EDGEFORGE_DEVICE_MACHINE to
// its CPU, so the ARM build is checked end to end: its signed telemetry is
// accepted by the host's verifier (0 lost, 0 invalid), it rides out a broker
// restart, and a desired config set in the shadow changes its report period.
// Label "hil" (tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "firmware/board/builtin.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/shadow/shadow_service.h"
#include "sim/verify/live_ingest.h"
#include "sim/verify/verifier.h"
#include "tests/support/cli_run.h"
#include "tests/support/device_under_test.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

constexpr char kThing[] = "hil-edge-1";

/// The factory node with a 1 s report window and parts sampled at most every second.
std::string FastFactoryBoard(const std::string& dir) {
  nlohmann::json j;
  for (const auto& b : board::BuiltinBoards()) {
    if (std::string(b.name) == "factory-node") j = nlohmann::json::parse(std::string(b.json));
  }
  j["report_ms"] = 1000;
  for (auto& d : j["devices"]) {
    if (d.value("sample_ms", 0) > 1000) d["sample_ms"] = 1000;
  }
  const std::string path = dir + "/factory-node.json";
  std::ofstream(path) << j.dump(2);
  return path;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

struct Window {
  uint64_t boot = 0;
  uint64_t seq = 0;
  uint64_t window_ms = 0;
  uint64_t reconnects = 0;
};

class DeviceHilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    device_ = testing_support::DeviceUnderTest();
    const std::string binary = testing_support::DeviceBinary();
    const std::string machine = testing_support::ElfMachine(binary);
    std::cout << "[ info ] device under test: " << Joined(device_.argv) << " (ELF " << machine << ")\n";
    ASSERT_FALSE(machine.empty()) << binary << " is not an ELF executable";
    const std::string required = testing_support::RequiredDeviceMachine();
    if (!required.empty()) {
      ASSERT_EQ(machine, required) << binary;
    }

    pki_ = MakePki({kThing}, "devhil");
    work_ = MakeTempDir("devhil");
    sim::BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = work_ + "/broker";
    // The broker keeps the verifier's session and its queue across the restart.
    o.persistence = sim::BrokerPersistence::kEveryChange;
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    auto s = sim::shadow::StartBesideBroker(broker_->uri(), pki_, o.work_dir, nullptr);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    shadow_ = std::move(*s);

    verifier_ = std::make_unique<sim::TelemetryVerifier>(testing_support::Jwks(pki_), jws::Backend::kOpenSsl);
    sim::LiveIngestOptions io;
    io.broker_uri = broker_->uri();
    io.pki_dir = pki_;
    io.client_id = sim::kIngestIdentity;
    io.filter = "dt/edgeforge/+/+/+";
    auto ingest = sim::LiveIngest::Start(
        io,
        [this](const link::IncomingMessage& m) {
          verifier_->Check(m.topic, m.payload, m.UserProperty("jws"));
          auto t = telemetry::ParseTelemetry(m.payload);
          if (!t.ok()) return;  // an alarm
          std::lock_guard<std::mutex> lock(mu_);
          windows_.push_back({t->boot, t->seq, t->window_ms, t->status.reconnects});
        },
        *verifier_);
    ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
    ingest_ = std::move(*ingest);
  }
  void TearDown() override {
    if (ingest_) (void)ingest_->Stop(1s);
    if (shadow_) (void)shadow_->Stop();
    if (HasFailure() && broker_) std::cout << "[ info ] broker log tail:\n" << broker_->LogTail(1500) << "\n";
  }

  static std::string Joined(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
  }
  std::vector<Window> Windows() {
    std::lock_guard<std::mutex> lock(mu_);
    return windows_;
  }
  /// Windows received with window_ms in [lo, hi] that were made after the given reconnect count.
  size_t CountWindows(uint64_t lo, uint64_t hi, uint64_t min_reconnects = 0) {
    size_t n = 0;
    for (const Window& w : Windows()) n += (w.window_ms >= lo && w.window_ms <= hi && w.reconnects >= min_reconnects);
    return n;
  }

  testing_support::Command device_;
  std::string pki_, work_;
  std::unique_ptr<sim::LocalBroker> broker_;
  std::unique_ptr<sim::shadow::ShadowService> shadow_;
  std::unique_ptr<sim::TelemetryVerifier> verifier_;
  std::unique_ptr<sim::LiveIngest> ingest_;
  std::mutex mu_;
  std::vector<Window> windows_;
};

TEST_F(DeviceHilTest, VerifiedTelemetryThroughABrokerRestartAndAShadowConfigChange) {
  const std::string board = FastFactoryBoard(work_);
  testing_support::BackgroundRun device(
      testing_support::DeviceCommand({"--board", board, "--sim-sensors", "--thing", kThing, "--broker", broker_->uri(),
                                      "--certs", pki_, "--state", work_ + "/state", "--sync", "batch"}));
  // Under emulation the first TLS handshake and the identity check take seconds.
  ASSERT_TRUE(device.WaitForOutput("publishing to", 60s)) << device.Output();
  ASSERT_TRUE(WaitFor([&] { return CountWindows(900, 1100) >= 3; }, 60s)) << device.Output();

  // A broker restart: the device notices, queues in its outbox, reconnects and drains.
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(device.WaitForOutput("next attempt", 60s)) << "the device did not notice the broker going away\n"
                                                         << device.Output();
  std::this_thread::sleep_for(2s);  // windows made while the broker is down go to the outbox
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->LogTail();
  ASSERT_TRUE(device.WaitForOutput("link: connected (reconnect 1)", 90s)) << device.Output();
  ASSERT_TRUE(WaitFor([&] { return CountWindows(900, 1100, 1) >= 2; }, 60s))
      << "no window made after the reconnect arrived\n"
      << device.Output();

  // Desired config in the shadow, set as an operator does: the device applies
  // the delta and its windows become 3 s long.
  const testing_support::CliRun set = testing_support::RunBinary(
      "edgeforge", "shadow set " + std::string(kThing) + " --desired '{\"config\":{\"report_ms\":3000}}' --broker " +
                       broker_->uri() + " --certs " + pki_);
  ASSERT_EQ(set.exit_code, 0) << set.output;
  ASSERT_TRUE(WaitFor([&] { return CountWindows(2900, 3100) >= 2; }, 60s))
      << "the report period did not follow the shadow\n"
      << device.Output();

  device.Signal(SIGTERM);
  const testing_support::CliRun r = device.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  static const std::regex stop_re(
      R"(stopped: published (\d+) \(telemetry \d+, alarms \d+\), delivered \d+, queued (\d+), dropped (\d+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, stop_re)) << r.output;
  const uint64_t published = std::stoull(m[1]);
  EXPECT_EQ(std::stoull(m[3]), 0u) << "dropped";
  EXPECT_EQ(std::stoull(m[2]), 0u) << "still queued at the stop";
  // Everything it issued this boot (seqs 0 .. published - 1) must arrive.
  verifier_->Expect(kThing, 1, 0, published - 1);
  ASSERT_TRUE(WaitFor([&] { return verifier_->verified() >= published; }, 20s))
      << verifier_->verified() << " of " << published << " verified";
  const sim::VerifyReport report = verifier_->Report();
  std::cout << "[ info ] published " << published << ", verified " << report.verified << ", duplicates "
            << report.duplicates << ", lost " << report.lost << ", invalid " << report.invalid << "\n";
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.invalid, 0u) << (report.examples.empty() ? "" : report.examples[0]);
  EXPECT_EQ(report.conflicts, 0u);
  EXPECT_EQ(report.devices, 1u);
  EXPECT_GE(report.verified, 8u);
}

}  // namespace
}  // namespace edgeforge
