// The loopback itself against the Session contract (firmware/link/session.h):
// callbacks only from Dispatch(), exactly once, connect timeouts on the
// injected clock, stale CONNACKs land nowhere, a drop fails in-flight
// publishes before ConnectionLost. Link and Device tests build on this.
#include "tests/support/loopback_session.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace edgeforge::testing {
namespace {

link::SessionConfig Config() {
  link::SessionConfig c;
  c.server_uri = "ssl://loopback:8883";
  c.client_id = "thing-1";
  c.keepalive_s = 30;
  c.connect_timeout = Millis(5000);
  c.will = link::SessionConfig::Will{"dt/app/site/thing-1/status", "offline", 1, false};
  return c;
}

struct LoopbackSessionTest : ::testing::Test {
  ManualClock clock;
  LoopbackBroker broker;
  LoopbackSession session{broker, clock, Config()};

  /// Connects and dispatches until the outcome; returns it.
  Status Connect() {
    std::optional<Status> result;
    EXPECT_TRUE(session.Connect([&](Status s) { result = std::move(s); }).ok());
    EXPECT_FALSE(result.has_value()) << "ConnectDone ran inside Connect(), not from Dispatch()";
    session.Dispatch();
    EXPECT_TRUE(result.has_value());
    return result.value_or(Internal("no outcome"));
  }
};

TEST_F(LoopbackSessionTest, ConnectSendsTheConfiguredConnectAndCallbacksRunOnlyFromDispatch) {
  ASSERT_TRUE(Connect().ok());
  EXPECT_TRUE(session.IsConnected());
  ASSERT_EQ(broker.received().size(), 1u);
  const auto& connect = std::get<mqtt::Connect>(broker.received()[0].packet);
  EXPECT_EQ(connect.client_id, "thing-1");
  EXPECT_EQ(connect.keepalive_s, 30);
  ASSERT_TRUE(connect.will.has_value());
  EXPECT_EQ(connect.will->topic, "dt/app/site/thing-1/status");
  EXPECT_EQ(connect.will->qos, 1);

  std::vector<Status> done;
  ASSERT_TRUE(session.Publish({"dt/a", "x", 1, {{"jws", "h.p.s"}}}, [&](Status s) { done.push_back(s); }).ok());
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(session.Dispatch(), 1u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].ok());
  ASSERT_EQ(broker.publishes().size(), 1u);
  EXPECT_EQ(broker.publishes()[0].user_properties, (mqtt::UserProperties{{"jws", "h.p.s"}}));
  EXPECT_TRUE(broker.errors().empty());
  EXPECT_FALSE(session.Connect([](Status) {}).ok());  // FAILED_PRECONDITION while connected
}

TEST_F(LoopbackSessionTest, WakeupSignalsEveryQueuedCallback) {
  int wakes = 0;
  session.SetWakeup([&] { ++wakes; });
  ASSERT_TRUE(Connect().ok());
  EXPECT_EQ(wakes, 1);  // the CONNACK
  ASSERT_TRUE(session.Publish({"dt/a", "x", 0, {}}, [](Status) {}).ok());
  EXPECT_EQ(wakes, 2);  // QoS 0 hand-off, queued at once
  EXPECT_EQ(session.Dispatch(), 1u);
}

TEST_F(LoopbackSessionTest, ConnackRefusalsMapAsSessionHDocuments) {
  broker.QueueConnackReasons({0x87, 0x86, 0x9b, 0x88});
  EXPECT_EQ(Connect().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Connect().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Connect().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Connect().code(), StatusCode::kUnavailable);
  broker.FailHandshakes(1);
  EXPECT_EQ(Connect().code(), StatusCode::kUnauthenticated);  // closed before CONNACK
  broker.SetDown(true);
  EXPECT_EQ(Connect().code(), StatusCode::kUnavailable);  // TCP refused
  broker.SetDown(false);
  EXPECT_TRUE(Connect().ok());
}

TEST_F(LoopbackSessionTest, NoConnackTimesOutOnTheInjectedClockAndALateConnackIsStale) {
  broker.HoldConnacks(true);
  std::optional<Status> result;
  ASSERT_TRUE(session.Connect([&](Status s) { result = s; }).ok());
  session.Dispatch();
  clock.Advance(Micros(4'999'000));
  session.Dispatch();
  EXPECT_FALSE(result.has_value());
  clock.Advance(Micros(1'000));
  session.Dispatch();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(broker.held_connacks(), 1u);
  EXPECT_EQ(broker.ReleaseConnacks(), 0u);
  EXPECT_EQ(broker.stale_connacks(), 1u);
  EXPECT_EQ(session.Dispatch(), 0u);
  EXPECT_FALSE(session.IsConnected());
}

TEST_F(LoopbackSessionTest, DisconnectWhileConnectingCancelsOnce) {
  broker.HoldConnacks(true);
  int calls = 0;
  std::optional<Status> result;
  ASSERT_TRUE(session
                  .Connect([&](Status s) {
                    ++calls;
                    result = s;
                  })
                  .ok());
  session.Dispatch();
  session.Disconnect();
  session.Dispatch();
  broker.HoldConnacks(false);
  EXPECT_EQ(broker.ReleaseConnacks(), 0u);
  session.Dispatch();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result->code(), StatusCode::kCancelled);
}

TEST_F(LoopbackSessionTest, ADropFailsInFlightPublishesThenReportsTheLossAndTheWillIsPublished) {
  std::vector<std::string> events;
  session.OnConnectionLost([&](const std::string& cause) { events.push_back("lost: " + cause); });
  ASSERT_TRUE(Connect().ok());
  broker.HoldPubacks(true);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        session
            .Publish({"dt/a", std::to_string(i), 1, {}},
                     [&, i](Status s) { events.push_back(std::to_string(i) + ": " + StatusCodeName(s.code())); })
            .ok());
  }
  session.Dispatch();
  EXPECT_EQ(broker.held_pubacks(), 2u);
  broker.DropConnection();
  session.Dispatch();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], "0: UNAVAILABLE");
  EXPECT_EQ(events[1], "1: UNAVAILABLE");
  EXPECT_EQ(events[2].rfind("lost: ", 0), 0u);
  EXPECT_FALSE(session.IsConnected());
  EXPECT_EQ(broker.held_pubacks(), 0u);
  ASSERT_EQ(broker.wills_published().size(), 1u);
  EXPECT_EQ(broker.wills_published()[0].payload, "offline");
  EXPECT_FALSE(session.Publish({"dt/a", "", 1, {}}, [](Status) { ADD_FAILURE() << "done after UNAVAILABLE"; }).ok());
}

TEST_F(LoopbackSessionTest, CleanDisconnectFailsInFlightWithoutLossAndWithoutWill) {
  bool lost = false;
  session.OnConnectionLost([&](const std::string&) { lost = true; });
  ASSERT_TRUE(Connect().ok());
  broker.HoldPubacks(true);
  std::optional<Status> done;
  ASSERT_TRUE(session.Publish({"dt/a", "x", 1, {}}, [&](Status s) { done = s; }).ok());
  session.Disconnect();
  session.Dispatch();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->code(), StatusCode::kUnavailable);
  EXPECT_FALSE(lost);
  EXPECT_EQ(broker.Count(mqtt::PacketType::kDisconnect), 1u);
  EXPECT_TRUE(broker.wills_published().empty());
}

TEST_F(LoopbackSessionTest, PubackAndSubackRefusalsAndDeliveriesToSubscribers) {
  ASSERT_TRUE(Connect().ok());
  broker.SetPubackReason("dt/denied", 0x87);
  broker.SetSubackReason("$aws/denied", 0x87);
  std::vector<Status> results;
  auto record = [&](Status s) { results.push_back(s); };
  std::vector<std::string> got;
  ASSERT_TRUE(session.Publish({"dt/denied", "x", 1, {}}, record).ok());
  ASSERT_TRUE(session.Publish({"dt/ok", "x", 0, {}}, record).ok());
  ASSERT_TRUE(session
                  .Subscribe(
                      "$aws/denied", 1, [](const link::IncomingMessage&) {}, record)
                  .ok());
  ASSERT_TRUE(session
                  .Subscribe(
                      "$aws/things/thing-1/shadow/#", 1,
                      [&](const link::IncomingMessage& m) { got.push_back(m.topic + "=" + m.payload); }, record)
                  .ok());
  EXPECT_EQ(broker.Deliver({"$aws/things/thing-1/shadow/update/delta", "{}", 1, false, false, 0, {}}).code(),
            StatusCode::kNotFound);
  session.Dispatch();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].code(), StatusCode::kOk);  // QoS 0: done at hand-off, before the QoS 1 PUBACK is read
  EXPECT_EQ(results[1].code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(results[2].code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(results[3].code(), StatusCode::kOk);
  ASSERT_TRUE(broker.Deliver({"$aws/things/thing-1/shadow/update/delta", "{\"a\":1}", 1, false, false, 0, {}}).ok());
  EXPECT_TRUE(got.empty());
  session.Dispatch();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "$aws/things/thing-1/shadow/update/delta={\"a\":1}");
  broker.Pump();
  EXPECT_EQ(broker.client_pubacks(), 1u);
}

TEST_F(LoopbackSessionTest, KeepAliveSendsPingreqOnlyWhenIdleForTheInterval) {
  ASSERT_TRUE(Connect().ok());
  clock.Advance(Micros(29'000'000));
  session.Dispatch();
  EXPECT_EQ(broker.Count(mqtt::PacketType::kPingreq), 0u);
  clock.Advance(Micros(1'000'000));
  session.Dispatch();
  session.Dispatch();
  EXPECT_EQ(broker.Count(mqtt::PacketType::kPingreq), 1u);
}

TEST(TopicMatches, FollowsSection4_7) {
  EXPECT_TRUE(TopicMatches("a/#", "a"));
  EXPECT_TRUE(TopicMatches("a/#", "a/b/c"));
  EXPECT_TRUE(TopicMatches("a/+/c", "a/b/c"));
  EXPECT_TRUE(TopicMatches("+", "a"));
  EXPECT_TRUE(TopicMatches("a/+", "a/"));
  EXPECT_FALSE(TopicMatches("a/+", "a/b/c"));
  EXPECT_FALSE(TopicMatches("a/b", "a/bc"));
  EXPECT_FALSE(TopicMatches("a/b/c", "a/b"));
  EXPECT_FALSE(TopicMatches("+", "a/b"));
}

}  // namespace
}  // namespace edgeforge::testing
