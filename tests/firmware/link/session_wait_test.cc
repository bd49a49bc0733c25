// The blocking helpers of session.h (session.cc) over a scripted session and
// a ManualClock: they Dispatch() until the outcome, or give up at the timeout
// with DEADLINE_EXCEEDED naming what timed out (a connect is then cancelled).
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <vector>

#include "firmware/link/session.h"
#include "hal/clock.h"

namespace edgeforge::link {
namespace {

/// Answers each call after `dispatches_until_answer` Dispatch() calls (never
/// if unset), from Dispatch(), as the contract says.
class SlowSession final : public Session {
 public:
  std::optional<int> dispatches_until_answer;
  Status answer = Status::Ok();
  int dispatches = 0;
  int disconnects = 0;

 private:
  void Later(std::function<void(Status)> done) {
    pending_.push_back(std::move(done));
    due_ = dispatches + dispatches_until_answer.value_or(1 << 30);
  }
  Status DoConnect(ConnectDone done) override {
    Later(std::move(done));
    return Status::Ok();
  }
  Status DoSubscribe(const std::string&, int, MessageHandler, SubscribeDone done) override {
    Later(std::move(done));
    return Status::Ok();
  }
  Status DoPublish(OutgoingMessage, PublishDone done) override {
    Later(std::move(done));
    return Status::Ok();
  }
  void DoDisconnect() override { ++disconnects; }
  bool DoIsConnected() const override { return false; }
  void DoOnConnectionLost(ConnectionLost) override {}
  size_t DoDispatch() override {
    ++dispatches;
    if (dispatches < due_ || pending_.empty()) return 0;
    auto batch = std::move(pending_);
    pending_.clear();
    for (auto& done : batch) done(answer);
    return batch.size();
  }

  std::vector<std::function<void(Status)>> pending_;
  int due_ = 0;
};

TEST(SessionWaitTest, ConnectAndWaitReturnsTheOutcomeDispatched) {
  ManualClock clock;
  SlowSession s;
  s.dispatches_until_answer = 5;
  s.answer = PermissionDenied("CONNACK 0x87");
  const Status st = ConnectAndWait(s, clock, Millis(1000));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_EQ(s.dispatches, 5);
  EXPECT_EQ(s.disconnects, 0);
  EXPECT_EQ(clock.Monotonic(), Micros(4000)) << "1 ms between Dispatch() calls";
}

TEST(SessionWaitTest, ConnectAndWaitTimesOutAndCancelsTheAttempt) {
  ManualClock clock;
  SlowSession s;  // never answers
  const Status st = ConnectAndWait(s, clock, Millis(50));
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("connect"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("50 ms"), std::string::npos) << st.ToString();
  EXPECT_EQ(s.disconnects, 1);
  EXPECT_GE(clock.Monotonic(), Micros(50'000));
}

TEST(SessionWaitTest, SubscribeAndPublishTimeoutsNameTheirTarget) {
  ManualClock clock;
  SlowSession s;
  const Status sub = SubscribeAndWait(s, clock, Millis(10), "cmd/x", 1, [](const IncomingMessage&) {});
  EXPECT_EQ(sub.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(sub.message().find("subscribe cmd/x"), std::string::npos) << sub.ToString();
  OutgoingMessage m;
  m.topic = "dt/a/b/c/telemetry";
  const Status pub = PublishAndWait(s, clock, Millis(10), m);
  EXPECT_EQ(pub.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(pub.message().find("publish to dt/a/b/c/telemetry"), std::string::npos) << pub.ToString();
  EXPECT_EQ(s.disconnects, 0) << "only a connect is cancelled";
}

TEST(SessionWaitTest, PublishAndWaitReturnsThePubackOutcome) {
  ManualClock clock;
  SlowSession s;
  s.dispatches_until_answer = 1;
  OutgoingMessage m;
  m.topic = "dt/a/b/c/telemetry";
  EXPECT_TRUE(PublishAndWait(s, clock, Millis(10), m).ok());
}

}  // namespace
}  // namespace edgeforge::link
