// How Link paces reconnects after failed connects, over a session whose
// connect results the test scripts (the outbox is the real one on a temp dir).
// A first TLS-level failure retries at the network pace: after a broker
// restart the session's TCP probe can find the broker back up and call a
// refused TCP connect a TLS failure (seen with 50 simulated devices and a
// kill -9 + restart: devices then waited out the 10-120 s authorization
// backoff and their telemetry missed the run).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <vector>

#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "hal/clock.h"
#include "hal/sim/seeded_entropy.h"

namespace edgeforge::link {
namespace {

/// Each Connect() answers, from the next Dispatch(), with the next scripted
/// status (then OK forever) and records when it was called.
class ScriptedConnects final : public Session {
 public:
  ScriptedConnects(const Clock& clock, std::deque<Status> results) : clock_(clock), results_(std::move(results)) {}
  std::vector<Micros> attempts;
  /// No CONNACK ever comes: the attempt stays open until Disconnect(), which
  /// cancels it (CANCELLED from the next Dispatch(), as the contract says).
  bool black_hole = false;

 private:
  Status DoConnect(ConnectDone done) override {
    attempts.push_back(clock_.Monotonic());
    if (black_hole) {
      open_ = std::move(done);
      return Status::Ok();
    }
    Status s = Status::Ok();
    if (!results_.empty()) {
      s = results_.front();
      results_.pop_front();
    }
    queued_.push_back([this, s, done = std::move(done)] {
      connected_ = s.ok();
      done(s);
    });
    return Status::Ok();
  }
  Status DoPublish(OutgoingMessage, PublishDone) override { return Unavailable("not used"); }
  Status DoSubscribe(const std::string&, int, MessageHandler, SubscribeDone done) override {
    queued_.push_back([done = std::move(done)] { done(Status::Ok()); });
    return Status::Ok();
  }
  void DoDisconnect() override {
    connected_ = false;
    if (open_) queued_.push_back([done = std::move(open_)] { done(Status(StatusCode::kCancelled, "cancelled")); });
    open_ = nullptr;
  }
  bool DoIsConnected() const override { return connected_; }
  void DoOnConnectionLost(ConnectionLost) override {}
  size_t DoDispatch() override {
    std::vector<std::function<void()>> batch;
    batch.swap(queued_);
    for (auto& fn : batch) fn();
    return batch.size();
  }

  const Clock& clock_;
  std::deque<Status> results_;
  bool connected_ = false;
  std::vector<std::function<void()>> queued_;
  ConnectDone open_;
};

const Status kTlsFailed = Unauthenticated("mqtt dev-a@ssl://localhost:1: TCP connects but the TLS handshake failed");
const Status kNotAuthorized = PermissionDenied("mqtt dev-a@ssl://localhost:1: CONNACK 0x87 not authorized");
const Status kRefused = Unavailable("mqtt dev-a@ssl://localhost:1: connect failed (TCP refused)");

/// Runs a link until `connects` attempts were made; returns the gaps between them, in seconds.
std::vector<double> Gaps(std::deque<Status> script, size_t connects) {
  ManualClock clock;
  SeededEntropy entropy(7);
  ScriptedConnects session(clock, std::move(script));
  OutboxOptions q;
  std::string dir = ::testing::TempDir() + "link-reconnectXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  q.dir = dir + "/outbox";
  q.sync = SyncPolicy::kNever;
  auto outbox = OpenFileOutbox(q, clock);
  EXPECT_TRUE(outbox.ok());
  auto link = Link::Create(session, **outbox, clock, entropy, LinkOptions{});
  EXPECT_TRUE(link.ok());
  (*link)->Start();
  for (int i = 0; i < 1000 && session.attempts.size() < connects; ++i) clock.AdvanceTo((*link)->Poll());
  std::vector<double> gaps;
  for (size_t i = 1; i < session.attempts.size(); ++i) {
    gaps.push_back(std::chrono::duration<double>(session.attempts[i] - session.attempts[i - 1]).count());
  }
  return gaps;
}

TEST(LinkReconnectTest, AFirstTlsFailureRetriesAtTheNetworkPace) {
  const std::vector<double> gaps = Gaps({kTlsFailed}, 2);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_GE(gaps[0], 1.0);   // IoT Core: never two CONNECTs within 1 s
  EXPECT_LT(gaps[0], 10.0);  // not the authorization backoff (auth_min 10 s)
}

TEST(LinkReconnectTest, ATlsFailureAfterARefusedConnectRetriesAtTheNetworkPace) {
  // The broker restart case: refused while down, then the probe finds it up.
  const std::vector<double> gaps = Gaps({kRefused, kTlsFailed}, 3);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_LT(gaps[1], 10.0);
}

TEST(LinkReconnectTest, ASecondTlsFailureInARowIsAnAuthorizationFailure) {
  const std::vector<double> gaps = Gaps({kTlsFailed, kTlsFailed, kTlsFailed}, 4);
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_LT(gaps[0], 10.0);
  EXPECT_GE(gaps[1], 10.0);
  EXPECT_GE(gaps[2], 10.0);
}

TEST(LinkReconnectTest, ACONNACKRefusalIsBelievedAtOnce) {
  const std::vector<double> gaps = Gaps({kNotAuthorized}, 2);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_GE(gaps[0], 10.0);
}

// Stop() while a CONNECT is open cancels it; that CANCELLED is the link's own
// doing, not a failed attempt to count, log and back off from.
TEST(LinkReconnectTest, StopDuringConnectIsNotAFailedAttempt) {
  ManualClock clock;
  SeededEntropy entropy(7);
  ScriptedConnects session(clock, {});
  session.black_hole = true;
  OutboxOptions q;
  std::string dir = ::testing::TempDir() + "link-stopXXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  q.dir = dir + "/outbox";
  q.sync = SyncPolicy::kNever;
  auto outbox = OpenFileOutbox(q, clock);
  ASSERT_TRUE(outbox.ok());
  std::vector<std::string> log;
  LinkOptions o;
  o.log = [&log](const std::string& line) { log.push_back(line); };
  auto link = Link::Create(session, **outbox, clock, entropy, o);
  ASSERT_TRUE(link.ok());
  (*link)->Start();
  clock.AdvanceTo((*link)->Poll());
  ASSERT_EQ((*link)->state(), Link::State::kConnecting);
  EXPECT_TRUE((*link)->Stop(Millis(100)).ok());
  EXPECT_EQ((*link)->state(), Link::State::kIdle);
  (void)(*link)->Poll();  // nothing late either
  EXPECT_EQ((*link)->stats().connect_failures, 0u);
  EXPECT_TRUE(log.empty()) << log.front();
  EXPECT_EQ(session.attempts.size(), 1u);
}

}  // namespace
}  // namespace edgeforge::link
