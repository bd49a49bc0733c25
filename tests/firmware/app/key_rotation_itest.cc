// Integration: signing-key rotation under load (docs/telemetry.md "Signing-key
// rotation"). Real Device objects publish telemetry windows and alarms
// continuously through a real mosquitto configured like AWS IoT Core, over
// real TLS; two of them rotate their signing key while they publish, their
// network stalled (a black hole) around the rotation, so that old-key
// messages signed after the announcement are still in flight when the new
// key takes over. The ingest identity feeds the verifier, which starts with
// the JWK set of the PKI only: it must learn each new key from the device's
// own announcement, accept both keys while the old key's messages drain, lose
// nothing, and then refuse the old key under its own reason class.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "firmware/app/device.h"
#include "firmware/drivers/bme280/bme280_source.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/broker/local_broker.h"
#include "sim/models/bme280_model.h"
#include "sim/verify/verifier.h"
#include "tests/support/pumped_session.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

// Four windows a second per device, a sample every 50 ms: the stalled link
// below holds a dozen old-key messages of each rotating device in flight.
constexpr std::chrono::milliseconds kWindow = 250ms;
constexpr std::chrono::milliseconds kSample = 50ms;
constexpr std::chrono::milliseconds kTick = 50ms;
using testing_support::MakePki;
using testing_support::MakeTempDir;

/// What the ingest saw of one message: whose, which seq, signed with which kid,
/// and which kid it announced (status.next_key), if any.
struct Seen {
  std::string dev;
  uint64_t seq = 0;
  std::string kid;
  std::string announced;
  Verdict verdict = Verdict::kInvalid;
};

/// One publishing device: a BME280 model on a simulated bus, the real
/// pipeline, outbox, link (Paho, mutual TLS) and Device.
struct Node {
  std::string thing;
  SimI2cBus bus;
  Bme280Model model;
  std::unique_ptr<Bme280> bme;
  std::unique_ptr<app::Bme280Source> source;
  std::unique_ptr<pipeline::Pipeline> pipe;
  std::unique_ptr<jws::Signer> signer;
  MemoryStorage storage;
  SeededEntropy entropy{11};
  std::unique_ptr<link::Outbox> outbox;
  std::unique_ptr<link::Session> session;
  std::unique_ptr<link::Link> link;
  std::unique_ptr<app::Device> device;  // last: gone before the link it observes

  ~Node() {
    device.reset();
    link.reset();
    session.reset();
  }
};

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({"rot-a", "rot-b", "steady"}, "rotation");
    BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = MakeTempDir("rotbroker");
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    verifier_ = std::make_unique<TelemetryVerifier>(testing_support::Jwks(pki_), jws::Backend::kOpenSsl);
    link::SessionConfig c = testing_support::DeviceSessionConfig(pki_, kIngestIdentity, broker_->uri(), 5000ms);
    c.tls.cert_file = pki_ + "/ingest.crt";
    c.tls.key_file = pki_ + "/ingest.key";
    auto s = testing_support::MakePumpedPahoSession(c);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ingest_ = std::move(*s);
    ASSERT_TRUE(testing_support::ConnectAndWait(*ingest_).ok());
    ASSERT_TRUE(testing_support::SubscribeAndWait(*ingest_, "dt/+/+/+/+", 1, [this](const link::IncomingMessage& m) {
                  OnMessage(m);
                }).ok());
  }
  void TearDown() override {
    nodes_.clear();
    if (ingest_) ingest_->Disconnect();
  }

  void OnMessage(const link::IncomingMessage& m) {
    const std::string* jws_value = m.UserProperty("jws");
    const auto c = verifier_->Check(m.topic, m.payload, jws_value);
    Seen seen;
    seen.verdict = c.verdict;
    seen.dev = c.dev;
    seen.seq = c.seq;
    if (jws_value != nullptr) {
      if (auto h = jws::ParseHeader(*jws_value); h.ok()) seen.kid = h->kid;
    }
    if (auto t = telemetry::ParseTelemetry(m.payload); t.ok() && t->status.next_key) {
      seen.announced = t->status.next_key->kid;
    }
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(std::move(seen));
  }
  std::vector<Seen> SeenSoFar() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  /// `uri`: where the device connects (the broker, or a proxy in front of it).
  Node& AddNode(const std::string& thing, jws::Backend backend, const std::string& uri) {
    auto n = std::make_unique<Node>();
    n->thing = thing;
    n->model.SetAmbient(22.0, 100900.0, 41.0);
    EXPECT_TRUE(n->bus.Attach(0x76, n->model).ok());
    n->bme = std::make_unique<Bme280>(n->bus, 0x76, clock_);
    n->source = std::make_unique<app::Bme280Source>("env0", *n->bme);
    pipeline::AlarmRule hot;
    hot.channel = "temperature";
    hot.threshold = 40;
    hot.hysteresis = 1;
    hot.severity = "critical";
    n->pipe = std::make_unique<pipeline::Pipeline>(std::vector<pipeline::SourceSlot>{{n->source.get(), kSample}},
                                                   kWindow, std::vector<pipeline::AlarmRule>{hot});
    n->signer = testing_support::SignerFor(pki_, thing, backend);
    link::OutboxOptions q;
    q.dir = MakeTempDir("rotoutbox");
    auto outbox = link::OpenFileOutbox(q, clock_);
    EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
    n->outbox = std::move(*outbox);
    auto session = link::MakePahoSession(testing_support::DeviceSessionConfig(pki_, thing, uri, 5000ms));
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    n->session = std::move(*session);
    auto l = link::Link::Create(*n->session, *n->outbox, clock_, n->entropy, link::LinkOptions{});
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    n->link = std::move(*l);
    app::DeviceOptions opts;
    opts.thing = thing;
    n->device = std::make_unique<app::Device>(opts, clock_, n->storage, *n->signer, *n->link, *n->pipe);
    EXPECT_TRUE(n->device->Start().ok());
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  /// One tick of device time for every node (a little real time for Paho to
  /// carry PUBACKs meanwhile); every 1.5 s of device time the machine room of
  /// each node crosses the alarm threshold one way or the other.
  void Tick() {
    clock_.Advance(kTick);
    ++ticks_;
    const bool hot = (ticks_ / 30) % 2 == 1;
    for (auto& n : nodes_) {
      n->model.SetAmbient(hot ? 45.0 : 22.0, 100900.0, 41.0);
      (void)n->device->Step();
    }
    std::this_thread::sleep_for(2ms);
  }
  void RunFor(std::chrono::milliseconds device_time) {
    for (auto t = 0ms; t < device_time; t += kTick) Tick();
  }
  bool AllConnected() {
    for (int i = 0; i < 1000; ++i) {
      bool all = true;
      for (auto& n : nodes_) {
        (void)n->link->Poll();
        all = all && n->link->stats().connected;
      }
      if (all) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  /// Polls (real time) until every outbox is empty and the verifier has
  /// received every message the devices built.
  bool Drained() {
    uint64_t built = 0;
    for (auto& n : nodes_) built += n->device->counters().sampled;
    for (int i = 0; i < 1000; ++i) {
      bool empty = true;
      for (auto& n : nodes_) {
        (void)n->link->Poll();
        empty = empty && n->device->queued() == 0;
      }
      if (empty && verifier_->Report().received >= built) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::string pki_;
  std::unique_ptr<LocalBroker> broker_;
  std::unique_ptr<TelemetryVerifier> verifier_;
  std::unique_ptr<link::Session> ingest_;
  ManualClock clock_;
  uint64_t ticks_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::mutex mu_;
  std::vector<Seen> seen_;  // guarded by mu_
};

TEST_F(KeyRotationTest, DevicesRotateWhilePublishingNothingIsLostOrInvalidAndTheOldKeyIsThenRefused) {
  // The rotating devices reach the broker through a proxy that can stall.
  auto proxy = testing_support::TcpProxy::Start("127.0.0.1", broker_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  Node& a = AddNode("rot-a", jws::Backend::kMbedTls, (*proxy)->ssl_uri());  // the firmware's path
  Node& b = AddNode("rot-b", jws::Backend::kOpenSsl, (*proxy)->ssl_uri());
  Node& steady = AddNode("steady", jws::Backend::kOpenSsl, broker_->uri());
  ASSERT_TRUE(AllConnected());
  const std::string old_a = a.device->signing_kid();
  const std::string old_b = b.device->signing_kid();
  RunFor(3500ms);

  // Rotate in the middle of the stream, b half a window after a, while the
  // network stalls for 3 s: every window meanwhile announces the new key and,
  // like every alarm, is signed with the old one (no PUBACK yet).
  (*proxy)->Blackhole();
  ASSERT_TRUE(a.device->RotateSigningKey().ok());
  const std::string new_a = a.device->pending_kid();
  RunFor(500ms);
  ASSERT_TRUE(b.device->RotateSigningKey().ok());
  const std::string new_b = b.device->pending_kid();
  RunFor(2500ms);
  EXPECT_EQ(a.device->signing_kid(), old_a);
  EXPECT_EQ(b.device->signing_kid(), old_b);
  (*proxy)->SetMode(testing_support::ProxyMode::kForward);
  // Until both switched (each on the first PUBACK of an announcing window), then 5 s more.
  for (int guard = 0; guard < 600 && (a.device->signing_kid() != new_a || b.device->signing_kid() != new_b); ++guard) {
    Tick();
  }
  ASSERT_EQ(a.device->signing_kid(), new_a);
  ASSERT_EQ(b.device->signing_kid(), new_b);
  RunFor(5000ms);
  ASSERT_TRUE(Drained());

  // Every device told the verifier its whole range: nothing lost, nothing
  // invalid, the two keys learned from their announcements and the old ones retired.
  for (auto& n : nodes_) {
    const app::DeviceCounters c = n->device->counters();
    EXPECT_EQ(c.dropped, 0u) << n->thing;
    EXPECT_EQ(c.delivered, c.sampled) << n->thing;
    verifier_->Expect(n->thing, n->device->boot(), 0, c.sampled - 1);
  }
  auto r = verifier_->Report();
  EXPECT_EQ(r.verified,
            a.device->counters().sampled + b.device->counters().sampled + steady.device->counters().sampled);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
  EXPECT_EQ(r.conflicts, 0u);
  EXPECT_GT(r.alarm_messages, 0u) << "alarms went out through the rotation too";
  EXPECT_EQ(r.keys_learned, 2u);
  EXPECT_EQ(r.keys_retired, 2u);
  EXPECT_TRUE(r.Passed());
  for (const std::string& e : r.key_events) std::cout << "  key: " << e << "\n";
  std::cout << "  verified " << r.verified << " (alarms " << r.alarm_messages << ") from 3 devices, lost " << r.lost
            << ", invalid " << r.invalid << "\n";

  // What the wire showed, per rotating device: the announcement signed with
  // the old key, old-key messages after it (the overlap, all verified), then
  // only the new key, from one seq on.
  const std::vector<Seen> seen = SeenSoFar();
  for (const auto& [dev, old_kid, new_kid] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"rot-a", old_a, new_a}, {"rot-b", old_b, new_b}}) {
    uint64_t first_announcement = UINT64_MAX, last_old = 0, first_new = UINT64_MAX, overlap = 0;
    for (const Seen& s : seen) {
      if (s.dev != dev) continue;
      EXPECT_EQ(s.verdict, Verdict::kVerified) << dev << " seq " << s.seq;
      if (!s.announced.empty()) {
        EXPECT_EQ(s.announced, new_kid);
        EXPECT_EQ(s.kid, old_kid) << "announced with the old key";
        first_announcement = std::min(first_announcement, s.seq);
      }
      if (s.kid == old_kid) last_old = std::max(last_old, s.seq);
      if (s.kid == new_kid) first_new = std::min(first_new, s.seq);
    }
    for (const Seen& s : seen) {
      if (s.dev == dev && s.kid == old_kid && s.seq > first_announcement) ++overlap;
    }
    EXPECT_NE(first_announcement, UINT64_MAX) << dev;
    EXPECT_GT(overlap, 0u) << dev << ": old-key messages after the announcement, accepted";
    EXPECT_LT(last_old, first_new) << dev;
    std::cout << "  " << dev << ": announced at seq " << first_announcement << ", old key up to seq " << last_old
              << " (" << overlap << " after the announcement), new key from seq " << first_new << "\n";
  }

  // After the overlap: a window signed with rot-a's old key, sent over
  // rot-a's own TLS identity (a clone of the device that kept the old key),
  // passes the broker and is refused by the verifier as "retired kid".
  const uint64_t next_seq = a.device->counters().sampled;
  telemetry::Telemetry clone;
  clone.dev = "rot-a";
  clone.kind = "factory";
  clone.seq = next_seq;
  clone.boot = a.device->boot();
  clone.ts = clock_.WallMillis();
  clone.window_start = clone.ts - kWindow.count();
  clone.window_ms = kWindow.count();
  link::OutgoingMessage m;
  m.topic = *topic::TelemetryTopic("edgeforge", "site-1", "rot-a");
  m.payload = telemetry::Serialize(clone);
  auto old_signer = testing_support::SignerFor(pki_, "rot-a");
  m.user_properties.emplace_back("jws", *old_signer->Sign(m.payload));
  const uint64_t received_before = verifier_->Report().received;
  // One connection per client id (a second one would take the device's
  // over): the clone connects once the device has stopped.
  ASSERT_TRUE(a.device->Stop().ok());
  link::SessionConfig clone_config = testing_support::DeviceSessionConfig(pki_, "rot-a", broker_->uri(), 5000ms);
  auto clone_session = testing_support::MakePumpedPahoSession(clone_config);
  ASSERT_TRUE(clone_session.ok()) << clone_session.status().ToString();
  ASSERT_TRUE(testing_support::ConnectAndWait(**clone_session).ok());
  std::promise<Status> done;
  ASSERT_TRUE((*clone_session)->Publish(m, [&](Status s) { done.set_value(std::move(s)); }).ok());
  auto acked = done.get_future();
  ASSERT_EQ(acked.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(acked.get().ok()) << "the broker lets rot-a publish on its topic: only the verifier can refuse it";
  (*clone_session)->Disconnect();
  for (int i = 0; i < 500 && verifier_->Report().received == received_before; ++i) std::this_thread::sleep_for(10ms);
  r = verifier_->Report();
  EXPECT_EQ(r.invalid, 1u);
  EXPECT_EQ(r.invalid_reasons, (std::map<std::string, uint64_t>{{"retired kid", 1}}));
  EXPECT_EQ(r.lost, 0u);
}

}  // namespace
}  // namespace edgeforge::sim
