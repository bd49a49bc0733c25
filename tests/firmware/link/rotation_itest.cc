// Rotation under load: a device renews its TLS identity while it publishes
// (a new key made on the device, a certificate issued from its CSR, both
// installed on disk, the link reconnected), then the old certificate is
// revoked and the broker restarted with the new CRL: the device comes back on
// the new identity, an old-identity session is refused as revoked, and the
// ingest's verifier counts every window, 0 lost, 0 invalid. Real mosquitto,
// real TLS, real files.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include "certs/crl.h"
#include "certs/pki.h"
#include "firmware/app/device.h"
#include "firmware/drivers/bme280/bme280_source.h"
#include "firmware/drivers/bme280/bme280.h"
#include "hal/linux/fs.h"
#include "hal/storage.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/pipeline/pipeline.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/broker/local_broker.h"
#include "sim/models/bme280_model.h"
#include "sim/verify/live_ingest.h"
#include "sim/verify/verifier.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakeTempDir;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit = 15s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(RotationTest, TlsIdentityRenewedWhilePublishingOldOneRevokedNothingLost) {
  const std::string pki = testing_support::MakePki({"dev-a", "retired"}, "rotation");
  // A CRL exists from the start, so the broker's config loads it and a
  // restart reads the revocations made since.
  ASSERT_TRUE(certs::RevokeCertificate(pki, certs::PathsFor(pki, "retired").cert).ok());
  BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("rotation-broker");
  o.persistence = BrokerPersistence::kEveryChange;
  auto started = LocalBroker::Start(o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<LocalBroker> broker = std::move(*started);

  // The ingest: everything dev-a publishes, into a verifier, across the
  // broker restart below (a persistent session the broker saves).
  TelemetryVerifier verifier(testing_support::Jwks(pki), jws::Backend::kOpenSsl);
  LiveIngestOptions io;
  io.broker_uri = broker->uri();
  io.pki_dir = pki;
  io.client_id = "edgeforge-ingest-rotation";
  io.filter = "dt/+/+/dev-a/+";
  auto ingest = LiveIngest::Start(
      io, [&](const link::IncomingMessage& m) { verifier.Check(m.topic, m.payload, m.UserProperty("jws")); },
      verifier);
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();

  // The device: its identity in a directory of its own, as on a gateway.
  const std::string id = MakeTempDir("rotation-identity");
  const certs::DevicePaths issued = certs::PathsFor(pki, "dev-a");
  for (const auto& [from, to] : {std::pair{issued.cert, id + "/device.crt"}, {issued.tls_key, id + "/device.key"}}) {
    ASSERT_EQ(std::rename(from.c_str(), to.c_str()), 0) << from;
  }
  // What someone who copied the old identity off the device would hold.
  const std::string old_cert = id + "/old.crt";
  const std::string old_key = id + "/old.key";
  ASSERT_EQ(std::system(("cp -p " + id + "/device.crt " + old_cert + " && cp -p " + id + "/device.key " + old_key).c_str()),
            0);
  link::SessionConfig dc = testing_support::DeviceSessionConfig(pki, "dev-a", broker->uri(), Millis(5000));
  dc.tls.cert_file = id + "/device.crt";
  dc.tls.key_file = id + "/device.key";

  ManualClock clock;
  MemoryStorage storage;
  SimI2cBus bus;
  Bme280Model model;
  model.SetAmbient(22.5, 100900.0, 41.0);
  ASSERT_TRUE(bus.Attach(0x76, model).ok());
  Bme280 bme(bus, 0x76, clock);
  app::Bme280Source source("env0", bme);
  pipeline::Pipeline pipe({{&source, 250ms}}, 1s, {});
  auto signer = testing_support::SignerFor(pki, "dev-a", jws::Backend::kMbedTls);
  SeededEntropy entropy{11};
  link::OutboxOptions q;
  q.dir = MakeTempDir("rotation-outbox");
  auto outbox = link::OpenFileOutbox(q, clock);
  ASSERT_TRUE(outbox.ok());
  auto session = link::MakePahoSession(dc);
  ASSERT_TRUE(session.ok());
  auto lnk = link::Link::Create(**session, **outbox, clock, entropy, link::LinkOptions{});
  ASSERT_TRUE(lnk.ok());
  app::DeviceOptions opts;
  opts.thing = "dev-a";
  app::Device device(opts, clock, storage, *signer, **lnk, pipe);
  ASSERT_TRUE(device.Start().ok());

  // Publishes `reports` more windows, polling the link in real time (Paho's
  // threads) while the pipeline runs on the manual clock.
  auto publish = [&](uint64_t reports) {
    const uint64_t target = device.counters().reports + reports;
    for (int guard = 0; device.counters().reports < target && guard < 20000; ++guard) {
      clock.AdvanceTo(device.Step());
      std::this_thread::sleep_for(1ms);
    }
  };
  auto flushed = [&] {
    return WaitFor([&] {
      clock.AdvanceTo(device.Step());
      return device.queued() == 0 && (*lnk)->state() == link::Link::State::kConnected;
    });
  };

  publish(5);
  ASSERT_TRUE(flushed()) << (*lnk)->stats().last_error;

  // Renewal, mid-stream: new key on the device, CSR, certificate from the CA,
  // installed by rename (key first: a connect between the two renames fails
  // once and is retried), then the link reconnects on it.
  const std::string new_key = id + "/device.key.new";
  ASSERT_TRUE(certs::EnsurePrivateKey(new_key).ok());
  auto csr = certs::MakeCsr(new_key, "dev-a");
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  publish(2);
  auto crt = certs::SignCsr(pki, *csr, "dev-a.csr");
  ASSERT_TRUE(crt.ok()) << crt.status().ToString();
  ASSERT_TRUE(fs::WriteFileAtomically(id + "/device.crt.new", *crt, 0644).ok());
  ASSERT_EQ(std::rename(new_key.c_str(), (id + "/device.key").c_str()), 0);
  ASSERT_EQ(std::rename((id + "/device.crt.new").c_str(), (id + "/device.crt").c_str()), 0);
  (*lnk)->Reconnect("TLS identity renewed");
  publish(5);
  ASSERT_TRUE(flushed()) << (*lnk)->stats().last_error;
  EXPECT_GE((*lnk)->stats().reconnects, 1u);

  // The old certificate is revoked; the broker restarts with the new CRL.
  ASSERT_TRUE(certs::RevokeCertificate(pki, old_cert).ok());
  ASSERT_TRUE(broker->Stop().ok());
  ASSERT_TRUE(broker->Restart().ok());
  publish(5);
  ASSERT_TRUE(flushed()) << "the device must be back on its new identity: " << (*lnk)->stats().last_error;

  // Whoever still holds the old identity is refused, saying why.
  {
    link::SessionConfig c = dc;
    c.client_id = "dev-a-copy";
    c.tls.cert_file = old_cert;
    c.tls.key_file = old_key;
    auto s = testing_support::MakePumpedPahoSession(c);
    ASSERT_TRUE(s.ok());
    const Status st = testing_support::ConnectAndWait(**s);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("it is revoked"), std::string::npos) << st.ToString();
  }

  ASSERT_TRUE(WaitFor([&] { return verifier.verified() >= device.counters().reports; }));
  verifier.Expect("dev-a", device.boot(), 0, device.counters().reports - 1);
  const VerifyReport r = verifier.Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
  EXPECT_EQ(r.verified, device.counters().reports);
  EXPECT_TRUE(device.Stop().ok());
  EXPECT_TRUE((*ingest)->Stop(1000ms).ok());
}

}  // namespace
}  // namespace edgeforge::sim
