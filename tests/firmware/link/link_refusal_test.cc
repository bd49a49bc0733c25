// Link's refusal episodes, step by step: the session below the link is
// scripted (each PUBACK's result is chosen by the test), the outbox is the
// real one on a temp dir. The same behaviour against a real mosquitto is in
// tests/firmware/link/link_refusal_itest.cc; a broker's ACL cannot turn a refusal into
// a success on the same topic, so the episode that a success ends is shown here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <memory>

#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "hal/clock.h"
#include "hal/sim/seeded_entropy.h"

namespace edgeforge::link {
namespace {

/// Connects (from the next Dispatch()); keeps each publish's `done` until the
/// test answers it. Answers and losses are queued and run from Dispatch(),
/// as the Session contract says (Link::Poll() dispatches first).
class ScriptedSession final : public Session {
 public:
  struct Pending {
    std::string topic;
    PublishDone done;
  };
  std::deque<Pending> pending;

  /// Answers the oldest publish with `s`.
  void Answer(const Status& s) {
    ASSERT_FALSE(pending.empty());
    auto p = std::make_shared<Pending>(std::move(pending.front()));
    pending.pop_front();
    queued_.push_back([p, s] { p->done(s); });
  }
  void Lose() {
    queued_.push_back([this] {
      connected_ = false;
      for (auto& p : pending) p.done(Unavailable("connection lost before PUBACK"));
      pending.clear();
      if (lost_) lost_("connection lost");
    });
  }

 private:
  Status DoConnect(ConnectDone done) override {
    if (connected_) return FailedPrecondition("already connected");
    queued_.push_back([this, done = std::move(done)] {
      connected_ = true;
      done(Status::Ok());
    });
    return Status::Ok();
  }
  Status DoPublish(OutgoingMessage m, PublishDone done) override {
    if (!connected_) return Unavailable("not connected");
    pending.push_back({m.topic, std::move(done)});
    return Status::Ok();
  }
  Status DoSubscribe(const std::string&, int, MessageHandler, SubscribeDone done) override {
    queued_.push_back([done = std::move(done)] { done(Status::Ok()); });
    return Status::Ok();
  }
  void DoDisconnect() override { connected_ = false; }
  bool DoIsConnected() const override { return connected_; }
  void DoOnConnectionLost(ConnectionLost cb) override { lost_ = std::move(cb); }
  size_t DoDispatch() override {
    std::vector<std::function<void()>> batch;
    batch.swap(queued_);
    for (auto& fn : batch) fn();
    return batch.size();
  }

  bool connected_ = false;
  ConnectionLost lost_;
  std::vector<std::function<void()>> queued_;
};

const Status kRefused = PermissionDenied("publish refused by the broker (MQTT 5 reason 0x87 Not authorized)");

class LinkRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions q;
    std::string dir = ::testing::TempDir() + "link-refusalXXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    q.dir = dir + "/outbox";
    q.sync = SyncPolicy::kNever;
    auto outbox = OpenFileOutbox(q, clock_);
    ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
    outbox_ = std::move(*outbox);
    LinkOptions o;
    o.log = [this](const std::string& line) { log_.push_back(line); };
    auto l = Link::Create(session_, *outbox_, clock_, entropy_, o);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    link_ = std::move(*l);
    link_->Start();
    Poll();
    Poll();
    ASSERT_TRUE(link_->stats().connected) << link_->stats().last_error;
  }

  void Poll() { clock_.AdvanceTo(link_->Poll()); }

  /// Queues one message to `topic`, publishes it and answers its PUBACK with `s`.
  void Publish(const std::string& topic, const Status& s) {
    OutgoingMessage m;
    m.topic = topic;
    m.payload = "{}";
    ASSERT_TRUE(link_->Send(Priority::kBulk, seq_++, m).ok());
    Poll();
    ASSERT_EQ(session_.pending.size(), 1u);
    EXPECT_EQ(session_.pending.front().topic, topic);
    session_.Answer(s);
    Poll();
  }

  size_t Lines(const std::string& topic) const {
    size_t n = 0;
    for (const auto& line : log_) n += line.find("link: publish to " + topic + " refused: ") != std::string::npos;
    return n;
  }

  ManualClock clock_;
  SeededEntropy entropy_{5};
  ScriptedSession session_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Link> link_;
  std::vector<std::string> log_;
  uint64_t seq_ = 0;
};

const std::string kA = "dt/edgeforge/site-1/dev-b/telemetry";
const std::string kB = "dt/edgeforge/site-1/dev-c/telemetry";

TEST_F(LinkRefusalTest, OneLinePerTopicAndEpisode) {
  Publish(kA, kRefused);
  Publish(kA, kRefused);
  EXPECT_EQ(Lines(kA), 1u);
  Publish(kB, kRefused);
  EXPECT_EQ(Lines(kB), 1u) << "each topic has its own episode";
  EXPECT_EQ(link_->stats().rejected, 3u);
  EXPECT_EQ(link_->stats().republished, 0u);
  EXPECT_EQ(outbox_->depth(), 0u);
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("0x87"), std::string::npos) << log_.back();
}

TEST_F(LinkRefusalTest, ASuccessOnTheTopicEndsItsEpisode) {
  Publish(kA, kRefused);
  Publish(kB, kRefused);
  Publish(kA, Status::Ok());
  Publish(kA, kRefused);
  Publish(kB, kRefused);
  EXPECT_EQ(Lines(kA), 2u) << "refused, delivered, refused again: a new episode";
  EXPECT_EQ(Lines(kB), 1u) << "kB's episode did not end";
  EXPECT_EQ(link_->stats().rejected, 4u);
  EXPECT_EQ(link_->stats().delivered, 1u);
}

TEST_F(LinkRefusalTest, AReconnectEndsEveryEpisode) {
  Publish(kA, kRefused);
  Publish(kA, kRefused);
  session_.Lose();
  Poll();  // the link learns of the loss here
  ASSERT_FALSE(link_->stats().connected);
  for (int i = 0; i < 10 && !link_->stats().connected; ++i) Poll();
  ASSERT_TRUE(link_->stats().connected);
  EXPECT_EQ(link_->stats().reconnects, 1u);
  Publish(kA, kRefused);
  EXPECT_EQ(Lines(kA), 2u);
  EXPECT_EQ(link_->stats().rejected, 3u);
}

TEST_F(LinkRefusalTest, OtherFailuresAreRetriedNotRefused) {
  Publish(kA, Unavailable("connection lost before PUBACK"));
  EXPECT_EQ(link_->stats().rejected, 0u);
  EXPECT_EQ(link_->stats().republished, 1u);
  EXPECT_EQ(Lines(kA), 0u);
  EXPECT_EQ(outbox_->depth(), 1u) << "still queued for a resend";
}

}  // namespace
}  // namespace edgeforge::link
