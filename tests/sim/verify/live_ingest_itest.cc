// LiveIngest (sim/verify/live_ingest.h) against a real mosquitto: the
// persistent session (PahoSession honours clean_start = false and the
// session expiry) keeps what is published while the verifier is away, across
// a cut connection, and across a broker kill -9 with kEveryChange. Issue 8 (2).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "firmware/link/paho/paho_session.h"
#include "firmware/telemetry/telemetry.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/live_ingest.h"
#include "tests/support/pumped_session.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class LiveIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({"dev-a"}, "liveingest");
    verifier_ = std::make_unique<TelemetryVerifier>(testing_support::Jwks(pki_), jws::Backend::kOpenSsl);
    signer_ = testing_support::SignerFor(pki_, "dev-a");
  }
  void StartBroker(BrokerPersistence p) {
    BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = MakeTempDir("liveingestbroker");
    o.persistence = p;
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
  }
  Result<std::unique_ptr<LiveIngest>> StartIngest(const std::string& uri) {
    LiveIngestOptions o;
    o.broker_uri = uri;
    o.pki_dir = pki_;
    o.client_id = "edgeforge-ingest-liveingest-test";
    o.filter = "dt/edgeforge/+/+/+";
    return LiveIngest::Start(
        o, [this](const link::IncomingMessage& m) { verifier_->Check(m.topic, m.payload, m.UserProperty("jws")); },
        *verifier_);
  }
  /// dev-a, connected straight to the broker.
  std::unique_ptr<link::Session> Device() {
    link::SessionConfig c;
    c.server_uri = broker_->uri();
    c.client_id = "dev-a";
    c.tls = {pki_ + "/ca.crt", pki_ + "/devices/dev-a/device.crt", pki_ + "/devices/dev-a/device.key"};
    auto s = testing_support::MakePumpedPahoSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    Status st = testing_support::ConnectAndWait(**s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(*s);
  }
  /// Publishes signed telemetry seqs [first, last] and waits for each PUBACK.
  void Publish(link::Session& s, uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      telemetry::Telemetry m;
      m.dev = "dev-a";
      m.kind = "factory";
      m.seq = seq;
      m.boot = 1;
      m.ts = 1'700'000'000'000 + static_cast<int64_t>(seq);
      m.window_start = m.ts - 1000;
      m.window_ms = 1000;
      link::OutgoingMessage out;
      out.topic = "dt/edgeforge/site-1/dev-a/telemetry";
      out.payload = telemetry::Serialize(m);
      auto sig = signer_->Sign(out.payload);
      ASSERT_TRUE(sig.ok());
      out.user_properties.emplace_back("jws", *sig);
      std::promise<Status> acked;
      ASSERT_TRUE(s.Publish(out, [&acked](Status r) { acked.set_value(std::move(r)); }).ok());
      auto f = acked.get_future();
      ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
      ASSERT_TRUE(f.get().ok());
    }
  }

  std::string pki_;
  std::unique_ptr<LocalBroker> broker_;
  std::unique_ptr<TelemetryVerifier> verifier_;
  std::unique_ptr<jws::Signer> signer_;
};

TEST_F(LiveIngestTest, WhatIsPublishedWhileItIsCutOffArrivesAfterItReconnects) {
  StartBroker(BrokerPersistence::kOff);  // the broker stays up: its memory keeps the session
  auto proxy = testing_support::TcpProxy::Start("127.0.0.1", broker_->port());
  ASSERT_TRUE(proxy.ok());
  auto ingest = StartIngest((*proxy)->ssl_uri());
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  auto dev = Device();
  ASSERT_NE(dev, nullptr);
  Publish(*dev, 0, 4);
  ASSERT_TRUE(WaitFor([&] { return verifier_->verified() == 5; }, 10s));
  (*proxy)->Reset();
  ASSERT_TRUE(WaitFor([&] { return !(*ingest)->connected(); }, 10s));
  Publish(*dev, 5, 14);  // PUBACKed by the broker while the verifier is away
  std::this_thread::sleep_for(1500ms);
  (*proxy)->Heal();
  ASSERT_TRUE(WaitFor([&] { return verifier_->verified() == 15; }, 20s)) << verifier_->verified();
  EXPECT_TRUE((*ingest)->Stop(2s).ok());
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.disconnects, 1u);
  EXPECT_GT(r.disconnected_s, 1.0);
  EXPECT_TRUE(r.Passed()) << (r.FailureReasons().empty() ? "" : r.FailureReasons()[0]);
  EXPECT_EQ((*ingest)->stats().reconnects, 1u);
}

TEST_F(LiveIngestTest, TheSessionSurvivesABrokerKillWithPersistenceOn) {
  StartBroker(BrokerPersistence::kEveryChange);
  auto ingest = StartIngest(broker_->uri());
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  // The broker writes the session at the end of the loop iteration that made it.
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(broker_->Kill().ok());
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->LogTail();
  // The device gets there first (the ingest is still in its backoff) and
  // publishes to a restarted broker that knows the ingest only from its
  // database.
  auto dev = Device();
  ASSERT_NE(dev, nullptr);
  Publish(*dev, 0, 9);
  ASSERT_TRUE(WaitFor([&] { return verifier_->verified() == 10; }, 20s)) << verifier_->verified();
  EXPECT_TRUE((*ingest)->Stop(2s).ok());
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.disconnects, 1u);
  EXPECT_TRUE(r.Passed());
}

TEST_F(LiveIngestTest, StillDisconnectedAtTheEndIsAFailureReason) {
  StartBroker(BrokerPersistence::kOff);
  auto ingest = StartIngest(broker_->uri());
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  auto dev = Device();
  ASSERT_NE(dev, nullptr);
  Publish(*dev, 0, 2);
  ASSERT_TRUE(WaitFor([&] { return verifier_->verified() == 3; }, 10s));
  dev.reset();
  ASSERT_TRUE(broker_->Kill().ok());
  ASSERT_TRUE(WaitFor([&] { return !(*ingest)->connected(); }, 10s));
  (void)(*ingest)->Stop(1s);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_FALSE(r.Passed());
  ASSERT_EQ(r.failure_notes.size(), 1u);
  EXPECT_NE(r.failure_notes[0].find("still disconnected at the end"), std::string::npos) << r.failure_notes[0];
}

// A verifier that stopped leaves nothing queued for its client id on the
// broker (else a shared broker would hoard messages for an hour per run).
TEST_F(LiveIngestTest, StopEndsTheBrokerSession) {
  StartBroker(BrokerPersistence::kOff);
  {
    auto ingest = StartIngest(broker_->uri());
    ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
    EXPECT_TRUE((*ingest)->Stop(2s).ok());
  }
  auto dev = Device();
  ASSERT_NE(dev, nullptr);
  Publish(*dev, 0, 2);                       // no session subscribed: dropped by the broker
  auto again = StartIngest(broker_->uri());  // same client id, clean start off
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(verifier_->Report().received, 0u) << "the stopped verifier's session was still queueing";
  EXPECT_TRUE((*again)->Stop(2s).ok());
}

}  // namespace
}  // namespace edgeforge::sim
