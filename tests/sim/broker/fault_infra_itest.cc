// Integration: the tools the link fault tests stand on, against a real
// mosquitto over real TLS: the TCP proxy that black-holes or resets the
// network, broker kill -9 and restart (with and without persistence), and the
// shadow-service identity that plays AWS IoT Core's device shadow service.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "firmware/link/paho/paho_session.h"
#include "sim/broker/local_broker.h"
#include "tests/support/pumped_session.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;
using testing_support::TcpProxy;

// IoT Core's minimum, which ValidateSessionConfig enforces. Paho C 1.3 checks
// keepalive every few seconds, sends a PINGREQ once a keepalive interval
// passed without traffic and gives up when that PINGREQ went unanswered for
// another interval: 2x keepalive plus checking slack (77 s measured here).
constexpr int kKeepaliveS = 30;
constexpr auto kKeepaliveDetectionBound = std::chrono::seconds(3 * kKeepaliveS + 30);

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// Outcome of one publish; shared with the session's pump thread
/// (tests/support/pumped_session.h), which may finish it after the test stopped waiting.
struct PublishOutcome {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Status> status;  // guarded by mu

  /// The status, or nothing if the publish is still unanswered after `limit`.
  std::optional<Status> Wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, limit, [&] { return status.has_value(); });
    return status;
  }
};

std::shared_ptr<PublishOutcome> Publish(link::Session& s, const std::string& topic, const std::string& payload) {
  auto out = std::make_shared<PublishOutcome>();
  link::OutgoingMessage m;
  m.topic = topic;
  m.payload = payload;
  Status queued = s.Publish(m, [out](Status st) {
    std::lock_guard<std::mutex> lock(out->mu);
    if (!out->status) out->status = std::move(st);
    out->cv.notify_all();
  });
  if (!queued.ok()) {
    std::lock_guard<std::mutex> lock(out->mu);
    out->status = queued;
  }
  return out;
}

/// Messages a session received, safe to read from the test thread.
struct Inbox {
  std::mutex mu;
  std::vector<link::IncomingMessage> messages;  // guarded by mu

  link::MessageHandler Handler() {
    return [this](const link::IncomingMessage& m) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(m);
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
  std::vector<link::IncomingMessage> Snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return messages;
  }
};

/// Records when a session's connection-lost callback ran.
struct LossWatch {
  std::mutex mu;
  std::optional<std::chrono::steady_clock::time_point> at;  // guarded by mu
  std::string cause;                                        // guarded by mu

  link::ConnectionLost Callback() {
    return [this](const std::string& c) {
      std::lock_guard<std::mutex> lock(mu);
      if (!at) {
        at = std::chrono::steady_clock::now();
        cause = c;
      }
    };
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu);
    return at.has_value();
  }
};

class FaultInfraTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "faultinfra")); }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override { StartBroker(BrokerPersistence::kOff); }

  void StartBroker(BrokerPersistence persistence) {
    broker_.reset();
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("faultbroker");
    o.persistence = persistence;
    work_dir_ = o.work_dir;
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
  }

  static link::SessionConfig ThingConfig(const std::string& thing, const std::string& uri) {
    link::SessionConfig c;
    c.server_uri = uri;
    c.client_id = thing;
    const auto p = certs::PathsFor(*pki_, thing);
    c.tls = {*pki_ + "/ca.crt", p.cert, p.tls_key};
    c.keepalive_s = kKeepaliveS;
    c.connect_timeout = 5000ms;
    return c;
  }

  /// A service identity (ingest, shadow): pki/<stem>.crt with CN `identity`.
  static link::SessionConfig ServiceConfig(const std::string& identity, const std::string& stem,
                                           const std::string& uri) {
    link::SessionConfig c = ThingConfig(identity, uri);
    c.tls.cert_file = *pki_ + "/" + stem + ".crt";
    c.tls.key_file = *pki_ + "/" + stem + ".key";
    return c;
  }

  static std::unique_ptr<link::Session> Connect(const link::SessionConfig& c, LossWatch* loss = nullptr) {
    auto s = testing_support::MakePumpedPahoSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    if (loss != nullptr) (*s)->OnConnectionLost(loss->Callback());
    const Status st = testing_support::ConnectAndWait(**s);
    EXPECT_TRUE(st.ok()) << c.client_id << " via " << c.server_uri << ": " << st.ToString();
    return st.ok() ? std::move(*s) : nullptr;
  }

  /// The ingest identity, directly on the broker, subscribed to all telemetry.
  std::unique_ptr<link::Session> StartIngest(Inbox& inbox) {
    auto s = Connect(ServiceConfig(kIngestIdentity, "ingest", broker_->uri()));
    if (s != nullptr) {
      EXPECT_TRUE(testing_support::SubscribeAndWait(*s, "dt/+/+/+/+", 1, inbox.Handler()).ok());
    }
    return s;
  }

  std::unique_ptr<TcpProxy> StartProxy() {
    auto p = TcpProxy::Start("127.0.0.1", broker_->port());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  static std::string Telemetry(const std::string& thing) { return "dt/edgeforge/site-1/" + thing + "/telemetry"; }

  static std::string* pki_;
  std::unique_ptr<LocalBroker> broker_;
  std::string work_dir_;
};
std::string* FaultInfraTest::pki_ = nullptr;

// ---- TCP proxy ------------------------------------------------------------------

TEST_F(FaultInfraTest, ProxyCarriesAMutualTlsSession) {
  Inbox inbox;
  auto ingest = StartIngest(inbox);
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  ASSERT_NE(proxy->port(), broker_->port());
  // The URI names localhost, as the broker certificate does: hostname check
  // and SNI are unaffected by a TCP hop.
  auto dev = Connect(ThingConfig("dev-a", proxy->ssl_uri()));
  ASSERT_NE(dev, nullptr);
  auto done = Publish(*dev, Telemetry("dev-a"), "{\"seq\":1}");
  auto st = done->Wait(10s);
  ASSERT_TRUE(st.has_value()) << "no PUBACK through the proxy";
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 1; }, 10s));
  EXPECT_EQ(inbox.Snapshot()[0].payload, "{\"seq\":1}");
  const auto c = proxy->counters();
  EXPECT_EQ(c.accepted, 1u);
  EXPECT_EQ(c.active, 1u);
  EXPECT_GT(c.client_to_target, 100u) << "ClientHello, certificate, CONNECT, PUBLISH";
  EXPECT_GT(c.target_to_client, 100u) << "ServerHello, certificate, CONNACK, PUBACK";
  EXPECT_EQ(c.upstream_failures + c.resets + c.aborted, 0u);
}

TEST_F(FaultInfraTest, BlackholeStarvesPubacksUntilKeepaliveDropsTheSessionThenHealServesNewOnes) {
  Inbox inbox;
  auto ingest = StartIngest(inbox);
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  LossWatch loss;
  auto dev = Connect(ThingConfig("dev-a", proxy->ssl_uri()), &loss);
  ASSERT_NE(dev, nullptr);
  auto first = Publish(*dev, Telemetry("dev-a"), "before");
  ASSERT_TRUE(first->Wait(10s).value_or(Unavailable("no PUBACK")).ok());

  proxy->Blackhole();
  const auto cut = std::chrono::steady_clock::now();
  auto starved = Publish(*dev, Telemetry("dev-a"), "into the hole");
  EXPECT_FALSE(starved->Wait(3s).has_value()) << "a PUBACK crossed the black hole";
  EXPECT_TRUE(dev->IsConnected()) << "nothing was closed: the client cannot tell yet";

  ASSERT_TRUE(WaitFor([&] { return loss.fired(); }, kKeepaliveDetectionBound))
      << "keepalive did not notice the black hole";
  {
    std::lock_guard<std::mutex> lock(loss.mu);
    const auto after = std::chrono::duration_cast<std::chrono::seconds>(*loss.at - cut).count();
    std::cout << "[ info ] connection lost " << after << " s after the cut (keepalive " << kKeepaliveS
              << " s): " << loss.cause << "\n";
  }
  EXPECT_FALSE(dev->IsConnected());
  auto c = proxy->counters();
  EXPECT_EQ(c.resets + c.aborted, 0u) << "the proxy closed nothing: the client found out by itself";
  EXPECT_EQ(inbox.size(), 1u) << "nothing crossed while black-holed";

  proxy->Heal();
  auto fresh = Connect(ThingConfig("dev-b", proxy->ssl_uri()));
  ASSERT_NE(fresh, nullptr);
  auto after = Publish(*fresh, Telemetry("dev-b"), "after heal");
  auto st = after->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& m : inbox.Snapshot()) {
          if (m.payload == "after heal") return true;
        }
        return false;
      },
      10s));
  EXPECT_EQ(proxy->counters().accepted, 2u);
}

// Heal() before either side gave up: nothing was lost inside the proxy, so the
// held PUBLISH goes through and its PUBACK comes back on the same connection.
TEST_F(FaultInfraTest, ShortBlackholeHealsWithoutLosingTheConnection) {
  Inbox inbox;
  auto ingest = StartIngest(inbox);
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  LossWatch loss;
  auto dev = Connect(ThingConfig("dev-a", proxy->ssl_uri()), &loss);
  ASSERT_NE(dev, nullptr);
  proxy->Blackhole();
  auto held = Publish(*dev, Telemetry("dev-a"), "held");
  EXPECT_FALSE(held->Wait(2s).has_value());
  EXPECT_EQ(inbox.size(), 0u);
  proxy->Heal();
  auto st = held->Wait(10s);
  ASSERT_TRUE(st.has_value()) << "the held PUBLISH was not delivered after Heal()";
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 1; }, 10s));
  EXPECT_FALSE(loss.fired());
  EXPECT_EQ(proxy->counters().accepted, 1u);
}

TEST_F(FaultInfraTest, ConnectIntoABlackholeTimesOut) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  proxy->Blackhole();
  link::SessionConfig c = ThingConfig("dev-a", proxy->ssl_uri());
  c.connect_timeout = 2000ms;
  auto s = testing_support::MakePumpedPahoSession(c);
  ASSERT_TRUE(s.ok());
  const Status st = testing_support::ConnectAndWait(**s);  // the TLS handshake gets no answer
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE((*s)->IsConnected());
  EXPECT_GE(proxy->counters().accepted, 1u) << "accepted at TCP level, then silence";
  proxy->Heal();
  EXPECT_NE(Connect(ThingConfig("dev-a", proxy->ssl_uri())), nullptr);
}

TEST_F(FaultInfraTest, ResetDropsTheConnectionAtOnceAndRefusesNewOnesUntilHeal) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  LossWatch loss;
  auto dev = Connect(ThingConfig("dev-a", proxy->ssl_uri()), &loss);
  ASSERT_NE(dev, nullptr);
  proxy->Reset();
  EXPECT_EQ(proxy->counters().resets, 1u);
  EXPECT_EQ(proxy->counters().active, 0u);
  ASSERT_TRUE(WaitFor([&] { return loss.fired(); }, 10s)) << "an RST must be noticed without keepalive";
  {
    std::lock_guard<std::mutex> lock(loss.mu);
    std::cout << "[ info ] after RST: " << loss.cause << "\n";
  }
  auto refused = testing_support::MakePumpedPahoSession(ThingConfig("dev-a", proxy->ssl_uri()));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(testing_support::ConnectAndWait(**refused).ok());
  EXPECT_GE(proxy->counters().resets, 2u) << "the new connection was reset too";
  proxy->Heal();
  auto again = Connect(ThingConfig("dev-a", proxy->ssl_uri()));
  ASSERT_NE(again, nullptr);
  auto st = Publish(*again, Telemetry("dev-a"), "x")->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
}

// ---- broker kill -9 and restart -----------------------------------------------

TEST_F(FaultInfraTest, KillThenRestartServesTheSameUri) {
  const std::string uri = broker_->uri();
  const int port = broker_->port();
  const pid_t first_pid = broker_->pid();
  LossWatch loss;
  auto dev = Connect(ThingConfig("dev-a", uri), &loss);
  ASSERT_NE(dev, nullptr);

  ASSERT_TRUE(broker_->Kill().ok());
  EXPECT_FALSE(broker_->running());
  EXPECT_EQ(broker_->pid(), -1);
  EXPECT_EQ(::kill(first_pid, 0), -1) << "reaped, not a zombie";
  EXPECT_TRUE(broker_->Kill().ok()) << "idempotent";
  ASSERT_TRUE(WaitFor([&] { return loss.fired(); }, 10s)) << "the kernel closed the broker's sockets";
  EXPECT_EQ(broker_->port(), port);
  auto down = testing_support::MakePumpedPahoSession(ThingConfig("dev-b", uri));
  ASSERT_TRUE(down.ok());
  EXPECT_FALSE(testing_support::ConnectAndWait(**down).ok()) << "nobody listens while the broker is dead";

  ASSERT_TRUE(broker_->Restart().ok()) << broker_->LogTail();
  EXPECT_TRUE(broker_->running());
  EXPECT_EQ(broker_->port(), port);
  EXPECT_EQ(broker_->uri(), uri);
  const pid_t second_pid = broker_->pid();
  EXPECT_NE(second_pid, first_pid);
  EXPECT_TRUE(broker_->Restart().ok());
  EXPECT_EQ(broker_->pid(), second_pid) << "Restart() of a running broker does nothing";

  Inbox inbox;
  auto ingest = StartIngest(inbox);
  auto again = Connect(ThingConfig("dev-a", uri));
  ASSERT_NE(again, nullptr);
  auto st = Publish(*again, Telemetry("dev-a"), "after restart")->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 1; }, 10s));
}

TEST_F(FaultInfraTest, ProxyResetsClientsWhileTheBrokerIsDeadAndForwardsAfterRestart) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  ASSERT_TRUE(broker_->Kill().ok());
  auto down = testing_support::MakePumpedPahoSession(ThingConfig("dev-a", proxy->ssl_uri()));
  ASSERT_TRUE(down.ok());
  EXPECT_FALSE(testing_support::ConnectAndWait(**down).ok());
  EXPECT_GE(proxy->counters().upstream_failures, 1u);
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->LogTail();
  auto up = Connect(ThingConfig("dev-a", proxy->ssl_uri()));
  ASSERT_NE(up, nullptr);
  auto st = Publish(*up, Telemetry("dev-a"), "x")->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
}

TEST_F(FaultInfraTest, RestartReportsABrokerThatCannotStart) {
  ASSERT_TRUE(broker_->Kill().ok());
  // Someone else takes the port while the broker is down.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(broker_->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const Status st = broker_->Restart();
  ::close(fd);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find(std::to_string(broker_->port())), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("in use"), std::string::npos) << "carries mosquitto's log: " << st.message();
  EXPECT_FALSE(broker_->running());
}

/// A raw Paho client with a persistent session (clean_start = false, session
/// expiry 1 h): link::Session always starts clean.
class PersistentSubscriber {
 public:
  PersistentSubscriber(const std::string& uri, const std::string& pki)
      : client_(uri, "edgeforge-ingest-persistent", mqtt::create_options(MQTTVERSION_5)), pki_(pki) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard<std::mutex> lock(mu_);
      payloads_.push_back(m->get_payload_str());
    });
  }
  ~PersistentSubscriber() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }
  bool Connect() {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(pki_ + "/ca.crt");
    ssl.set_key_store(pki_ + "/ingest.crt");
    ssl.set_private_key(pki_ + "/ingest.key");
    // Not connect_options_builder().properties(): Paho C++ 1.2 copies
    // connect_options with connectProperties still pointing into the source,
    // which the builder destroys. `opts` outlives connect(), which copies them.
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_5);
    opts.set_clean_start(false);
    opts.set_properties({{mqtt::property::SESSION_EXPIRY_INTERVAL, 3600}});
    opts.set_connect_timeout(5s);
    opts.set_ssl(std::move(ssl));
    try {
      return client_.connect(opts)->wait_for(10s) && client_.is_connected();
    } catch (const mqtt::exception& e) {
      ADD_FAILURE() << "persistent subscriber: " << e.what();
      return false;
    }
  }
  bool Subscribe(const std::string& filter) {
    try {
      return client_.subscribe(filter, 1)->wait_for(5s);
    } catch (const mqtt::exception& e) {
      ADD_FAILURE() << "subscribe " << filter << ": " << e.what();
      return false;
    }
  }
  void Disconnect() {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (const mqtt::exception&) {
    }
  }
  std::vector<std::string> payloads() {
    std::lock_guard<std::mutex> lock(mu_);
    return payloads_;
  }

 private:
  mqtt::async_client client_;
  std::string pki_;
  std::mutex mu_;
  std::vector<std::string> payloads_;  // guarded by mu_
};

/// The subscriber goes offline with a persistent session, dev-a publishes
/// `n` messages (all PUBACKed), then the broker dies by kill -9 and restarts.
/// Returns what the subscriber gets on reconnecting.
std::vector<std::string> QueuedAcrossKill(LocalBroker& broker, const std::string& pki,
                                          const link::SessionConfig& dev_config, const std::string& work_dir, int n,
                                          bool wait_for_save) {
  std::vector<std::string> got;
  {
    PersistentSubscriber sub(broker.uri(), pki);
    EXPECT_TRUE(sub.Connect());
    EXPECT_TRUE(sub.Subscribe("dt/+/+/+/+"));
    sub.Disconnect();
  }
  auto dev = testing_support::MakePumpedPahoSession(dev_config);
  EXPECT_TRUE(dev.ok());
  if (!dev.ok()) return got;
  EXPECT_TRUE(testing_support::ConnectAndWait(**dev).ok());
  for (int i = 0; i < n; ++i) {
    auto st = Publish(**dev, "dt/edgeforge/site-1/dev-a/telemetry", "queued-" + std::to_string(i))->Wait(10s);
    EXPECT_TRUE(st.has_value() && st->ok()) << "message " << i << " was not PUBACKed";
  }
  if (wait_for_save) {
    // mosquitto stores payloads verbatim: the last one in the file means the
    // save that follows its PUBACK has happened.
    const std::string last = "queued-" + std::to_string(n - 1);
    EXPECT_TRUE(WaitFor([&] { return ReadAll(work_dir + "/mosquitto.db").find(last) != std::string::npos; }, 10s))
        << "mosquitto.db never held " << last;
  }
  EXPECT_TRUE(broker.Kill().ok());
  EXPECT_TRUE(broker.Restart().ok()) << broker.LogTail();
  PersistentSubscriber sub(broker.uri(), pki);
  EXPECT_TRUE(sub.Connect());
  WaitFor([&] { return sub.payloads().size() >= static_cast<size_t>(n); }, 5s);
  return sub.payloads();
}

TEST_F(FaultInfraTest, WithoutPersistenceKill9LosesWhatWasQueuedForAnOfflineSubscriber) {
  const auto got = QueuedAcrossKill(*broker_, *pki_, ThingConfig("dev-a", broker_->uri()), work_dir_, 3, false);
  EXPECT_TRUE(got.empty()) << got.size() << " messages survived a broker without persistence";
  EXPECT_NE(::access((work_dir_ + "/mosquitto.db").c_str(), F_OK), 0) << "persistence false writes no database";
}

TEST_F(FaultInfraTest, EveryChangePersistenceKeepsWhatWasQueuedForAPersistentSessionAcrossKill9) {
  StartBroker(BrokerPersistence::kEveryChange);
  const auto got = QueuedAcrossKill(*broker_, *pki_, ThingConfig("dev-a", broker_->uri()), work_dir_, 5, true);
  EXPECT_EQ(got, (std::vector<std::string>{"queued-0", "queued-1", "queued-2", "queued-3", "queued-4"}));
}

TEST(LocalBrokerConfigTest, PersistenceSettings) {
  BrokerOptions o;
  o.pki_dir = "/p";
  o.work_dir = "/w";
  EXPECT_NE(MosquittoConfig(o, 1).find("persistence false\n"), std::string::npos);
  o.persistence = BrokerPersistence::kEveryChange;
  const std::string c = MosquittoConfig(o, 1);
  for (const char* line : {"persistence true\n", "persistence_location /w/\n", "persistence_file mosquitto.db\n",
                           "autosave_on_changes true\n", "autosave_interval 1\n"}) {
    EXPECT_NE(c.find(line), std::string::npos) << line;
  }
}

// ---- shadow-service identity --------------------------------------------------

TEST_F(FaultInfraTest, PkiHasTheShadowServiceIdentity) {
  struct stat st {};
  ASSERT_EQ(::stat((*pki_ + "/shadow.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((*pki_ + "/shadow.crt").c_str(), &st), 0);
  const std::string acl = AclRules();
  EXPECT_NE(acl.find("user edgeforge-shadow\ntopic deny dt/#\ntopic readwrite $aws/things/+/shadow/#\n"),
            std::string::npos)
      << acl;
  // Things: their own shadow requests out, its answers in (certs/iot_policy.cc ThingGrants()).
  EXPECT_NE(acl.find("pattern write $aws/things/%u/shadow/update\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("pattern read $aws/things/%u/shadow/update/delta\n"), std::string::npos) << acl;
}

TEST_F(FaultInfraTest, ShadowServiceDeltaReachesItsThingAndTheThingsReportReachesTheService) {
  Inbox thing_inbox;
  auto thing = Connect(ThingConfig("dev-a", broker_->uri()));
  ASSERT_NE(thing, nullptr);
  ASSERT_TRUE(
      testing_support::SubscribeAndWait(*thing, "$aws/things/dev-a/shadow/update/delta", 1, thing_inbox.Handler())
          .ok());
  Inbox service_inbox;
  auto service = Connect(ServiceConfig(kShadowServiceIdentity, "shadow", broker_->uri()));
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(
      testing_support::SubscribeAndWait(*service, "$aws/things/+/shadow/update", 1, service_inbox.Handler()).ok());

  const std::string delta = R"({"version":2,"state":{"report_interval_s":5}})";
  auto st = Publish(*service, "$aws/things/dev-a/shadow/update/delta", delta)->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return thing_inbox.size() == 1; }, 10s));
  EXPECT_EQ(thing_inbox.Snapshot()[0].topic, "$aws/things/dev-a/shadow/update/delta");
  EXPECT_EQ(thing_inbox.Snapshot()[0].payload, delta);

  const std::string report = R"({"state":{"reported":{"report_interval_s":5}}})";
  st = Publish(*thing, "$aws/things/dev-a/shadow/update", report)->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return service_inbox.size() == 1; }, 10s));
  EXPECT_EQ(service_inbox.Snapshot()[0].payload, report);

  // The service answers on /update/accepted like IoT Core does.
  st = Publish(*service, "$aws/things/dev-a/shadow/update/accepted", report)->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
}

TEST_F(FaultInfraTest, ThingCannotPublishOrReadAnotherThingsDelta) {
  Inbox b_inbox;
  auto b = Connect(ThingConfig("dev-b", broker_->uri()));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      testing_support::SubscribeAndWait(*b, "$aws/things/dev-b/shadow/update/delta", 1, b_inbox.Handler()).ok());
  Inbox a_inbox;
  auto a = Connect(ThingConfig("dev-a", broker_->uri()));
  ASSERT_NE(a, nullptr);
  const Status sub =
      testing_support::SubscribeAndWait(*a, "$aws/things/dev-b/shadow/update/delta", 1, a_inbox.Handler());
  std::cout << "[ info ] dev-a subscribing to dev-b's delta: " << sub.ToString() << "\n";

  auto st = Publish(*a, "$aws/things/dev-b/shadow/update/delta", "{\"state\":{}}")->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code(), StatusCode::kPermissionDenied) << st->ToString();
  EXPECT_NE(st->message().find("0x87"), std::string::npos) << st->ToString();

  // The real service's delta for dev-b reaches dev-b only.
  auto service = Connect(ServiceConfig(kShadowServiceIdentity, "shadow", broker_->uri()));
  ASSERT_NE(service, nullptr);
  st = Publish(*service, "$aws/things/dev-b/shadow/update/delta", "{\"state\":{\"x\":1}}")->Wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->ToString();
  ASSERT_TRUE(WaitFor([&] { return b_inbox.size() == 1; }, 10s));
  EXPECT_EQ(b_inbox.Snapshot()[0].payload, "{\"state\":{\"x\":1}}") << "dev-a's forged delta must not arrive";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(a_inbox.size(), 0u) << "dev-a read dev-b's delta";
}

TEST_F(FaultInfraTest, ShadowServiceCannotPublishTelemetry) {
  auto service = Connect(ServiceConfig(kShadowServiceIdentity, "shadow", broker_->uri()));
  ASSERT_NE(service, nullptr);
  for (const std::string& topic : {Telemetry("dev-a"), Telemetry(kShadowServiceIdentity)}) {
    auto st = Publish(*service, topic, "{}")->Wait(10s);
    ASSERT_TRUE(st.has_value()) << topic;
    EXPECT_EQ(st->code(), StatusCode::kPermissionDenied) << topic << ": " << st->ToString();
  }
}

TEST_F(FaultInfraTest, IngestIdentityStillCannotPublish) {
  auto ingest = Connect(ServiceConfig(kIngestIdentity, "ingest", broker_->uri()));
  ASSERT_NE(ingest, nullptr);
  for (const std::string& topic :
       {Telemetry("dev-a"), Telemetry(kIngestIdentity), std::string("$aws/things/dev-a/shadow/update/delta")}) {
    auto st = Publish(*ingest, topic, "{}")->Wait(10s);
    ASSERT_TRUE(st.has_value()) << topic;
    EXPECT_EQ(st->code(), StatusCode::kPermissionDenied) << topic << ": " << st->ToString();
  }
}

}  // namespace
}  // namespace edgeforge::sim
