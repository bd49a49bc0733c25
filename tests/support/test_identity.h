// Test support: device identities with chosen faults, made with the project's
// own certs code (certs/x509_writer.h) from a real PKI (tests/support/test_pki.h).
#pragma once

#include <gtest/gtest.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <string>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "certs/x509_writer.h"
#include "hal/linux/fs.h"
#include "tests/support/test_pki.h"

namespace edgeforge::testing_support {

/// The device identity files of `thing` in PKI `pki` (the layout the device's --certs reads).
inline certs::IdentityFiles FilesOf(const std::string& pki, const std::string& thing) {
  const certs::DevicePaths p = certs::PathsFor(pki, thing);
  return {pki + "/ca.crt", p.cert, p.tls_key, p.sign_key};
}

/// Writes `content` to `path` with `mode` (replacing it); fails the test on error.
inline void WriteFile(const std::string& path, const std::string& content, unsigned int mode) {
  Status s = fs::WriteFileAtomically(path, content, mode);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

/// A client certificate with CN `cn` issued by the CA of `pki` as if the
/// clock said `now` (notBefore = now - 1 h, notAfter = notBefore + `days`),
/// written with a new key to `cert_path` (0644) and `key_path` (0600).
inline void IssueClientCert(const std::string& pki, const std::string& cn, std::time_t now, int days,
                            const std::string& cert_path, const std::string& key_path) {
  using namespace certs::internal;
  Drbg drbg;
  ASSERT_TRUE(drbg.Seed("identity-test").ok());
  PkKey ca_key;
  Certificate ca_crt;
  ASSERT_TRUE(ParsePrivateKeyPem(ReadAll(pki + "/ca.key"), pki + "/ca.key", ca_key).ok());
  ASSERT_TRUE(ParseCertificatePem(ReadAll(pki + "/ca.crt"), pki + "/ca.crt", ca_crt).ok());
  KeyGenerator keys;
  PkKey key;
  ASSERT_TRUE(keys.Generate(key).ok());
  CertProfile profile;
  profile.common_name = cn;
  profile.days = days;
  profile.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  profile.ext_key_usage = {std::string(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))};
  Result<std::string> crt = IssueCertificate(profile, key, ca_key, ca_crt.get(), drbg, now);
  ASSERT_TRUE(crt.ok()) << crt.status().ToString();
  Result<std::string> key_pem = PrivateKeyPem(key);
  ASSERT_TRUE(key_pem.ok()) << key_pem.status().ToString();
  WriteFile(cert_path, *crt, 0644);
  WriteFile(key_path, *key_pem, 0600);
}

}  // namespace edgeforge::testing_support
