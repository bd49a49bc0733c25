// Issue 8, item 3 ("crash loss is exact"): the real edgeforge-device
// (simulated parts, real outbox on disk) queues telemetry offline, is killed
// with kill -9, its outbox.log is cut mid-record or emptied, and it restarts
// against a real mosquitto with an ingest subscriber. The device must name the
// seqs it can no longer deliver (log line and telemetry status.prev_boot),
// never fewer than the ingest misses, and exactly those when no acknowledged
// record was cut (boot 1 never reached a broker, so none was).
//
// The process and ingest helpers are a trimmed copy of reliability_itest.cc's
// (that file's are in its anonymous namespace).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/verifier.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

/// edgeforge-device in the background, stdout and stderr to a file.
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
  ~DeviceProcess() { Kill9(); }
  DeviceProcess(const DeviceProcess&) = delete;
  DeviceProcess& operator=(const DeviceProcess&) = delete;

  void Kill9() {
    if (exited_) return;
    ::kill(pid_, SIGKILL);
    Reap(true);
  }
  bool WaitExit(std::chrono::milliseconds limit) {
    return WaitFor(
        [this] {
          Reap(false);
          return exited_;
        },
        limit);
  }
  int exit_code() const { return exited_ && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  std::string output() const { return ReadAll(log_path_); }

 private:
  DeviceProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  void Reap(bool block) {
    if (!exited_ && ::waitpid(pid_, &status_, block ? 0 : WNOHANG) == pid_) exited_ = true;
  }
  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int status_ = 0;
};

/// The ingest identity subscribed to all telemetry (as an IoT rule would be).
class Ingest {
 public:
  Ingest(const std::string& uri, const std::string& pki, sim::TelemetryVerifier& verifier) : verifier_(verifier) {
    link::SessionConfig c;
    c.server_uri = uri;
    c.client_id = sim::kIngestIdentity;
    c.tls = {pki + "/ca.crt", pki + "/ingest.crt", pki + "/ingest.key"};
    c.connect_timeout = 5000ms;
    auto s = testing_support::MakePumpedPahoSession(c);
    if (!s.ok() || !testing_support::ConnectAndWait(**s).ok()) return;
    if (testing_support::SubscribeAndWait(**s, "dt/+/+/+/+", 1, [this](const link::IncomingMessage& m) {
          OnMessage(m);
        }).ok()) {
      session_ = std::move(*s);
    }
  }
  ~Ingest() {
    if (session_ && session_->IsConnected()) session_->Disconnect();
  }
  bool subscribed() const { return session_ != nullptr; }

  /// Authentic seqs of `dev` in `boot`.
  std::set<uint64_t> Seqs(const std::string& dev, uint64_t boot) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<uint64_t> out;
    for (const auto& [d, b, seq, payload] : received_) {
      if (d == dev && b == boot) out.insert(seq);
    }
    return out;
  }
  /// The telemetry windows of `dev` in `boot`, parsed.
  std::vector<telemetry::Telemetry> Windows(const std::string& dev, uint64_t boot) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<telemetry::Telemetry> out;
    for (const auto& [d, b, seq, payload] : received_) {
      if (d != dev || b != boot) continue;
      auto t = telemetry::ParseTelemetry(payload);
      if (t.ok()) out.push_back(std::move(*t));
    }
    return out;
  }

 private:
  void OnMessage(const link::IncomingMessage& m) {
    const auto c = verifier_.Check(m.topic, m.payload, m.UserProperty("jws"));
    if (c.verdict != sim::Verdict::kVerified && c.verdict != sim::Verdict::kDuplicate) return;
    std::lock_guard<std::mutex> lock(mu_);
    received_.emplace_back(c.dev, c.boot, c.seq, m.payload);
  }
  sim::TelemetryVerifier& verifier_;
  std::unique_ptr<link::Session> session_;
  mutable std::mutex mu_;
  std::vector<std::tuple<std::string, uint64_t, uint64_t, std::string>> received_;  // guarded by mu_
};

/// A loopback port nobody listens on (bound, then released).
int DeadPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ADD_FAILURE() << "no loopback port";
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Where each data record's payload `"seq":N` is in a raw log, in file order.
std::vector<std::pair<size_t, uint64_t>> SeqPositions(const std::string& log) {
  std::vector<std::pair<size_t, uint64_t>> out;
  const std::string key = "\"seq\":";
  for (size_t p = log.find(key); p != std::string::npos; p = log.find(key, p + 1)) {
    out.emplace_back(p, std::stoull(log.substr(p + key.size(), 20)));
  }
  return out;
}

/// The crash-loss line edgeforge-device prints at start.
struct LossLine {
  bool found = false;
  uint64_t boot = 0;
  std::string ranges;  // "" when nothing was lost
  uint64_t lost = 0;
  uint64_t last_seq = 0;
  bool exact = false;
};

LossLine ParseLossLine(const std::string& out) {
  static const std::regex lost(
      R"(boot (\d+): seqs (.*) \((\d+)\) can no longer be delivered: issued \(last seq (\d+), (exact|upper bound)\))");
  static const std::regex none(R"(boot (\d+): no seq lost \(last seq (\d+), (exact|upper bound)\))");
  LossLine l;
  std::smatch m;
  if (std::regex_search(out, m, lost)) {
    l = {true, std::stoull(m[1]), m[2], std::stoull(m[3]), std::stoull(m[4]), m[5] == "exact"};
  } else if (std::regex_search(out, m, none)) {
    l = {true, std::stoull(m[1]), "", 0, std::stoull(m[2]), m[3] == "exact"};
  }
  return l;
}

std::string FormatMissing(const std::set<uint64_t>& seqs) {
  std::string out;
  for (auto it = seqs.begin(); it != seqs.end();) {
    const uint64_t first = *it;
    uint64_t last = first;
    for (++it; it != seqs.end() && *it == last + 1; ++it) last = *it;
    if (!out.empty()) out += ", ";
    out += first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
  }
  return out;
}

enum class Cut {
  kMidRecord,  // the log truncated inside the 8th telemetry record
  kEmpty,      // the log emptied to 0 bytes
};

class CrashLossITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new std::string(MakePki({"cl-trunc", "cl-empty"}, "crashloss")); }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    sim::BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("clbroker");
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    verifier_ = std::make_unique<sim::TelemetryVerifier>(testing_support::Jwks(*pki_), jws::Backend::kOpenSsl);
    ingest_ = std::make_unique<Ingest>(broker_->uri(), *pki_, *verifier_);
    ASSERT_TRUE(ingest_->subscribed()) << "ingest did not subscribe";
    work_ = MakeTempDir("clwork");
  }

  /// factory-node with a 1 s report window and alarms that every first sample
  /// raises (all values are above -1000): 12 messages in about 8 s.
  std::string WriteBoard() {
    Json b = Json::parse(ReadAll(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/factory-node.json"));
    b["report_ms"] = 1000;
    for (Json& d : b["devices"]) d["sample_ms"] = std::min(d["sample_ms"].get<int>(), 1000);
    b["alarms"] = Json::array();
    for (const char* ch : {"temperature", "pressure", "humidity", "motor_current"}) {
      b["alarms"].push_back({{"channel", ch}, {"above", -1000}, {"hysteresis", 0}, {"severity", "warning"}});
    }
    const std::string path = work_ + "/factory-node-1s.json";
    std::ofstream(path) << b.dump(2);
    return path;
  }

  std::vector<std::string> Args(const std::string& thing, const std::string& broker,
                                const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a{"--board", board_, "--sim-sensors", "--thing",    thing,    "--broker", broker,
                               "--certs", *pki_,  "--state",       State(thing), "--sync", "never"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string State(const std::string& thing) const { return work_ + "/state-" + thing; }

  void RunScenario(const std::string& thing, Cut cut) {
    board_ = WriteBoard();
    const std::string log_path = State(thing) + "/outbox/outbox.log";
    // Boot 1: offline (nobody listens on its port) until 12 messages are queued, then kill -9.
    auto boot1 = DeviceProcess::Start(Args(thing, "ssl://127.0.0.1:" + std::to_string(DeadPort())),
                                      work_ + "/" + thing + "-boot1.log");
    ASSERT_NE(boot1, nullptr);
    ASSERT_TRUE(WaitFor([&] { return SeqPositions(ReadAll(log_path)).size() >= 12 || boot1->WaitExit(0ms); }, 30s));
    ASSERT_GE(SeqPositions(ReadAll(log_path)).size(), 12u) << boot1->output();
    boot1->Kill9();

    std::string log = ReadAll(log_path);
    const auto seqs = SeqPositions(log);
    ASSERT_GE(seqs.size(), 12u);
    if (cut == Cut::kMidRecord) {
      log.resize(seqs[7].first);  // inside the 8th record: it and all after it are gone
    } else {
      log.clear();
    }
    std::ofstream(log_path, std::ios::binary | std::ios::trunc) << log;

    // Boot 2 against the real broker.
    auto boot2 =
        DeviceProcess::Start(Args(thing, broker_->uri(), {"--duration", "4s"}), work_ + "/" + thing + "-boot2.log");
    ASSERT_NE(boot2, nullptr);
    ASSERT_TRUE(boot2->WaitExit(30s)) << boot2->output();
    ASSERT_EQ(boot2->exit_code(), 0) << boot2->output();
    const LossLine line = ParseLossLine(boot2->output());
    ASSERT_TRUE(line.found) << boot2->output();
    EXPECT_EQ(line.boot, 1u);
    EXPECT_TRUE(line.exact) << "kill -9 keeps the issued mark:\n" << boot2->output();
    EXPECT_GE(line.last_seq, seqs.back().second) << "the last seq issued is at least the last one queued";

    // Every boot-1 seq the device did not declare lost arrives; the declared ones never do.
    std::set<uint64_t> survivors;
    for (uint64_t s = 0; s < seqs.size() && cut == Cut::kMidRecord && s < 7; ++s) survivors.insert(seqs[s].second);
    EXPECT_TRUE(WaitFor(
        [&] {
          const auto got = ingest_->Seqs(thing, 1);
          return std::includes(got.begin(), got.end(), survivors.begin(), survivors.end());
        },
        15s))
        << "boot 1's surviving records were not all delivered";
    const std::set<uint64_t> got = ingest_->Seqs(thing, 1);
    std::set<uint64_t> missing;
    for (uint64_t s = 0; s <= line.last_seq; ++s) {
      if (got.count(s) == 0) missing.insert(s);
    }
    ASSERT_FALSE(missing.empty()) << "the damage lost nothing: the test proves nothing";
    EXPECT_GE(line.lost, missing.size()) << "under-reported:\n" << boot2->output();
    // Boot 1 never reached a broker, so no acknowledged record was cut: exact.
    EXPECT_EQ(line.lost, missing.size()) << boot2->output();
    EXPECT_EQ(line.ranges, FormatMissing(missing)) << boot2->output();

    // Telemetry carries the same in every window of boot 2.
    const auto windows = ingest_->Windows(thing, 2);
    ASSERT_FALSE(windows.empty()) << boot2->output();
    for (const telemetry::Telemetry& t : windows) {
      ASSERT_TRUE(t.status.prev_boot.has_value()) << "seq " << t.seq;
      EXPECT_EQ(t.status.prev_boot->boot, 1u);
      EXPECT_EQ(t.status.prev_boot->last_seq, line.last_seq);
      EXPECT_TRUE(t.status.prev_boot->exact);
      EXPECT_EQ(t.status.prev_boot->lost, line.lost);
    }
    // No seq reused: boot 2 starts above everything boot 1 issued, and no conflict was seen.
    const std::set<uint64_t> boot2_seqs = ingest_->Seqs(thing, 2);
    ASSERT_FALSE(boot2_seqs.empty());
    EXPECT_GT(*boot2_seqs.begin(), line.last_seq);
    EXPECT_EQ(verifier_->Report().conflicts, 0u);
    std::cout << "[ info ] " << thing << ": boot 1 issued 0.." << line.last_seq << ", " << seqs.size()
              << " queued at kill -9; device reports lost " << line.lost << " (" << line.ranges << "), ingest missed "
              << missing.size() << "\n";
  }

  static std::string* pki_;
  std::unique_ptr<sim::LocalBroker> broker_;
  std::unique_ptr<sim::TelemetryVerifier> verifier_;
  std::unique_ptr<Ingest> ingest_;
  std::string work_;
  std::string board_;
};
std::string* CrashLossITest::pki_ = nullptr;

TEST_F(CrashLossITest, LogTruncatedMidRecordAfterKill9ReportsExactlyTheSeqsCutOff) {
  RunScenario("cl-trunc", Cut::kMidRecord);
}

TEST_F(CrashLossITest, LogEmptiedAfterKill9ReportsEverySeqOfTheBoot) { RunScenario("cl-empty", Cut::kEmpty); }

}  // namespace
}  // namespace edgeforge
