// Keys made on the device and certificates issued from their CSRs
// (certs/pki.h EnsurePrivateKey, MakeCsr, SignCsr): real files, real mbedTLS,
// and OpenSSL's command line as the independent party (`openssl req -verify`,
// requests the firmware would never make).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_identity.h"
#include "tests/support/test_pki.h"

namespace edgeforge::certs {
namespace {

using testing_support::ReadAll;

class CsrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing_support::MakeTempDir("csr");
    ASSERT_TRUE(EnsurePki(dir_ + "/pki", {"dev-a"}).ok());
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    testing_support::WriteFile(path, text, 0644);
    return path;
  }
  std::string dir_;
};

TEST_F(CsrTest, KeyIsMadeOnceWithMode0600AndTheSignedCertificateIsAGoodIdentity) {
  const std::string key = dir_ + "/device.key";
  auto created = EnsurePrivateKey(key);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string pem = ReadAll(key);
  auto again = EnsurePrivateKey(key);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(ReadAll(key), pem);

  auto csr = MakeCsr(key, "dev-new");
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  EXPECT_EQ(csr->find("PRIVATE"), std::string::npos);
  // OpenSSL agrees the request is well formed and self-signed.
  const std::string csr_file = Write("dev-new.csr", *csr);
  const auto verify = testing_support::RunShell("openssl req -in " + csr_file + " -noout -verify -subject");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_TRUE(verify.Has("CN = dev-new")) << verify.output;

  auto crt = SignCsr(dir_ + "/pki", *csr, csr_file);
  ASSERT_TRUE(crt.ok()) << crt.status().ToString();
  const std::string crt_file = Write("dev-new.crt", *crt);
  IdentityFiles files;
  files.ca = dir_ + "/pki/ca.crt";
  files.cert = crt_file;
  files.tls_key = key;
  files.sign_key = PathsFor(dir_ + "/pki", "dev-a").sign_key;
  auto report = CheckDeviceIdentity(files, "dev-new", std::time(nullptr), IdentityCheckDepth::kFull);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
}

TEST_F(CsrTest, BadRequestsAreRefusedNamingTheFileAndTheReason) {
  const std::string key = dir_ + "/device.key";
  ASSERT_TRUE(EnsurePrivateKey(key).ok());
  auto csr = MakeCsr(key, "dev-new");
  ASSERT_TRUE(csr.ok());
  struct Bad {
    const char* name;
    std::string pem;
    const char* expect;
  };
  std::vector<Bad> cases;
  cases.push_back({"not pem", "hello", "not a PEM certificate request"});
  // One base64 character of the body changed: the DER breaks or the signature fails.
  std::string flipped = *csr;
  const size_t at = flipped.find('\n', 40) + 30;
  flipped[at] = flipped[at] == 'A' ? 'B' : 'A';
  cases.push_back({"flipped", flipped, "dev-new.csr"});
  // Requests the firmware never makes, made by OpenSSL.
  const auto rsa = testing_support::RunShell("openssl req -new -newkey rsa:2048 -nodes -keyout " + dir_ +
                                             "/rsa.key -subj /CN=dev-rsa -out " + dir_ + "/rsa.csr");
  ASSERT_EQ(rsa.exit_code, 0) << rsa.output;
  cases.push_back({"rsa", ReadAll(dir_ + "/rsa.csr"), "not EC P-256"});
  const auto badcn = testing_support::RunShell("openssl req -new -key " + key + " -subj '/CN=bad name!' -out " +
                                               dir_ + "/badcn.csr");
  ASSERT_EQ(badcn.exit_code, 0) << badcn.output;
  cases.push_back({"bad cn", ReadAll(dir_ + "/badcn.csr"), "subject CN"});
  const auto nocn =
      testing_support::RunShell("openssl req -new -key " + key + " -subj /O=edgeforge -out " + dir_ + "/nocn.csr");
  ASSERT_EQ(nocn.exit_code, 0) << nocn.output;
  cases.push_back({"no cn", ReadAll(dir_ + "/nocn.csr"), "no CN"});
  for (const Bad& b : cases) {
    auto crt = SignCsr(dir_ + "/pki", b.pem, dir_ + "/dev-new.csr");
    ASSERT_FALSE(crt.ok()) << b.name;
    EXPECT_NE(crt.status().message().find(b.expect), std::string::npos) << b.name << ": " << crt.status().ToString();
    EXPECT_NE(crt.status().message().find("dev-new.csr"), std::string::npos) << b.name << ": " << crt.status().ToString();
  }
  // No CA: the init hint.
  auto none = SignCsr(dir_ + "/nowhere", *csr, "x.csr");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("edgeforge certs init"), std::string::npos) << none.status().ToString();
}

TEST_F(CsrTest, AnInvalidThingNameGetsNoRequest) {
  const std::string key = dir_ + "/device.key";
  ASSERT_TRUE(EnsurePrivateKey(key).ok());
  EXPECT_FALSE(MakeCsr(key, "a/b").ok());
  EXPECT_FALSE(MakeCsr(dir_ + "/missing.key", "dev-a").ok());
}

}  // namespace
}  // namespace edgeforge::certs
