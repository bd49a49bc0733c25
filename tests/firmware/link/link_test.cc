// Link over the in-process MQTT loopback (tests/support/loopback_session.h):
// real MQTT 5 bytes, a scripted broker, the real outbox on a SimAppendLog,
// ManualClock and SeededEntropy, so every schedule below is exact and every
// run the same (issue 9). Time moves only in RunUntil, to the instant Poll
// asks for, so "when" is asserted to the microsecond where the policy fixes it.
#include "firmware/link/link.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "firmware/link/outbox.h"
#include "hal/clock.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_append_log.h"
#include "tests/support/loopback_session.h"

namespace edgeforge::link {
namespace {

using testing::LoopbackBroker;
using testing::LoopbackSession;
namespace mqtt = testing::mqtt;

constexpr Micros kMs{1000};
constexpr Micros kSecond{1'000'000};

SessionConfig Config() {
  SessionConfig c;
  c.server_uri = "ssl://loopback:8883";
  c.client_id = "thing-1";
  c.keepalive_s = 1200;  // no PINGREQ noise within these tests
  c.connect_timeout = Millis(5000);
  return c;
}

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto outbox_or = Outbox::Open(std::make_unique<SimAppendLog>(), OutboxOptions{}, clock);
    ASSERT_TRUE(outbox_or.ok()) << outbox_or.status().ToString();
    outbox = std::move(*outbox_or);
  }

  void Make(LinkOptions options = {}) {
    options.log = [this](const std::string& line) { logs.push_back(line); };
    auto link_or = Link::Create(session, *outbox, clock, entropy, std::move(options));
    ASSERT_TRUE(link_or.ok()) << link_or.status().ToString();
    link = std::move(*link_or);
    link->set_delivery_observer([this](uint64_t seq, const Status& s) { outcomes[seq].push_back(s.code()); });
  }

  /// Polls, moving the clock to each time Poll asks for, until `t`. Records
  /// when each CONNECT and PUBLISH reached the broker.
  void RunUntil(Micros t) {
    while (true) {
      const Micros next = link->Poll();
      Observe();
      const Micros now = clock.Monotonic();
      if (now >= t) break;
      clock.AdvanceTo(std::min(std::max(next, now + Micros(1)), t));
    }
  }
  void RunFor(Micros d) { RunUntil(clock.Monotonic() + d); }

  void Observe() {
    broker.Pump();  // what Poll wrote reaches the broker now, at this time
    const auto& r = broker.received();
    for (; seen_ < r.size(); ++seen_) {
      const auto type = mqtt::TypeOf(r[seen_].packet);
      if (type == mqtt::PacketType::kConnect) connect_times.push_back(clock.Monotonic());
      if (type == mqtt::PacketType::kPublish) publish_times.push_back(clock.Monotonic());
    }
  }

  Status Send(uint64_t seq, const std::string& topic = "dt/app/site/thing-1/telemetry", size_t payload = 10) {
    OutgoingMessage m;
    m.topic = topic;
    m.payload = std::to_string(seq) + ":";
    m.payload.resize(std::max(payload, m.payload.size()), 'x');  // exactly `payload` bytes: the governor counts them
    m.qos = 1;
    return link->Send(Priority::kBulk, seq, m);
  }

  /// The seq each PUBLISH the broker received carried (payload "seq:...").
  std::vector<uint64_t> PublishedSeqs(size_t from = 0) const {
    std::vector<uint64_t> out;
    const auto all = broker.publishes();
    for (size_t i = from; i < all.size(); ++i) out.push_back(std::stoull(all[i].payload));
    return out;
  }

  size_t CountLogs(const std::string& needle) const {
    return static_cast<size_t>(std::count_if(
        logs.begin(), logs.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; }));
  }

  ManualClock clock;
  SeededEntropy entropy{7};
  LoopbackBroker broker;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Link> link;
  // Declared last: destroyed first (link.h: the session goes before the link).
  LoopbackSession session{broker, clock, Config()};
  std::vector<std::string> logs;
  std::map<uint64_t, std::vector<StatusCode>> outcomes;
  std::vector<Micros> connect_times;
  std::vector<Micros> publish_times;

 private:
  size_t seen_ = 0;
};

TEST_F(LinkTest, ConnectThenPublishesInSeqOrderAndEachPubackAcksTheOutbox) {
  Make();
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(Send(seq).ok());
  EXPECT_EQ(outbox->depth(), 3u);
  link->Start();
  RunFor(kSecond);
  EXPECT_EQ(link->state(), Link::State::kConnected);
  EXPECT_EQ(PublishedSeqs(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(outbox->depth(), 0u);
  const LinkStats s = link->stats();
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.delivered, 3u);
  EXPECT_EQ(s.republished, 0u);
  for (uint64_t seq = 1; seq <= 3; ++seq) EXPECT_EQ(outcomes[seq], std::vector<StatusCode>{StatusCode::kOk}) << seq;
  ASSERT_EQ(broker.Count(mqtt::PacketType::kConnect), 1u);
  EXPECT_EQ(std::get<mqtt::Connect>(broker.received()[0].packet).client_id, "thing-1");
  EXPECT_TRUE(broker.errors().empty());
}

TEST_F(LinkTest, ConnackNotAuthorizedGetsTheAuthorizationBackoffFloor) {
  Make();
  broker.QueueConnackReasons({0x87, 0x87});
  link->Start();
  RunFor(60 * kSecond);
  ASSERT_EQ(connect_times.size(), 3u);
  // The failure is seen one busy poll (10 ms) after the CONNECT. Attempt 0:
  // auth bound = max(auth_min 10 s, 8 x 1 s) = 10 s = the floor: exactly 10 s.
  EXPECT_EQ(connect_times[1] - connect_times[0], 10 * kMs + 10 * kSecond);
  // Attempt 1: bound max(10 s, 8 x 2 s) = 16 s, floor 10 s.
  const Micros second = connect_times[2] - connect_times[1] - 10 * kMs;
  EXPECT_GE(second, 10 * kSecond);
  EXPECT_LE(second, 16 * kSecond);
  EXPECT_EQ(link->state(), Link::State::kConnected);
  EXPECT_EQ(link->stats().connect_failures, 2u);
  EXPECT_EQ(CountLogs("authorization failure"), 2u);
}

TEST_F(LinkTest, ConnackBadCredentialsIsBelievedAtOnceLikeNotAuthorized) {
  // ClassifyFailure: "A CONNACK refusal comes from the broker itself:
  // believed at once". 0x86 arrives as UNAUTHENTICATED (session.h), the code
  // a TLS failure also has.
  Make();
  broker.QueueConnackReasons({0x86});
  link->Start();
  RunFor(60 * kSecond);
  ASSERT_EQ(connect_times.size(), 2u);
  EXPECT_EQ(connect_times[1] - connect_times[0], 10 * kMs + 10 * kSecond);
  EXPECT_EQ(CountLogs("authorization failure"), 1u);
}

TEST_F(LinkTest, ATlsFailureFirstRetriesAtTheNetworkPaceASecondInARowIsAnAuthorizationFailure) {
  Make();
  broker.FailHandshakes(2);  // closed before CONNACK: UNAUTHENTICATED (session.h)
  link->Start();
  RunFor(60 * kSecond);
  ASSERT_EQ(connect_times.size(), 3u);
  // First: network pace, attempt 0 bound 1 s with the 1 s CONNECT spacing floor.
  EXPECT_EQ(connect_times[1] - connect_times[0], 10 * kMs + kSecond);
  const Micros second = connect_times[2] - connect_times[1] - 10 * kMs;
  EXPECT_GE(second, 10 * kSecond);
  EXPECT_LE(second, 16 * kSecond);
  EXPECT_EQ(CountLogs("authorization failure"), 1u);
  EXPECT_EQ(link->state(), Link::State::kConnected);
}

TEST_F(LinkTest, ALostConnectionRepublishesInFlightMessagesInOrderNoneLostNoneAckedTwice) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  ASSERT_EQ(link->state(), Link::State::kConnected);
  broker.HoldPubacks(true);
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(Send(seq).ok());
  RunFor(100 * kMs);
  ASSERT_EQ(PublishedSeqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(broker.ReleasePubacks(2), 2u);
  RunFor(100 * kMs);
  EXPECT_EQ(link->stats().delivered, 2u);
  broker.DropConnection();  // PUBACKs for 3..5 are never sent
  broker.HoldPubacks(false);
  RunFor(5 * kSecond);
  ASSERT_EQ(broker.Count(mqtt::PacketType::kConnect), 2u);
  EXPECT_EQ(PublishedSeqs(5), (std::vector<uint64_t>{3, 4, 5}));
  const LinkStats s = link->stats();
  EXPECT_EQ(s.connections_lost, 1u);
  EXPECT_EQ(s.reconnects, 1u);
  EXPECT_EQ(s.delivered, 5u);
  EXPECT_EQ(s.republished, 3u);
  EXPECT_EQ(outbox->depth(), 0u);
  for (uint64_t seq = 1; seq <= 2; ++seq) EXPECT_EQ(outcomes[seq], std::vector<StatusCode>{StatusCode::kOk}) << seq;
  for (uint64_t seq = 3; seq <= 5; ++seq) {
    EXPECT_EQ(outcomes[seq], (std::vector<StatusCode>{StatusCode::kUnavailable, StatusCode::kOk})) << seq;
  }
  EXPECT_EQ(CountLogs("link: connected (reconnect 1)"), 1u);
}

TEST_F(LinkTest, PubackNotAuthorizedRemovesCountsAndLogsOncePerTopicAndEpisode) {
  Make();
  broker.SetPubackReason("dt/denied", 0x87);
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(Send(seq, "dt/denied").ok());
  ASSERT_TRUE(Send(4, "dt/ok").ok());
  link->Start();
  RunFor(kSecond);
  LinkStats s = link->stats();
  EXPECT_EQ(s.rejected, 3u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.republished, 0u);
  EXPECT_EQ(outbox->depth(), 0u);
  EXPECT_EQ(PublishedSeqs(), (std::vector<uint64_t>{1, 2, 3, 4}));  // each sent once, never retried
  EXPECT_EQ(outcomes[2], std::vector<StatusCode>{StatusCode::kPermissionDenied});
  EXPECT_EQ(CountLogs("publish to dt/denied refused"), 1u);
  EXPECT_EQ(outbox->stats().dropped[static_cast<size_t>(Priority::kBulk)], 0u);  // refused is not dropped

  // A new connection starts a new episode: logged once more.
  broker.DropConnection();
  RunFor(5 * kSecond);
  ASSERT_EQ(link->state(), Link::State::kConnected);
  ASSERT_TRUE(Send(5, "dt/denied").ok());
  ASSERT_TRUE(Send(6, "dt/denied").ok());
  RunFor(kSecond);
  EXPECT_EQ(link->stats().rejected, 5u);
  EXPECT_EQ(CountLogs("publish to dt/denied refused"), 2u);
}

TEST_F(LinkTest, ASuccessfulPublishToTheTopicEndsItsRefusalEpisode) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  broker.SetPubackReason("dt/flaky", 0x87);
  ASSERT_TRUE(Send(1, "dt/flaky").ok());
  ASSERT_TRUE(Send(2, "dt/flaky").ok());
  RunFor(kSecond);
  EXPECT_EQ(CountLogs("publish to dt/flaky refused"), 1u);
  broker.SetPubackReason("dt/flaky", 0);  // the policy was fixed
  ASSERT_TRUE(Send(3, "dt/flaky").ok());
  RunFor(kSecond);
  broker.SetPubackReason("dt/flaky", 0x87);  // and broken again: a new episode, logged again
  ASSERT_TRUE(Send(4, "dt/flaky").ok());
  RunFor(kSecond);
  EXPECT_EQ(CountLogs("publish to dt/flaky refused"), 2u);
  EXPECT_EQ(link->stats().rejected, 3u);
  EXPECT_EQ(link->stats().delivered, 1u);
  EXPECT_EQ(link->stats().connects, 1u);  // same connection throughout
}

TEST_F(LinkTest, AConnackForAnAttemptAbandonedByStopIsIgnored) {
  Make();
  broker.HoldConnacks(true);
  link->Start();
  RunFor(100 * kMs);
  ASSERT_EQ(link->state(), Link::State::kConnecting);
  ASSERT_TRUE(link->Stop(Millis(0)).ok());
  EXPECT_EQ(link->state(), Link::State::kIdle);
  // The broker answers the abandoned attempt late: an accepting CONNACK.
  broker.HoldConnacks(false);
  EXPECT_EQ(broker.ReleaseConnacks(), 0u);
  EXPECT_EQ(broker.stale_connacks(), 1u);
  RunFor(kSecond);
  EXPECT_EQ(link->state(), Link::State::kIdle);
  EXPECT_EQ(link->stats().connects, 0u);

  link->Start();
  ASSERT_TRUE(Send(1).ok());
  RunFor(kSecond);
  EXPECT_EQ(link->state(), Link::State::kConnected);
  const LinkStats s = link->stats();
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.reconnects, 0u);
  EXPECT_EQ(s.connect_failures, 0u);  // the cancelled attempt is not a failure
  EXPECT_EQ(s.delivered, 1u);
}

TEST_F(LinkTest, NoConnackWithinTheTimeoutIsAFailureAndTheLateConnackGoesNowhere) {
  Make();
  broker.HoldConnacks(true);
  link->Start();
  RunFor(5 * kSecond + 20 * kMs);
  EXPECT_EQ(link->stats().connect_failures, 1u);
  EXPECT_NE(link->stats().last_error.find("DEADLINE_EXCEEDED"), std::string::npos) << link->stats().last_error;
  broker.HoldConnacks(false);
  EXPECT_EQ(broker.ReleaseConnacks(), 0u);  // its connection was closed by the session
  RunFor(5 * kSecond);
  EXPECT_EQ(link->state(), Link::State::kConnected);
  EXPECT_EQ(broker.Count(mqtt::PacketType::kConnect), 2u);
  EXPECT_EQ(link->stats().connects, 1u);
}

TEST_F(LinkTest, TheGovernorPacesPublishesOnTheClock) {
  LinkOptions o;
  o.governor.publishes_per_s = 10;
  o.governor.publish_burst = 1;
  Make(o);
  for (uint64_t seq = 1; seq <= 25; ++seq) ASSERT_TRUE(Send(seq).ok());
  link->Start();
  RunFor(2 * kSecond);
  ASSERT_GE(publish_times.size(), 2u);
  // One token per 100 ms, bucket depth 1: publishes exactly 100 ms apart.
  for (size_t i = 1; i < publish_times.size(); ++i) {
    EXPECT_EQ(publish_times[i] - publish_times[i - 1], 100 * kMs) << i;
  }
  const Micros span = clock.Monotonic() - publish_times.front();
  EXPECT_EQ(publish_times.size(), static_cast<size_t>(1 + span / (100 * kMs)));
  EXPECT_LT(publish_times.size(), 25u);
  EXPECT_EQ(PublishedSeqs().front(), 1u);
}

TEST_F(LinkTest, TheGovernorPacesBytesOnTheClock) {
  LinkOptions o;
  o.governor.bytes_per_s = 2000;
  o.governor.byte_burst = 2000;
  Make(o);
  const std::string topic = "dt/t";
  for (uint64_t seq = 1; seq <= 20; ++seq) ASSERT_TRUE(Send(seq, topic, 496).ok());  // MessageBytes 4 + 496 = 500
  link->Start();
  RunFor(3 * kSecond);
  // Full bucket (2000 bytes = 4 messages), then 2000 bytes/s = one per 250 ms.
  const Micros first = publish_times.front();
  size_t in_first_instant = 0;
  for (Micros t : publish_times) in_first_instant += t == first ? 1 : 0;
  EXPECT_EQ(in_first_instant, 4u);
  for (size_t i = 5; i < publish_times.size(); ++i) EXPECT_EQ(publish_times[i] - publish_times[i - 1], 250 * kMs) << i;
  const Micros span = clock.Monotonic() - first;
  EXPECT_EQ(publish_times.size(), static_cast<size_t>(4 + span / (250 * kMs)));
}

TEST_F(LinkTest, AtMostMaxInFlightPublishesAwaitAPuback) {
  LinkOptions o;
  o.max_in_flight = 3;
  Make(o);
  broker.HoldPubacks(true);
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(Send(seq).ok());
  link->Start();
  RunFor(kSecond);
  EXPECT_EQ(broker.publishes().size(), 3u);
  size_t released = 0;
  while (released < 10) {
    released += broker.ReleasePubacks(1);
    RunFor(50 * kMs);
    EXPECT_LE(broker.publishes().size(), released + 3);
    EXPECT_EQ(broker.publishes().size(), std::min<size_t>(released + 3, 10));
  }
  EXPECT_EQ(PublishedSeqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(link->stats().delivered, 10u);
}

TEST_F(LinkTest, SubscribesAfterEveryConnectAndDeliversOnPoll) {
  Make();
  const std::string filter = "$aws/things/thing-1/shadow/update/delta";
  std::vector<std::string> got;
  link->Subscribe(filter, 1, [&](const IncomingMessage& m) { got.push_back(m.payload); });
  link->Start();
  RunFor(100 * kMs);
  EXPECT_EQ(broker.Count(mqtt::PacketType::kSubscribe), 1u);
  ASSERT_TRUE(broker.Deliver({filter, "{\"state\":{\"a\":1}}", 1, false, false, 0, {}}).ok());
  EXPECT_TRUE(got.empty());  // nothing moves until the device thread polls
  RunFor(100 * kMs);
  EXPECT_EQ(got, std::vector<std::string>{"{\"state\":{\"a\":1}}"});

  broker.DropConnection();
  RunFor(5 * kSecond);
  ASSERT_EQ(link->stats().reconnects, 1u);
  EXPECT_EQ(broker.Count(mqtt::PacketType::kSubscribe), 2u);  // clean start: subscribed again
  ASSERT_TRUE(broker.Deliver({filter, "2", 1, false, false, 0, {}}).ok());
  RunFor(100 * kMs);
  EXPECT_EQ(got.size(), 2u);
}

TEST_F(LinkTest, ASubackRefusalIsNotIgnored) {
  Make();
  const std::string filter = "$aws/things/thing-1/shadow/update/delta";
  link->Subscribe(filter, 1, [](const IncomingMessage&) {});
  broker.SetSubackReason(filter, 0x87);
  link->Start();
  RunFor(30 * kSecond);
  // Connected without its subscription would miss every shadow delta: the
  // link gives the connection up, says why, and tries again.
  EXPECT_GE(broker.Count(mqtt::PacketType::kSubscribe), 2u);
  EXPECT_GE(broker.Count(mqtt::PacketType::kConnect), 2u);
  EXPECT_NE(link->stats().last_error.find(filter), std::string::npos) << link->stats().last_error;
  EXPECT_GE(link->stats().connect_failures,
            1u);  // the attempt failed (link.cc: connected at CONNACK, failed at SUBACK)
  broker.SetSubackReason(filter, 0x01);
  RunFor(130 * kSecond);
  EXPECT_EQ(link->state(), Link::State::kConnected);
}

TEST_F(LinkTest, StopDrainsWhatThePubacksAllowThenDisconnects) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(Send(seq).ok());
  ASSERT_TRUE(link->Stop(Millis(2000)).ok());
  EXPECT_EQ(link->state(), Link::State::kIdle);
  EXPECT_EQ(link->stats().delivered, 5u);
  EXPECT_EQ(outbox->depth(), 0u);
  broker.Pump();
  EXPECT_EQ(broker.Count(mqtt::PacketType::kDisconnect), 1u);
  EXPECT_TRUE(broker.wills_published().empty());
}

TEST_F(LinkTest, StopWithPubacksWithheldKeepsTheMessagesQueued) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  broker.HoldPubacks(true);
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(Send(seq).ok());
  const Micros before = clock.Monotonic();
  ASSERT_TRUE(link->Stop(Millis(500)).ok());
  EXPECT_GE(clock.Monotonic() - before, 500 * kMs);  // it waited its timeout on the clock
  EXPECT_EQ(link->stats().delivered, 0u);
  EXPECT_EQ(outbox->depth(), 3u);  // nothing lost: queued for the next start
  EXPECT_EQ(outbox->stats().in_flight, 0u);
}

}  // namespace
}  // namespace edgeforge::link

namespace edgeforge::link {
namespace {

// Two devices with one identity: each CONNECT takes the session from the
// other (DISCONNECT 0x8E). At the network pace they would take it back within
// a second or two, for ever; the identity conflict gets the authorization
// backoff instead (>= 10 s, growing), is counted and says what it means.
TEST_F(LinkTest, ASessionTakenOverBacksOffAtLeastTenSecondsEachTimeAndSaysWhy) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  ASSERT_EQ(link->state(), Link::State::kConnected);
  std::vector<Micros> kicks;
  for (int i = 0; i < 3; ++i) {
    broker.SendDisconnect(0x8E);
    kicks.push_back(clock.Monotonic());
    const size_t connects = connect_times.size();
    for (int guard = 0; guard < 2000 && connect_times.size() == connects; ++guard) RunFor(100 * kMs);
    ASSERT_EQ(connect_times.size(), connects + 1) << "no reconnect after kick " << i;
    RunFor(100 * kMs);
    ASSERT_EQ(link->state(), Link::State::kConnected);
  }
  for (size_t i = 0; i < kicks.size(); ++i) {
    EXPECT_GE(connect_times[i + 1] - kicks[i], 10 * kSecond) << "kick " << i;
  }
  // The bound grows with the attempt (the connection never stayed up 60 s).
  EXPECT_LE(connect_times[1] - kicks[0], 10 * kSecond + 200 * kMs);
  EXPECT_EQ(link->stats().taken_over, 3u);
  EXPECT_EQ(link->stats().connections_lost, 3u);
  EXPECT_EQ(CountLogs("identity conflict, next attempt in"), 3u);
  EXPECT_EQ(CountLogs("two devices may share this identity"), 3u);
}

TEST_F(LinkTest, AConnectionDroppedWithoutATakeoverStillReconnectsAtTheNetworkPace) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  broker.DropConnection();
  RunFor(3 * kSecond);
  EXPECT_EQ(connect_times.size(), 2u);
  EXPECT_EQ(link->stats().taken_over, 0u);
  EXPECT_EQ(CountLogs("identity conflict"), 0u);
}

}  // namespace
}  // namespace edgeforge::link

namespace edgeforge::link {
namespace {

// A broker that ends the older connection without DISCONNECT 0x8E (mosquitto
// 2.0): the device learns of the other instance elsewhere (its shadow) and
// says so; from then on its lost connections are identity conflicts, until
// one stays up for stable_after.
TEST_F(LinkTest, ANotedIdentityConflictMakesLossesWaitTheConflictBackoffUntilAConnectionIsStable) {
  Make();
  link->Start();
  RunFor(100 * kMs);
  link->NoteIdentityConflict("shadow reported by instance 2-17 since 1700000000000");
  link->NoteIdentityConflict("again");  // logged once per episode, counted each time
  EXPECT_EQ(CountLogs("link: identity conflict: shadow reported by instance 2-17"), 1u);
  EXPECT_EQ(link->stats().identity_conflicts, 2u);
  broker.DropConnection();
  const Micros dropped = clock.Monotonic();
  RunFor(30 * kSecond);
  ASSERT_EQ(connect_times.size(), 2u);
  EXPECT_GE(connect_times[1] - dropped, 10 * kSecond);
  EXPECT_EQ(CountLogs("identity conflict, next attempt in"), 1u);
  EXPECT_EQ(link->stats().taken_over, 0u);  // no DISCONNECT 0x8E came
  // Up for longer than stable_after (60 s): the conflict is over; a drop is a network loss again.
  RunFor(61 * kSecond);
  broker.DropConnection();
  const Micros again = clock.Monotonic();
  RunFor(5 * kSecond);
  ASSERT_EQ(connect_times.size(), 3u);
  EXPECT_LT(connect_times[2] - again, 2 * kSecond);
  EXPECT_EQ(CountLogs("identity conflict, next attempt in"), 1u);
}

}  // namespace
}  // namespace edgeforge::link
