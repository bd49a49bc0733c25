// edgeforge dev PKI on mbedTLS 2.28: a root CA, the broker's server cert, the
// ingest and shadow-service identities, and one TLS identity plus one JWS
// signing key per device.
//
// Layout of a PKI directory DIR:
//   DIR/ca.crt, DIR/ca.key             dev root CA "O=edgeforge, CN=edgeforge dev root CA",
//                                      self-signed, CA:true (critical),
//                                      keyUsage keyCertSign|cRLSign, 3650 days
//   DIR/broker.crt, DIR/broker.key     server cert CN "edgeforge-broker", SAN DNS:localhost,
//                                      IP:127.0.0.1, IP:::1; keyUsage digitalSignature|
//                                      keyAgreement; extKeyUsage serverAuth
//   DIR/ingest.crt, DIR/ingest.key     client cert CN "edgeforge-ingest" (reads everything)
//   DIR/shadow.crt, DIR/shadow.key     client cert CN "edgeforge-shadow": tests play AWS IoT
//                                      Core's shadow service with it (publishes
//                                      $aws/things/<thing>/shadow/update/delta, ...)
//   DIR/devices/<thing>/device.crt     TLS client cert, CN = thing name (= MQTT client id)
//   DIR/devices/<thing>/device.key     its private key
//   DIR/devices/<thing>/sign.key       separate P-256 key for JWS telemetry signatures
//   DIR/jwks.json                      JWK set of every device's signing public key
//   DIR/.lock                          flock(2) target serialising writers
//
// Every key is EC P-256, PEM (SEC1), mode 0600, created with O_EXCL so it is
// never readable by others; certs are mode 0644, X.509 v3, ecdsa-with-SHA256,
// random positive 16-byte serials, notBefore = now - 1 h (clock skew),
// subject and authority key identifiers. Leaf certs (broker, ingest, shadow,
// devices) are CA:false, last 825 days, and clients carry extKeyUsage
// clientAuth. Keys are written before their cert and a cert is renamed into
// place whole, so an interrupted run leaves at worst keys without a cert;
// such an identity counts as missing and is regenerated.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hal/status.h"

namespace edgeforge::certs {

inline constexpr char kCaCommonName[] = "edgeforge dev root CA";
inline constexpr char kBrokerCommonName[] = "edgeforge-broker";
inline constexpr char kIngestCommonName[] = "edgeforge-ingest";
inline constexpr char kShadowServiceCommonName[] = "edgeforge-shadow";
inline constexpr int kCaDays = 3650;
inline constexpr int kLeafDays = 825;

/// AWS IoT thing name rules: 1..128 characters of [a-zA-Z0-9:_-]. The error
/// quotes the name (escaped) and says which rule it broke.
Status ValidateThingName(std::string_view name);

/// prefix + index zero-padded to 5 digits: DeviceName("edge-", 42) == "edge-00042".
std::string DeviceName(std::string_view prefix, int index);

/// The names of a fleet of `count` devices: DeviceName(prefix, 1..count). One
/// definition, so `edgeforge certs devices --count N` provisions exactly the
/// things `edgeforge sim --devices N` runs.
std::vector<std::string> FleetDeviceNames(std::string_view prefix, int count);

struct DevicePaths {
  std::string dir;       // DIR/devices/<thing>
  std::string cert;      // .../device.crt
  std::string tls_key;   // .../device.key
  std::string sign_key;  // .../sign.key
};
DevicePaths PathsFor(const std::string& pki_dir, const std::string& thing);

/// Creates `dir` (mkdir -p) and a new root CA in it. ALREADY_EXISTS naming the
/// file if ca.key or ca.crt exists; PERMISSION_DENIED naming the directory if
/// it is not writable; FAILED_PRECONDITION if a path component is a file.
Status CreateCa(const std::string& dir);

/// broker.crt/.key signed by the CA in `dir`. NOT_FOUND if there is no CA,
/// ALREADY_EXISTS if broker.crt exists (a broker.key without a cert is left
/// from an interrupted run and is replaced).
Status CreateBrokerCert(const std::string& dir);

/// <file_stem>.crt/.key: a client identity with CN `common_name` (ingest, or
/// extra identities in tests). `file_stem` follows the thing name rules;
/// `common_name` must be 1..128 printable ASCII characters. Same errors as
/// CreateBrokerCert.
Status CreateClientCert(const std::string& dir, const std::string& common_name,
                        const std::string& file_stem);

/// Validates every name first (INVALID_ARGUMENT naming the first bad or
/// repeated one), skips devices that have device.crt, device.key and sign.key,
/// and creates the rest on `threads` threads (each with its own CTR_DRBG and
/// copy of the CA key). Returns how many devices were created.
Result<int> CreateDevices(const std::string& dir, const std::vector<std::string>& things,
                          int threads = 2);

/// The JWK set of every DIR/devices/<thing>/sign.key: thing = directory name,
/// kid = RFC 7638 thumbprint of the key's public half, sorted by thing.
/// Entries whose name is not a valid thing name are ignored; an unreadable or
/// non-P-256 sign.key fails naming the file. Ends with a newline.
Result<std::string> JwksJson(const std::string& dir);

/// Writes JwksJson(dir) to DIR/jwks.json (atomically, mode 0644).
Status WriteJwks(const std::string& dir);

/// For the simulator: CA + broker + ingest + shadow if there is no CA (an
/// existing CA is reused; missing broker/ingest/shadow certs are added, so a
/// PKI made before the shadow identity existed gains it on the next call),
/// then missing devices, then jwks.json. Safe to call repeatedly and from
/// concurrent processes; when everything exists and jwks.json is current it
/// writes nothing (so a provisioned PKI can be mounted read-only).
Status EnsurePki(const std::string& dir, const std::vector<std::string>& things, int threads = 2);

/// Keys made on the device (`edgeforge-device --csr`): creates an EC P-256
/// key at `key_path` (O_EXCL, mode 0600) unless a file is there. true when
/// it created one; the key is never printed or sent anywhere.
Result<bool> EnsurePrivateKey(const std::string& key_path);

/// A PKCS#10 certificate request (RFC 2986, PEM), subject "CN=<thing>",
/// ECDSA with SHA-256 by the key at `key_path`.
Result<std::string> MakeCsr(const std::string& key_path, const std::string& thing);

/// `edgeforge certs sign-csr`: checks a CSR (PEM, at most 16 KiB, signed by
/// its own key, EC P-256, subject CN a valid thing name) and issues a device
/// certificate for its key with the CA in `dir`, the profile of `certs
/// devices`. Errors start with `origin` (the CSR's file name).
Result<std::string> SignCsr(const std::string& dir, const std::string& csr_pem, const std::string& origin);

/// Bring-your-own-CA registration with AWS IoT (register-ca-certificate):
/// OUT/verification.crt and .key, CN = the account's registration code,
/// signed by the CA in `dir`, which proves the registrant holds the CA key.
Status CreateVerificationCert(const std::string& dir, const std::string& registration_code,
                              const std::string& out_dir);

/// The subject CN of a PEM CSR (tests, bulk registration).
Result<std::string> CsrCommonName(const std::string& csr_pem);

}  // namespace edgeforge::certs
