// Issue 4's fault tests: the real edgeforge-device binary (simulated parts,
// real outbox on disk, real Paho over mutual TLS) against a real mosquitto,
// with the faults applied from outside the process: broker kill -9, a network
// black hole, device kill -9, a damaged queue file, an outage longer than the
// queue bound, hostile shadow deltas, and SIGTERM while connecting or draining.
//
// An in-process ingest (the kIngestIdentity subscriber, as an IoT rule would
// be) feeds every message to the TelemetryVerifier, which counts gaps in each
// (device, boot) seq range as lost. The device reaches the broker through a
// TcpProxy and the ingest connects directly: after a broker restart the proxy
// keeps refusing the device (kReset) until the ingest has resubscribed, as a
// cloud's rules are always subscribed; a message published with no subscriber
// would be dropped by mosquitto and counted lost for the wrong reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/verifier.h"
#include "tests/support/pumped_session.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;
using testing_support::TcpProxy;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

/// The value at JSON pointer `ptr`, or null if absent.
Json At(const Json& j, const std::string& ptr) {
  const Json::json_pointer p(ptr);
  return j.is_object() && j.contains(p) ? j.at(p) : Json();
}

// ---- the device process ----------------------------------------------------------

/// What edgeforge-device printed when it stopped cleanly.
struct StopLine {
  bool found = false;
  uint64_t published = 0;  // seqs issued this boot (telemetry + alarms)
  uint64_t telemetry = 0;
  uint64_t alarms = 0;
  uint64_t delivered = 0;
  uint64_t queued = 0;
  uint64_t dropped = 0;
  uint64_t reconnects = 0;
};

StopLine ParseStopLine(const std::string& out) {
  static const std::regex re(
      R"(stopped: published (\d+) \(telemetry (\d+), alarms (\d+)\), delivered (\d+), queued (\d+), dropped (\d+), reconnects (\d+))");
  StopLine s;
  std::smatch m;
  if (!std::regex_search(out, m, re)) return s;
  s.found = true;
  s.published = std::stoull(m[1]);
  s.telemetry = std::stoull(m[2]);
  s.alarms = std::stoull(m[3]);
  s.delivered = std::stoull(m[4]);
  s.queued = std::stoull(m[5]);
  s.dropped = std::stoull(m[6]);
  s.reconnects = std::stoull(m[7]);
  return s;
}

/// The outbox line printed at start: {recovered, quarantined}, or nullopt if absent.
std::optional<std::pair<uint64_t, uint64_t>> ParseRecoveredLine(const std::string& out) {
  static const std::regex re(R"((\d+) queued messages recovered, (\d+) corrupt records quarantined)");
  std::smatch m;
  if (!std::regex_search(out, m, re)) return std::nullopt;
  return std::make_pair(std::stoull(m[1]), std::stoull(m[2]));
}

/// edgeforge-device in the background (fork/exec), stdout and stderr to a
/// file, so a test can SIGKILL or SIGTERM it at a moment of its choosing.
class DeviceProcess {
 public:
  static std::unique_ptr<DeviceProcess> Start(const std::vector<std::string>& args, const std::string& log_path) {
    const std::string bin = std::string(EDGEFORGE_BIN_DIR) + "/edgeforge-device";
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return nullptr;
    const pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls until exec: the parent has threads
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fd);
    if (pid < 0) return nullptr;
    return std::unique_ptr<DeviceProcess>(new DeviceProcess(pid, log_path));
  }

  ~DeviceProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  DeviceProcess(const DeviceProcess&) = delete;
  DeviceProcess& operator=(const DeviceProcess&) = delete;

  void Signal(int sig) const {
    if (!exited_) ::kill(pid_, sig);
  }
  bool running() {
    Reap(false);
    return !exited_;
  }
  /// True once the process exited (reaped) within `limit`.
  bool WaitExit(std::chrono::milliseconds limit) {
    return WaitFor([this] { return !running(); }, limit);
  }
  /// SIGKILLs and reaps.
  void Kill9() {
    Signal(SIGKILL);
    Reap(true);
  }
  /// Exit status, or -1 if it died by a signal or still runs.
  int exit_code() const { return exited_ && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  std::string output() const { return ReadAll(log_path_); }
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds limit) const {
    return WaitFor([&] { return output().find(text) != std::string::npos; }, limit);
  }

 private:
  DeviceProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  void Reap(bool block) {
    if (exited_) return;
    int st = 0;
    if (::waitpid(pid_, &st, block ? 0 : WNOHANG) == pid_) {
      exited_ = true;
      status_ = st;
    }
  }

  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int status_ = 0;
};

/// The seq the next boot starts at: counters.json's persisted mark.
uint64_t SeqMark(const std::string& state_dir) {
  const Json j = Json::parse(ReadAll(state_dir + "/counters.json"), nullptr, false);
  if (!j.is_object() || !j.contains("seq_mark")) {
    ADD_FAILURE() << state_dir << "/counters.json: " << j.dump();
    return 0;
  }
  return j["seq_mark"].get<uint64_t>();
}

/// factory-node with a 1 s report window, every sample period <= 1 s, and
/// `alarms` (a JSON array) instead of the board's rules if given.
std::string WriteBoard(const std::string& dir, const std::optional<Json>& alarms = std::nullopt) {
  Json b = Json::parse(ReadAll(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/factory-node.json"));
  b["report_ms"] = 1000;
  for (Json& d : b["devices"]) d["sample_ms"] = std::min(d["sample_ms"].get<int>(), 1000);
  if (alarms) b["alarms"] = *alarms;
  const std::string path = dir + "/factory-node-1s.json";
  std::ofstream(path) << b.dump(2);
  return path;
}

// ---- the cloud side ----------------------------------------------------------------

/// One message the ingest received, with the verifier's verdict.
struct Received {
  std::string topic;
  std::string payload;
  sim::Verdict verdict = sim::Verdict::kInvalid;
  std::string dev;
  uint64_t boot = 0;
  uint64_t seq = 0;
  bool alarm = false;
};

/// The ingest identity subscribed to all telemetry, reconnecting and
/// resubscribing by itself whenever its connection is gone (link::Session has
/// no automatic reconnect).
class Ingest {
 public:
  Ingest(std::string uri, std::string pki, sim::TelemetryVerifier& verifier)
      : uri_(std::move(uri)), pki_(std::move(pki)), verifier_(verifier) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Ingest() {
    stop_ = true;
    thread_.join();
    if (session_ && session_->IsConnected()) session_->Disconnect();
    session_.reset();
  }
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  /// Successful (re)subscriptions so far.
  uint64_t subscriptions() const { return subscriptions_.load(); }
  bool WaitSubscriptions(uint64_t n, std::chrono::milliseconds limit) const {
    return WaitFor([&] { return subscriptions() >= n; }, limit);
  }

  std::vector<Received> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  /// Authentic seqs of `dev` in `boot` (first copies and duplicates).
  std::set<uint64_t> Seqs(const std::string& dev, uint64_t boot, bool alarms_only = false) const {
    std::set<uint64_t> out;
    std::lock_guard<std::mutex> lock(mu_);
    for (const Received& r : received_) {
      const bool good = r.verdict == sim::Verdict::kVerified || r.verdict == sim::Verdict::kDuplicate;
      if (good && r.dev == dev && r.boot == boot && (!alarms_only || r.alarm)) out.insert(r.seq);
    }
    return out;
  }
  bool HasAll(const std::string& dev, uint64_t boot, uint64_t first, uint64_t last) const {
    const std::set<uint64_t> s = Seqs(dev, boot);
    for (uint64_t q = first; q <= last; ++q) {
      if (s.count(q) == 0) return false;
    }
    return true;
  }
  /// The verified telemetry windows of `dev`, in arrival order.
  std::vector<telemetry::Telemetry> Windows(const std::string& dev) const {
    std::vector<telemetry::Telemetry> out;
    for (const Received& r : Snapshot()) {
      if (r.verdict != sim::Verdict::kVerified || r.dev != dev || r.alarm) continue;
      auto t = telemetry::ParseTelemetry(r.payload);
      EXPECT_TRUE(t.ok()) << t.status().ToString();
      if (t.ok()) out.push_back(std::move(*t));
    }
    return out;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_.size();
  }

 private:
  void Run() {
    while (!stop_) {
      if (!session_ || !session_->IsConnected()) Reconnect();
      std::this_thread::sleep_for(100ms);
    }
  }
  void Reconnect() {
    session_.reset();
    link::SessionConfig c;
    c.server_uri = uri_;
    c.client_id = sim::kIngestIdentity;
    c.tls = {pki_ + "/ca.crt", pki_ + "/ingest.crt", pki_ + "/ingest.key"};
    c.connect_timeout = 3000ms;
    auto s = testing_support::MakePumpedPahoSession(c);
    if (!s.ok() || !testing_support::ConnectAndWait(**s).ok()) return;  // the broker is down: try again shortly
    const Status sub = testing_support::SubscribeAndWait(**s, "dt/+/+/+/+", 1,
                                                         [this](const link::IncomingMessage& m) { OnMessage(m); });
    session_ = std::move(*s);
    if (sub.ok()) ++subscriptions_;
  }
  void OnMessage(const link::IncomingMessage& m) {
    const sim::TelemetryVerifier::Checked c = verifier_.Check(m.topic, m.payload, m.UserProperty("jws"));
    Received r;
    r.topic = m.topic;
    r.payload = m.payload;
    r.verdict = c.verdict;
    r.dev = c.dev;
    r.boot = c.boot;
    r.seq = c.seq;
    r.alarm = m.topic.size() >= 6 && m.topic.compare(m.topic.size() - 6, 6, "/alarm") == 0;
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(std::move(r));
  }

  const std::string uri_;
  const std::string pki_;
  sim::TelemetryVerifier& verifier_;
  std::unique_ptr<link::Session> session_;  // Run's thread only (and the destructor, after join)
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> subscriptions_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Received> received_;  // guarded by mu_
};

/// Publishes one QoS 1 message and waits for its PUBACK.
Status PublishAndWait(link::Session& s, const std::string& topic, const std::string& payload) {
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  link::OutgoingMessage m;
  m.topic = topic;
  m.payload = payload;
  const Status queued = s.Publish(m, [done](Status st) { done->set_value(std::move(st)); });
  if (!queued.ok()) return queued;
  if (result.wait_for(10s) != std::future_status::ready) return DeadlineExceeded("no PUBACK for " + topic);
  return result.get();
}

// ---- fixture -----------------------------------------------------------------------

class ReliabilityTest : public ::testing::Test {
 protected:
  static constexpr const char* kThings[] = {"rel-kill", "rel-hole",   "rel-crash", "rel-trunc", "rel-flip",
                                            "rel-full", "rel-shadow", "rel-term",  "rel-drain"};

  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki(std::vector<std::string>(std::begin(kThings), std::end(kThings)), "reliability"));
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    sim::BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("relbroker");
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    auto p = TcpProxy::Start("127.0.0.1", broker_->port());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    proxy_ = std::move(*p);
    verifier_ = std::make_unique<sim::TelemetryVerifier>(testing_support::Jwks(*pki_), jws::Backend::kOpenSsl);
    ingest_ = std::make_unique<Ingest>(broker_->uri(), *pki_, *verifier_);
    ASSERT_TRUE(ingest_->WaitSubscriptions(1, 15s)) << "ingest never subscribed";
    work_ = MakeTempDir("relwork");
  }

  void TearDown() override {
    ingest_.reset();
    proxy_.reset();
    if (HasFailure()) std::cout << "[ info ] broker log tail:\n" << broker_->LogTail(1500) << "\n";
  }

  /// Arguments for a device reaching the broker through the proxy (or at `broker` if given).
  std::vector<std::string> DeviceArgs(const std::string& thing, const std::string& board,
                                      const std::vector<std::string>& extra = {}, const std::string& broker = "") {
    std::vector<std::string> a{
        "--board", board, "--sim-sensors", "--thing",   thing, "--broker", broker.empty() ? proxy_->ssl_uri() : broker,
        "--certs", *pki_, "--state",       State(thing)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string State(const std::string& thing) const { return work_ + "/state-" + thing; }

  std::unique_ptr<DeviceProcess> StartDevice(const std::vector<std::string>& args, const std::string& log_name) {
    auto d = DeviceProcess::Start(args, work_ + "/" + log_name + ".log");
    EXPECT_NE(d, nullptr) << "fork/exec edgeforge-device";
    return d;
  }

  /// Stops a device with SIGTERM; it must exit 0 within 10 s. Returns its stop line.
  StopLine Terminate(DeviceProcess& d) {
    d.Signal(SIGTERM);
    const bool exited = d.WaitExit(10s);
    EXPECT_TRUE(exited) << "still running 10 s after SIGTERM:\n" << d.output();
    if (!exited) d.Kill9();
    EXPECT_EQ(d.exit_code(), 0) << d.output();
    const StopLine s = ParseStopLine(d.output());
    EXPECT_TRUE(s.found) << d.output();
    return s;
  }

  /// Waits for a device run with --duration to end; it must exit 0.
  StopLine Finish(DeviceProcess& d, std::chrono::milliseconds limit = 60s) {
    const bool exited = d.WaitExit(limit);
    EXPECT_TRUE(exited) << d.output();
    if (!exited) d.Kill9();
    EXPECT_EQ(d.exit_code(), 0) << d.output();
    const StopLine s = ParseStopLine(d.output());
    EXPECT_TRUE(s.found) << d.output();
    return s;
  }

  /// kill -9 of the broker; the proxy then refuses the device (as a dead broker
  /// does) until RestartBroker.
  void KillBroker() {
    ASSERT_TRUE(broker_->Kill().ok());
    proxy_->Reset();
  }
  /// Restarts the broker, waits for the ingest to resubscribe, then lets the device through.
  void RestartBroker() {
    const uint64_t subs = ingest_->subscriptions();
    ASSERT_TRUE(broker_->Restart().ok()) << broker_->LogTail();
    ASSERT_TRUE(ingest_->WaitSubscriptions(subs + 1, 20s)) << "the ingest did not resubscribe";
    proxy_->Heal();
  }

  /// Declares [first, first + n - 1] for `boot` and waits (up to `limit`) until all arrived.
  void ExpectBoot(const std::string& thing, uint64_t boot, uint64_t first, uint64_t n,
                  std::chrono::milliseconds limit = 15s) {
    if (n == 0) return;
    verifier_->Expect(thing, boot, first, first + n - 1);
    EXPECT_TRUE(WaitFor([&] { return ingest_->HasAll(thing, boot, first, first + n - 1); }, limit))
        << thing << " boot " << boot << ": seqs " << first << ".." << first + n - 1 << " did not all arrive";
  }

  /// The verifier's totals; invalid and conflicting messages always fail the test.
  sim::VerifyReport CheckedReport() {
    const sim::VerifyReport r = verifier_->Report();
    EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
    EXPECT_EQ(r.conflicts, 0u) << "a seq was reused with different bytes";
    std::cout << "[ info ] verifier: received " << r.received << ", verified " << r.verified << ", duplicates "
              << r.duplicates << ", lost " << r.lost << "\n";
    for (const auto& e : r.examples) std::cout << "[ info ]   " << e << "\n";
    return r;
  }

  /// Waits until `dev`'s boot has delivered a window made after its link
  /// reconnected (status.link.reconnects >= 1) with every seq before it.
  bool WaitDrainedAfterReconnect(const std::string& dev, uint64_t boot, std::chrono::milliseconds limit) {
    return WaitFor(
        [&] {
          for (const telemetry::Telemetry& t : ingest_->Windows(dev)) {
            if (t.boot == boot && t.status.reconnects >= 1 && ingest_->HasAll(dev, boot, 0, t.seq)) return true;
          }
          return false;
        },
        limit);
  }

  static std::string* pki_;
  std::unique_ptr<sim::LocalBroker> broker_;
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<sim::TelemetryVerifier> verifier_;
  std::unique_ptr<Ingest> ingest_;
  std::string work_;
};
std::string* ReliabilityTest::pki_ = nullptr;

// ---- 1. broker kill -9 -------------------------------------------------------------

TEST_F(ReliabilityTest, BrokerKill9AndRestartWhilePublishingLosesNothing) {
  const std::string thing = "rel-kill";
  auto dev = StartDevice(DeviceArgs(thing, WriteBoard(work_)), thing);
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(WaitFor([&] { return ingest_->Seqs(thing, 1).size() >= 3; }, 30s)) << dev->output();

  KillBroker();
  ASSERT_TRUE(dev->WaitForOutput("next attempt", 15s)) << "the device did not notice the dead broker:\n"
                                                       << dev->output();
  std::this_thread::sleep_for(3s);  // sampling on into the outbox
  RestartBroker();
  ASSERT_TRUE(dev->WaitForOutput("link: connected (reconnect 1)", 60s)) << dev->output();
  ASSERT_TRUE(WaitDrainedAfterReconnect(thing, 1, 30s)) << dev->output();

  const StopLine s = Terminate(*dev);
  EXPECT_GE(s.reconnects, 1u) << dev->output();
  EXPECT_EQ(s.dropped, 0u);
  ExpectBoot(thing, 1, 0, s.published);
  const sim::VerifyReport r = CheckedReport();
  EXPECT_EQ(r.lost, 0u);
  std::cout << "[ info ] published " << s.published << ", duplicates after the broker's kill -9: " << r.duplicates
            << ", reconnects " << s.reconnects << "\n";
}

// ---- 2. network black hole ---------------------------------------------------------

// The device's keepalive is 30 s (IoT Core's minimum); Paho notices the
// unanswered PINGREQ after about 2.6x that (fault_infra_itest measures it).
TEST_F(ReliabilityTest, BlackholeLongerThanKeepaliveIsDetectedBufferedAndDrainedAfterHeal) {
  const std::string thing = "rel-hole";
  auto dev = StartDevice(DeviceArgs(thing, WriteBoard(work_)), thing);
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(dev->WaitForOutput("link: connected", 30s)) << dev->output();
  ASSERT_TRUE(WaitFor([&] { return ingest_->Seqs(thing, 1).size() >= 2; }, 30s)) << dev->output();

  proxy_->Blackhole();
  const auto cut = std::chrono::steady_clock::now();
  ASSERT_TRUE(dev->WaitForOutput("next attempt", 150s)) << "keepalive never noticed the black hole:\n" << dev->output();
  std::cout << "[ info ] loss detected "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - cut).count()
            << " s after the cut\n";
  const size_t before_heal = ingest_->Seqs(thing, 1).size();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(ingest_->Seqs(thing, 1).size(), before_heal) << "something crossed the black hole";

  proxy_->Heal();
  ASSERT_TRUE(dev->WaitForOutput("link: connected (reconnect 1)", 90s)) << dev->output();
  ASSERT_TRUE(WaitDrainedAfterReconnect(thing, 1, 30s)) << dev->output();

  const StopLine s = Terminate(*dev);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.dropped, 0u);
  ExpectBoot(thing, 1, 0, s.published);
  EXPECT_EQ(CheckedReport().lost, 0u);
  // Windows made during the hole saw their own backlog grow in the outbox.
  uint64_t max_depth = 0;
  for (const auto& t : ingest_->Windows(thing)) max_depth = std::max(max_depth, t.status.queue_depth);
  EXPECT_GE(max_depth, 30u) << "the outbox never held the black hole's backlog";
  std::cout << "[ info ] published " << s.published << ", deepest queue reported " << max_depth << "\n";
}

// ---- 3. device kill -9 while offline -------------------------------------------------

/// The seqs of the telemetry and alarm messages queued in a copy of an outbox
/// directory (the original stays untouched for the device's next start).
std::set<uint64_t> QueuedSeqs(const std::string& outbox_dir, const std::string& scratch) {
  std::filesystem::create_directories(scratch);
  std::filesystem::copy_file(outbox_dir + "/outbox.log", scratch + "/outbox.log");
  SystemClock clock;
  link::OutboxOptions o;
  o.dir = scratch;
  auto q = link::OpenFileOutbox(o, clock);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  std::set<uint64_t> seqs;
  if (!q.ok()) return seqs;
  for (const link::QueuedMessage& m : (*q)->TakeForSend(100000)) {
    if (m.priority != link::Priority::kState) seqs.insert(m.seq);
  }
  return seqs;
}

TEST_F(ReliabilityTest, DeviceKill9WhileOfflineDeliversEveryQueuedMessageAfterRestartWithoutReusingSeqs) {
  const std::string thing = "rel-crash";
  const std::string board = WriteBoard(work_);
  auto first = StartDevice(DeviceArgs(thing, board), thing + "-boot1");
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitFor([&] { return ingest_->Seqs(thing, 1).size() >= 2; }, 30s)) << first->output();
  KillBroker();
  ASSERT_TRUE(first->WaitForOutput("next attempt", 15s)) << first->output();
  std::this_thread::sleep_for(3s);
  first->Kill9();

  const std::set<uint64_t> queued = QueuedSeqs(State(thing) + "/outbox", work_ + "/outbox-copy");
  ASSERT_GE(queued.size(), 2u) << "the offline seconds left nothing in the outbox";
  const std::set<uint64_t> before = ingest_->Seqs(thing, 1);
  const uint64_t last1 = std::max(*queued.rbegin(), *before.rbegin());
  const uint64_t mark = SeqMark(State(thing));
  EXPECT_GT(mark, last1) << "the persisted seq mark must be ahead of every issued seq";

  RestartBroker();
  auto second = StartDevice(DeviceArgs(thing, board, {"--duration", "5s"}), thing + "-boot2");
  ASSERT_NE(second, nullptr);
  const StopLine s = Finish(*second);
  const auto recovered = ParseRecoveredLine(second->output());
  ASSERT_TRUE(recovered.has_value()) << second->output();
  EXPECT_GE(recovered->first, queued.size()) << "telemetry and alarms queued, plus shadow reports";
  EXPECT_EQ(recovered->second, 0u);
  EXPECT_NE(second->output().find("boot 2,"), std::string::npos) << second->output();

  ExpectBoot(thing, 1, 0, last1 + 1);
  ExpectBoot(thing, 2, mark, s.published);
  for (uint64_t q : queued) EXPECT_EQ(ingest_->Seqs(thing, 1).count(q), 1u) << "queued seq " << q << " never arrived";
  const std::set<uint64_t> boot2 = ingest_->Seqs(thing, 2);
  ASSERT_FALSE(boot2.empty());
  EXPECT_GT(*boot2.begin(), last1) << "boot 2 reused a seq of boot 1";
  EXPECT_EQ(CheckedReport().lost, 0u);
  std::cout << "[ info ] boot 1: " << last1 + 1 << " seqs, " << queued.size() << " queued at kill -9; boot 2 from seq "
            << mark << ": " << s.published << " published\n";
}

// ---- 4. damaged queue file -----------------------------------------------------------

/// Where each data record's payload `"seq":N` is in a raw log, in file order.
std::vector<std::pair<size_t, uint64_t>> SeqPositions(const std::string& log) {
  std::vector<std::pair<size_t, uint64_t>> out;
  const std::string key = "\"seq\":";
  for (size_t p = log.find(key); p != std::string::npos; p = log.find(key, p + 1)) {
    out.emplace_back(p, std::stoull(log.substr(p + key.size(), 20)));
  }
  return out;
}

enum class Damage {
  kTruncateTail,  // the last 7 bytes gone: a torn last record
  kFlipMiddle,    // one bit flipped inside a record in the middle
};

class DamagedQueueTest : public ReliabilityTest {
 protected:
  void RunScenario(const std::string& thing, Damage damage) {
    const std::string board = WriteBoard(work_);
    KillBroker();  // offline from the start: everything this boot makes stays queued
    auto first = StartDevice(DeviceArgs(thing, board), thing + "-boot1");
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->WaitForOutput("next attempt", 15s)) << first->output();
    std::this_thread::sleep_for(4s);
    const StopLine s1 = Terminate(*first);
    ASSERT_GE(s1.queued, 4u) << first->output();
    ASSERT_EQ(s1.delivered, 0u);

    const std::string log_path = State(thing) + "/outbox/outbox.log";
    std::string log = ReadAll(log_path);
    const auto seqs = SeqPositions(log);
    ASSERT_GE(seqs.size(), 4u) << "telemetry records in the log";
    std::optional<uint64_t> destroyed;  // the seq of the message whose record is damaged
    if (damage == Damage::kTruncateTail) {
      // The torn record is the last one; it held a seq if no record starts after that seq.
      const size_t last_record = log.rfind(std::string("\xEF\x9A\x0B\x0C", 4));
      if (seqs.back().first > last_record) destroyed = seqs.back().second;
      log.resize(log.size() - 7);
    } else {
      const auto [pos, seq] = seqs[seqs.size() / 2];
      log[pos + 2] = static_cast<char>(log[pos + 2] ^ 0x01);  // "seq" -> "sdq": the CRC no longer matches
      destroyed = seq;
    }
    std::ofstream(log_path, std::ios::binary | std::ios::trunc) << log;

    RestartBroker();
    auto second = StartDevice(DeviceArgs(thing, board, {"--duration", "5s"}), thing + "-boot2");
    ASSERT_NE(second, nullptr);
    const StopLine s2 = Finish(*second);
    const auto recovered = ParseRecoveredLine(second->output());
    ASSERT_TRUE(recovered.has_value()) << second->output();
    EXPECT_EQ(recovered->second, 1u) << "one damaged record is one quarantined range:\n" << second->output();
    EXPECT_EQ(recovered->first + 1, s1.queued) << "every other queued message is recovered";
    bool quarantine_file = false;
    for (const auto& e : std::filesystem::directory_iterator(State(thing) + "/outbox")) {
      quarantine_file = quarantine_file || e.path().filename().string().rfind("quarantine-", 0) == 0;
    }
    EXPECT_TRUE(quarantine_file) << "the damaged bytes are kept aside";

    // Boot 1: every seq but the destroyed record's arrives; boot 2 loses nothing.
    std::set<uint64_t> want;
    for (uint64_t q = 0; q < s1.published; ++q) {
      if (!destroyed || q != *destroyed) want.insert(q);
    }
    EXPECT_TRUE(WaitFor(
        [&] {
          const auto got = ingest_->Seqs(thing, 1);
          return std::includes(got.begin(), got.end(), want.begin(), want.end());
        },
        15s))
        << "boot 1's good records were not all delivered";
    if (destroyed) {
      EXPECT_EQ(ingest_->Seqs(thing, 1).count(*destroyed), 0u) << "the damaged record was delivered";
    }
    verifier_->Expect(thing, 1, 0, s1.published - 1);
    const std::set<uint64_t> boot2 = ingest_->Seqs(thing, 2);
    ASSERT_FALSE(boot2.empty()) << second->output();
    ExpectBoot(thing, 2, *boot2.begin(), s2.published);
    EXPECT_EQ(CheckedReport().lost, destroyed ? 1u : 0u);

    // Boot 2 reports the quarantined count in every window's status.
    size_t windows = 0;
    for (const auto& t : ingest_->Windows(thing)) {
      if (t.boot != 2) continue;
      ++windows;
      EXPECT_EQ(t.status.quarantined, recovered->second) << "seq " << t.seq;
    }
    EXPECT_GE(windows, 3u);
    std::cout << "[ info ] boot 1 queued " << s1.queued << ", recovered " << recovered->first << ", quarantined "
              << recovered->second << ", destroyed seq " << (destroyed ? std::to_string(*destroyed) : "none") << "\n";
  }
};

TEST_F(DamagedQueueTest, TruncatedMidRecordKeepsTheGoodRecordsAndQuarantinesTheTornOne) {
  RunScenario("rel-trunc", Damage::kTruncateTail);
}

TEST_F(DamagedQueueTest, BitFlipInTheMiddleKeepsTheRecordsAroundItAndQuarantinesTheBadOne) {
  RunScenario("rel-flip", Damage::kFlipMiddle);
}

// ---- 5. outage longer than the queue bound -------------------------------------------

// Rules that every first sample raises (all values are above -1000): alarms
// queued at the start of the outage, ahead of the telemetry that then
// overflows the bound.
Json AlwaysRaisedAlarms() {
  Json a = Json::array();
  for (const char* ch : {"temperature", "pressure", "humidity", "motor_current"}) {
    a.push_back({{"channel", ch}, {"above", -1000}, {"hysteresis", 0}, {"severity", "warning"}});
  }
  return a;
}

TEST_F(ReliabilityTest, OutageLongerThanTheQueueBoundDropsOldestTelemetryFirstAndKeepsEveryAlarm) {
  const std::string thing = "rel-full";
  KillBroker();
  auto dev = StartDevice(DeviceArgs(thing, WriteBoard(work_, AlwaysRaisedAlarms()), {"--queue-bytes", "8192"}), thing);
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(dev->WaitForOutput("next attempt", 15s)) << dev->output();
  std::this_thread::sleep_for(8s);  // the outage goes on until the device's next attempt after this
  RestartBroker();
  ASSERT_TRUE(dev->WaitForOutput("link: connected", 60s)) << dev->output();
  std::this_thread::sleep_for(3s);
  const StopLine s = Terminate(*dev);
  ASSERT_GE(s.alarms, 4u) << "each rule raises once:\n" << dev->output();
  ASSERT_GT(s.dropped, 0u) << "the outage did not overflow the bound:\n" << dev->output();
  EXPECT_EQ(s.queued, 0u) << "drained before the stop";

  // Every alarm arrived.
  EXPECT_TRUE(WaitFor([&] { return ingest_->Seqs(thing, 1, /*alarms_only=*/true).size() == s.alarms; }, 15s))
      << ingest_->Seqs(thing, 1, true).size() << " of " << s.alarms << " alarms";
  const std::set<uint64_t> alarm_seqs = ingest_->Seqs(thing, 1, true);
  const std::set<uint64_t> got = ingest_->Seqs(thing, 1);
  // The policy (outbox.h): the oldest bulk messages go first. The outage
  // covered the whole boot up to the reconnect, so the lost seqs are exactly
  // the first `bulk` telemetry seqs.
  // The drops by class, from the telemetry status. Besides telemetry, the
  // bound may refuse the shadow report the device queues behind its get on
  // connect (a state message, no seq) when the in-flight backlog fills it;
  // never an alarm.
  uint64_t bulk = 0, state = 0, alarm = 0;
  for (const auto& t : ingest_->Windows(thing)) {
    bulk = std::max(bulk, t.status.dropped_by_class[2]);
    state = std::max(state, t.status.dropped_by_class[1]);
    alarm = std::max(alarm, t.status.dropped_by_class[0]);
  }
  EXPECT_EQ(bulk + state, s.dropped);
  EXPECT_LE(state, 1u) << "only the connect-time shadow report may be refused";
  EXPECT_EQ(alarm, 0u);
  std::vector<uint64_t> telemetry_seqs;
  for (uint64_t q = 0; q < s.published; ++q) {
    if (alarm_seqs.count(q) == 0) telemetry_seqs.push_back(q);
  }
  ASSERT_EQ(telemetry_seqs.size(), s.telemetry);
  ASSERT_LE(bulk, telemetry_seqs.size());
  std::set<uint64_t> missing;
  for (uint64_t q = 0; q < s.published; ++q) {
    if (got.count(q) == 0) missing.insert(q);
  }
  const std::set<uint64_t> oldest(telemetry_seqs.begin(), telemetry_seqs.begin() + static_cast<std::ptrdiff_t>(bulk));
  EXPECT_EQ(missing, oldest) << "not the oldest telemetry first";
  verifier_->Expect(thing, 1, 0, s.published - 1);
  EXPECT_EQ(CheckedReport().lost, bulk);
  std::cout << "[ info ] published " << s.published << " (" << s.alarms << " alarms), dropped " << bulk
            << " bulk and " << state << " state, all alarms delivered\n";
}

// ---- 6. hostile shadow deltas --------------------------------------------------------

/// The shadow-service identity: publishes deltas, reads the device's reports.
class ShadowService {
 public:
  ShadowService(const std::string& uri, const std::string& pki, const std::string& thing) : thing_(thing) {
    link::SessionConfig c;
    c.server_uri = uri;
    c.client_id = sim::kShadowServiceIdentity;
    c.tls = {pki + "/ca.crt", pki + "/shadow.crt", pki + "/shadow.key"};
    auto s = testing_support::MakePumpedPahoSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    session_ = std::move(*s);
    EXPECT_TRUE(testing_support::ConnectAndWait(*session_).ok());
    EXPECT_TRUE(testing_support::SubscribeAndWait(*session_, "$aws/things/" + thing + "/shadow/update", 1,
                                                  [this](const link::IncomingMessage& m) {
                                                    std::lock_guard<std::mutex> lock(mu_);
                                                    reports_.push_back(Json::parse(m.payload, nullptr, false));
                                                  })
                    .ok());
  }
  ~ShadowService() {
    if (session_) session_->Disconnect();
  }

  Status SendDelta(const std::string& payload) {
    return PublishAndWait(*session_, "$aws/things/" + thing_ + "/shadow/update/delta", payload);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_.size();
  }
  /// The first reported state after index `from` that satisfies `pred`.
  std::optional<Json> WaitReport(size_t from, const std::function<bool(const Json&)>& pred,
                                 std::chrono::milliseconds limit) {
    std::optional<Json> found;
    WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          for (size_t i = from; i < reports_.size(); ++i) {
            const Json reported = At(reports_[i], "/state/reported");
            if (reported.is_object() && pred(reported)) {
              found = reported;
              return true;
            }
          }
          return false;
        },
        limit);
    return found;
  }
  Json Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_.empty() ? Json() : reports_.back();
  }

 private:
  std::string thing_;
  std::unique_ptr<link::Session> session_;
  std::mutex mu_;
  std::vector<Json> reports_;  // guarded by mu_
};

/// window.ms is the window's length measured on the device's monotonic clock
/// (docs/telemetry.md): the report period plus the device loop's lateness.
/// Within 20%, a 1 s window is not a 2 s one.
bool About(uint64_t window_ms, uint64_t period_ms) {
  return window_ms * 5 >= period_ms * 4 && window_ms * 5 <= period_ms * 6;
}

std::string Delta(uint64_t version, const Json& state) {
  return Json{{"version", version}, {"timestamp", 1700000000 + version}, {"state", state}}.dump();
}

TEST_F(ReliabilityTest, BadShadowDeltasAreRejectedNamingTheFieldAndTheOldConfigKeepsRunning) {
  const std::string thing = "rel-shadow";
  ShadowService shadow(broker_->uri(), *pki_, thing);
  auto dev = StartDevice(DeviceArgs(thing, WriteBoard(work_)), thing);
  ASSERT_NE(dev, nullptr);
  // The first report is sent after the delta subscription is in place.
  ASSERT_TRUE(shadow.WaitReport(
      0, [](const Json&) { return true; }, 30s))
      << dev->output();

  const std::string padding(9000, 'x');
  Json huge_state = {{"config", {{"report_ms", 1000}}}};
  const std::string huge_message = Json{{"version", 17},
                                        {"timestamp", 1},
                                        {"state", {{"config", {{"report_ms", 3000}}}}},
                                        {"metadata", {{"pad", std::string(40000, 'y')}}}}
                                       .dump();
  struct Bad {
    std::string payload;
    std::string error;  // what config_error.message must contain
  };
  const std::vector<Bad> bad = {
      {Delta(10, {{"config", {{"report_ms", "fast"}}}}), "state.config.report_ms: must be an integer"},
      {Delta(11, {{"config", {{"report_ms", 500}}}}), "state.config.report_ms: must be in 1000..3600000"},
      {Delta(12, {{"config", {{"sample_ms", {{"vib0", 5}}}}}}), "state.config.sample_ms.vib0: must be in 10..3600000"},
      {Delta(13, {{"config", {{"report_sm", 2000}}}}), "state.config.report_sm: unknown key"},
      {Delta(14, {{"lights", "on"}}), "state.lights: unknown key"},
      {Delta(15,
             {{"config",
               {{"alarms",
                 Json::array(
                     {{{"channel", "temperature"}, {"above", "hot"}, {"hysteresis", 1}, {"severity", "warning"}}})}}}}),
       "state.config.alarms[0].above"},
      {Delta(16, {{"config", {{"report_ms", 1000}, {"pad", padding}}}}), "8192-byte shadow state limit"},
      {huge_message, "over the 32768-byte limit"},
  };
  for (const Bad& b : bad) {
    const size_t from = shadow.count();
    ASSERT_TRUE(shadow.SendDelta(b.payload).ok()) << b.error;
    auto report = shadow.WaitReport(
        from,
        [&](const Json& r) {
          const Json message = At(r, "/config_error/message");
          return message.is_string() && message.get<std::string>().find(b.error) != std::string::npos;
        },
        15s);
    ASSERT_TRUE(report.has_value()) << "no config_error naming \"" << b.error
                                    << "\"; last report: " << shadow.Last().dump() << "\n"
                                    << dev->output();
    EXPECT_EQ(At(*report, "/config/report_ms"), 1000) << report->dump();
    EXPECT_EQ(At(*report, "/config_version"), 0) << report->dump();
    std::cout << "[ info ] rejected: " << At(*report, "/config_error/message").get<std::string>() << "\n";
  }
  ASSERT_TRUE(dev->running()) << dev->output();

  // Still on the board's 1 s windows.
  const size_t windows_before = ingest_->Windows(thing).size();
  ASSERT_TRUE(WaitFor([&] { return ingest_->Windows(thing).size() >= windows_before + 2; }, 15s));
  for (const auto& t : ingest_->Windows(thing))
    EXPECT_TRUE(About(t.window_ms, 1000)) << t.window_ms << " ms, seq " << t.seq;

  const size_t from = shadow.count();
  ASSERT_TRUE(shadow.SendDelta(Delta(20, {{"config", {{"report_ms", 2000}}}})).ok());
  auto applied = shadow.WaitReport(
      from, [](const Json& r) { return At(r, "/config/report_ms") == 2000; }, 15s);
  ASSERT_TRUE(applied.has_value()) << shadow.Last().dump() << "\n" << dev->output();
  EXPECT_TRUE(applied->contains("config_error") && At(*applied, "/config_error").is_null()) << applied->dump();
  EXPECT_EQ(At(*applied, "/config_version"), 20);
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto w = ingest_->Windows(thing);
        return w.size() >= 2 && About(w[w.size() - 1].window_ms, 2000) && About(w[w.size() - 2].window_ms, 2000);
      },
      20s))
      << "windows did not become 2 s long: " <<
      [&] {
        std::string lengths;
        for (const auto& t : ingest_->Windows(thing)) lengths += std::to_string(t.window_ms) + " ";
        return lengths;
      }()
      << "\n"
      << dev->output();
  EXPECT_NE(ReadAll(State(thing) + "/config.json").find("\"report_ms\":2000"), std::string::npos)
      << "the applied config is persisted";

  const StopLine s = Terminate(*dev);
  ExpectBoot(thing, 1, 0, s.published);
  EXPECT_EQ(CheckedReport().lost, 0u);
}

// ---- 7. SIGTERM while connecting and while draining ------------------------------------

TEST_F(ReliabilityTest, SigtermDuringConnectExitsPromptlyAndKeepsTheQueue) {
  const std::string thing = "rel-term";
  const std::string board = WriteBoard(work_);

  // Boot 1: the proxy black-holes the TLS handshake, so the CONNECT is open when SIGTERM comes.
  proxy_->Blackhole();
  auto first = StartDevice(DeviceArgs(thing, board), thing + "-boot1");
  ASSERT_NE(first, nullptr);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(first->output().find("next attempt"), std::string::npos) << "the connect was over before SIGTERM";
  const StopLine s1 = Terminate(*first);
  EXPECT_GE(s1.queued, 1u) << first->output();
  EXPECT_EQ(s1.delivered, 0u);

  // Boot 2: the broker is down (connection refused), the device is between attempts.
  const uint64_t mark2 = SeqMark(State(thing));
  ASSERT_TRUE(broker_->Kill().ok());
  auto second = StartDevice(DeviceArgs(thing, board, {}, broker_->uri()), thing + "-boot2");
  ASSERT_NE(second, nullptr);
  std::this_thread::sleep_for(2s);
  const StopLine s2 = Terminate(*second);
  EXPECT_GE(s2.queued, s1.queued) << second->output();
  const auto recovered2 = ParseRecoveredLine(second->output());
  ASSERT_TRUE(recovered2.has_value()) << second->output();
  EXPECT_EQ(recovered2->first, s1.queued);

  // Boot 3, broker up: everything both boots queued is delivered.
  const uint64_t mark3 = SeqMark(State(thing));
  proxy_->Heal();
  RestartBroker();
  auto third = StartDevice(DeviceArgs(thing, board, {"--duration", "4s"}), thing + "-boot3");
  ASSERT_NE(third, nullptr);
  const StopLine s3 = Finish(*third);
  const auto recovered3 = ParseRecoveredLine(third->output());
  ASSERT_TRUE(recovered3.has_value()) << third->output();
  EXPECT_EQ(recovered3->first, s2.queued);
  EXPECT_EQ(s3.queued, 0u) << third->output();
  ExpectBoot(thing, 1, 0, s1.published);
  ExpectBoot(thing, 2, mark2, s2.published);
  ExpectBoot(thing, 3, mark3, s3.published);
  EXPECT_EQ(CheckedReport().lost, 0u);
}

/// Fills a fresh state directory as a boot 1 that was offline for a long
/// time would have left it: `n` signed telemetry windows queued, seq mark n.
void PrefillBacklog(const std::string& state, const std::string& pki, const std::string& thing, uint64_t n) {
  std::filesystem::create_directories(state);
  auto signer = testing_support::SignerFor(pki, thing);
  ASSERT_NE(signer, nullptr);
  SystemClock clock;
  link::OutboxOptions o;
  o.dir = state + "/outbox";
  o.sync = link::SyncPolicy::kNever;
  auto q = link::OpenFileOutbox(o, clock);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  const int64_t t0 = clock.WallMillis() - static_cast<int64_t>(n) * 1000;
  for (uint64_t seq = 0; seq < n; ++seq) {
    telemetry::Telemetry t;
    t.dev = thing;
    t.kind = "factory";
    t.seq = seq;
    t.boot = 1;
    t.window_start = t0 + static_cast<int64_t>(seq) * 1000;
    t.ts = t.window_start + 1000;
    t.window_ms = 1000;
    telemetry::ChannelWindow c;
    c.name = "temperature";
    c.unit = "Cel";
    c.n = 1;
    c.value = c.min = c.max = c.mean = 21.5;
    t.readings.push_back(c);
    t.status.queue_depth = seq;
    link::OutgoingMessage m;
    m.topic = "dt/edgeforge/site-1/" + thing + "/telemetry";
    m.payload = telemetry::Serialize(t);
    auto jws = signer->Sign(m.payload);
    ASSERT_TRUE(jws.ok()) << jws.status().ToString();
    m.user_properties.emplace_back("jws", *jws);
    ASSERT_TRUE((*q)->Append(link::Priority::kBulk, seq, m).ok());
  }
  ASSERT_TRUE((*q)->Sync().ok());
  std::ofstream(state + "/counters.json") << Json{{"seq_mark", n}, {"boot", 1}}.dump();
}

TEST_F(ReliabilityTest, SigtermDuringDrainExitsPromptlyAndTheRestIsDeliveredNextBoot) {
  const std::string thing = "rel-drain";
  const std::string board = WriteBoard(work_);
  // 1500 windows: at IoT Core's 100 publishes/s (the governor) the drain takes
  // about 15 s, so the SIGTERM lands in the middle of it.
  constexpr uint64_t kBacklog = 1500;
  PrefillBacklog(State(thing), *pki_, thing, kBacklog);
  if (HasFatalFailure()) return;

  auto second = StartDevice(DeviceArgs(thing, board), thing + "-boot2");
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->WaitForOutput("link: connected", 30s)) << second->output();
  ASSERT_TRUE(WaitFor([&] { return !ingest_->Seqs(thing, 1).empty(); }, 10s)) << "the drain never started";
  const StopLine s2 = Terminate(*second);
  const auto recovered2 = ParseRecoveredLine(second->output());
  ASSERT_TRUE(recovered2.has_value()) << second->output();
  EXPECT_EQ(recovered2->first, kBacklog);
  EXPECT_GT(s2.queued, 0u) << "the drain was over before SIGTERM: nothing tested\n" << second->output();
  const size_t delivered_in_boot2 = ingest_->Seqs(thing, 1).size();
  EXPECT_LT(delivered_in_boot2, kBacklog);

  const uint64_t mark3 = SeqMark(State(thing));
  auto third = StartDevice(DeviceArgs(thing, board), thing + "-boot3");
  ASSERT_NE(third, nullptr);
  const auto recovered3 = [&] {
    third->WaitForOutput("queued messages recovered", 10s);
    return ParseRecoveredLine(third->output());
  }();
  ASSERT_TRUE(recovered3.has_value()) << third->output();
  EXPECT_EQ(recovered3->first, s2.queued) << "what boot 2 left queued is what boot 3 found";
  ExpectBoot(thing, 1, 0, kBacklog, 60s);
  const StopLine s3 = Terminate(*third);
  ExpectBoot(thing, 2, kBacklog, s2.published);
  ExpectBoot(thing, 3, mark3, s3.published);
  EXPECT_EQ(CheckedReport().lost, 0u);
  std::cout << "[ info ] backlog " << kBacklog << ": " << delivered_in_boot2 << " delivered before SIGTERM, "
            << s2.queued << " left queued, delivered by the next boot\n";
}

}  // namespace
}  // namespace edgeforge
