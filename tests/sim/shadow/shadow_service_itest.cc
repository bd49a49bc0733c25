// Integration: the local shadow service (sim/shadow/shadow_service.h) on a
// real mosquitto with TLS and the ACL. Devices talk to it with their own
// certificates, as they would to AWS IoT Core's shadow service.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hal/linux/fs.h"
#include "sim/broker/local_broker.h"
#include "sim/shadow/shadow_service.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim::shadow {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing_support::MakePki;
using testing_support::MakeTempDir;

/// Messages a client received, shared with its pump thread.
class Inbox {
 public:
  link::MessageHandler Handler() {
    return [this](const link::IncomingMessage& m) {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.emplace_back(m.topic, m.payload);
    };
  }
  /// The payload of the first message on `topic` arriving within `limit`, or
  /// nullopt; consumed, so the next call sees the next one.
  std::optional<json> Next(const std::string& topic, std::chrono::milliseconds limit = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = messages_.begin(); it != messages_.end(); ++it) {
          if (it->first == topic) {
            json j = json::parse(it->second);
            messages_.erase(it);
            return j;
          }
        }
      }
      if (std::chrono::steady_clock::now() > end) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
  }
  size_t Count(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& m : messages_) n += m.first == topic;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

class ShadowServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "shadowsvc")); }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    work_ = MakeTempDir("shadowbroker");
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = work_;
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    StartService();
  }

  void StartService() {
    ShadowServiceOptions so;
    so.broker_uri = broker_->uri();
    so.pki_dir = *pki_;
    so.store_path = work_ + "/shadows.json";
    auto s = ShadowService::Start(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(*s);
  }

  /// `thing` connected with its own certificate, subscribed to its shadow's replies.
  std::unique_ptr<link::Session> Device(const std::string& thing, Inbox& inbox) {
    auto s = testing_support::MakePumpedPahoSession(testing_support::DeviceSessionConfig(*pki_, thing, broker_->uri()));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE(testing_support::ConnectAndWait(**s).ok());
    const Status sub = testing_support::SubscribeAndWait(**s, "$aws/things/" + thing + "/shadow/#", 1, inbox.Handler());
    EXPECT_TRUE(sub.ok()) << sub.ToString();
    return std::move(*s);
  }

  /// The ingest identity (an IoT rule) subscribed to every thing's
  /// update/documents: a device's policy does not let it read those
  /// (certs/iot_policy.cc ThingGrants()).
  std::unique_ptr<link::Session> DocumentsObserver(Inbox& inbox) {
    auto s = testing_support::MakePumpedPahoSession(
        testing_support::ServiceSessionConfig(*pki_, "ingest", "edgeforge-ingest-documents", broker_->uri()));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE(testing_support::ConnectAndWait(**s).ok());
    EXPECT_TRUE(testing_support::SubscribeAndWait(**s, "$aws/things/+/shadow/update/documents", 1, inbox.Handler()).ok());
    return std::move(*s);
  }

  /// An operator with the shadow-service identity (IoT Core: the
  /// DeleteThingShadow API), subscribed to the delete answers: a device may
  /// not delete its shadow (certs/iot_policy.cc ThingGrants()).
  std::unique_ptr<link::Session> Operator(Inbox& inbox) {
    auto s = testing_support::MakePumpedPahoSession(
        testing_support::ServiceSessionConfig(*pki_, "shadow", "edgeforge-shadow-operator-itest", broker_->uri()));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE(testing_support::ConnectAndWait(**s).ok());
    EXPECT_TRUE(testing_support::SubscribeAndWait(**s, "$aws/things/+/shadow/delete/+", 1, inbox.Handler()).ok());
    return std::move(*s);
  }

  static Status Send(link::Session& s, const std::string& topic, const std::string& payload) {
    return testing_support::PublishAndWait(s, link::OutgoingMessage{topic, payload, 1, {}});
  }

  static std::string T(const std::string& thing, const std::string& op) {
    return "$aws/things/" + thing + "/shadow/" + op;
  }

  static std::string* pki_;
  std::string work_;
  std::unique_ptr<LocalBroker> broker_;
  std::unique_ptr<ShadowService> service_;
};
std::string* ShadowServiceTest::pki_ = nullptr;

TEST_F(ShadowServiceTest, DeviceUpdatesAndGetsItsShadowWithDeltaAndTokens) {
  Inbox in, observed;
  auto dev = Device("dev-a", in);
  ASSERT_NE(dev, nullptr);
  auto observer = DocumentsObserver(observed);
  ASSERT_NE(observer, nullptr);
  // No shadow yet: 404 on get/rejected, token echoed.
  ASSERT_TRUE(Send(*dev, T("dev-a", "get"), R"({"clientToken":"g0"})").ok());
  auto e = in.Next(T("dev-a", "get/rejected"));
  ASSERT_TRUE(e) << "no get/rejected";
  EXPECT_EQ((*e)["code"], 404);
  EXPECT_EQ((*e)["clientToken"], "g0");

  ASSERT_TRUE(
      Send(*dev, T("dev-a", "update"), R"({"state":{"reported":{"report_ms":10000}},"clientToken":"u1"})").ok());
  auto a = in.Next(T("dev-a", "update/accepted"));
  ASSERT_TRUE(a) << "no update/accepted";
  EXPECT_EQ((*a)["version"], 1);
  EXPECT_EQ((*a)["clientToken"], "u1");
  auto docs = observed.Next(T("dev-a", "update/documents"));
  ASSERT_TRUE(docs);
  EXPECT_EQ((*docs)["current"]["state"]["reported"]["report_ms"], 10000);

  ASSERT_TRUE(Send(*dev, T("dev-a", "update"), R"({"state":{"desired":{"report_ms":5000}},"clientToken":"u2"})").ok());
  auto d = in.Next(T("dev-a", "update/delta"));
  ASSERT_TRUE(d) << "no update/delta";
  EXPECT_EQ((*d)["state"], json::parse(R"({"report_ms":5000})"));
  EXPECT_EQ((*d)["version"], 2);

  ASSERT_TRUE(Send(*dev, T("dev-a", "get"), "").ok());
  auto g = in.Next(T("dev-a", "get/accepted"));
  ASSERT_TRUE(g);
  EXPECT_EQ((*g)["state"]["delta"]["report_ms"], 5000);
  EXPECT_EQ((*g)["state"]["reported"]["report_ms"], 10000);
  EXPECT_EQ((*g)["version"], 2);

  // 409 and 413, with the token echoed.
  ASSERT_TRUE(
      Send(*dev, T("dev-a", "update"), R"({"state":{"reported":{"x":1}},"version":1,"clientToken":"old"})").ok());
  auto c = in.Next(T("dev-a", "update/rejected"));
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["code"], 409);
  EXPECT_EQ((*c)["clientToken"], "old");
  const std::string big(kMaxStateBytes + 1, 'x');
  ASSERT_TRUE(
      Send(*dev, T("dev-a", "update"), R"({"state":{"reported":{"x":")" + big + R"("}},"clientToken":"big"})").ok());
  auto t = in.Next(T("dev-a", "update/rejected"));
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)["code"], 413);
  EXPECT_EQ((*t)["clientToken"], "big");
  ASSERT_TRUE(Send(*dev, T("dev-a", "update"), "not json").ok());
  auto bad = in.Next(T("dev-a", "update/rejected"));
  ASSERT_TRUE(bad);
  EXPECT_EQ((*bad)["code"], 400);

  // Delete (by an operator): accepted with the version, then 404.
  Inbox operator_in;
  auto op = Operator(operator_in);
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(Send(*op, T("dev-a", "delete"), "").ok());
  auto del = operator_in.Next(T("dev-a", "delete/accepted"));
  ASSERT_TRUE(del);
  EXPECT_EQ((*del)["version"], 2);
  ASSERT_TRUE(Send(*dev, T("dev-a", "get"), "").ok());
  auto gone = in.Next(T("dev-a", "get/rejected"));
  ASSERT_TRUE(gone);
  EXPECT_EQ((*gone)["code"], 404);
  EXPECT_GE(service_->stats().requests, 9u);
}

TEST_F(ShadowServiceTest, DeviceCannotTouchAnotherThingsShadow) {
  Inbox a_in, b_in, spy;  // before the sessions: their handlers point here
  auto b = Device("dev-b", b_in);
  auto a = Device("dev-a", a_in);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // dev-a may subscribe to dev-b's replies (mosquitto 2.0 grants the
  // SUBACK and checks the read ACL per message) but must never receive one...
  (void)testing_support::SubscribeAndWait(*a, T("dev-b", "update/accepted"), 1, spy.Handler());
  // ...nor publish dev-b's update: refused (MQTT 5 PUBACK 0x87), never applied.
  const Status pub = Send(*a, T("dev-b", "update"), R"({"state":{"desired":{"evil":1}}})");
  EXPECT_EQ(pub.code(), StatusCode::kPermissionDenied) << pub.ToString();
  ASSERT_TRUE(Send(*b, T("dev-b", "get"), "").ok());
  auto g = b_in.Next(T("dev-b", "get/rejected"));
  ASSERT_TRUE(g) << "dev-b got no answer";
  EXPECT_EQ((*g)["code"], 404) << "dev-a's update reached dev-b's shadow";
  EXPECT_EQ(b_in.Count(T("dev-b", "update/accepted")), 0u);
  // dev-b's own update is served, and its reply reaches dev-b only.
  ASSERT_TRUE(Send(*b, T("dev-b", "update"), R"({"state":{"reported":{"ok":1}}})").ok());
  ASSERT_TRUE(b_in.Next(T("dev-b", "update/accepted")));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(spy.Count(T("dev-b", "update/accepted")), 0u) << "dev-a read dev-b's shadow reply";
}

TEST_F(ShadowServiceTest, RestartKeepsTheDocument) {
  {
    Inbox in;
    auto dev = Device("dev-a", in);
    ASSERT_NE(dev, nullptr);
    ASSERT_TRUE(Send(*dev, T("dev-a", "update"), R"({"state":{"desired":{"mode":"eco"}}})").ok());
    ASSERT_TRUE(in.Next(T("dev-a", "update/accepted")));
  }
  ASSERT_TRUE(service_->Stop().ok());
  service_.reset();
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(broker_->Restart().ok());
  StartService();
  Inbox in;
  auto dev = Device("dev-a", in);
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(Send(*dev, T("dev-a", "get"), "").ok());
  auto g = in.Next(T("dev-a", "get/accepted"));
  ASSERT_TRUE(g) << "no get/accepted after the restart";
  EXPECT_EQ((*g)["state"]["desired"]["mode"], "eco");
  EXPECT_EQ((*g)["version"], 1);
}

// A broker kill -9 and restart (the fault schedule's broker fault): the
// service reconnects by itself and answers again, its documents intact.
TEST_F(ShadowServiceTest, ServiceReconnectsAfterABrokerKill) {
  {
    Inbox in;
    auto dev = Device("dev-a", in);
    ASSERT_NE(dev, nullptr);
    ASSERT_TRUE(Send(*dev, T("dev-a", "update"), R"({"state":{"reported":{"n":1}}})").ok());
    ASSERT_TRUE(in.Next(T("dev-a", "update/accepted")));
  }
  ASSERT_TRUE(broker_->Kill().ok());
  ASSERT_TRUE(broker_->Restart().ok());
  const auto end = std::chrono::steady_clock::now() + 15s;
  while (service_->stats().reconnects == 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(50ms);
  ASSERT_GE(service_->stats().reconnects, 1u) << service_->stats().last_error;
  Inbox in;
  auto dev = Device("dev-a", in);
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(Send(*dev, T("dev-a", "update"), R"({"state":{"reported":{"n":2}},"clientToken":"after"})").ok());
  auto a = in.Next(T("dev-a", "update/accepted"));
  ASSERT_TRUE(a) << "no answer after the broker restart";
  EXPECT_EQ((*a)["version"], 2);
  EXPECT_EQ((*a)["clientToken"], "after");
}

TEST_F(ShadowServiceTest, MalformedStoreIsRefusedNamingFileAndField) {
  const std::string path = work_ + "/bad.json";
  ASSERT_TRUE(
      fs::WriteFileAtomically(path, R"({"format":"edgeforge-shadows/1","things":{"dev-a":{"exists":true}}})", 0644)
          .ok());
  auto r = ShadowService::LoadStore(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path + ": things.dev-a.version"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace edgeforge::sim::shadow
