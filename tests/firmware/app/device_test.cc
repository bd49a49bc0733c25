// Device over the in-process MQTT loopback (tests/support/loopback_session.h):
// what the broker decodes from real MQTT 5 bytes is compared with the
// device's own counters. ManualClock, SeededEntropy, the real outbox on a
// SimAppendLog: deterministic (issue 9).
#include "firmware/app/device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "firmware/board/builtin.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/pipeline/pipeline.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_append_log.h"
#include "sim/models/bme280_model.h"
#include "tests/support/bare_buses.h"
#include "tests/support/loopback_session.h"

namespace edgeforge::app {
namespace {

using testing::LoopbackBroker;
using testing::LoopbackSession;
namespace mqtt = testing::mqtt;

constexpr const char* kJws = "e30..c2ln";

class FakeSigner final : public jws::Signer {
 public:
  FakeSigner() : Signer(jws::Backend::kMbedTls, jws::EcP256PublicKey{}) {}

 private:
  Result<std::string> DoSign(std::string_view) override { return std::string(kJws); }
};

class ConstSource final : public pipeline::SensorSource {
 public:
  explicit ConstSource(double celsius) : pipeline::SensorSource("env0"), celsius_(celsius) {}

 private:
  Status DoInit() override { return Status::Ok(); }
  Status DoSample(std::vector<telemetry::Reading>& out) override {
    out.push_back(telemetry::Reading{"temperature", celsius_, "Cel", "", telemetry::Aggregation::kMean});
    return Status::Ok();
  }
  double celsius_;
};

link::SessionConfig Config(const std::string& thing) {
  link::SessionConfig c;
  c.server_uri = "ssl://loopback:8883";
  c.client_id = thing;
  c.keepalive_s = 1200;
  return c;
}

/// The loopback, an outbox and a link for one device.
struct Stack {
  ManualClock clock;
  SeededEntropy entropy{3};
  LoopbackBroker broker;
  std::unique_ptr<link::Outbox> outbox;
  std::unique_ptr<link::Link> link;
  LoopbackSession session{broker, clock, Config("dev-1")};  // declared last: destroyed first

  explicit Stack(link::OutboxOptions outbox_options = {}) {
    auto o = link::Outbox::Open(std::make_unique<SimAppendLog>(), outbox_options, clock);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    outbox = std::move(*o);
    auto l = link::Link::Create(session, *outbox, clock, entropy, link::LinkOptions{});
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    link = std::move(*l);
  }

  /// Steps `device` every 100 ms of the clock for `d`.
  void Run(Device& device, Micros d) {
    const Micros end = clock.Monotonic() + d;
    while (clock.Monotonic() < end) {
      clock.Advance(Millis(100));
      (void)device.Step();
    }
  }

  std::vector<mqtt::Publish> PublishesTo(const std::string& topic) const {
    std::vector<mqtt::Publish> out;
    for (const auto& p : broker.publishes()) {
      if (p.topic == topic) out.push_back(p);
    }
    return out;
  }
};

uint64_t SeqOf(const mqtt::Publish& p) { return nlohmann::json::parse(p.payload).at("seq").get<uint64_t>(); }

TEST(DeviceTest, TelemetryAndAlarmsGoToTheirTopicsSignedAndTheCountersMatchTheBroker) {
  Stack s;
  MemoryStorage state;
  ConstSource source(30.0);
  pipeline::AlarmRule hot;
  hot.channel = "temperature";
  hot.threshold = 25;
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {hot});
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  opts.site = "hall-2";
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());
  EXPECT_EQ(device.telemetry_topic(), "dt/edgeforge/hall-2/dev-1/telemetry");
  EXPECT_EQ(device.alarm_topic(), "dt/edgeforge/hall-2/dev-1/alarm");
  s.Run(device, Micros(5'000'000));

  const auto telemetry = s.PublishesTo(device.telemetry_topic());
  const auto alarms = s.PublishesTo(device.alarm_topic());
  ASSERT_GE(telemetry.size(), 4u);
  ASSERT_EQ(alarms.size(), 1u);  // raised once, stays raised
  for (const auto& p : s.broker.publishes()) {
    EXPECT_EQ(p.qos, 1) << p.topic;
    EXPECT_EQ(p.user_properties, (mqtt::UserProperties{{"jws", kJws}})) << p.topic;
  }
  EXPECT_NE(alarms[0].payload.find("\"temperature\""), std::string::npos) << alarms[0].payload;
  const DeviceCounters c = device.counters();
  EXPECT_EQ(c.alarms, 1u);
  EXPECT_EQ(c.reports, telemetry.size());
  EXPECT_EQ(c.delivered, s.broker.publishes().size());
  EXPECT_EQ(c.refused, 0u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_TRUE(s.broker.errors().empty());
}

TEST(DeviceTest, RefusedPublishesAreCountedAsRefusedNotDelivered) {
  Stack s;
  MemoryStorage state;
  ConstSource source(30.0);
  pipeline::AlarmRule hot;
  hot.channel = "temperature";
  hot.threshold = 25;
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {hot});
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());                          // sets the topics; nothing is sent before Step
  s.broker.SetPubackReason(device.telemetry_topic(), 0x87);  // the policy lacks the telemetry topic
  s.Run(device, Micros(5'000'000));
  const size_t refused_on_wire = s.PublishesTo(device.telemetry_topic()).size();
  ASSERT_GE(refused_on_wire, 4u);
  const DeviceCounters c = device.counters();
  EXPECT_EQ(c.refused, refused_on_wire);
  EXPECT_EQ(c.delivered, s.PublishesTo(device.alarm_topic()).size());
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
}

TEST(DeviceTest, OfflineItStoresThenForwardsInSeqOrderAfterReconnecting) {
  Stack s;
  MemoryStorage state;
  ConstSource source(20.0);
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  s.broker.SetDown(true);
  ASSERT_TRUE(device.Start().ok());
  s.Run(device, Micros(10'000'000));
  EXPECT_TRUE(s.broker.publishes().empty());
  const uint64_t stored = device.counters().queued;
  ASSERT_GE(stored, 9u);
  EXPECT_EQ(device.counters().reports, stored);

  s.broker.SetDown(false);
  s.Run(device, Micros(30'000'000));  // the backoff after several failed attempts is well under 30 s
  const auto telemetry = s.PublishesTo(device.telemetry_topic());
  ASSERT_GT(telemetry.size(), stored);
  for (size_t i = 1; i < telemetry.size(); ++i) EXPECT_EQ(SeqOf(telemetry[i]), SeqOf(telemetry[i - 1]) + 1) << i;
  const DeviceCounters c = device.counters();
  EXPECT_EQ(c.delivered, telemetry.size());
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_LE(c.queued, 1u);  // at most the window just closed
}

TEST(DeviceTest, DropsByTheOutboxBoundAreCountedAndEveryReportIsDeliveredDroppedOrQueued) {
  link::OutboxOptions small;
  small.max_bytes = 1500;  // a few telemetry reports
  Stack s(small);
  MemoryStorage state;
  ConstSource source(20.0);
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  s.broker.SetDown(true);
  ASSERT_TRUE(device.Start().ok());
  s.Run(device, Micros(20'000'000));
  const DeviceCounters offline = device.counters();
  ASSERT_GT(offline.dropped, 0u);
  ASSERT_GT(offline.queued, 0u);
  EXPECT_EQ(offline.dropped + offline.queued, offline.reports);

  s.broker.SetDown(false);
  s.Run(device, Micros(30'000'000));
  const DeviceCounters c = device.counters();
  const auto telemetry = s.PublishesTo(device.telemetry_topic());
  EXPECT_EQ(c.delivered, telemetry.size());
  EXPECT_GE(c.dropped, offline.dropped);  // more while the reconnect backoff runs out
  EXPECT_EQ(c.delivered + c.dropped + c.queued, c.reports);
  // Bulk is dropped oldest first: the broker got the newest reports of the
  // offline time, in order, and then every later one.
  for (size_t i = 1; i < telemetry.size(); ++i) EXPECT_LT(SeqOf(telemetry[i - 1]), SeqOf(telemetry[i])) << i;
  std::set<uint64_t> seen;
  for (const auto& p : telemetry) seen.insert(SeqOf(p));
  EXPECT_EQ(seen.size(), telemetry.size());  // none twice
}

// --- Signing-key rotation (docs/telemetry.md "Signing-key rotation") ---------

std::unique_ptr<jws::Signer> RealSigner() {
  auto pem = jws::GenerateSigningKeyPem();
  EXPECT_TRUE(pem.ok()) << pem.status().ToString();
  auto signer = jws::MakeSigner(jws::Backend::kMbedTls, *pem);
  EXPECT_TRUE(signer.ok()) << signer.status().ToString();
  return std::move(*signer);
}

/// The kid in a publish's JWS header.
std::string KidOf(const mqtt::Publish& p) {
  for (const auto& [name, value] : p.user_properties) {
    if (name != "jws") continue;
    auto h = jws::ParseHeader(value);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? h->kid : "";
  }
  return "";
}

/// The kid a telemetry window announces in status.next_key, or "".
std::string AnnouncedKid(const mqtt::Publish& p) {
  const auto j = nlohmann::json::parse(p.payload);
  if (!j.contains("status") || !j["status"].contains("next_key")) return "";
  return j["status"]["next_key"]["kid"].get<std::string>();
}

TEST(DeviceTest, RotationAnnouncesTheNewKeyWithTheOldAndSwitchesOnlyOnItsPuback) {
  Stack s;
  MemoryStorage state;
  ConstSource source(30.0);
  pipeline::AlarmRule hot;
  hot.channel = "temperature";
  hot.threshold = 25;
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {hot});
  auto old_key = RealSigner();
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, *old_key, *s.link, pipe);
  EXPECT_EQ(device.RotateSigningKey().code(), StatusCode::kFailedPrecondition) << "before Start";
  ASSERT_TRUE(device.Start().ok());
  std::vector<std::pair<std::string, std::string>> taken_over;  // (kid, pem) per switch
  device.set_key_rotation_observer(
      [&](const std::string& kid, const std::string& pem) { taken_over.emplace_back(kid, pem); });
  s.Run(device, Micros(2'000'000));

  // The broker holds its PUBACKs: the device keeps signing with the old key
  // and announces the new one in every window meanwhile.
  s.broker.HoldPubacks(true);
  ASSERT_TRUE(device.RotateSigningKey().ok());
  const std::string new_kid = device.pending_kid();
  ASSERT_FALSE(new_kid.empty());
  EXPECT_NE(new_kid, old_key->kid());
  EXPECT_EQ(device.RotateSigningKey().code(), StatusCode::kFailedPrecondition) << "one rotation at a time";
  s.Run(device, Micros(3'000'000));
  EXPECT_EQ(device.signing_kid(), old_key->kid());
  EXPECT_TRUE(taken_over.empty());
  s.broker.HoldPubacks(false);
  s.broker.ReleasePubacks();
  s.Run(device, Micros(3'000'000));
  EXPECT_EQ(device.signing_kid(), new_kid);
  EXPECT_EQ(device.pending_kid(), "");
  EXPECT_EQ(device.counters().key_rotations, 1u);
  ASSERT_EQ(taken_over.size(), 1u);
  EXPECT_EQ(taken_over[0].first, new_kid);
  auto pub = jws::PublicKeyFromPem(taken_over[0].second);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(jws::Thumbprint(*pub), new_kid) << "the owner gets the key it must keep for the next start";

  // On the wire: old-key messages, some announcing the new key, then only
  // new-key messages, every one verifying under the key its kid names.
  auto verifier = jws::MakeVerifier(jws::Backend::kOpenSsl);
  uint64_t last_old_seq = 0, first_new_seq = UINT64_MAX, announcing = 0, old_signed = 0, new_signed = 0;
  for (const auto& p : s.broker.publishes()) {
    if (p.topic != device.telemetry_topic() && p.topic != device.alarm_topic()) continue;
    const std::string kid = KidOf(p);
    const bool old = kid == old_key->kid();
    ASSERT_TRUE(old || kid == new_kid) << kid;
    const std::string& compact = p.user_properties[0].second;
    EXPECT_TRUE(verifier->Verify(compact, p.payload, old ? old_key->public_key() : *pub).ok()) << p.payload;
    if (p.topic == device.telemetry_topic() && !AnnouncedKid(p).empty()) {
      EXPECT_EQ(AnnouncedKid(p), new_kid);
      EXPECT_TRUE(old) << "announced with the old key, never the new one";
      ++announcing;
    }
    if (old) {
      last_old_seq = std::max(last_old_seq, SeqOf(p));
      ++old_signed;
    } else {
      first_new_seq = std::min(first_new_seq, SeqOf(p));
      ++new_signed;
    }
  }
  EXPECT_GE(announcing, 3u) << "one per window while the PUBACKs were held";
  EXPECT_GT(old_signed, 0u);
  EXPECT_GT(new_signed, 0u);
  EXPECT_LT(last_old_seq, first_new_seq) << "the key changes once, at one seq";
  EXPECT_EQ(device.counters().dropped, 0u);
}

TEST(DeviceTest, ARotationWhoseAnnouncementsAreRefusedKeepsTheOldKey) {
  Stack s;
  MemoryStorage state;
  ConstSource source(20.0);
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  auto old_key = RealSigner();
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, *old_key, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());
  s.broker.SetPubackReason(device.telemetry_topic(), 0x87);  // a policy that refuses the windows
  ASSERT_TRUE(device.RotateSigningKey().ok());
  s.Run(device, Micros(4'000'000));
  EXPECT_GE(device.counters().refused, 3u);
  EXPECT_EQ(device.signing_kid(), old_key->kid()) << "no verifier could have learned the new key";
  EXPECT_FALSE(device.pending_kid().empty());
  EXPECT_EQ(device.counters().key_rotations, 0u);
  EXPECT_EQ(device.RotateSigningKey().code(), StatusCode::kFailedPrecondition) << "still pending";
}

TEST(DeviceTest, RotatingToTheKeyInUseOrToGarbageIsRefused) {
  Stack s;
  MemoryStorage state;
  ConstSource source(20.0);
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  auto pem = jws::GenerateSigningKeyPem();
  ASSERT_TRUE(pem.ok());
  auto key = jws::MakeSigner(jws::Backend::kMbedTls, *pem);
  ASSERT_TRUE(key.ok());
  DeviceOptions opts;
  opts.thing = "dev-1";
  Device device(opts, s.clock, state, **key, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());
  EXPECT_EQ(device.RotateSigningKey(*pem).code(), StatusCode::kInvalidArgument);
  const Status garbage =
      device.RotateSigningKey("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
  EXPECT_EQ(garbage.code(), StatusCode::kInvalidArgument) << garbage.ToString();
  EXPECT_EQ(garbage.message().find("AAAA"), std::string::npos) << "key text never goes into an error";
  EXPECT_EQ(device.pending_kid(), "");
}

board::Board FactoryBoard() {
  auto b = board::LoadBoardSpec("factory-node");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : board::Board{};
}

TEST(DeviceTest, AShadowDeltaIsAppliedOnTheDeviceThreadAndReported) {
  Stack s;
  testing_support::BareBuses buses(s.clock);
  Bme280Model env;
  env.SetAmbient(23.0, 100000, 40);
  ASSERT_TRUE(buses.i2c("i2c1").Attach(0x76, env).ok());
  const board::Board board = FactoryBoard();
  auto node = BuildNode(board, buses, s.clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  pipeline::Pipeline pipe((*node)->Slots(), (*node)->report_period(), (*node)->alarm_rules());
  MemoryStorage state;
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  opts.board = &(*node)->board();
  opts.node = node->get();
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());
  s.Run(device, Micros(2'000'000));
  const std::string delta_topic = "$aws/things/dev-1/shadow/update/delta";
  ASSERT_EQ(s.broker.Count(mqtt::PacketType::kSubscribe), 2u);  // update/delta and get/accepted
  const auto& sub = std::get<mqtt::Subscribe>(
      std::find_if(s.broker.received().begin(), s.broker.received().end(), [](const LoopbackBroker::Received& r) {
        return mqtt::TypeOf(r.packet) == mqtt::PacketType::kSubscribe;
      })->packet);
  EXPECT_EQ(sub.filters.at(0).filter, delta_topic);
  const size_t reports_before = s.PublishesTo("$aws/things/dev-1/shadow/update").size();
  EXPECT_GE(reports_before, 1u);  // the state reported at start
  ASSERT_NE(device.config(), nullptr);
  ASSERT_NE(device.config()->sample_ms.at("env0"), 250u);

  mqtt::Publish delta;
  delta.topic = delta_topic;
  delta.qos = 1;
  delta.payload = R"({"version":12,"timestamp":1700000010,"state":{"config":{"sample_ms":{"env0":250}}},)"
                  R"("metadata":{"config":{"sample_ms":{"env0":{"timestamp":1700000010}}}}})";
  ASSERT_TRUE(s.broker.Deliver(delta).ok());
  EXPECT_NE(device.config()->sample_ms.at("env0"), 250u);  // the bytes wait for the device's own Step
  // Step 1's Poll dispatches the delta to the link's handler (queued for the
  // device); step 2 applies it first thing, before sampling.
  for (int step = 0; step < 2; ++step) {
    s.clock.Advance(Millis(100));
    (void)device.Step();
  }
  EXPECT_EQ(device.config()->sample_ms.at("env0"), 250u);
  EXPECT_EQ(device.config()->version, 12u);
  s.Run(device, Micros(1'000'000));
  const auto reports = s.PublishesTo("$aws/things/dev-1/shadow/update");
  ASSERT_GT(reports.size(), reports_before);
  EXPECT_NE(reports.back().payload.find("\"env0\":250"), std::string::npos) << reports.back().payload;
  EXPECT_EQ(s.broker.client_pubacks(), 1u);  // the QoS 1 delta was acknowledged
  EXPECT_EQ(device.counters().shadow_reports, reports.size());
}

// Issue 10: "Devices then fetch their desired state on connect (/shadow/get)
// as on IoT Core" ("Interacting with shadows"): one get per connection, sent
// after the SUBSCRIBE to get/accepted, and the delta in get/accepted is
// applied like an update/delta.
TEST(DeviceTest, EachConnectionFetchesTheShadowAndAppliesItsDelta) {
  Stack s;
  testing_support::BareBuses buses(s.clock);
  Bme280Model env;
  env.SetAmbient(23.0, 100000, 40);
  ASSERT_TRUE(buses.i2c("i2c1").Attach(0x76, env).ok());
  const board::Board board = FactoryBoard();
  auto node = BuildNode(board, buses, s.clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  pipeline::Pipeline pipe((*node)->Slots(), (*node)->report_period(), (*node)->alarm_rules());
  MemoryStorage state;
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  opts.board = &(*node)->board();
  opts.node = node->get();
  Device device(opts, s.clock, state, signer, *s.link, pipe);
  ASSERT_TRUE(device.Start().ok());
  s.Run(device, Micros(2'000'000));
  const std::string get_topic = "$aws/things/dev-1/shadow/get";
  ASSERT_EQ(s.PublishesTo(get_topic).size(), 1u) << "no /shadow/get after connecting";
  EXPECT_EQ(device.counters().shadow_gets, 1u);
  // The SUBSCRIBE to get/accepted reached the broker before the get.
  size_t sub_at = SIZE_MAX, get_at = SIZE_MAX;
  for (size_t i = 0; i < s.broker.received().size(); ++i) {
    const auto& p = s.broker.received()[i].packet;
    if (mqtt::TypeOf(p) == mqtt::PacketType::kSubscribe &&
        std::get<mqtt::Subscribe>(p).filters.at(0).filter == get_topic + "/accepted") {
      sub_at = std::min(sub_at, i);
    }
    if (mqtt::TypeOf(p) == mqtt::PacketType::kPublish && std::get<mqtt::Publish>(p).topic == get_topic) {
      get_at = std::min(get_at, i);
    }
  }
  ASSERT_NE(sub_at, SIZE_MAX);
  EXPECT_LT(sub_at, get_at);

  // The service's answer: desired set while the device was away.
  mqtt::Publish accepted;
  accepted.topic = get_topic + "/accepted";
  accepted.qos = 1;
  accepted.payload = R"({"state":{"desired":{"config":{"sample_ms":{"env0":250}}},)"
                     R"("delta":{"config":{"sample_ms":{"env0":250}}}},"metadata":{},"version":7,"timestamp":1})";
  ASSERT_TRUE(s.broker.Deliver(accepted).ok());
  s.Run(device, Micros(300'000));
  ASSERT_NE(device.config(), nullptr);
  EXPECT_EQ(device.config()->sample_ms.at("env0"), 250u);
  EXPECT_EQ(device.config()->version, 7u);

  // No second get on the same connection; one more after a reconnect.
  s.Run(device, Micros(2'000'000));
  EXPECT_EQ(s.PublishesTo(get_topic).size(), 1u);
  s.broker.DropConnection();
  s.Run(device, Micros(10'000'000));
  ASSERT_TRUE(s.broker.connected()) << "the device did not reconnect";
  EXPECT_EQ(s.PublishesTo(get_topic).size(), 2u);
  EXPECT_EQ(device.counters().shadow_gets, 2u);
}

}  // namespace
}  // namespace edgeforge::app
