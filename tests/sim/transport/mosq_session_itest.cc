// Integration: the simulator's event-loop transport (sim/transport) against a
// real mosquitto with TLS, per-device client certificates and the IoT-Core
// ACL (sim/broker): the same outcomes the Paho session gives (session_itest),
// every callback from Dispatch() on the calling thread, and many sessions on
// one loop.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "certs/pki.h"
#include "hal/linux/fs.h"
#include "sim/broker/local_broker.h"
#include "sim/transport/event_loop.h"
#include "tests/support/pumped_session.h"
#include "tests/support/silent_listener.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim::transport {
namespace {

using namespace std::chrono_literals;
using link::IncomingMessage;
using link::OutgoingMessage;
using link::Session;
using link::SessionConfig;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::SilentListener;

/// Runs the loop and dispatches `sessions` until `pred` or `limit`.
bool Pump(EventLoop& loop, const std::vector<Session*>& sessions, const std::function<bool()>& pred,
          std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    loop.RunOnce(Millis(5));
    for (Session* s : sessions) s->Dispatch();
    if (pred()) return true;
  }
  return pred();
}

class MosqSessionITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> things = {"dev-a", "dev-b", "dev-c"};
    for (int i = 0; i < kMany; ++i) things.push_back(certs::DeviceName("many-", i + 1));
    pki_ = new std::string(MakePki(things, "mosqitest"));
    broker_ = StartBroker().release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }
  void SetUp() override {
    auto l = EventLoop::Create({*pki_ + "/ca.crt"});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    loop_ = std::move(*l);
  }

  static std::unique_ptr<LocalBroker> StartBroker() {
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("mosqbroker");
    auto b = LocalBroker::Start(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(*b) : nullptr;
  }

  static SessionConfig ConfigFor(const std::string& thing, const std::string& uri) {
    return testing_support::DeviceSessionConfig(*pki_, thing, uri);
  }

  /// The ingest identity (an IoT rule: it reads everything) on this loop,
  /// subscribed to `filter`: a device may not read the topics it publishes
  /// (certs/iot_policy.cc ThingGrants()), so another identity reads them back.
  std::unique_ptr<Session> Reader(const std::string& filter, std::vector<IncomingMessage>& got) {
    SessionConfig c = ConfigFor(kIngestIdentity, broker_->uri());
    c.client_id = "edgeforge-ingest-mosq-itest";
    c.tls.cert_file = *pki_ + "/ingest.crt";
    c.tls.key_file = *pki_ + "/ingest.key";
    auto r = Make(c);
    if (r == nullptr || !Connect(*r).ok()) return nullptr;
    std::optional<Status> subscribed;
    if (!r->Subscribe(filter, 1, [&got](const IncomingMessage& m) { got.push_back(m); },
                      [&](Status st) { subscribed = st; })
             .ok() ||
        !Pump(*loop_, {r.get()}, [&] { return subscribed.has_value(); }) || !subscribed->ok()) {
      return nullptr;
    }
    return r;
  }

  std::unique_ptr<Session> Make(const SessionConfig& c) {
    auto s = loop_->MakeSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  /// Connect() and pump until its done ran; returns that status.
  Status Connect(Session& s) {
    std::optional<Status> result;
    Status started = s.Connect([&](Status st) { result = st; });
    if (!started.ok()) return started;
    if (!Pump(*loop_, {&s}, [&] { return result.has_value(); })) return Internal("connect done never ran");
    return *result;
  }

  static constexpr int kMany = 200;
  static std::string* pki_;
  static LocalBroker* broker_;
  std::unique_ptr<EventLoop> loop_;
};
std::string* MosqSessionITest::pki_ = nullptr;
LocalBroker* MosqSessionITest::broker_ = nullptr;

TEST_F(MosqSessionITest, ConnectDoneRunsOnlyFromDispatchOnTheCallingThread) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  int calls = 0;
  Status result = Internal("unset");
  std::thread::id where;
  ASSERT_TRUE(s->Connect([&](Status st) {
                 ++calls;
                 result = st;
                 where = std::this_thread::get_id();
               }).ok());
  // The loop alone never runs a callback: only Dispatch() does.
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end && loop_->stats().connected == 0) loop_->RunOnce(Millis(5));
  ASSERT_EQ(loop_->stats().connected, 1u) << "no CONNACK within 3 s";
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(s->IsConnected());
  EXPECT_EQ(s->Dispatch(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(where, std::this_thread::get_id());
  EXPECT_TRUE(s->IsConnected());
  // A second Connect while connected is refused at once.
  EXPECT_EQ(s->Connect([](Status) {}).code(), StatusCode::kFailedPrecondition);
}

TEST_F(MosqSessionITest, PublishWithUserPropertyIsAcknowledgedAndDeliveredToASubscriber) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Connect(*s).ok());
  // The device publishes its shadow update; the ingest identity reads it back.
  const std::string topic = "$aws/things/dev-a/shadow/update";
  std::vector<IncomingMessage> got;
  auto reader = Reader("$aws/things/dev-a/shadow/#", got);
  ASSERT_NE(reader, nullptr);
  std::optional<Status> acked;
  OutgoingMessage m{topic, R"({"state":{"reported":{"x":1}}})", 1, {{"jws", "h..s"}, {"k", "v"}}};
  ASSERT_TRUE(s->Publish(m, [&](Status st) { acked = st; }).ok());
  ASSERT_TRUE(Pump(*loop_, {s.get(), reader.get()}, [&] { return acked.has_value() && !got.empty(); }));
  EXPECT_TRUE(acked->ok()) << acked->ToString();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, topic);
  EXPECT_EQ(got[0].payload, m.payload);
  ASSERT_NE(got[0].UserProperty("jws"), nullptr);
  EXPECT_EQ(*got[0].UserProperty("jws"), "h..s");
  ASSERT_NE(got[0].UserProperty("k"), nullptr);
  EXPECT_EQ(*got[0].UserProperty("k"), "v");
}

TEST_F(MosqSessionITest, PublishOutsideThePolicyIsPermissionDenied) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Connect(*s).ok());
  std::optional<Status> done;
  // dev-a may not publish as dev-b (pattern write dt/+/+/%u/#).
  ASSERT_TRUE(s->Publish({"dt/edgeforge/site-1/dev-b/telemetry", "{}", 1, {}}, [&](Status st) { done = st; }).ok());
  ASSERT_TRUE(Pump(*loop_, {s.get()}, [&] { return done.has_value(); }));
  EXPECT_EQ(done->code(), StatusCode::kPermissionDenied) << done->ToString();
}

TEST_F(MosqSessionITest, PublishWhileDisconnectedFailsAtOnceWithoutDone) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  bool ran = false;
  EXPECT_EQ(s->Publish({"dt/edgeforge/site-1/dev-a/telemetry", "{}", 1, {}}, [&](Status) { ran = true; }).code(),
            StatusCode::kUnavailable);
  s->Dispatch();
  EXPECT_FALSE(ran);
}

TEST_F(MosqSessionITest, ClientCertificateFromAnotherCaIsUnauthenticated) {
  ASSERT_NE(broker_, nullptr);
  const std::string rogue = MakePki({"dev-a"}, "mosqrogue");  // same CN, foreign CA
  SessionConfig c = ConfigFor("dev-a", broker_->uri());
  const auto p = certs::PathsFor(rogue, "dev-a");
  c.tls.cert_file = p.cert;
  c.tls.key_file = p.tls_key;
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  const Status st = Connect(*s);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st.ToString();
  EXPECT_FALSE(s->IsConnected());
}

TEST_F(MosqSessionITest, PortWithoutListenerIsUnavailable) {
  int port = 0;
  {
    SilentListener l;
    port = l.port();
  }
  auto s = Make(ConfigFor("dev-a", "ssl://localhost:" + std::to_string(port)));
  ASSERT_NE(s, nullptr);
  const Status st = Connect(*s);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
}

TEST_F(MosqSessionITest, ListenerThatNeverAnswersIsDeadlineExceeded) {
  SilentListener hole;
  SessionConfig c = ConfigFor("dev-a", "ssl://localhost:" + std::to_string(hole.port()));
  c.connect_timeout = 1500ms;
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  const Status st = Connect(*s);
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
}

TEST_F(MosqSessionITest, DisconnectDuringConnectCancelsOnce) {
  SilentListener hole;
  auto s = Make(ConfigFor("dev-a", "ssl://localhost:" + std::to_string(hole.port())));
  ASSERT_NE(s, nullptr);
  std::vector<Status> done;
  ASSERT_TRUE(s->Connect([&](Status st) { done.push_back(st); }).ok());
  loop_->RunOnce(Millis(5));
  s->Disconnect();
  Pump(
      *loop_, {s.get()}, [] { return false; }, 300ms);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].code(), StatusCode::kCancelled) << done[0].ToString();
}

TEST_F(MosqSessionITest, TakeoverPublishesTheWillAndReportsTheLossOnce) {
  ASSERT_NE(broker_, nullptr);
  SessionConfig ic = ConfigFor(kIngestIdentity, broker_->uri());
  ic.tls.cert_file = *pki_ + "/ingest.crt";
  ic.tls.key_file = *pki_ + "/ingest.key";
  auto ingest = testing_support::MakePumpedPahoSession(ic);
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  ASSERT_TRUE(testing_support::ConnectAndWait(**ingest).ok());
  std::mutex mu;
  std::vector<std::string> received;
  ASSERT_TRUE(testing_support::SubscribeAndWait(**ingest, "dt/+/+/dev-b/status", 1, [&](const IncomingMessage& m) {
                std::lock_guard<std::mutex> lock(mu);
                received.push_back(m.topic + " " + m.payload);
              }).ok());
  SessionConfig c = ConfigFor("dev-b", broker_->uri());
  c.will = SessionConfig::Will{"dt/edgeforge/site-1/dev-b/status", "offline", 1, false};
  auto first = Make(c);
  ASSERT_NE(first, nullptr);
  int lost = 0;
  first->OnConnectionLost([&](const std::string&) { ++lost; });
  ASSERT_TRUE(Connect(*first).ok());
  auto second = Make(ConfigFor("dev-b", broker_->uri()));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(Connect(*second).ok());
  ASSERT_TRUE(Pump(*loop_, {first.get(), second.get()}, [&] {
    std::lock_guard<std::mutex> lock(mu);
    return lost == 1 && !received.empty();
  }));
  Pump(
      *loop_, {first.get(), second.get()}, [] { return false; }, 300ms);
  EXPECT_EQ(lost, 1);
  EXPECT_FALSE(first->IsConnected());
  EXPECT_TRUE(second->IsConnected());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], "dt/edgeforge/site-1/dev-b/status offline");
}

TEST_F(MosqSessionITest, BrokerKilledWithPublishesInFlightCompletesEachOnceAndReportsTheLoss) {
  auto broker = StartBroker();
  ASSERT_NE(broker, nullptr);
  auto s = Make(ConfigFor("dev-c", broker->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Connect(*s).ok());
  int lost = 0;
  s->OnConnectionLost([&](const std::string&) { ++lost; });
  std::vector<Status> done;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        s->Publish({"dt/edgeforge/site-1/dev-c/telemetry", "{}", 1, {}}, [&](Status st) { done.push_back(st); }).ok());
  }
  ASSERT_TRUE(broker->Kill().ok());
  ASSERT_TRUE(Pump(*loop_, {s.get()}, [&] { return lost == 1; }));
  Pump(
      *loop_, {s.get()}, [] { return false; }, 200ms);
  EXPECT_EQ(lost, 1);
  EXPECT_EQ(done.size(), 20u);  // each exactly once: PUBACKed OK or UNAVAILABLE
  for (const Status& st : done) EXPECT_TRUE(st.ok() || st.code() == StatusCode::kUnavailable) << st.ToString();
  EXPECT_FALSE(s->IsConnected());
  EXPECT_EQ(loop_->stats().connected, 0u);
}

// Also: each connected session holds exactly one descriptor, its socket
// (libmosquitto's per-handle socketpair is refused: see event_loop.cc), so
// 10,000 devices fit under a 20,000 open-file limit.
TEST_F(MosqSessionITest, HundredsOfSessionsOnOneLoopConnectAndPublish) {
  ASSERT_NE(broker_, nullptr);
  const size_t fds_before = fs::OpenDescriptorCount();
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<Session*> raw;
  int connected = 0;
  int acked = 0;
  int failed = 0;
  for (int i = 0; i < kMany; ++i) {
    const std::string thing = certs::DeviceName("many-", i + 1);
    // 200 TLS handshakes at once take the broker seconds on a busy 2-core
    // box: this test is about capacity, so no connect deadline should bite.
    SessionConfig c = ConfigFor(thing, broker_->uri());
    c.connect_timeout = 60000ms;
    sessions.push_back(Make(c));
    ASSERT_NE(sessions.back(), nullptr);
    raw.push_back(sessions.back().get());
    Session* s = sessions.back().get();
    ASSERT_TRUE(s->Connect([&, s, thing](Status st) {
                   if (!st.ok()) {
                     ++failed;
                     ADD_FAILURE() << st.ToString();
                     return;
                   }
                   ++connected;
                   ASSERT_TRUE(s->Publish({"dt/edgeforge/site-1/" + thing + "/telemetry", "{}", 1, {}}, [&](Status p) {
                                  p.ok() ? ++acked : ++failed;
                                }).ok());
                 }).ok());
  }
  ASSERT_TRUE(Pump(
      *loop_, raw, [&] { return acked + failed == kMany; }, 60s))
      << connected << " connected, " << acked << " acked";
  EXPECT_EQ(connected, kMany);
  EXPECT_EQ(acked, kMany);
  EXPECT_EQ(loop_->stats().connected, static_cast<size_t>(kMany));
  EXPECT_EQ(loop_->stats().sessions, static_cast<size_t>(kMany));
  EXPECT_EQ(fs::OpenDescriptorCount() - fds_before, static_cast<size_t>(kMany));
}

TEST_F(MosqSessionITest, MakeSessionRefusesWhatTheLoopCannotServe) {
  ASSERT_NE(broker_, nullptr);
  SessionConfig c = ConfigFor("dev-a", broker_->uri());
  c.session_expiry_s = 60;
  c.clean_start = false;
  auto r = loop_->MakeSession(c);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Paho"), std::string::npos) << r.status().ToString();

  c = ConfigFor("dev-a", broker_->uri());
  c.tls.cert_file = *pki_ + "/no-such.crt";
  r = loop_->MakeSession(c);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such.crt"), std::string::npos) << r.status().ToString();

  c = ConfigFor("dev-a", broker_->uri());
  c.tls.key_file = certs::PathsFor(*pki_, "dev-b").tls_key;  // dev-b's key with dev-a's certificate
  r = loop_->MakeSession(c);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos) << r.status().ToString();
}

// Network faults (NetworkFault), injected in the transport for a scenario's
// fault schedule: what a device behind a bad link sees, against the real broker.
TEST_F(MosqSessionITest, LatencyFaultDelaysPublishAndItsPubackByTheLatency) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Connect(*s).ok());
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {NetworkFault::Mode::kLatency, Millis(700)}).ok());
  std::optional<Status> acked;
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(s->Publish({"dt/edgeforge/site-1/dev-a/telemetry", "{}", 1, {}}, [&](Status st) { acked = st; }).ok());
  ASSERT_TRUE(Pump(
      *loop_, {s.get()}, [&] { return acked.has_value(); }, 10s));
  EXPECT_TRUE(acked->ok()) << acked->ToString();
  // Out 700 ms late, the PUBACK another 700 ms: a lower bound the fault sets,
  // not a speed (a loaded machine only makes it later).
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 1400ms);
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {}).ok());
  acked.reset();
  ASSERT_TRUE(s->Publish({"dt/edgeforge/site-1/dev-a/telemetry", "{}", 1, {}}, [&](Status st) { acked = st; }).ok());
  ASSERT_TRUE(Pump(
      *loop_, {s.get()}, [&] { return acked.has_value(); }, 10s));
  EXPECT_TRUE(acked->ok());
}

TEST_F(MosqSessionITest, ResetFaultDropsTheConnectionAndRefusesConnectsWhileInForce) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-b", broker_->uri()));
  ASSERT_NE(s, nullptr);
  std::string cause;
  s->OnConnectionLost([&](const std::string& c) { cause = c; });
  ASSERT_TRUE(Connect(*s).ok());
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {NetworkFault::Mode::kReset, Millis(0)}).ok());
  ASSERT_TRUE(Pump(
      *loop_, {s.get()}, [&] { return !cause.empty(); }, 5s));
  EXPECT_NE(cause.find("connection reset by peer (network fault: reset)"), std::string::npos) << cause;
  EXPECT_FALSE(s->IsConnected());
  const Status refused = Connect(*s);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("connection reset"), std::string::npos) << refused.ToString();
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {}).ok());
  EXPECT_TRUE(Connect(*s).ok());
}

TEST_F(MosqSessionITest, BlackholeHoldsPublishesAndConnectsUntilThePathIsBack) {
  ASSERT_NE(broker_, nullptr);
  // What gets through is read back by the ingest identity (no fault on it).
  SessionConfig c = ConfigFor("dev-c", broker_->uri());
  c.connect_timeout = Millis(1500);
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Connect(*s).ok());
  std::vector<IncomingMessage> got;
  auto reader = Reader("$aws/things/dev-c/shadow/update", got);
  ASSERT_NE(reader, nullptr);

  // Short of the keepalive (tests/reliability/network_fault_itest.cc has the
  // rest): held, then delivered once the path is back, like TCP's retransmit.
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {NetworkFault::Mode::kBlackhole, Millis(0)}).ok());
  std::optional<Status> acked;
  ASSERT_TRUE(s->Publish({"$aws/things/dev-c/shadow/update", "{\"n\":1}", 1, {}}, [&](Status st) { acked = st; }).ok());
  EXPECT_FALSE(Pump(
      *loop_, {s.get(), reader.get()}, [&] { return acked.has_value() || !got.empty(); }, 1500ms))
      << "nothing gets through a black hole";
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {}).ok());
  ASSERT_TRUE(Pump(
      *loop_, {s.get(), reader.get()}, [&] { return acked.has_value() && !got.empty(); }, 10s));
  EXPECT_TRUE(acked->ok()) << acked->ToString();
  EXPECT_EQ(got[0].payload, "{\"n\":1}");

  // A connect into the hole times out; one waiting in it goes through when
  // the path is back.
  s->Disconnect();
  s->Dispatch();
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {NetworkFault::Mode::kBlackhole, Millis(0)}).ok());
  const Status timed_out = Connect(*s);
  EXPECT_EQ(timed_out.code(), StatusCode::kDeadlineExceeded) << timed_out.ToString();
  EXPECT_NE(timed_out.message().find("TCP connect timed out (network fault: black hole)"), std::string::npos)
      << timed_out.ToString();
  std::optional<Status> connected;
  ASSERT_TRUE(s->Connect([&](Status st) { connected = st; }).ok());
  EXPECT_FALSE(Pump(
      *loop_, {s.get()}, [&] { return connected.has_value(); }, 500ms));
  ASSERT_TRUE(loop_->SetNetworkFault(*s, {}).ok());
  ASSERT_TRUE(Pump(
      *loop_, {s.get()}, [&] { return connected.has_value(); }, 10s));
  EXPECT_TRUE(connected->ok()) << connected->ToString();
}

}  // namespace
}  // namespace edgeforge::sim::transport
