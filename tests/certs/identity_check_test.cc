// certs/identity_check: each identity fault a device can be given is named
// with its file and reason before any connection (issue 8 item 6). Real PKI
// material from certs/ in temp dirs; no broker.
#include "certs/identity_check.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>

#include "tests/support/test_identity.h"
#include "tests/support/test_pki.h"

namespace edgeforge::certs {
namespace {

using testing_support::FilesOf;
using testing_support::IssueClientCert;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;
using testing_support::WriteFile;

class IdentityCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "identity"));
    other_pki_ = new std::string(MakePki({"dev-a"}, "identity-other"));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete other_pki_;
  }

  void SetUp() override { dir_ = MakeTempDir("identity-case"); }

  /// A copy of `from` in this test's directory, with `mode`.
  std::string Copy(const std::string& from, const std::string& name, unsigned int mode) {
    const std::string to = dir_ + "/" + name;
    WriteFile(to, ReadAll(from), mode);
    return to;
  }

  static Status Check(const IdentityFiles& f, const std::string& thing = "dev-a",
                      int64_t now = static_cast<int64_t>(std::time(nullptr))) {
    auto r = CheckDeviceIdentity(f, thing, now);
    return r.ok() ? Status::Ok() : r.status();
  }

  static std::string* pki_;
  static std::string* other_pki_;
  std::string dir_;
};
std::string* IdentityCheckTest::pki_ = nullptr;
std::string* IdentityCheckTest::other_pki_ = nullptr;

#define EXPECT_HAS(status, needle)                              \
  EXPECT_NE((status).message().find(needle), std::string::npos) \
      << "want \"" << (needle) << "\" in " << (status).ToString()

TEST_F(IdentityCheckTest, AGoodIdentityPassesWithItsDatesAndChain) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto r = CheckDeviceIdentity(FilesOf(*pki_, "dev-a"), "dev-a", now);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->common_name, "dev-a");
  EXPECT_TRUE(r->chain_verified);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_LE(r->not_before, now);
  EXPECT_EQ(r->not_after - r->not_before, int64_t{kLeafDays} * 86400);
  EXPECT_NE(r->issuer.find(kCaCommonName), std::string::npos) << r->issuer;
  const std::string summary = r->Summary();
  EXPECT_NE(summary.find(FormatUtc(r->not_before)), std::string::npos) << summary;
  EXPECT_NE(summary.find(FormatUtc(r->not_after)), std::string::npos) << summary;
  EXPECT_NE(summary.find("chain verified"), std::string::npos) << summary;
}

TEST_F(IdentityCheckTest, TruncatedCertificateIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  const std::string pem = ReadAll(f.cert);
  f.cert = dir_ + "/device.crt";
  WriteFile(f.cert, pem.substr(0, pem.size() / 2), 0644);
  const Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "'");
  EXPECT_HAS(s, "truncated");
}

TEST_F(IdentityCheckTest, GarbageKeyIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = dir_ + "/device.key";
  WriteFile(f.tls_key, "this is not a key\n", 0600);
  Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "'");
  EXPECT_HAS(s, "is not PEM");
  // A PEM block with a damaged body: parsed, refused, mbedTLS's reason quoted.
  WriteFile(f.tls_key, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", 0600);
  s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "' is not a valid PEM private key");
  EXPECT_HAS(s, "mbedTLS");
}

TEST_F(IdentityCheckTest, GarbageSigningKeyIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.sign_key = dir_ + "/sign.key";
  WriteFile(f.sign_key, "\x01\x02garbage", 0600);
  const Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_HAS(s, "signing key '" + f.sign_key + "'");
}

TEST_F(IdentityCheckTest, AnotherThingsKeyIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = FilesOf(*pki_, "dev-b").tls_key;
  const Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "' is not the key of certificate '" + f.cert + "'");
}

TEST_F(IdentityCheckTest, GarbageCaFileIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.ca = dir_ + "/ca.crt";
  WriteFile(f.ca, "<html>404 not found</html>\n", 0644);
  const Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_HAS(s, "CA file '" + f.ca + "' is not PEM");
}

TEST_F(IdentityCheckTest, ExpiredCertificateIsNamedWithItsDates) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.cert = dir_ + "/device.crt";
  f.tls_key = dir_ + "/device.key";
  const std::time_t now = std::time(nullptr);
  IssueClientCert(*pki_, "dev-a", now - 40 * 86400, 30, f.cert, f.tls_key);
  const Status s = Check(f, "dev-a", now);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "' expired: notAfter " + FormatUtc(now - 10 * 86400 - 3600));
  EXPECT_HAS(s, "valid " + FormatUtc(now - 40 * 86400 - 3600));
  EXPECT_HAS(s, "clock says " + FormatUtc(now));
  // The good certificate, judged by a clock past its notAfter.
  const Status late = Check(FilesOf(*pki_, "dev-a"), "dev-a", now + int64_t{kLeafDays + 1} * 86400);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.ToString();
  EXPECT_HAS(late, "expired");
}

TEST_F(IdentityCheckTest, NotYetValidCertificateIsNamedWithItsDates) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.cert = dir_ + "/device.crt";
  f.tls_key = dir_ + "/device.key";
  const std::time_t now = std::time(nullptr);
  IssueClientCert(*pki_, "dev-a", now + 2 * 86400, 30, f.cert, f.tls_key);
  const Status s = Check(f, "dev-a", now);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "' is not valid yet: notBefore " + FormatUtc(now + 2 * 86400 - 3600));
  EXPECT_HAS(s, "NTP");
}

TEST_F(IdentityCheckTest, AnotherThingsCertificateIsNamedWithCnAndThing) {
  // dev-b's certificate and key, given to dev-a: the broker would accept the
  // TLS session and then refuse every publish (0x87).
  const IdentityFiles f = FilesOf(*pki_, "dev-b");
  const Status s = Check(f, "dev-a");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "' is for CN 'dev-b', not thing 'dev-a'");
  EXPECT_HAS(s, "0x87");
}

TEST_F(IdentityCheckTest, CertificateOfAnotherCaWithTheSameNameIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.ca = *other_pki_ + "/ca.crt";
  const Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "' does not chain to CA file '" + f.ca + "'");
  EXPECT_HAS(s, "did not sign it");
}

TEST_F(IdentityCheckTest, IssuerMissingFromTheCaFileIsAWarningNotAnError) {
  // As on AWS IoT Core: the CA file anchors the broker's chain, the device
  // certificate comes from a CA the device does not hold.
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.ca = *pki_ + "/broker.crt";
  auto r = CheckDeviceIdentity(f, "dev-a", static_cast<int64_t>(std::time(nullptr)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->chain_verified);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("not in CA file '" + f.ca + "'"), std::string::npos) << r->warnings[0];
}

TEST_F(IdentityCheckTest, KeyReadableByOthersIsRefusedWithTheFix) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = Copy(f.tls_key, "device.key", 0644);
  Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "' has mode 0644");
  EXPECT_HAS(s, "chmod 600 " + f.tls_key);
  f.tls_key = FilesOf(*pki_, "dev-a").tls_key;
  f.sign_key = Copy(f.sign_key, "sign.key", 0640);
  s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_HAS(s, "signing key '" + f.sign_key + "' has mode 0640");
  EXPECT_HAS(s, "chmod 600 " + f.sign_key);
}

TEST_F(IdentityCheckTest, MissingAndSwappedFilesAreNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.cert = dir_ + "/nope.crt";
  Status s = Check(f);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_HAS(s, "certificate '" + f.cert + "' does not exist");
  f = FilesOf(*pki_, "dev-a");
  f.cert = Copy(f.tls_key, "as-cert.pem", 0600);
  s = Check(f);
  EXPECT_HAS(s, "certificate '" + f.cert + "' holds a private key, not a certificate");
  f = FilesOf(*pki_, "dev-a");
  f.tls_key = Copy(f.cert, "as-key.pem", 0600);
  s = Check(f);
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "' holds a certificate, not a private key");
  f = FilesOf(*pki_, "dev-a");
  f.cert = dir_ + "/public.pem";
  WriteFile(f.cert, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 0644);
  s = Check(f);
  EXPECT_HAS(s, "certificate '" + f.cert + "' holds '-----BEGIN PUBLIC KEY-----', not a certificate");
  f = FilesOf(*pki_, "dev-a");
  f.tls_key = dir_ + "/encrypted.key";
  WriteFile(f.tls_key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", 0600);
  s = Check(f);
  EXPECT_HAS(s, "TLS key '" + f.tls_key + "' is encrypted");
}

TEST_F(IdentityCheckTest, ServerCertificateAsDeviceCertificateIsNamed) {
  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.cert = *pki_ + "/broker.crt";
  f.tls_key = *pki_ + "/broker.key";
  const Status s = Check(f, "edgeforge-broker");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "not a TLS client certificate");
}

// kFast (the simulator's subset): no signature checks, but every fault that
// does not need one is still named, including another thing's key.
TEST_F(IdentityCheckTest, FastDepthStillNamesKeyCnValidityAndModeFaults) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto fast = [&](const IdentityFiles& f, const std::string& thing = "dev-a", int64_t at = 0) {
    auto r = CheckDeviceIdentity(f, thing, at == 0 ? now : at, IdentityCheckDepth::kFast);
    return r.ok() ? Status::Ok() : r.status();
  };
  auto good = CheckDeviceIdentity(FilesOf(*pki_, "dev-a"), "dev-a", now, IdentityCheckDepth::kFast);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_FALSE(good->chain_verified);
  EXPECT_NE(good->Summary().find("signatures not checked"), std::string::npos) << good->Summary();

  IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = FilesOf(*pki_, "dev-b").tls_key;
  Status s = fast(f);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_HAS(s, "is not the key of certificate");
  s = fast(FilesOf(*pki_, "dev-b"));
  EXPECT_HAS(s, "is for CN 'dev-b', not thing 'dev-a'");
  s = fast(FilesOf(*pki_, "dev-a"), "dev-a", now + int64_t{kLeafDays + 1} * 86400);
  EXPECT_HAS(s, "expired");
  f = FilesOf(*pki_, "dev-a");
  f.tls_key = Copy(f.tls_key, "device.key", 0604);
  s = fast(f);
  EXPECT_HAS(s, "chmod 600 " + f.tls_key);
  // What kFast gives up: another CA with the same name passes.
  f = FilesOf(*pki_, "dev-a");
  f.ca = *other_pki_ + "/ca.crt";
  EXPECT_TRUE(fast(f).ok());
}

// What the simulator calls for its PKI before it starts a fleet.
TEST_F(IdentityCheckTest, FleetCheckNamesTheThingAndRefusesOpenPkiKeys) {
  const std::string pki = MakePki({"fleet-1", "fleet-2"}, "identity-fleet");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Status s = CheckFleetIdentities(pki, {"fleet-1", "fleet-2"}, now);
  EXPECT_TRUE(s.ok()) << s.ToString();
  const std::string key = PathsFor(pki, "fleet-2").tls_key;
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  s = CheckFleetIdentities(pki, {"fleet-1", "fleet-2"}, now);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_HAS(s, "device fleet-2: TLS key '" + key + "' has mode 0640");
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  ASSERT_EQ(::chmod((pki + "/ca.key").c_str(), 0644), 0);
  s = CheckFleetIdentities(pki, {"fleet-1"}, now);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_HAS(s, "chmod 600 " + pki + "/ca.key");
  ASSERT_EQ(::chmod((pki + "/ca.key").c_str(), 0600), 0);
  s = CheckFleetIdentities(pki, {"fleet-3"}, now);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_HAS(s, "device fleet-3: TLS key");
}

}  // namespace
}  // namespace edgeforge::certs
