// Test support: a real PKI (certs/ on mbedTLS) in a fresh temp directory, and
// small file helpers. Header-only so each test binary links only what it uses.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "firmware/link/session.h"
#include "firmware/telemetry/jws.h"

namespace edgeforge::testing_support {

inline std::string MakeTempDir(const std::string& stem) {
  std::string t = ::testing::TempDir() + stem + "XXXXXX";
  const char* d = mkdtemp(t.data());
  return d ? std::string(d) : std::string();
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A PKI with the given devices; fails the calling test on error.
inline std::string MakePki(const std::vector<std::string>& things, const std::string& stem = "pki") {
  const std::string dir = MakeTempDir(stem) + "/pki";
  Status s = certs::EnsurePki(dir, things);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dir;
}

inline std::unique_ptr<jws::Signer> SignerFor(const std::string& pki, const std::string& thing,
                                              jws::Backend b = jws::Backend::kOpenSsl) {
  auto s = jws::MakeSigner(b, ReadAll(certs::PathsFor(pki, thing).sign_key));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

inline std::vector<jws::Jwk> Jwks(const std::string& pki) {
  auto k = jws::JwkSetFromJson(ReadAll(pki + "/jwks.json"));
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.ok() ? *k : std::vector<jws::Jwk>{};
}

/// A device's session config from a test PKI: the thing's own certificate
/// and TLS key, the PKI's CA, `uri`, and a connect deadline.
inline link::SessionConfig DeviceSessionConfig(const std::string& pki, const std::string& thing,
                                               const std::string& uri, Millis connect_timeout = Millis(3000)) {
  link::SessionConfig c;
  c.server_uri = uri;
  c.client_id = thing;
  const certs::DevicePaths p = certs::PathsFor(pki, thing);
  c.tls = {pki + "/ca.crt", p.cert, p.tls_key};
  c.connect_timeout = connect_timeout;
  return c;
}

/// A session config for one of the PKI's service identities (certs/pki.h:
/// "ingest" = edgeforge-ingest, "shadow" = edgeforge-shadow): its certificate
/// and key, the PKI's CA, `uri`, and a client id of its own.
inline link::SessionConfig ServiceSessionConfig(const std::string& pki, const std::string& stem,
                                                const std::string& client_id, const std::string& uri) {
  link::SessionConfig c = DeviceSessionConfig(pki, client_id, uri);
  c.tls.cert_file = pki + "/" + stem + ".crt";
  c.tls.key_file = pki + "/" + stem + ".key";
  return c;
}

}  // namespace edgeforge::testing_support
