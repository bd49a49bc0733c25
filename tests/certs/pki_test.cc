// certs/pki.h against real files: parses what it wrote with mbedTLS, verifies
// chains with mbedTLS and the openssl CLI (what mosquitto and Paho link).
#include "certs/pki.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "certs/identity_check.h"
#include "firmware/telemetry/jws.h"

namespace edgeforge::certs {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string tmpl = testing::TempDir() + "pki_test_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned FileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Runs a shell command; returns exit status and combined output.
std::pair<int, std::string> RunShell(const std::string& cmd) {
  std::string output;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 512> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class Crt {
 public:
  explicit Crt(const std::string& path) {
    mbedtls_x509_crt_init(&crt_);
    parse_result_ = mbedtls_x509_crt_parse_file(&crt_, path.c_str());
  }
  ~Crt() { mbedtls_x509_crt_free(&crt_); }
  Crt(const Crt&) = delete;
  Crt& operator=(const Crt&) = delete;
  bool ok() const { return parse_result_ == 0; }
  mbedtls_x509_crt* get() { return &crt_; }
  mbedtls_x509_crt* operator->() { return &crt_; }

  std::string Subject() {
    char buf[512];
    mbedtls_x509_dn_gets(buf, sizeof buf, &crt_.subject);
    return buf;
  }
  std::string Issuer() {
    char buf[512];
    mbedtls_x509_dn_gets(buf, sizeof buf, &crt_.issuer);
    return buf;
  }
  std::string CommonName() {
    for (const mbedtls_x509_name* n = &crt_.subject; n != nullptr; n = n->next) {
      if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
        return std::string(reinterpret_cast<const char*>(n->val.p), n->val.len);
      }
    }
    return "";
  }
  // Raw GeneralName entries: mbedTLS 2.28 keeps every SAN entry with its tag
  // even though it only interprets dNSName.
  std::vector<std::pair<int, std::string>> SubjectAltNames() {
    std::vector<std::pair<int, std::string>> out;
    for (const mbedtls_x509_sequence* s = &crt_.subject_alt_names;
         s != nullptr && s->buf.p != nullptr; s = s->next) {
      out.emplace_back(s->buf.tag & 0x1f,
                       std::string(reinterpret_cast<const char*>(s->buf.p), s->buf.len));
    }
    return out;
  }

 private:
  mbedtls_x509_crt crt_;
  int parse_result_ = -1;
};

class PkPrivate {
 public:
  explicit PkPrivate(const std::string& path) {
    mbedtls_pk_init(&pk_);
    const std::string pem = ReadFile(path);
    parse_result_ = mbedtls_pk_parse_key(&pk_, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                         pem.size() + 1, nullptr, 0);
  }
  ~PkPrivate() { mbedtls_pk_free(&pk_); }
  PkPrivate(const PkPrivate&) = delete;
  PkPrivate& operator=(const PkPrivate&) = delete;
  bool ok() const { return parse_result_ == 0; }
  mbedtls_pk_context* get() { return &pk_; }

 private:
  mbedtls_pk_context pk_;
  int parse_result_ = -1;
};

// Flags of verifying `leaf_path` against the trust anchor `ca_path`
// (0 = trusted). `cn` optionally checks the name (SAN DNS or CN).
uint32_t VerifyFlags(const std::string& leaf_path, const std::string& ca_path,
                     const char* cn = nullptr) {
  Crt leaf(leaf_path);
  Crt ca(ca_path);
  if (!leaf.ok() || !ca.ok()) return 0xffffffffu;
  uint32_t flags = 0;
  mbedtls_x509_crt_verify(leaf.get(), ca.get(), nullptr, cn, &flags, nullptr, nullptr);
  return flags;
}

std::time_t ToTimeT(const mbedtls_x509_time& t) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.mon - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.min;
  tm.tm_sec = t.sec;
  return ::timegm(&tm);
}

class PkiTest : public testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(temp_root_.empty() ? dir_ : temp_root_, ec);
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Init() {
    ASSERT_TRUE(CreateCa(dir_).ok());
    ASSERT_TRUE(CreateBrokerCert(dir_).ok());
    ASSERT_TRUE(CreateClientCert(dir_, kIngestCommonName, "ingest").ok());
  }

  std::string dir_;
  std::string temp_root_;
};

// ---- names ---------------------------------------------------------------------

TEST(PkiNamesTest, AcceptsAwsIotNames) {
  for (const std::string& name :
       std::vector<std::string>{"a", "edge-00001", "Line_3:press-7", std::string(128, 'x')}) {
    EXPECT_TRUE(ValidateThingName(name).ok()) << name;
  }
}

TEST(PkiNamesTest, RejectsBadNamesQuotingThemAndTheRule) {
  const std::string long_name(129, 'a');
  struct Case {
    std::string name;
    std::string says;
  } cases[] = {{"", "is empty"}, {"a/b", "'/'"},     {"dev#1", "'#'"},
               {"a b", "' '"},   {"dot.ted", "'.'"}, {long_name, "129 characters"}};
  for (const Case& c : cases) {
    Status st = ValidateThingName(c.name);
    ASSERT_FALSE(st.ok()) << c.name;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("\"" + c.name + "\""), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("[a-zA-Z0-9:_-]"), std::string::npos) << st.message();
    if (c.says.size() == 3) {
      // the offending character is quoted: "has \"/\" at position 1"
      EXPECT_NE(st.message().find("\"" + c.says.substr(1, 1) + "\" at position"), std::string::npos)
          << st.message();
    } else {
      EXPECT_NE(st.message().find(c.says), std::string::npos) << st.message();
    }
  }
}

TEST(PkiNamesTest, EscapesControlCharactersInErrors) {
  Status st = ValidateThingName(std::string("a\nb", 3));
  EXPECT_NE(st.message().find("\"a\\x0ab\""), std::string::npos) << st.message();
}

TEST(PkiNamesTest, DeviceNamePadsToFiveDigits) {
  EXPECT_EQ(DeviceName("edge-", 42), "edge-00042");
  EXPECT_EQ(DeviceName("edge-", 0), "edge-00000");
  EXPECT_EQ(FleetDeviceNames("edge-", 3), (std::vector<std::string>{"edge-00001", "edge-00002", "edge-00003"}));
  EXPECT_TRUE(FleetDeviceNames("edge-", 0).empty());
  EXPECT_EQ(DeviceName("press-", 123456), "press-123456");
}

TEST(PkiNamesTest, PathsForFollowsTheLayout) {
  DevicePaths p = PathsFor("/pki", "edge-00001");
  EXPECT_EQ(p.dir, "/pki/devices/edge-00001");
  EXPECT_EQ(p.cert, "/pki/devices/edge-00001/device.crt");
  EXPECT_EQ(p.tls_key, "/pki/devices/edge-00001/device.key");
  EXPECT_EQ(p.sign_key, "/pki/devices/edge-00001/sign.key");
}

// ---- CA ------------------------------------------------------------------------

TEST_F(PkiTest, CaIsASelfSignedV3RootWithPrivateKey) {
  const std::string sub = Path("new/pki");  // created like mkdir -p
  ASSERT_TRUE(CreateCa(sub).ok());
  const std::time_t now = std::time(nullptr);
  Crt ca(sub + "/ca.crt");
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(ca->version, 3);
  EXPECT_EQ(ca.CommonName(), kCaCommonName);
  EXPECT_EQ(ca.Subject(), ca.Issuer());
  EXPECT_EQ(ca->ca_istrue, 1);
  EXPECT_TRUE(ca->ext_types & MBEDTLS_X509_EXT_KEY_USAGE);
  EXPECT_EQ(ca->key_usage, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
  EXPECT_EQ(ca->sig_md, MBEDTLS_MD_SHA256);
  EXPECT_EQ(ca->sig_pk, MBEDTLS_PK_ECDSA);
  EXPECT_EQ(mbedtls_pk_ec(ca->pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);
  ASSERT_EQ(ca->serial.len, 16u);
  EXPECT_LT(ca->serial.p[0], 0x80);  // positive (RFC 5280 4.1.2.2)
  const std::time_t from = ToTimeT(ca->valid_from);
  EXPECT_NEAR(static_cast<double>(from), static_cast<double>(now - 3600), 120.0);
  EXPECT_EQ(ToTimeT(ca->valid_to) - from, std::time_t{3650} * 86400);
  EXPECT_EQ(VerifyFlags(sub + "/ca.crt", sub + "/ca.crt"), 0u);
  EXPECT_EQ(FileMode(sub + "/ca.key"), 0600u);
  EXPECT_EQ(FileMode(sub + "/ca.crt"), 0644u);
  PkPrivate key(sub + "/ca.key");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(mbedtls_pk_check_pair(&ca->pk, key.get()), 0);
}

TEST_F(PkiTest, SecondCaIsRefusedNamingCaKey) {
  ASSERT_TRUE(CreateCa(dir_).ok());
  const std::string before = ReadFile(Path("ca.crt"));
  Status st = CreateCa(dir_);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find(Path("ca.key")), std::string::npos) << st.message();
  EXPECT_EQ(ReadFile(Path("ca.crt")), before);
  // With only the cert left it still refuses, naming the cert.
  fs::remove(Path("ca.key"));
  st = CreateCa(dir_);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find(Path("ca.crt")), std::string::npos) << st.message();
}

TEST_F(PkiTest, DirectoryUnderARegularFileFailsClearly) {
  std::ofstream(Path("afile")) << "x";
  const std::string target = Path("afile/sub");
  Status st = CreateCa(target);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find(target), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("not a directory"), std::string::npos) << st.message();
}

// Root ignores directory modes, and CI runs as root: the check then runs in a
// child that drops to nobody (65534), so it is a real check for every user.
TEST_F(PkiTest, UnwritableDirectoryIsPermissionDenied) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);  // others may enter, nobody may write
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    Status st = CreateCa(dir_);
    const bool named = st.message().find(dir_) != std::string::npos;
    ::_exit(st.code() == StatusCode::kPermissionDenied && named ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::chmod(dir_.c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "CreateCa in a read-only dir must be PERMISSION_DENIED naming the dir";
}

// ---- broker and clients --------------------------------------------------------

TEST_F(PkiTest, BrokerCertServesLocalhostAndLoopbackIps) {
  Init();
  Crt broker(Path("broker.crt"));
  ASSERT_TRUE(broker.ok());
  EXPECT_EQ(broker.CommonName(), kBrokerCommonName);
  EXPECT_TRUE(broker->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS);
  EXPECT_EQ(broker->ca_istrue, 0);
  EXPECT_EQ(broker->key_usage, MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT);
  EXPECT_EQ(mbedtls_x509_crt_check_extended_key_usage(broker.get(), MBEDTLS_OID_SERVER_AUTH,
                                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
            0);
  const auto sans = broker.SubjectAltNames();
  const std::string v4("\x7f\x00\x00\x01", 4);
  std::string v6(16, '\0');
  v6[15] = 1;
  const std::vector<std::pair<int, std::string>> expected = {{2, "localhost"}, {7, v4}, {7, v6}};
  EXPECT_EQ(sans, expected);
  EXPECT_EQ(VerifyFlags(Path("broker.crt"), Path("ca.crt"), "localhost"), 0u);
  EXPECT_NE(VerifyFlags(Path("broker.crt"), Path("ca.crt"), "example.com"), 0u);

  auto [rc, text] = RunShell("openssl x509 -noout -ext subjectAltName -in " + Path("broker.crt"));
  ASSERT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:0:0:0:0:0:0:0:1"), std::string::npos) << text;
}

TEST_F(PkiTest, OpensslAcceptsBrokerAsTlsServerForLoopback) {
  Init();
  auto [rc, text] =
      RunShell("openssl verify -purpose sslserver -verify_hostname localhost -CAfile " +
               Path("ca.crt") + " " + Path("broker.crt"));
  EXPECT_EQ(rc, 0) << text;
  std::tie(rc, text) = RunShell("openssl verify -purpose sslserver -verify_ip 127.0.0.1 -CAfile " +
                                Path("ca.crt") + " " + Path("broker.crt"));
  EXPECT_EQ(rc, 0) << text;
  std::tie(rc, text) = RunShell("openssl verify -purpose sslclient -CAfile " + Path("ca.crt") +
                                " " + Path("ingest.crt"));
  EXPECT_EQ(rc, 0) << text;
}

TEST_F(PkiTest, IngestAndExtraClientIdentities) {
  Init();
  Crt ingest(Path("ingest.crt"));
  ASSERT_TRUE(ingest.ok());
  EXPECT_EQ(ingest.CommonName(), kIngestCommonName);
  EXPECT_EQ(FileMode(Path("ingest.key")), 0600u);
  ASSERT_TRUE(CreateClientCert(dir_, "intruder", "intruder").ok());
  Crt extra(Path("intruder.crt"));
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(extra.CommonName(), "intruder");
  EXPECT_EQ(VerifyFlags(Path("intruder.crt"), Path("ca.crt")), 0u);
  EXPECT_EQ(CreateClientCert(dir_, "x", "../x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateClientCert(dir_, "", "x").code(), StatusCode::kInvalidArgument);
  Status again = CreateClientCert(dir_, "intruder", "intruder");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("intruder.crt"), std::string::npos) << again.message();
}

TEST_F(PkiTest, LeafWithoutCaIsNotFoundWithInitHint) {
  Status st = CreateBrokerCert(dir_);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("certs init"), std::string::npos) << st.message();
  Result<int> r = CreateDevices(dir_, {"edge-1"});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(PkiTest, OrphanLeafKeyFromInterruptedRunIsReplaced) {
  ASSERT_TRUE(CreateCa(dir_).ok());
  std::ofstream(Path("broker.key")) << "half-written";
  ASSERT_TRUE(CreateBrokerCert(dir_).ok());
  PkPrivate key(Path("broker.key"));
  ASSERT_TRUE(key.ok());
  Crt broker(Path("broker.crt"));
  EXPECT_EQ(mbedtls_pk_check_pair(&broker->pk, key.get()), 0);
  EXPECT_EQ(FileMode(Path("broker.key")), 0600u);
}

// ---- devices -------------------------------------------------------------------

TEST_F(PkiTest, DeviceCertsChainToTheirCaOnly) {
  Init();
  Result<int> created = CreateDevices(dir_, {"edge-00000", "edge-00001", "press:7_a"});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, 3);

  const std::string other = MakeTempDir();
  ASSERT_TRUE(CreateCa(other).ok());
  for (const std::string thing : {"edge-00000", "edge-00001", "press:7_a"}) {
    DevicePaths p = PathsFor(dir_, thing);
    Crt crt(p.cert);
    ASSERT_TRUE(crt.ok()) << p.cert;
    EXPECT_EQ(crt.CommonName(), thing);
    EXPECT_EQ(crt->ca_istrue, 0);
    EXPECT_TRUE(crt->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS);
    EXPECT_EQ(mbedtls_x509_crt_check_extended_key_usage(crt.get(), MBEDTLS_OID_CLIENT_AUTH,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
              0);
    EXPECT_EQ(ToTimeT(crt->valid_to) - ToTimeT(crt->valid_from), std::time_t{kLeafDays} * 86400);
    EXPECT_EQ(VerifyFlags(p.cert, Path("ca.crt")), 0u);
    EXPECT_TRUE(VerifyFlags(p.cert, other + "/ca.crt") & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    EXPECT_EQ(FileMode(p.tls_key), 0600u);
    EXPECT_EQ(FileMode(p.sign_key), 0600u);
    EXPECT_EQ(FileMode(p.cert), 0644u);
    PkPrivate tls(p.tls_key);
    PkPrivate sign(p.sign_key);
    ASSERT_TRUE(tls.ok() && sign.ok());
    EXPECT_EQ(mbedtls_pk_check_pair(&crt->pk, tls.get()), 0);
    EXPECT_NE(mbedtls_pk_check_pair(&crt->pk, sign.get()), 0) << "signing key must be separate";
    EXPECT_NE(ReadFile(p.tls_key), ReadFile(p.sign_key));
  }
  Crt a(PathsFor(dir_, "edge-00000").cert);
  Crt b(PathsFor(dir_, "edge-00001").cert);
  EXPECT_NE(std::string(reinterpret_cast<char*>(a->serial.p), a->serial.len),
            std::string(reinterpret_cast<char*>(b->serial.p), b->serial.len));
  fs::remove_all(other);
}

// Keys come from OpenSSL (certs/x509_writer.h KeyGenerator) and are written
// by mbedTLS: SEC1 PEM that OpenSSL's own key check accepts, each one new.
TEST_F(PkiTest, DeviceKeysAreValidSec1P256KeysAndAllDifferent) {
  Init();
  std::vector<std::string> things;
  for (int i = 0; i < 50; ++i) things.push_back(DeviceName("k-", i));
  ASSERT_TRUE(CreateDevices(dir_, things, 2).ok());
  std::set<std::string> keys;
  for (const std::string& thing : things) {
    const DevicePaths p = PathsFor(dir_, thing);
    for (const std::string* f : {&p.tls_key, &p.sign_key}) {
      const std::string pem = ReadFile(*f);
      EXPECT_EQ(pem.rfind("-----BEGIN EC PRIVATE KEY-----\n", 0), 0u) << *f;
      keys.insert(pem);
    }
  }
  EXPECT_EQ(keys.size(), 2 * things.size());
  auto [rc, text] = RunShell("openssl ec -in " + PathsFor(dir_, things[7]).sign_key + " -check -noout 2>&1");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("EC Key valid."), std::string::npos) << text;
  auto [rc2, curve] = RunShell("openssl ec -in " + PathsFor(dir_, things[7]).tls_key + " -text -noout 2>&1");
  EXPECT_EQ(rc2, 0) << curve;
  EXPECT_NE(curve.find("NIST CURVE: P-256"), std::string::npos) << curve;
}

TEST_F(PkiTest, OpensslVerifiesDeviceCerts) {
  Init();
  const std::string long_name(128, 'L');  // CN longer than RFC 5280's ub-common-name (64)
  ASSERT_TRUE(CreateDevices(dir_, {"x", long_name}).ok());
  for (const std::string& thing : {std::string("x"), long_name}) {
    auto [rc, text] = RunShell("openssl verify -purpose sslclient -CAfile " + Path("ca.crt") + " " +
                               PathsFor(dir_, thing).cert);
    EXPECT_EQ(rc, 0) << text;
    EXPECT_NE(text.find(": OK"), std::string::npos) << text;
  }
  // The same leaf against an unrelated CA must fail in OpenSSL too.
  const std::string other = MakeTempDir();
  ASSERT_TRUE(CreateCa(other).ok());
  auto [rc, text] =
      RunShell("openssl verify -CAfile " + other + "/ca.crt " + PathsFor(dir_, "x").cert);
  EXPECT_NE(rc, 0) << text;
  fs::remove_all(other);
}

TEST_F(PkiTest, CreateDevicesIsIdempotent) {
  Init();
  const std::vector<std::string> things = {"a", "b", "c", "d", "e"};
  Result<int> first = CreateDevices(dir_, things, 3);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 5);
  const std::string cert_before = ReadFile(PathsFor(dir_, "c").cert);
  Result<int> second = CreateDevices(dir_, things, 3);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(ReadFile(PathsFor(dir_, "c").cert), cert_before);
}

TEST_F(PkiTest, DeviceWithoutCertIsRegenerated) {
  Init();
  ASSERT_TRUE(CreateDevices(dir_, {"a", "b"}).ok());
  DevicePaths a = PathsFor(dir_, "a");
  const std::string old_sign = ReadFile(a.sign_key);
  const std::string b_cert = ReadFile(PathsFor(dir_, "b").cert);
  fs::remove(a.cert);  // as if killed between the keys and the cert
  Result<int> again = CreateDevices(dir_, {"a", "b"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 1);
  EXPECT_NE(ReadFile(a.sign_key), old_sign);
  EXPECT_EQ(ReadFile(PathsFor(dir_, "b").cert), b_cert);
  Crt crt(a.cert);
  PkPrivate tls(a.tls_key);
  ASSERT_TRUE(crt.ok() && tls.ok());
  EXPECT_EQ(mbedtls_pk_check_pair(&crt->pk, tls.get()), 0);
}

TEST_F(PkiTest, FailedDeviceIsNamedAndTheRestCanResume) {
  Init();
  fs::create_directories(Path("devices"));
  std::ofstream(Path("devices/blocked")) << "a file where the device directory goes";
  Result<int> r = CreateDevices(dir_, {"a", "blocked", "c"}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("devices/blocked"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("after creating 1 of 3 devices"), std::string::npos)
      << r.status().message();
  fs::remove(Path("devices/blocked"));
  Result<int> resumed = CreateDevices(dir_, {"a", "blocked", "c"});
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(*resumed, 2);
}

TEST_F(PkiTest, BadNamesAreRejectedBeforeAnythingIsCreated) {
  Init();
  for (const std::string& bad :
       {std::string(""), std::string("a/b"), std::string("dev#1"), std::string(129, 'n')}) {
    Result<int> r = CreateDevices(dir_, {"good-1", bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("\"" + bad + "\""), std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(fs::exists(PathsFor(dir_, "good-1").dir));
  Result<int> dup = CreateDevices(dir_, {"d", "d"});
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("\"d\""), std::string::npos);
  EXPECT_EQ(CreateDevices(dir_, {"d"}, 0).status().code(), StatusCode::kInvalidArgument);
}

// ---- JWK set -------------------------------------------------------------------

TEST_F(PkiTest, JwksHasOneKeyPerDeviceWithThumbprintKid) {
  Init();
  const std::vector<std::string> things = {"edge-00002", "edge-00000", "edge-00001"};
  ASSERT_TRUE(CreateDevices(dir_, things).ok());
  fs::create_directories(Path("devices/not.a.thing"));  // ignored: not a thing name
  ASSERT_TRUE(WriteJwks(dir_).ok());
  EXPECT_EQ(FileMode(Path("jwks.json")), 0644u);
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(ReadFile(Path("jwks.json")));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->size(), 3u);
  for (size_t i = 0; i < set->size(); ++i) {
    const jws::Jwk& jwk = (*set)[i];
    EXPECT_EQ(jwk.thing, "edge-0000" + std::to_string(i));  // sorted by thing
    Result<jws::EcP256PublicKey> pub =
        jws::PublicKeyFromPem(ReadFile(PathsFor(dir_, jwk.thing).sign_key));
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(jwk.key, *pub);
    EXPECT_EQ(jwk.kid, jws::Thumbprint(*pub));
  }
}

TEST_F(PkiTest, JwksOfEmptyPkiIsAnEmptySet) {
  ASSERT_TRUE(CreateCa(dir_).ok());
  Result<std::string> json = JwksJson(dir_);
  ASSERT_TRUE(json.ok());
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(*json);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->empty());
}

TEST_F(PkiTest, JwksNamesACorruptSigningKey) {
  Init();
  ASSERT_TRUE(CreateDevices(dir_, {"bad"}).ok());
  const std::string key = PathsFor(dir_, "bad").sign_key;
  fs::remove(key);
  std::ofstream(key) << "not a key";
  Status st = WriteJwks(dir_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(key), std::string::npos) << st.message();
}

// ---- EnsurePki -----------------------------------------------------------------

TEST_F(PkiTest, EnsurePkiBuildsThenReusesTheCa) {
  const std::string pki = Path("pki");
  ASSERT_TRUE(EnsurePki(pki, {"edge-00000", "edge-00001"}).ok());
  for (const char* f :
       {"ca.crt", "ca.key", "broker.crt", "broker.key", "ingest.crt", "ingest.key", "jwks.json"}) {
    EXPECT_TRUE(fs::exists(pki + "/" + f)) << f;
  }
  const std::string ca = ReadFile(pki + "/ca.crt");
  const std::string broker = ReadFile(pki + "/broker.crt");
  fs::remove(pki + "/ingest.crt");
  Status st = EnsurePki(pki, {"edge-00000", "edge-00001", "edge-00002"});
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(pki + "/ca.crt"), ca);
  EXPECT_EQ(ReadFile(pki + "/broker.crt"), broker);
  EXPECT_EQ(VerifyFlags(pki + "/ingest.crt", pki + "/ca.crt"), 0u);
  EXPECT_EQ(VerifyFlags(PathsFor(pki, "edge-00002").cert, pki + "/ca.crt"), 0u);
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(ReadFile(pki + "/jwks.json"));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 3u);
  EXPECT_TRUE(EnsurePki(pki, {"edge-00000"}).ok());
}

TEST_F(PkiTest, EnsurePkiWritesNothingWhenUpToDate) {
  const std::vector<std::string> things = {"a", "b"};
  ASSERT_TRUE(EnsurePki(dir_, things).ok());
  struct stat before {};
  ASSERT_EQ(::stat(Path("jwks.json").c_str(), &before), 0);
  ASSERT_TRUE(EnsurePki(dir_, things).ok());
  struct stat after {};
  ASSERT_EQ(::stat(Path("jwks.json").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "jwks.json was rewritten";
  ASSERT_TRUE(EnsurePki(dir_, {"a", "b", "c"}).ok());
  ASSERT_EQ(::stat(Path("jwks.json").c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
}

TEST_F(PkiTest, ConcurrentEnsurePkiAgreesOnOneCa) {
  // Simulator shards may share a PKI directory; DIR/.lock serialises them.
  const std::string pki = Path("shared");
  std::vector<Status> results(4);
  std::vector<std::thread> shards;
  for (size_t i = 0; i < results.size(); ++i) {
    shards.emplace_back([&, i] {
      results[i] = EnsurePki(pki, {DeviceName("edge-", static_cast<int>(i)), "common"});
    });
  }
  for (std::thread& t : shards) t.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(VerifyFlags(PathsFor(pki, DeviceName("edge-", i)).cert, pki + "/ca.crt"), 0u);
  }
  EXPECT_EQ(VerifyFlags(pki + "/broker.crt", pki + "/ca.crt"), 0u);
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(ReadFile(pki + "/jwks.json"));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 5u);
}

TEST_F(PkiTest, EnsurePkiRefusesHalfACa) {
  ASSERT_TRUE(CreateCa(dir_).ok());
  fs::remove(Path("ca.crt"));
  Status st = EnsurePki(dir_, {"a"});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("ca.key"), std::string::npos) << st.message();
}

// ---- scale ---------------------------------------------------------------------

// Bulk creation on two threads: every identity complete and chained to the CA.
// (Speed is measured in bench/certs_bench.sh against an openssl CLI loop.)
TEST_F(PkiTest, BulkDevicesOnTwoThreads) {
  Init();
  std::vector<std::string> things;
  for (int i = 0; i < 200; ++i) things.push_back(DeviceName("edge-", i));
  Result<int> created = CreateDevices(dir_, things, 2);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, 200);
  EXPECT_EQ(VerifyFlags(PathsFor(dir_, "edge-00000").cert, Path("ca.crt")), 0u);
  EXPECT_EQ(VerifyFlags(PathsFor(dir_, "edge-00199").cert, Path("ca.crt")), 0u);
  // Every one of the 200 pairs, not just the ends: the cert chains to the CA,
  // its key matches it and the key files are 0600 (threads must not mix them up).
  const Status fleet = CheckFleetIdentities(dir_, things, static_cast<int64_t>(std::time(nullptr)),
                                            IdentityCheckDepth::kFull);
  EXPECT_TRUE(fleet.ok()) << fleet.ToString();
  ASSERT_TRUE(WriteJwks(dir_).ok());
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(ReadFile(Path("jwks.json")));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 200u);
}

}  // namespace
}  // namespace edgeforge::certs
