// A Link over a real PahoSession against a real mosquitto set up like IoT
// Core: a publish the broker refuses with MQTT 5 reason 0x87 (another thing's
// topic, which the ACL does not grant) is logged with its topic once per
// episode, counted as rejected (not dropped, not delivered) and not retried
// (issue 8 item 6: on main the device said nothing, "delivered 0, dropped 2").
#include <gtest/gtest.h>

#include <thread>

#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/topic.h"
#include "hal/clock.h"
#include "hal/sim/seeded_entropy.h"
#include "sim/broker/local_broker.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

class LinkRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({"dev-a", "dev-b"}, "refusal");
    BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = MakeTempDir("refusal-broker");
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);

    link::SessionConfig c;
    c.server_uri = broker_->uri();
    c.client_id = "dev-a";
    const auto p = certs::PathsFor(pki_, "dev-a");
    c.tls = {pki_ + "/ca.crt", p.cert, p.tls_key};
    c.connect_timeout = 5000ms;
    link::OutboxOptions q;
    q.dir = MakeTempDir("refusal-outbox");
    auto outbox = link::OpenFileOutbox(q, clock_);
    ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
    outbox_ = std::move(*outbox);
    auto session = link::MakePahoSession(c);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    session_ = std::move(*session);
    link::LinkOptions lo;
    lo.log = [this](const std::string& line) { log_.push_back(line); };  // Poll()'s thread: this one
    auto l = link::Link::Create(*session_, *outbox_, clock_, entropy_, lo);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    link_ = std::move(*l);
    link_->Start();
  }
  void TearDown() override {
    if (link_) (void)link_->Stop(1000ms);
    session_.reset();  // no more callbacks into the link
    link_.reset();
  }

  /// Polls (real time passes for Paho; the manual clock jumps to each wake-up)
  /// until `pred` holds, at most ~20 s of real time.
  bool PollUntil(const std::function<bool()>& pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred()) return true;
      clock_.AdvanceTo(link_->Poll());
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  void Send(const std::string& thing, uint64_t seq) {
    link::OutgoingMessage m;
    m.topic = *topic::TelemetryTopic("edgeforge", "site-1", thing);
    m.payload = "{\"seq\":" + std::to_string(seq) + "}";
    ASSERT_TRUE(link_->Send(link::Priority::kBulk, seq, m).ok());
  }

  size_t RefusalLines(const std::string& topic) const {
    size_t n = 0;
    for (const std::string& line : log_) {
      if (line.find("link: publish to " + topic + " refused: ") != std::string::npos) ++n;
    }
    return n;
  }

  std::string Log() const {
    std::string all;
    for (const std::string& line : log_) all += line + "\n";
    return all;
  }

  std::string pki_;
  std::unique_ptr<LocalBroker> broker_;
  ManualClock clock_;
  SeededEntropy entropy_{3};
  std::unique_ptr<link::Outbox> outbox_;
  std::unique_ptr<link::Session> session_;
  std::unique_ptr<link::Link> link_;
  std::vector<std::string> log_;
};

TEST_F(LinkRefusalTest, RefusedPublishIsLoggedOncePerTopicAndEpisodeCountedAndNotRetried) {
  const std::string other = *topic::TelemetryTopic("edgeforge", "site-1", "dev-b");
  ASSERT_TRUE(PollUntil([&] { return link_->stats().connected; })) << link_->stats().last_error;
  for (uint64_t seq = 0; seq < 3; ++seq) Send("dev-b", seq);
  ASSERT_TRUE(PollUntil([&] { return link_->stats().rejected == 3; })) << Log();
  EXPECT_TRUE(PollUntil([&] { return RefusalLines(other) == 1; })) << Log();
  // Own topic: delivered on the same connection; the refusals stay refusals.
  Send("dev-a", 3);
  ASSERT_TRUE(PollUntil([&] { return link_->stats().delivered == 1; })) << Log();
  Send("dev-b", 4);
  ASSERT_TRUE(PollUntil([&] { return link_->stats().rejected == 4; })) << Log();
  (void)link_->Poll();
  EXPECT_EQ(RefusalLines(other), 1u) << "one line per topic and episode:\n" << Log();
  EXPECT_NE(Log().find("0x87"), std::string::npos) << Log();
  link::LinkStats s = link_->stats();
  EXPECT_EQ(s.republished, 0u) << "a refused message is not sent again";
  EXPECT_EQ(outbox_->depth(), 0u) << "refused messages leave the outbox (counted, not queued forever)";
  for (uint64_t d : outbox_->stats().dropped) EXPECT_EQ(d, 0u) << "refused is not dropped";

  // A new connection starts a new episode: the next refusal is logged again.
  ASSERT_TRUE(broker_->Kill().ok());
  ASSERT_TRUE(PollUntil([&] { return !link_->stats().connected; })) << Log();
  ASSERT_TRUE(broker_->Restart().ok());
  ASSERT_TRUE(PollUntil([&] { return link_->stats().connected; })) << Log();
  Send("dev-b", 5);
  ASSERT_TRUE(PollUntil([&] { return link_->stats().rejected == 5; })) << Log();
  EXPECT_TRUE(PollUntil([&] { return RefusalLines(other) == 2; })) << Log();
  s = link_->stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.republished, 0u);
}

}  // namespace
}  // namespace edgeforge::sim
