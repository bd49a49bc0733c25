// The real edgeforge-device given a faulty identity, against a real mosquitto
// set up like IoT Core: it names the file and the reason and exits 1 before
// connecting, instead of one indistinct TLS alert and a retry every 10 s
// forever (issue 8 item 6). A good identity is printed with its dates and runs.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <ctime>

#include "certs/identity_check.h"
#include "sim/broker/local_broker.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_identity.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using testing_support::CliRun;
using testing_support::FilesOf;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;
using testing_support::WriteFile;

/// Bound on one device run. A device that retries instead of exiting is
/// killed at this bound and the test sees timeout(1)'s exit status, not 1.
constexpr int kRunBoundSeconds = 30;

/// edgeforge-device `args` under timeout(1), stdout and stderr together.
CliRun RunDevice(const std::string& args) {
  const std::string cmd = "timeout -k 5 " + std::to_string(kRunBoundSeconds) + " " + EDGEFORGE_BIN_DIR +
                          "/edgeforge-device " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class DeviceIdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "identity-itest"));
    sim::BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("identity-broker");
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = b->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }
  void SetUp() override {
    ASSERT_NE(broker_, nullptr);
    dir_ = MakeTempDir("identity-run");
  }

  /// The device as thing `thing` with `files` (each overriding its --certs default).
  CliRun Run(const certs::IdentityFiles& files, const std::string& thing = "dev-a", const std::string& extra = "") {
    return RunDevice("--board factory-node --sim-sensors --thing " + thing + " --broker " + broker_->uri() +
                     " --certs " + *pki_ + " --ca " + files.ca + " --cert " + files.cert + " --key " + files.tls_key +
                     " --sign-key " + files.sign_key + " --state " + dir_ + "/state " + extra);
  }

  static std::string* pki_;
  static sim::LocalBroker* broker_;
  std::string dir_;
};
std::string* DeviceIdentityTest::pki_ = nullptr;
sim::LocalBroker* DeviceIdentityTest::broker_ = nullptr;

TEST_F(DeviceIdentityTest, AGoodIdentityIsPrintedWithItsDatesAndConnects) {
  const CliRun r = Run(FilesOf(*pki_, "dev-a"), "dev-a", "--duration 2s");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto report = certs::CheckDeviceIdentity(FilesOf(*pki_, "dev-a"), "dev-a", std::time(nullptr));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(r.Has("identity CN=dev-a, valid " + certs::FormatUtc(report->not_before) + " to " +
                    certs::FormatUtc(report->not_after)))
      << r.output;
  EXPECT_TRUE(r.Has("(chain verified)")) << r.output;
  EXPECT_TRUE(r.Has("link: connected")) << r.output;
}

TEST_F(DeviceIdentityTest, TruncatedCertificateExitsOneNamingTheFile) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  const std::string pem = ReadAll(f.cert);
  f.cert = dir_ + "/device.crt";
  WriteFile(f.cert, pem.substr(0, 300), 0644);
  const CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("certificate '" + f.cert + "' is truncated")) << r.output;
  EXPECT_FALSE(r.Has("link:")) << "no connect attempt expected:\n" << r.output;
}

TEST_F(DeviceIdentityTest, GarbageKeyExitsOneNamingTheFile) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = dir_ + "/device.key";
  WriteFile(f.tls_key, "garbage\n", 0600);
  const CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("TLS key '" + f.tls_key + "' is not PEM")) << r.output;
}

TEST_F(DeviceIdentityTest, AnotherThingsKeyExitsOneNamingBothFiles) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.tls_key = FilesOf(*pki_, "dev-b").tls_key;
  const CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("TLS key '" + f.tls_key + "' is not the key of certificate '" + f.cert + "'")) << r.output;
}

TEST_F(DeviceIdentityTest, GarbageCaExitsOneNamingTheFile) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.ca = dir_ + "/ca.crt";
  WriteFile(f.ca, "not a certificate\n", 0644);
  const CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("CA file '" + f.ca + "' is not PEM")) << r.output;
}

TEST_F(DeviceIdentityTest, ExpiredAndNotYetValidCertificatesExitOneWithTheirDates) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  f.cert = dir_ + "/device.crt";
  f.tls_key = dir_ + "/device.key";
  const std::time_t now = std::time(nullptr);
  testing_support::IssueClientCert(*pki_, "dev-a", now - 40 * 86400, 30, f.cert, f.tls_key);
  CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("certificate '" + f.cert + "' expired: notAfter " + certs::FormatUtc(now - 10 * 86400 - 3600)))
      << r.output;
  testing_support::IssueClientCert(*pki_, "dev-a", now + 2 * 86400, 30, f.cert, f.tls_key);
  r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(
      r.Has("certificate '" + f.cert + "' is not valid yet: notBefore " + certs::FormatUtc(now + 2 * 86400 - 3600)))
      << r.output;
}

TEST_F(DeviceIdentityTest, KeyReadableByOthersIsRefusedWithTheFix) {
  certs::IdentityFiles f = FilesOf(*pki_, "dev-a");
  const std::string key = dir_ + "/device.key";
  WriteFile(key, ReadAll(f.tls_key), 0644);
  f.tls_key = key;
  const CliRun r = Run(f);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("TLS key '" + key + "' has mode 0644")) << r.output;
  EXPECT_TRUE(r.Has("chmod 600 " + key)) << r.output;
}

// On main this one connected, and the broker refused every publish (0x87)
// without a word in the log: "delivered 0, dropped 2".
TEST_F(DeviceIdentityTest, AnotherThingsCertificateIsRefusedAtStartNamingCnAndThing) {
  const certs::IdentityFiles f = FilesOf(*pki_, "dev-b");
  const CliRun r = Run(f, "dev-a");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("certificate '" + f.cert + "' is for CN 'dev-b', not thing 'dev-a'")) << r.output;
  EXPECT_FALSE(r.Has("link: connected")) << r.output;
}

}  // namespace
}  // namespace edgeforge

namespace edgeforge {
namespace {

// Keys made on the device (issue 12): the device creates its TLS key and
// prints only a CSR; the dev CA signs it; the device connects with the key
// that never left its directory.
TEST_F(DeviceIdentityTest, KeyMadeOnTheDeviceAndSignedFromItsCsrConnects) {
  const std::string key = dir_ + "/dev-c/device.key";
  const std::string csr = dir_ + "/dev-c.csr";
  const std::string crt = dir_ + "/dev-c.crt";
  // stdout (the CSR) to its file, stderr apart (grouped: RunShell sends the group's stderr to its output).
  const std::string device = std::string(EDGEFORGE_BIN_DIR) + "/edgeforge-device";
  const testing_support::CliRun made = testing_support::RunShell("{ " + device + " --thing dev-c --key " + key +
                                                                 " --csr > " + csr + " 2> " + dir_ + "/csr.err; }");
  ASSERT_EQ(made.exit_code, 0) << ReadAll(dir_ + "/csr.err");
  EXPECT_NE(ReadAll(dir_ + "/csr.err").find("created " + key), std::string::npos) << ReadAll(dir_ + "/csr.err");
  const std::string request = ReadAll(csr);
  EXPECT_EQ(request.rfind("-----BEGIN CERTIFICATE REQUEST-----", 0), 0u) << request;
  EXPECT_EQ(request.find("PRIVATE KEY"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string key_before = ReadAll(key);

  const testing_support::CliRun signed_ =
      testing_support::RunBinary("edgeforge", "certs sign-csr --dir " + *pki_ + " --csr " + csr + " --out " + crt);
  ASSERT_EQ(signed_.exit_code, 0) << signed_.output;

  // A second --csr keeps the key: the certificate just issued stays its own.
  const testing_support::CliRun again =
      testing_support::RunShell("{ " + device + " --thing dev-c --key " + key + " --csr > /dev/null; }");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(again.Has("kept the existing " + key)) << again.output;
  EXPECT_EQ(ReadAll(key), key_before);

  certs::IdentityFiles files = FilesOf(*pki_, "dev-a");
  files.cert = crt;
  files.tls_key = key;
  const CliRun r = Run(files, "dev-c", "--duration 2s");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("identity CN=dev-c")) << r.output;
  EXPECT_TRUE(r.Has("link: connected")) << r.output;
}

TEST_F(DeviceIdentityTest, CsrWithoutThingOrKeyPlaceIsAUsageError) {
  CliRun r = testing_support::RunBinary("edgeforge-device", "--csr");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--csr needs --thing")) << r.output;
  r = testing_support::RunBinary("edgeforge-device", "--thing dev-c --csr");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.Has("--key FILE or --certs DIR")) << r.output;
}

}  // namespace
}  // namespace edgeforge
