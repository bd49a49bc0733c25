// Integration: the firmware core and the verifier against a real mosquitto
// configured like AWS IoT Core, over real TLS with real certificates.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <condition_variable>
#include <future>
#include <mutex>

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
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

class BrokerIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "itest"));
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("broker");
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = b->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }

  static link::SessionConfig ConfigFor(const std::string& thing, const std::string& pki = *pki_) {
    link::SessionConfig c;
    c.server_uri = broker_->uri();
    c.client_id = thing;
    const auto p = certs::PathsFor(pki, thing);
    c.tls = {*pki_ + "/ca.crt", p.cert, p.tls_key};
    c.connect_timeout = 5000ms;
    return c;
  }

  static std::unique_ptr<link::Session> Connect(const link::SessionConfig& c) {
    auto s = testing_support::MakePumpedPahoSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    Status st = testing_support::ConnectAndWait(**s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(*s);
  }

  /// The ingest identity subscribed to all telemetry, feeding a verifier.
  struct Ingest {
    std::unique_ptr<link::Session> session;
    std::unique_ptr<TelemetryVerifier> verifier;
    std::atomic<int> received{0};
    std::mutex mu;
    std::vector<std::string> payloads;  // guarded by mu
  };
  static std::unique_ptr<Ingest> StartIngest() {
    auto in = std::make_unique<Ingest>();
    in->verifier = std::make_unique<TelemetryVerifier>(testing_support::Jwks(*pki_), jws::Backend::kOpenSsl);
    link::SessionConfig c = ConfigFor(kIngestIdentity);
    c.tls.cert_file = *pki_ + "/ingest.crt";
    c.tls.key_file = *pki_ + "/ingest.key";
    in->session = Connect(c);
    Ingest* raw = in.get();
    EXPECT_TRUE(testing_support::SubscribeAndWait(*in->session, "dt/+/+/+/+", 1, [raw](const link::IncomingMessage& m) {
                  raw->verifier->Check(m.topic, m.payload, m.UserProperty("jws"));
                  {
                    std::lock_guard<std::mutex> lock(raw->mu);
                    raw->payloads.push_back(m.payload);
                  }
                  ++raw->received;
                }).ok());
    return in;
  }

  static bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  static std::string* pki_;
  static LocalBroker* broker_;
};
std::string* BrokerIntegrationTest::pki_ = nullptr;
LocalBroker* BrokerIntegrationTest::broker_ = nullptr;

/// The firmware's link for one test device: a durable outbox in a temp dir
/// and a reconnecting session, on the test's ManualClock.
struct TestLink {
  SeededEntropy entropy{7};
  std::unique_ptr<link::Outbox> outbox;
  std::unique_ptr<link::Link> link;
  std::unique_ptr<link::Session> session;  // last: gone (no more callbacks) before the link
};
std::unique_ptr<TestLink> MakeLink(const link::SessionConfig& config, Clock& clock) {
  auto t = std::make_unique<TestLink>();
  link::OutboxOptions q;
  q.dir = MakeTempDir("outbox");
  auto outbox = link::OpenFileOutbox(q, clock);
  EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
  t->outbox = std::move(*outbox);
  auto session = link::MakePahoSession(config);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  t->session = std::move(*session);
  auto l = link::Link::Create(*t->session, *t->outbox, clock, t->entropy, link::LinkOptions{});
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  t->link = std::move(*l);
  return t;
}

/// Polls the link (real time passes for Paho) until it is connected.
bool Connected(link::Link& l) {
  for (int i = 0; i < 1000 && !l.stats().connected; ++i) {
    (void)l.Poll();
    std::this_thread::sleep_for(10ms);
  }
  return l.stats().connected;
}

/// Runs a device's pipeline on a ManualClock (samples every 250 ms, a report
/// every second) until `reports` telemetry messages went out.
void RunReports(app::Device& device, ManualClock& clock, uint64_t reports) {
  for (int guard = 0; device.counters().reports < reports && guard < 10000; ++guard) {
    clock.AdvanceTo(device.Step());
  }
}

/// Polls the link until the outbox is empty (every message PUBACKed).
bool Flushed(app::Device& device, link::Link& l) {
  for (int i = 0; i < 1000 && device.queued() > 0; ++i) {
    (void)l.Poll();
    std::this_thread::sleep_for(10ms);
  }
  return device.queued() == 0;
}

TEST_F(BrokerIntegrationTest, DevicePublishesSignedTelemetryThatTheVerifierAccepts) {
  auto ingest = StartIngest();
  ManualClock clock;
  MemoryStorage storage;
  SimI2cBus bus;
  Bme280Model model;
  model.SetAmbient(22.5, 100900.0, 41.0);
  ASSERT_TRUE(bus.Attach(0x76, model).ok());
  Bme280 bme(bus, 0x76, clock);
  app::Bme280Source source("env0", bme);
  pipeline::Pipeline pipe({{&source, 250ms}}, 1s, {});
  auto signer = testing_support::SignerFor(*pki_, "dev-a", jws::Backend::kMbedTls);
  auto lnk = MakeLink(ConfigFor("dev-a"), clock);
  app::DeviceOptions opts;
  opts.thing = "dev-a";
  app::Device device(opts, clock, storage, *signer, *lnk->link, pipe);
  ASSERT_TRUE(device.Start().ok());
  ASSERT_TRUE(Connected(*lnk->link)) << lnk->link->stats().last_error;
  RunReports(device, clock, 5);
  ASSERT_TRUE(Flushed(device, *lnk->link));
  EXPECT_EQ(device.counters().delivered, 5u);
  ASSERT_TRUE(WaitFor([&] { return ingest->verifier->verified() == 5; }));
  ingest->verifier->Expect("dev-a", device.boot(), 0, 4);
  const auto r = ingest->verifier->Report();
  EXPECT_EQ(r.verified, 5u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
  std::lock_guard<std::mutex> lock(ingest->mu);
  auto t = telemetry::ParseTelemetry(ingest->payloads.back());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->kind, "factory");
  ASSERT_EQ(t->readings.size(), 3u);
  EXPECT_EQ(t->readings[0].name, "temperature");
  EXPECT_EQ(t->readings[0].n, 4u) << "a 1 s window of 250 ms samples";
  EXPECT_NEAR(t->readings[0].value, 22.5, 0.01);
  EXPECT_TRUE(device.Stop().ok());
}

// A threshold crossing goes out at once on the alarm topic, ahead of the
// window's report, in the same seq space: the verifier sees no gap.
TEST_F(BrokerIntegrationTest, ThresholdCrossingPublishesAnAlarmBeforeTheReport) {
  auto ingest = StartIngest();
  ManualClock clock;
  MemoryStorage storage;
  SimI2cBus bus;
  Bme280Model model;
  model.SetAmbient(35.0, 100900.0, 41.0);
  ASSERT_TRUE(bus.Attach(0x76, model).ok());
  Bme280 bme(bus, 0x76, clock);
  app::Bme280Source source("env0", bme);
  pipeline::AlarmRule hot;
  hot.channel = "temperature";
  hot.threshold = 40;
  hot.hysteresis = 1;
  hot.severity = "critical";
  pipeline::Pipeline pipe({{&source, 250ms}}, 1s, {hot});
  auto signer = testing_support::SignerFor(*pki_, "dev-a");
  auto lnk = MakeLink(ConfigFor("dev-a"), clock);
  app::DeviceOptions opts;
  opts.thing = "dev-a";
  app::Device device(opts, clock, storage, *signer, *lnk->link, pipe);
  ASSERT_TRUE(device.Start().ok());
  ASSERT_TRUE(Connected(*lnk->link)) << lnk->link->stats().last_error;
  RunReports(device, clock, 1);
  EXPECT_EQ(device.counters().alarms, 0u);
  model.SetAmbient(45.0, 100900.0, 41.0);  // the machine room overheats
  RunReports(device, clock, 2);
  model.SetAmbient(39.5, 100900.0, 41.0);  // inside the hysteresis band: no clear
  RunReports(device, clock, 3);
  model.SetAmbient(30.0, 100900.0, 41.0);
  RunReports(device, clock, 4);
  ASSERT_TRUE(Flushed(device, *lnk->link));
  EXPECT_EQ(device.counters().alarms, 2u) << "one raise, one clear";
  ASSERT_TRUE(WaitFor([&] { return ingest->verifier->verified() == 6; }));
  std::vector<std::string> payloads;
  {
    std::lock_guard<std::mutex> lock(ingest->mu);
    payloads = ingest->payloads;
  }
  ASSERT_EQ(payloads.size(), 6u);
  auto raised = telemetry::ParseAlarm(payloads[1]);
  ASSERT_TRUE(raised.ok()) << payloads[1];
  EXPECT_EQ(raised->alarm.state, telemetry::AlarmState::kRaised);
  EXPECT_EQ(raised->alarm.severity, "critical");
  EXPECT_NEAR(raised->alarm.value, 45.0, 0.01);
  EXPECT_EQ(raised->seq, 1u) << "the alarm precedes the report of its window";
  EXPECT_TRUE(telemetry::ParseTelemetry(payloads[2]).ok()) << payloads[2];
  auto cleared = telemetry::ParseAlarm(payloads[4]);
  ASSERT_TRUE(cleared.ok()) << payloads[4];
  EXPECT_EQ(cleared->alarm.state, telemetry::AlarmState::kCleared);
  ingest->verifier->Expect("dev-a", device.boot(), 0, 5);
  const auto r = ingest->verifier->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
  EXPECT_TRUE(device.Stop().ok());
}

// A sensor that does not answer does not stop the device: its channels go out
// with n = 0 and the fault, signed and verified like any other message.
TEST_F(BrokerIntegrationTest, FailingSensorIsReportedInSignedTelemetry) {
  auto ingest = StartIngest();
  ManualClock clock;
  MemoryStorage storage;
  SimI2cBus bus;  // nothing attached at 0x76: every transfer is a NACK
  Bme280 bme(bus, 0x76, clock);
  app::Bme280Source source("env0", bme);
  pipeline::Pipeline pipe({{&source, 250ms}}, 1s, {});
  auto signer = testing_support::SignerFor(*pki_, "dev-b");
  auto lnk = MakeLink(ConfigFor("dev-b"), clock);
  app::DeviceOptions opts;
  opts.thing = "dev-b";
  app::Device device(opts, clock, storage, *signer, *lnk->link, pipe);
  ASSERT_TRUE(device.Start().ok()) << "a missing sensor must not stop the device";
  ASSERT_TRUE(Connected(*lnk->link)) << lnk->link->stats().last_error;
  RunReports(device, clock, 1);
  ASSERT_TRUE(Flushed(device, *lnk->link));
  ASSERT_TRUE(WaitFor([&] { return ingest->verifier->verified() == 1; }));
  std::string payload;
  {
    std::lock_guard<std::mutex> lock(ingest->mu);
    ASSERT_EQ(ingest->payloads.size(), 1u);
    payload = ingest->payloads[0];
  }
  auto m = telemetry::ParseTelemetry(payload);
  ASSERT_TRUE(m.ok()) << payload;
  ASSERT_EQ(m->readings.size(), 3u);
  EXPECT_EQ(m->readings[0].n, 0u);
  EXPECT_EQ(m->readings[0].faults, 4u) << payload;
  EXPECT_NE(m->readings[0].fault.find("no ACK from 0x76"), std::string::npos) << payload;
  ASSERT_EQ(m->status.faults.size(), 1u);
  EXPECT_NE(m->status.faults[0].find("env0"), std::string::npos) << payload;
  EXPECT_GE(device.counters().sensor_faults, 1u);
  EXPECT_TRUE(device.Stop().ok());
}

TEST_F(BrokerIntegrationTest, PublishToAnotherThingsTopicIsRefusedWithReason0x87) {
  auto ingest = StartIngest();
  auto session = Connect(ConfigFor("dev-a"));
  ASSERT_NE(session, nullptr);
  auto signer = testing_support::SignerFor(*pki_, "dev-a");
  link::OutgoingMessage m;
  m.topic = *topic::TelemetryTopic("edgeforge", "site-1", "dev-b");
  m.payload = "{}";
  std::promise<Status> done;
  ASSERT_TRUE(session->Publish(m, [&](Status s) { done.set_value(std::move(s)); }).ok());
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  const Status s = fut.get();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("0x87"), std::string::npos) << s.ToString();
  // Its own topic still works on the same connection.
  m.topic = *topic::TelemetryTopic("edgeforge", "site-1", "dev-a");
  std::promise<Status> ok;
  ASSERT_TRUE(session->Publish(m, [&](Status st) { ok.set_value(std::move(st)); }).ok());
  auto okf = ok.get_future();
  ASSERT_EQ(okf.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(okf.get().ok());
  ASSERT_TRUE(WaitFor([&] { return ingest->received.load() >= 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ingest->received.load(), 1) << "the refused message must never reach a subscriber";
}

TEST_F(BrokerIntegrationTest, IngestIdentityCannotPublish) {
  link::SessionConfig c = ConfigFor(kIngestIdentity);
  c.tls.cert_file = *pki_ + "/ingest.crt";
  c.tls.key_file = *pki_ + "/ingest.key";
  auto session = Connect(c);
  ASSERT_NE(session, nullptr);
  link::OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-a/telemetry";
  m.payload = "{}";
  std::promise<Status> done;
  ASSERT_TRUE(session->Publish(m, [&](Status s) { done.set_value(std::move(s)); }).ok());
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(fut.get().code(), StatusCode::kPermissionDenied);
}

TEST_F(BrokerIntegrationTest, ClientWithoutCertificateCannotConnect) {
  // Raw Paho: our own session refuses to run without a certificate.
  mqtt::async_client client(broker_->uri(), "no-cert", mqtt::create_options(MQTTVERSION_5));
  mqtt::ssl_options ssl;
  ssl.set_trust_store(*pki_ + "/ca.crt");
  auto opts =
      mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).connect_timeout(5s).ssl(std::move(ssl)).finalize();
  bool connected = false;
  try {
    connected = client.connect(opts)->wait_for(10s) && client.is_connected();
  } catch (const mqtt::exception&) {
    connected = false;
  }
  EXPECT_FALSE(connected);
}

TEST_F(BrokerIntegrationTest, CertificateFromAnotherCaCannotConnect) {
  const std::string rogue = MakePki({"dev-a"}, "rogue");  // same CN, foreign CA
  auto s = testing_support::MakePumpedPahoSession(ConfigFor("dev-a", rogue));
  ASSERT_TRUE(s.ok());
  Status st = testing_support::ConnectAndWait(**s);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE((*s)->IsConnected());
}

TEST_F(BrokerIntegrationTest, ClientThatDoesNotTrustTheBrokerRefusesIt) {
  const std::string other = MakePki({"dev-a"}, "othertrust");
  link::SessionConfig c = ConfigFor("dev-a");
  c.tls.ca_file = other + "/ca.crt";  // trusts a CA that did not sign broker.crt
  auto s = testing_support::MakePumpedPahoSession(c);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(testing_support::ConnectAndWait(**s).ok());
}

TEST(LocalBrokerTest, MissingMosquittoBinaryIsAOneLineError) {
  auto m = FindMosquitto("/nonexistent/mosquitto");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  BrokerOptions o;
  o.pki_dir = MakeTempDir("nopki");
  o.work_dir = MakeTempDir("nobroker");
  o.mosquitto = "/nonexistent/mosquitto";
  auto b = LocalBroker::Start(o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("/nonexistent/mosquitto"), std::string::npos);
}

TEST(LocalBrokerTest, ConfigMirrorsIotCore) {
  BrokerOptions o;
  o.pki_dir = "/p";
  o.work_dir = "/w";
  const std::string c = MosquittoConfig(o, 12345);
  for (const char* line : {"listener 12345 127.0.0.1", "require_certificate true", "use_identity_as_username true",
                           "tls_version tlsv1.2", "allow_anonymous false", "acl_file /w/acl", "cafile /p/ca.crt"}) {
    EXPECT_NE(c.find(line), std::string::npos) << line;
  }
  const std::string acl = AclRules();
  // The things' grants (certs/iot_policy.cc ThingGrants(), tests/certs/iot_policy_acl_itest.cc).
  EXPECT_NE(acl.find("pattern write dt/+/+/%u/telemetry\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("pattern write $aws/things/%u/shadow/get\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("pattern read $aws/things/%u/shadow/update/delta\n"), std::string::npos) << acl;
  EXPECT_NE(acl.find("topic read $aws/#"), std::string::npos);
}

}  // namespace
}  // namespace edgeforge::sim
