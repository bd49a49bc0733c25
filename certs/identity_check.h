// A device identity checked locally, before any connection: everything the
// broker would otherwise reject with one indistinct TLS alert (or, for a
// certificate of another thing, accept and then refuse every publish with
// MQTT 5 reason 0x87) is named here with the file, the reason and the fix.
//
// Checked, in this order (the first failure is returned):
//   1. each file exists and is a regular readable file; private keys (TLS and
//      signing) have no group/other permission bits (AWS IoT Device Client
//      refuses such keys too; the fix is `chmod 600 FILE`);
//   2. each file parses as PEM (what Paho/OpenSSL load): the CA file as one or
//      more certificates, the certificate (plus any intermediates after it),
//      the TLS key (EC or RSA), the signing key (EC P-256, for ES256);
//   3. the certificate is for a TLS client (extendedKeyUsage, if present,
//      includes clientAuth) and its subject CN equals the thing name (the
//      local broker, like an IoT policy on ${iot:Connection.Thing.ThingName},
//      takes the CN as the identity);
//   4. the TLS key is the certificate's key;
//   5. now is within the certificate's notBefore..notAfter (and the issuing
//      CA's, when it is in the CA file);
//   6. the certificate chains to the CA file: signatures verified.
// Two cases cannot be decided locally and become warnings, not errors:
//   - the certificate's issuer is not in the CA file at all. On AWS IoT Core
//     the CA file is the broker's trust anchor (AmazonRootCA1) while
//     AWS-issued device certificates come from another CA that the device
//     never holds; the broker checks that chain.
//   - the CN is "AWS IoT Certificate" (what CreateKeysAndCertificate issues):
//     the thing is bound to it by AttachThingPrincipal, not by name.
// A certificate whose issuer name is in the CA file but whose signature does
// not verify (another CA with the same name, e.g. another `edgeforge certs
// init`) is an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hal/status.h"

namespace edgeforge::certs {

struct IdentityFiles {
  std::string ca;        // trust anchor(s), PEM
  std::string cert;      // device certificate, PEM (intermediates may follow it)
  std::string tls_key;   // the certificate's private key, PEM
  std::string sign_key;  // EC P-256 JWS signing key, PEM; empty: not checked
};

struct IdentityReport {
  std::string common_name;  // subject CN of the certificate
  std::string issuer;       // issuer DN, as mbedTLS prints it
  int64_t not_before = 0;   // unix seconds
  int64_t not_after = 0;
  bool chain_verified = false;        // signatures checked up to a cert of the CA file (kFull)
  std::vector<std::string> warnings;  // what could not be checked locally, and why

  /// "CN=dev-a, valid 2026-12-02 15:59:13 UTC to 2029-03-06 15:59:13 UTC,
  /// issued by O=edgeforge, CN=edgeforge dev root CA (chain verified)".
  std::string Summary() const;
};

/// How much crypto a check does. Measured per identity on the 2-core dev box
/// (bench/identity_check_bench.cc, README there): kFull is dominated by one
/// ECDSA verify (the chain) and one P-256 scalar multiplication (key pair).
enum class IdentityCheckDepth {
  kFull,  // everything in the file comment: for a device, once at start
  kFast,  // no signature verification (the issuer is matched by name and its
          // validity checked) and, for EC keys, the key file's public point
          // compared with the certificate's instead of recomputed from the
          // private scalar: for a simulator checking thousands of identities
          // from a PKI it made itself
};

/// Checks `files` for thing `thing` at wall-clock time `now_unix` (see the file
/// comment for what and in which order). Errors name the file, the reason and
/// the fix where it is obvious: NOT_FOUND (missing file), PERMISSION_DENIED
/// (unreadable, or a key readable by group/others), INVALID_ARGUMENT (not
/// parseable), DATA_LOSS (truncated PEM), FAILED_PRECONDITION (key of another
/// certificate, CN != thing, outside the validity period, not a client
/// certificate), UNAUTHENTICATED (does not chain to the CA file).
Result<IdentityReport> CheckDeviceIdentity(const IdentityFiles& files, const std::string& thing, int64_t now_unix,
                                           IdentityCheckDepth depth = IdentityCheckDepth::kFull);

/// For a simulator about to run `things` from the PKI directory `pki_dir`
/// (certs/pki.h layout): CheckPrivateKeyMode on the PKI's own keys that exist
/// (ca.key, broker.key, ingest.key, shadow.key), then CheckDeviceIdentity at
/// `depth` for each thing (DIR/ca.crt, DIR/devices/<thing>/...). The first
/// error, prefixed with the thing's name.
Status CheckFleetIdentities(const std::string& pki_dir, const std::vector<std::string>& things, int64_t now_unix,
                            IdentityCheckDepth depth = IdentityCheckDepth::kFast);

/// PERMISSION_DENIED naming `path` and `chmod 600` when the private key file
/// at `path` has any group or other permission bits; NOT_FOUND if missing.
/// `what` names the file's role in messages ("TLS key").
Status CheckPrivateKeyMode(const std::string& path, const std::string& what = "private key");

/// "2026-12-02 15:59:13 UTC".
std::string FormatUtc(int64_t unix_seconds);

}  // namespace edgeforge::certs
