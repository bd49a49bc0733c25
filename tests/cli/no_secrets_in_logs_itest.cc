// No secrets in logs (the security issue): the device binary and the
// simulator run as an operator runs them, at their most verbose, and every
// byte they print (stdout and stderr) is searched for the private keys they
// were given: the PEM text of every key file (whole body and each line), the
// "PRIVATE KEY" armor, and the private scalar d (the JWK's "d") as hex,
// base64url and base64. Also the failure paths that read key files (swapped
// or unreadable files), since an error message is where a key would leak.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "firmware/board/builtin.h"
#include "firmware/telemetry/jws.h"
#include "sim/broker/local_broker.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using testing_support::CliRun;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::ReadAll;

struct Secret {
  std::string what;  // "sign.key of leak-1: d as hex" (never the secret itself)
  std::string text;
  bool any_case = false;  // hex: either case counts
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string Base64(const std::vector<uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  size_t n = 0;
  EXPECT_EQ(
      mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &n, bytes.data(), bytes.size()),
      0);
  out.resize(n);
  return out;
}

/// The private scalar d of a PEM EC key (SEC1 or PKCS#8), 32 bytes big-endian.
std::vector<uint8_t> PrivateScalar(const std::string& pem) {
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  std::vector<uint8_t> d(32);
  const int rc =
      mbedtls_pk_parse_key(&pk, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1, nullptr, 0);
  EXPECT_EQ(rc, 0);
  if (rc == 0) {
    EXPECT_EQ(mbedtls_mpi_write_binary(&mbedtls_pk_ec(pk)->d, d.data(), d.size()), 0);
  }
  mbedtls_pk_free(&pk);
  return d;
}

/// Everything of a private key file that must never be printed.
std::vector<Secret> SecretsOf(const std::string& path, const std::string& name) {
  const std::string pem = ReadAll(path);
  EXPECT_NE(pem.find("PRIVATE KEY-----"), std::string::npos) << path;
  std::vector<Secret> out;
  std::string body;
  size_t line_no = 0;
  for (size_t at = 0; at < pem.size();) {
    size_t end = pem.find('\n', at);
    if (end == std::string::npos) end = pem.size();
    const std::string line = pem.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line.rfind("-----", 0) == 0) continue;
    body += line;
    // Each line of the body alone (a log that printed part of the file);
    // a short last line could match by chance, so lines of 16+ characters.
    if (line.size() >= 16) out.push_back({name + ": PEM body line " + std::to_string(++line_no), line});
  }
  out.push_back({name + ": PEM body", body});
  const std::vector<uint8_t> d = PrivateScalar(pem);
  std::string hex;
  for (uint8_t b : d) {
    static const char* const kHex = "0123456789abcdef";
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  out.push_back({name + ": d as hex", hex, true});
  out.push_back({name + ": d as base64url (the JWK's \"d\")", jws::Base64UrlEncode(d)});
  out.push_back({name + ": d as base64", Base64(d)});
  return out;
}

/// The secrets of every private key under a PKI directory: the CA's, the
/// broker's, the service identities' and each device's TLS and signing keys.
std::vector<Secret> SecretsOfPki(const std::string& pki) {
  std::vector<Secret> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(pki)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".key") continue;
    const std::string rel = std::filesystem::relative(entry.path(), pki).string();
    for (Secret& s : SecretsOf(entry.path().string(), rel)) out.push_back(std::move(s));
  }
  EXPECT_FALSE(out.empty()) << "no key files under " << pki;
  return out;
}

/// Fails the test naming each secret that `output` holds (never printing it).
void ExpectNoSecrets(const std::string& run, const std::string& output, const std::vector<Secret>& secrets) {
  EXPECT_EQ(output.find("PRIVATE KEY"), std::string::npos) << run << " printed a PEM private key armor line";
  const std::string lower = Lower(output);
  size_t checked = 0;
  for (const Secret& s : secrets) {
    const bool found =
        s.any_case ? lower.find(Lower(s.text)) != std::string::npos : output.find(s.text) != std::string::npos;
    EXPECT_FALSE(found) << run << " printed " << s.what;
    ++checked;
  }
  EXPECT_EQ(checked, secrets.size());
}

/// The built-in factory board with a 1 s report window (a run of a few
/// seconds publishes several windows, each logged at debug).
std::string FastBoard(const std::string& dir) {
  std::string json;
  for (const auto& b : board::BuiltinBoards()) {
    if (b.name == "factory-node") json = std::string(b.json);
  }
  const std::string from = "\"report_ms\": 10000";
  const size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) json.replace(at, from.size(), "\"report_ms\": 1000");
  const std::string path = dir + "/factory-fast.json";
  std::ofstream(path) << json;
  return path;
}

// The check itself: each form of a key in some output is caught (and only
// named, never printed).
TEST(NoSecretsInLogsTest, TheCheckCatchesEveryFormOfAKey) {
  const std::string pki = MakePki({"probe"}, "probepki");
  const std::string key = certs::PathsFor(pki, "probe").sign_key;
  const std::vector<Secret> secrets = SecretsOf(key, "sign.key");
  ExpectNoSecrets("a clean line", "edgeforge-device: published telemetry 3, alarms 0", secrets);
  for (const Secret& s : secrets) {
    const std::string leaked = "debug: " + (s.any_case ? Upper(s.text) : s.text) + " end";
    EXPECT_NONFATAL_FAILURE(ExpectNoSecrets("probe", leaked, {s}), "probe printed " + s.what);
  }
  EXPECT_NONFATAL_FAILURE(ExpectNoSecrets("probe", ReadAll(key), {}), "PEM private key armor");
}

TEST(NoSecretsInLogsTest, TheDeviceAtDebugLevelPrintsNoKeyMaterial) {
  const std::string pki = MakePki({"leak-1"}, "leakpki");
  sim::BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("leakbroker");
  auto broker = sim::LocalBroker::Start(o);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const std::string work = MakeTempDir("leakwork");
  const std::vector<Secret> secrets = SecretsOfPki(pki);
  const std::string base = "--board " + FastBoard(work) + " --sim-sensors --thing leak-1 --broker " + (*broker)->uri() +
                           " --log-level debug --state " + work + "/state";
  for (const char* signer : {"mbedtls", "openssl"}) {
    const CliRun r =
        testing_support::RunBinary("edgeforge-device", base + " --certs " + pki + " --duration 4s --signer " + signer);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(r.Has("published telemetry")) << "the debug lines ran: " << r.output;
    ExpectNoSecrets(std::string("edgeforge-device --signer ") + signer, r.output, secrets);
  }

  // The paths that read the key files and fail: each error names the file
  // and what is wrong with it, never what is in it. Files standing in for a
  // key are 0600, so the check gets past the mode and parses them.
  const certs::DevicePaths p = certs::PathsFor(pki, "leak-1");
  const std::string ca = " --ca " + pki + "/ca.crt";
  const std::string cert_as_key = work + "/cert-as-key.pem";
  std::ofstream(cert_as_key) << ReadAll(p.cert);
  std::string body = ReadAll(p.sign_key);
  body[body.find('\n') + 10] = '*';  // armor intact, body broken
  const std::string broken_key = work + "/broken.key";
  std::ofstream(broken_key) << body;
  ASSERT_EQ(::chmod(cert_as_key.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(broken_key.c_str(), 0600), 0);
  const std::vector<std::pair<std::string, std::string>> failures = {
      {"key and certificate swapped", ca + " --cert " + p.tls_key + " --key " + p.cert + " --sign-key " + p.sign_key},
      {"signing key given as the certificate",
       ca + " --cert " + p.sign_key + " --key " + p.tls_key + " --sign-key " + p.sign_key},
      {"a certificate given as the TLS key",
       ca + " --cert " + p.cert + " --key " + cert_as_key + " --sign-key " + p.sign_key},
      {"a certificate given as the signing key",
       ca + " --cert " + p.cert + " --key " + p.tls_key + " --sign-key " + cert_as_key},
      {"a signing key whose body is broken",
       ca + " --cert " + p.cert + " --key " + p.tls_key + " --sign-key " + broken_key},
      {"the TLS key given as the CA",
       " --ca " + p.tls_key + " --cert " + p.cert + " --key " + p.tls_key + " --sign-key " + p.sign_key},
  };
  for (const auto& [what, files] : failures) {
    const CliRun r = testing_support::RunBinary("edgeforge-device", base + files + " --duration 2s");
    EXPECT_EQ(r.exit_code, 1) << what << ": " << r.output;
    ExpectNoSecrets("edgeforge-device, " + what, r.output, secrets);
  }
  // A signing key others may read is refused (the check reads its mode, then the file).
  ASSERT_EQ(::chmod(p.sign_key.c_str(), 0644), 0);
  const CliRun loose = testing_support::RunBinary("edgeforge-device", base + " --certs " + pki + " --duration 2s");
  EXPECT_EQ(loose.exit_code, 1) << loose.output;
  ExpectNoSecrets("edgeforge-device with a world-readable signing key", loose.output, secrets);
  // --check with a config file goes through every identity file too.
  ASSERT_EQ(::chmod(p.sign_key.c_str(), 0600), 0);
  const std::string config = work + "/device.json";
  std::ofstream(config) << R"({"thing":"leak-1","broker":")" << (*broker)->uri() << R"(","certs":")" << pki
                        << R"(","board":"factory-node","state_dir":")" << work << R"(/state","log_level":"debug"})";
  ASSERT_EQ(::chmod(config.c_str(), 0600), 0);
  const CliRun check = testing_support::RunBinary("edgeforge-device", "--config " + config + " --check --sim-sensors");
  EXPECT_TRUE(check.Has("identity: ok")) << check.output;
  ExpectNoSecrets("edgeforge-device --config --check", check.output, secrets);
  // --csr prints a request for the key it keeps (an existing key is kept).
  const CliRun csr = testing_support::RunBinary("edgeforge-device", "--thing leak-1 --certs " + pki + " --csr");
  EXPECT_EQ(csr.exit_code, 0) << csr.output;
  EXPECT_TRUE(csr.Has("BEGIN CERTIFICATE REQUEST")) << csr.output;
  ExpectNoSecrets("edgeforge-device --csr", csr.output, secrets);
}

TEST(NoSecretsInLogsTest, TheSimulatorPrintsNoKeyMaterial) {
  const std::string work = MakeTempDir("leaksim");
  // The simulator makes its own PKI, broker and devices in --work.
  const CliRun r = testing_support::RunBinary(
      "edgeforge", "sim --devices 4 --duration 3s --interval 500ms --signer mbedtls --work " + work);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("result: PASS")) << r.output;
  const std::vector<Secret> secrets = SecretsOfPki(work + "/pki");
  ExpectNoSecrets("edgeforge sim", r.output, secrets);
  // The broker it ran logs connections with the certificates' names.
  const std::string broker_log = work + "/broker/mosquitto.log";
  ASSERT_TRUE(std::filesystem::exists(broker_log)) << broker_log;
  ExpectNoSecrets("the sim's mosquitto.log", ReadAll(broker_log), secrets);
  // Provisioning more identities into that PKI.
  const CliRun certs = testing_support::RunBinary("edgeforge", "certs devices --dir " + work + "/pki --count 6");
  EXPECT_EQ(certs.exit_code, 0) << certs.output;
  ExpectNoSecrets("edgeforge certs devices", certs.output, SecretsOfPki(work + "/pki"));
}

}  // namespace
}  // namespace edgeforge
