// The TLS and identity attack matrix against a real mosquitto set up like IoT
// Core (and, for a broker that only speaks TLS 1.1, openssl s_server): each
// case is refused, and the device side's error (the firmware's session, as
// the device logs it) says which case it is, so an operator in the field
// knows what to fix. The session's words come from its own handshake after
// Paho's failure (firmware/link/paho/tls_probe.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <ctime>
#include <thread>

#include "certs/crl.h"
#include "certs/pki.h"
#include "certs/x509_writer.h"
#include "firmware/link/paho/paho_session.h"
#include "firmware/link/paho/tls_probe.h"
#include "sim/broker/local_broker.h"
#include "tests/support/cli_run.h"
#include "tests/support/http_get.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_identity.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

constexpr std::time_t kDay = 24 * 3600;

class TlsAttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki({"dev-a", "dev-revoked"}, "tls-attack"));
    // Revoked before the broker starts: mosquitto reads its crlfile at start.
    auto serial = certs::RevokeCertificate(*pki_, certs::PathsFor(*pki_, "dev-revoked").cert);
    ASSERT_TRUE(serial.ok()) << serial.status().ToString();
    BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("tls-attack-broker");
    auto b = LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = b->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }

  /// The device's session with `tls`, connected once: the status it reports.
  static Status ConnectWith(const std::string& thing, const link::TlsIdentity& tls,
                            const std::string& uri = broker_->uri()) {
    link::SessionConfig c = testing_support::DeviceSessionConfig(*pki_, thing, uri, Millis(5000));
    c.tls = tls;
    auto s = testing_support::MakePumpedPahoSession(c);
    if (!s.ok()) return s.status();
    const Status st = testing_support::ConnectAndWait(**s);
    EXPECT_FALSE((*s)->IsConnected());
    return st;
  }

  static link::TlsIdentity Own(const std::string& thing) {
    const auto p = certs::PathsFor(*pki_, thing);
    return {*pki_ + "/ca.crt", p.cert, p.tls_key};
  }

  static std::string* pki_;
  static LocalBroker* broker_;
};
std::string* TlsAttackTest::pki_ = nullptr;
LocalBroker* TlsAttackTest::broker_ = nullptr;

void ExpectRefusedSaying(const Status& st, const std::string& phrase) {
  ASSERT_FALSE(st.ok()) << "connected, but must be refused";
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st.ToString();
  EXPECT_NE(st.message().find(phrase), std::string::npos) << st.ToString();
}

TEST_F(TlsAttackTest, AGoodIdentityConnects) {
  // The baseline the refusals below are measured against.
  link::SessionConfig c = testing_support::DeviceSessionConfig(*pki_, "dev-a", broker_->uri(), Millis(5000));
  auto s = testing_support::MakePumpedPahoSession(c);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(testing_support::ConnectAndWait(**s).ok());
}

TEST_F(TlsAttackTest, CertificateFromAnotherCaIsRefusedAsAnUntrustedCa) {
  const std::string rogue = MakePki({"dev-a"}, "rogue");  // same CN, foreign CA
  const auto p = certs::PathsFor(rogue, "dev-a");
  ExpectRefusedSaying(ConnectWith("dev-a", {*pki_ + "/ca.crt", p.cert, p.tls_key}),
                      "does not trust the CA that issued it");
}

TEST_F(TlsAttackTest, ExpiredCertificateIsRefusedAsExpired) {
  const std::string dir = MakeTempDir("expired");
  testing_support::IssueClientCert(*pki_, "dev-old", std::time(nullptr) - 400 * kDay, 30, dir + "/c.crt",
                                   dir + "/c.key");
  ExpectRefusedSaying(ConnectWith("dev-old", {*pki_ + "/ca.crt", dir + "/c.crt", dir + "/c.key"}), "it has expired");
}

TEST_F(TlsAttackTest, NotYetValidCertificateIsRefusedWithItsStartDate) {
  const std::string dir = MakeTempDir("future");
  testing_support::IssueClientCert(*pki_, "dev-new", std::time(nullptr) + 10 * kDay, 30, dir + "/c.crt",
                                   dir + "/c.key");
  ExpectRefusedSaying(ConnectWith("dev-new", {*pki_ + "/ca.crt", dir + "/c.crt", dir + "/c.key"}),
                      "is not valid before");
}

TEST_F(TlsAttackTest, RevokedCertificateIsRefusedAsRevoked) {
  ExpectRefusedSaying(ConnectWith("dev-revoked", Own("dev-revoked")), "it is revoked");
}

TEST_F(TlsAttackTest, NoClientCertificateIsRefusedOnBothSides) {
  // The firmware never connects without one: the session refuses the config.
  link::TlsIdentity none = Own("dev-a");
  none.cert_file = "";
  const Status st = ConnectWith("dev-a", none);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TLS file '' does not exist"), std::string::npos) << st.ToString();
  // And the broker refuses a client that offers none (OpenSSL's client).
  // TLS 1.2: the refusal comes inside the handshake (under TLS 1.3 it comes
  // after the client's Finished, and s_client may quit before it reads it).
  const auto r = testing_support::RunShell("echo | timeout 10 openssl s_client -tls1_2 -connect 127.0.0.1:" +
                                           std::to_string(broker_->port()) + " -CAfile " + *pki_ + "/ca.crt");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("alert") || r.Has("handshake failure")) << r.output;
}

TEST_F(TlsAttackTest, ClientOfferingOnlyTls11IsRefused) {
  // OpenSSL 3 allows TLS 1.1 only at security level 0.
  const auto r = testing_support::RunShell(
      "echo | timeout 10 openssl s_client -tls1_1 -cipher DEFAULT@SECLEVEL=0 -connect 127.0.0.1:" +
      std::to_string(broker_->port()) + " -CAfile " + *pki_ + "/ca.crt -cert " + Own("dev-a").cert_file + " -key " +
      Own("dev-a").key_file);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("alert protocol version")) << "the broker's alert 70: " << r.output;
  EXPECT_TRUE(r.Has("Cipher is (NONE)")) << "no session was established: " << r.output;
}

TEST_F(TlsAttackTest, BrokerOfferingOnlyTls11IsRefusedByTheDevice) {
  const uint16_t port = testing_support::FreeLoopbackPort();
  const std::vector<std::string> args = {"s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-tls1_1",
                                         "-cipher", "DEFAULT@SECLEVEL=0", "-cert", *pki_ + "/broker.crt", "-key",
                                         *pki_ + "/broker.key", "-quiet"};
  testing_support::BackgroundRun server(testing_support::WithProgram("openssl", args));
  // Ready when it accepts TCP.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    const int fd = link::ConnectTcp({"ssl", "127.0.0.1", port}, Millis(100));
    up = fd >= 0;
    if (fd >= 0) ::close(fd);
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up) << server.Output();
  ExpectRefusedSaying(ConnectWith("dev-a", Own("dev-a"), "ssl://127.0.0.1:" + std::to_string(port)),
                      "no TLS version in common");
}

TEST_F(TlsAttackTest, BrokerCertificateForAnotherNameIsRefusedByTheDevice) {
  // A broker whose certificate (same CA) names another host than the one dialled.
  const std::string pki = MakePki({"dev-a"}, "wrong-name");
  {
    using namespace certs::internal;
    Drbg drbg;
    ASSERT_TRUE(drbg.Seed("wrong-name").ok());
    PkKey ca_key, key;
    Certificate ca_crt;
    ASSERT_TRUE(ParsePrivateKeyPem(testing_support::ReadAll(pki + "/ca.key"), "ca.key", ca_key).ok());
    ASSERT_TRUE(ParseCertificatePem(testing_support::ReadAll(pki + "/ca.crt"), "ca.crt", ca_crt).ok());
    KeyGenerator keys;
    ASSERT_TRUE(keys.Generate(key).ok());
    CertProfile p;
    p.common_name = "broker.elsewhere.example";
    p.days = 30;
    p.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT;
    p.ext_key_usage = {std::string(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))};
    p.dns_names = {"broker.elsewhere.example"};
    auto crt = IssueCertificate(p, key, ca_key, ca_crt.get(), drbg, std::time(nullptr));
    ASSERT_TRUE(crt.ok()) << crt.status().ToString();
    auto pem = PrivateKeyPem(key);
    ASSERT_TRUE(pem.ok());
    testing_support::WriteFile(pki + "/broker.crt", *crt, 0644);
    testing_support::WriteFile(pki + "/broker.key", *pem, 0600);
  }
  BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("wrong-name-broker");
  auto b = LocalBroker::Start(o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto p = certs::PathsFor(pki, "dev-a");
  ExpectRefusedSaying(ConnectWith("dev-a", {pki + "/ca.crt", p.cert, p.tls_key}, (*b)->uri()),
                      "does not name the host 'localhost'");
}

TEST_F(TlsAttackTest, BrokerFromAnUntrustedCaIsRefusedByTheDevice) {
  const std::string other = MakePki({"dev-a"}, "othertrust");
  link::TlsIdentity tls = Own("dev-a");
  tls.ca_file = other + "/ca.crt";  // trusts a CA that did not sign broker.crt
  ExpectRefusedSaying(ConnectWith("dev-a", tls), "is not signed by the CA in " + other + "/ca.crt");
}

}  // namespace
}  // namespace edgeforge::sim
