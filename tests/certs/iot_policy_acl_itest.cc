// The local broker mirrors IoT Core's authorization: the same matrix of
// identities, publishes and subscriptions is put to the IoT policy that
// `edgeforge certs policy` writes (decided by certs::EvaluateIotPolicy, IoT
// Core's rules) and to a real mosquitto running the ACL the local broker
// writes, over mutual TLS and MQTT 5 (a denied QoS 1 publish gets PUBACK
// 0x87, a denied subscription SUBACK 0x87). Both come from one description
// (certs/iot_policy.cc ThingGrants()); this test is what shows they agree.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "certs/iot_policy.h"
#include "firmware/link/session.h"
#include "sim/broker/local_broker.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using certs::IotAction;

struct Case {
  IotAction action;  // kPublish or kSubscribe
  std::string target;
};

class IotPolicyAclTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(testing_support::MakePki({"dev-a", "dev-b"}, "policy"));
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = testing_support::MakeTempDir("policy-broker");
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = b->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }

  static std::unique_ptr<link::Session> Connect(const std::string& thing) {
    auto s = testing_support::MakePumpedPahoSession(
        testing_support::DeviceSessionConfig(*pki_, thing, broker_->uri(), Millis(5000)));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    const Status st = testing_support::ConnectAndWait(**s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(*s) : nullptr;
  }

  /// What mosquitto said: true = granted, false = refused with 0x87.
  static bool BrokerAllows(link::Session& s, const Case& c) {
    Status st;
    if (c.action == IotAction::kPublish) {
      link::OutgoingMessage m;
      m.topic = c.target;
      m.payload = "{}";
      m.qos = 1;
      st = testing_support::PublishAndWait(s, m);
    } else {
      st = testing_support::SubscribeAndWait(s, c.target, 1, [](const link::IncomingMessage&) {});
    }
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kPermissionDenied)
        << c.target << ": neither granted nor refused: " << st.ToString();
    return st.ok();
  }

  static std::string* pki_;
  static LocalBroker* broker_;
};
std::string* IotPolicyAclTest::pki_ = nullptr;
LocalBroker* IotPolicyAclTest::broker_ = nullptr;

// Topics as dev-a sees them: its own, dev-b's, and the ones nobody's policy names.
std::vector<Case> Matrix() {
  std::vector<Case> m;
  for (const char* thing : {"dev-a", "dev-b"}) {
    const std::string t = thing;
    for (const char* type : {"telemetry", "alarm", "status", "debug"}) {
      m.push_back({IotAction::kPublish, "dt/factory/site-1/" + t + "/" + type});
    }
    m.push_back({IotAction::kPublish, "dt/traffic/corridor-9/" + t + "/telemetry"});
    m.push_back({IotAction::kPublish, "dt/factory/" + t + "/telemetry"});                 // a level short
    m.push_back({IotAction::kPublish, "dt/factory/site-1/other/" + t + "/telemetry"});    // a level more
    m.push_back({IotAction::kPublish, "dt/factory/site-1/" + t + "/telemetry/extra"});
    m.push_back({IotAction::kPublish, "$aws/rules/ingest/dt/factory/site-1/" + t + "/telemetry"});  // Basic Ingest
    m.push_back({IotAction::kPublish, "cmd/factory/site-1/" + t + "/reboot"});
    const std::string shadow = "$aws/things/" + t + "/shadow/";
    for (const char* op : {"update", "get", "delete", "update/delta", "update/accepted", "update/rejected",
                           "get/accepted", "name/x/update"}) {
      m.push_back({IotAction::kPublish, shadow + op});
    }
    for (const char* op : {"update/accepted", "update/rejected", "update/delta", "get/accepted", "get/rejected",
                           "update", "delete/accepted", "update/documents"}) {
      m.push_back({IotAction::kSubscribe, shadow + op});
    }
    m.push_back({IotAction::kSubscribe, "dt/factory/site-1/" + t + "/telemetry"});
  }
  m.push_back({IotAction::kSubscribe, "$aws/rules/ingest/x"});
  return m;
}

bool PolicyAllows(const std::string& policy, IotAction action, const std::string& target) {
  certs::IotRequest r;
  r.action = action;
  r.target = target;
  r.client_id = r.thing = "dev-a";
  auto v = certs::EvaluateIotPolicy(policy, r, certs::PolicyTarget{});
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() && *v;
}

TEST_F(IotPolicyAclTest, PolicyAndLocalAclAgreeOnEveryPublishOfTheMatrix) {
  const std::string policy = certs::RenderIotPolicy(certs::PolicyTarget{});
  ASSERT_TRUE(certs::LintIotPolicy(policy).empty());
  auto session = Connect("dev-a");
  ASSERT_NE(session, nullptr);
  int allowed = 0, denied = 0;
  for (const Case& c : Matrix()) {
    if (c.action != IotAction::kPublish) continue;
    const bool iot = PolicyAllows(policy, c.action, c.target);
    const bool broker = BrokerAllows(*session, c);
    EXPECT_EQ(iot, broker) << "dev-a publish " << c.target << ": IoT policy says " << (iot ? "allow" : "deny")
                           << ", local broker says " << (broker ? "allow" : "deny");
    (iot ? allowed : denied)++;
    // A refusal must not cost the connection (MQTT 5 reason codes, not a disconnect).
    ASSERT_TRUE(session->IsConnected()) << "after " << c.target;
  }
  // Its own telemetry, alarm and status (and telemetry under another app and
  // site), its shadow update and get; the other 30 are refused.
  EXPECT_EQ(allowed, 6);
  EXPECT_EQ(denied, 30);
}

// What a subscriber gets. IoT Core checks iot:Subscribe on the filter (a
// refused SUBACK) and iot:Receive on every message. mosquitto 2.0's acl_file
// grants every SUBSCRIBE and checks 'read' when it delivers (mosquitto 2.0.11:
// every subscription below got a granted SUBACK), so the two agree
// on what is delivered, which is what the matrix compares: dev-a subscribes
// to every topic of the matrix, an identity allowed to publish there does,
// and dev-a must receive exactly what the policy lets it subscribe to and
// receive.
TEST_F(IotPolicyAclTest, PolicyAndLocalAclAgreeOnWhatEverySubscriptionDelivers) {
  const std::string policy = certs::RenderIotPolicy(certs::PolicyTarget{});
  auto device = Connect("dev-a");
  ASSERT_NE(device, nullptr);
  std::mutex mu;
  std::set<std::string> received;
  std::vector<std::string> topics;
  for (const Case& c : Matrix()) {
    if (c.action != IotAction::kSubscribe || c.target.rfind("$aws/rules/", 0) == 0) continue;  // nobody may publish there
    topics.push_back(c.target);
    const Status st = testing_support::SubscribeAndWait(*device, c.target, 1, [&](const link::IncomingMessage& m) {
      std::lock_guard<std::mutex> lock(mu);
      received.insert(m.topic);
    });
    ASSERT_TRUE(st.ok() || st.code() == StatusCode::kPermissionDenied) << c.target << ": " << st.ToString();
  }
  // Publishers allowed to publish each topic: the shadow service for $aws/things/...,
  // the thing itself for its telemetry.
  auto shadow = testing_support::MakePumpedPahoSession(
      testing_support::ServiceSessionConfig(*pki_, "shadow", "edgeforge-shadow-acl-itest", broker_->uri()));
  ASSERT_TRUE(shadow.ok());
  ASSERT_TRUE(testing_support::ConnectAndWait(**shadow).ok());
  auto dev_b = Connect("dev-b");
  ASSERT_NE(dev_b, nullptr);
  for (const std::string& t : topics) {
    link::Session& publisher = t.rfind("$aws/", 0) == 0 ? **shadow : t.find("/dev-b/") != std::string::npos ? *dev_b : *device;
    link::OutgoingMessage m;
    m.topic = t;
    m.payload = "{}";
    ASSERT_TRUE(testing_support::PublishAndWait(publisher, m).ok()) << "the publisher of " << t << " was refused";
  }
  // Every expected delivery arrives, then a little longer for any unexpected one.
  size_t expected = 0;
  for (const std::string& t : topics) {
    expected += PolicyAllows(policy, IotAction::kSubscribe, t) && PolicyAllows(policy, IotAction::kReceive, t);
  }
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (received.size() >= expected) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  std::lock_guard<std::mutex> lock(mu);
  for (const std::string& t : topics) {
    const bool iot = PolicyAllows(policy, IotAction::kSubscribe, t) && PolicyAllows(policy, IotAction::kReceive, t);
    const bool broker = received.count(t) != 0;
    EXPECT_EQ(iot, broker) << "dev-a subscribed to " << t << ": IoT policy " << (iot ? "delivers" : "does not deliver")
                           << ", local broker " << (broker ? "delivered" : "did not deliver");
  }
  EXPECT_EQ(expected, 5u);  // its own update/{accepted,rejected,delta}, get/{accepted,rejected}
  EXPECT_GT(topics.size(), 12u);
}

TEST_F(IotPolicyAclTest, WhatTheShadowServiceSendsToItsDeltaIsReceived) {
  // iot:Receive (mosquitto checks 'read' again on delivery): dev-a subscribed
  // to its delta gets what the shadow service publishes there.
  auto device = Connect("dev-a");
  ASSERT_NE(device, nullptr);
  std::atomic<int> got{0};
  ASSERT_TRUE(testing_support::SubscribeAndWait(*device, "$aws/things/dev-a/shadow/update/delta", 1,
                                                [&](const link::IncomingMessage&) { ++got; })
                  .ok());
  auto shadow = testing_support::MakePumpedPahoSession(
      testing_support::ServiceSessionConfig(*pki_, "shadow", "edgeforge-shadow-itest", broker_->uri()));
  ASSERT_TRUE(shadow.ok());
  ASSERT_TRUE(testing_support::ConnectAndWait(**shadow).ok());
  link::OutgoingMessage m;
  m.topic = "$aws/things/dev-a/shadow/update/delta";
  m.payload = R"({"state":{},"version":1})";
  ASSERT_TRUE(testing_support::PublishAndWait(**shadow, m).ok());
  for (int i = 0; i < 500 && got.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(got.load(), 1);
}

}  // namespace
}  // namespace edgeforge::sim
