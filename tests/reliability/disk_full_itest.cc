// Issue 8, Found item 1, end to end: the real edgeforge-device (simulated
// parts, real outbox on disk, real Paho over mutual TLS) with its --state on a
// 256 KiB tmpfs that fills up while it publishes to a real mosquitto. What the
// device reports as dropped must equal what the ingest never received, and
// once space returns the device must deliver again.
//
// Needs mount(2) (root, or CAP_SYS_ADMIN): skipped with the reason otherwise.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
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

constexpr const char* kThing = "full-dev";

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// edgeforge-device in the background, stdout and stderr to a file.
class Device {
 public:
  Device(const std::vector<std::string>& args, std::string log_path) : log_path_(std::move(log_path)) {
    const std::string bin = std::string(EDGEFORGE_BIN_DIR) + "/edgeforge-device";
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  ~Device() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string output() const { return ReadAll(log_path_); }
  bool WaitOutput(const std::string& text, std::chrono::milliseconds limit) const {
    return WaitFor([&] { return output().find(text) != std::string::npos; }, limit);
  }
  /// SIGTERM; true when it exited 0 within `limit`.
  bool Terminate(std::chrono::milliseconds limit) {
    ::kill(pid_, SIGTERM);
    int st = 0;
    const bool done = WaitFor([&] { return ::waitpid(pid_, &st, WNOHANG) == pid_; }, limit);
    exited_ = done;
    return done && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

/// The ingest identity subscribed to all telemetry (the broker stays up here).
class Ingest {
 public:
  Status Connect(const std::string& uri, const std::string& pki, sim::TelemetryVerifier& verifier) {
    link::SessionConfig c;
    c.server_uri = uri;
    c.client_id = sim::kIngestIdentity;
    c.tls = {pki + "/ca.crt", pki + "/ingest.crt", pki + "/ingest.key"};
    c.connect_timeout = 5000ms;
    auto s = testing_support::MakePumpedPahoSession(c);
    if (!s.ok()) return s.status();
    session_ = std::move(*s);
    EF_RETURN_IF_ERROR(testing_support::ConnectAndWait(*session_));
    return testing_support::SubscribeAndWait(
        *session_, "dt/+/+/+/+", 1, [this, &verifier](const link::IncomingMessage& m) {
          const auto checked = verifier.Check(m.topic, m.payload, m.UserProperty("jws"));
          std::lock_guard<std::mutex> lock(mu_);
          if (checked.verdict == sim::Verdict::kVerified || checked.verdict == sim::Verdict::kDuplicate) {
            seqs_.insert(checked.seq);
            if (m.topic.size() > 10 && m.topic.compare(m.topic.size() - 10, 10, "/telemetry") == 0) {
              last_window_ = m.payload;
            }
          } else {
            ++invalid_;
          }
        });
  }
  ~Ingest() {
    if (session_ && session_->IsConnected()) session_->Disconnect();
  }
  std::set<uint64_t> seqs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_;
  }
  std::string last_window() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_window_;
  }
  uint64_t invalid() const {
    std::lock_guard<std::mutex> lock(mu_);
    return invalid_;
  }

 private:
  std::unique_ptr<link::Session> session_;
  mutable std::mutex mu_;
  std::set<uint64_t> seqs_;
  std::string last_window_;
  uint64_t invalid_ = 0;
};

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = MakeTempDir("diskfull");
    mnt_ = work_ + "/tmpfs";
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0700), 0) << std::strerror(errno);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a 256 KiB tmpfs at " << mnt_ << " (" << std::strerror(errno)
                   << "): the disk-full test needs root or CAP_SYS_ADMIN";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_ && ::umount2(mnt_.c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "umount " << mnt_ << ": " << std::strerror(errno);
    }
  }

  /// Bytes the tmpfs can still hand out.
  uint64_t Free() const {
    struct statvfs v {};
    EXPECT_EQ(::statvfs(mnt_.c_str(), &v), 0);
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  }
  /// Fills the tmpfs but `keep` bytes with a real (not sparse) file.
  void Fill(uint64_t keep) {
    std::ofstream f(mnt_ + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (Free() > keep + block.size() && f.write(block.data(), block.size())) f.flush();
  }

  std::string work_, mnt_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, DeviceCountsEqualTheRealLossAndItRecoversWhenSpaceReturns) {
  const std::string pki = MakePki({kThing}, "diskfull");
  sim::BrokerOptions bo;
  bo.pki_dir = pki;
  bo.work_dir = MakeTempDir("diskfullbroker");
  auto broker = sim::LocalBroker::Start(bo);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  sim::TelemetryVerifier verifier(testing_support::Jwks(pki), jws::Backend::kOpenSsl);
  Ingest ingest;
  ASSERT_TRUE(ingest.Connect((*broker)->uri(), pki, verifier).ok());

  // factory-node with a 1 s report window, sample periods <= 1 s.
  Json b = Json::parse(ReadAll(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/factory-node.json"));
  b["report_ms"] = 1000;
  for (Json& d : b["devices"]) d["sample_ms"] = std::min(d["sample_ms"].get<int>(), 1000);
  const std::string board = work_ + "/board.json";
  std::ofstream(board) << b.dump(2);

  Device dev({"--board", board, "--sim-sensors", "--thing", kThing, "--broker", (*broker)->uri(), "--certs", pki,
              "--state", mnt_ + "/state"},
             work_ + "/device.log");
  ASSERT_TRUE(WaitFor([&] { return ingest.seqs().size() >= 2; }, 20s)) << dev.output();

  // The disk fills up: a few KiB left, less than a few seconds of records.
  Fill(6 * 1024);
  ASSERT_TRUE(dev.WaitOutput("storage failing", 20s)) << "the disk never filled:\n" << dev.output();
  std::this_thread::sleep_for(3s);  // a few more windows are lost
  const std::string during = dev.output();
  EXPECT_EQ(Count(during, "storage failing"), Count(during, "storage works again") + 1)
      << "one line per episode, and the episode is still running:\n"
      << during;
  EXPECT_NE(during.find(mnt_ + "/state/outbox/outbox.log"), std::string::npos) << "the path is named:\n" << during;
  EXPECT_NE(during.find("No space left on device"), std::string::npos) << during;

  // Space returns: the device delivers again without a restart.
  ASSERT_EQ(::unlink((mnt_ + "/filler").c_str()), 0);
  ASSERT_TRUE(dev.WaitOutput("storage works again", 20s)) << dev.output();
  const size_t before = ingest.seqs().size();
  ASSERT_TRUE(WaitFor([&] { return ingest.seqs().size() >= before + 2; }, 20s)) << "no delivery after recovery";
  ASSERT_TRUE(dev.Terminate(15s)) << dev.output();

  const std::string out = dev.output();
  std::smatch m;
  static const std::regex re(
      R"(stopped: published (\d+) .*delivered (\d+), queued (\d+), dropped (\d+), .*refused (\d+), storage errors (\d+))");
  ASSERT_TRUE(std::regex_search(out, m, re)) << out;
  const uint64_t published = std::stoull(m[1]);
  const uint64_t queued = std::stoull(m[3]);
  const uint64_t storage_errors = std::stoull(m[6]);
  EXPECT_EQ(std::stoull(m[5]), 0u);
  EXPECT_GT(storage_errors, 0u);
  EXPECT_EQ(ingest.invalid(), 0u);

  // The real loss: seqs issued (0..published-1, first boot) that never arrived.
  std::this_thread::sleep_for(1s);  // the last PUBACKed messages reach the ingest
  const std::set<uint64_t> got = ingest.seqs();
  uint64_t lost = 0;
  for (uint64_t s = 0; s < published; ++s) lost += got.count(s) == 0 ? 1 : 0;
  EXPECT_EQ(queued, 0u) << "the broker was up: everything left should have drained";
  // Telemetry and alarm drops (shadow reports carry no seq) as the device's
  // last delivered window reports them.
  auto last = telemetry::ParseTelemetry(ingest.last_window());
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  const uint64_t reported = last->status.dropped_by_class[0] + last->status.dropped_by_class[2];
  std::cout << "[ info ] published " << published << ", received " << got.size() << ", lost " << lost
            << "; device: dropped " << m[4] << " (telemetry/alarm " << reported << "), storage errors "
            << storage_errors << "\n";
  EXPECT_GT(lost, 0u) << "the disk filled but nothing was lost: the test did not test anything";
  EXPECT_EQ(reported, lost) << out;
  EXPECT_GE(std::stoull(m[4]), lost);
  EXPECT_GT(last->status.storage_errors, 0u);
  EXPECT_LT(Count(out, "storage failing"), std::max<uint64_t>(lost, 2)) << "logged per failure, not per episode";
}

}  // namespace
}  // namespace edgeforge
