// Detached JWS (RFC 7515 appendix F) with unencoded payload (RFC 7797), ES256.
//
// Compact form: BASE64URL(header) ".." BASE64URL(R || S), where the header is
//   {"alg":"ES256","b64":false,"crit":["b64"],"kid":"<RFC 7638 thumbprint>"}
// and the signing input is ASCII(BASE64URL(header)) || '.' || payload bytes.
// The payload travels as the MQTT payload, byte for byte; verifiers use the
// exact received bytes, never a re-serialization.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hal/bytes.h"
#include "hal/status.h"

namespace edgeforge::jws {

/// The crypto library behind a Signer / Verifier. Both produce and accept the
/// same bytes: mbedTLS is the portable firmware path, OpenSSL the host fast path.
enum class Backend {
  kMbedTls,  // portable, what a flashed device uses
  kOpenSsl,  // libcrypto, ~20x faster ES256 on hosts (DESIGN.md measured facts)
};
const char* BackendName(Backend b);
/// "mbedtls" | "openssl" -> Backend; INVALID_ARGUMENT otherwise.
Result<Backend> ParseBackend(std::string_view name);

/// Uncompressed P-256 public point, big-endian coordinates.
struct EcP256PublicKey {
  std::array<uint8_t, 32> x{};
  std::array<uint8_t, 32> y{};
  bool operator==(const EcP256PublicKey& o) const { return x == o.x && y == o.y; }
};

std::string Base64UrlEncode(ConstBytes data);  // no padding (RFC 7515 section 2)
/// Strict: rejects padding, '+', '/', whitespace and non-canonical trailing bits.
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC P-256 key.
std::string Thumbprint(const EcP256PublicKey& key);

/// Reads the public half of a PEM EC P-256 key (private "EC PRIVATE KEY" /
/// "PRIVATE KEY" or "PUBLIC KEY"); INVALID_ARGUMENT for other curves/types.
Result<EcP256PublicKey> PublicKeyFromPem(std::string_view pem);

/// Not thread-safe: a Signer reuses its per-key contexts, so one thread at a
/// time uses it (one Signer per thread, or serialize).
class Signer {
 public:
  virtual ~Signer() = default;
  /// Detached compact JWS over exactly `payload`.
  Result<std::string> Sign(std::string_view payload) { return DoSign(payload); }
  const std::string& kid() const { return kid_; }
  const EcP256PublicKey& public_key() const { return public_key_; }
  Backend backend() const { return backend_; }

 protected:
  Signer(Backend backend, EcP256PublicKey pub)
      : backend_(backend), public_key_(pub), kid_(Thumbprint(pub)) {}

 private:
  virtual Result<std::string> DoSign(std::string_view payload) = 0;
  Backend backend_;
  EcP256PublicKey public_key_;
  std::string kid_;
};

/// A signer for a PEM EC P-256 private key (SEC1 or PKCS#8, unencrypted).
Result<std::unique_ptr<Signer>> MakeSigner(Backend backend, std::string_view private_key_pem);

/// The parts of a detached JWS header a verifier needs before it picks a key.
struct Header {
  std::string alg;
  std::string kid;
};

/// Why ParseHeader refused a header, for callers that count refusals by kind
/// (the verifier's reason classes, docs/telemetry.md): a downgrade attempt
/// (alg, b64, crit) and a merely broken header mean different things.
enum class HeaderDefect : uint8_t {
  kNone,            // accepted
  kMalformed,       // not 3 parts with an empty payload, not base64url JSON object, too long, a
                    // duplicate member, kid missing / not a string / empty
  kAlg,             // alg missing or not "ES256" ("none", HS256, RS256, ...): RFC 7518 3.1
  kB64,             // b64 missing, true or not a boolean: the payload would be base64url-encoded (RFC 7797 3)
  kB64NotCritical,  // crit missing, not an array, or without "b64": b64 must be understood (RFC 7797 6)
  kUnknownCrit,     // crit lists "b64" and an extension this verifier does not implement (RFC 7515 4.1.11)
};

/// Parses and checks the protected header: must be valid base64url JSON with
/// alg "ES256", b64 false, crit exactly ["b64"], a non-empty kid, and the
/// compact form must have an empty payload part. Any other shape (alg "none",
/// HS256, b64 true or absent, unknown crit members, extra dots) is rejected
/// with UNAUTHENTICATED (alg, b64, crit: a downgrade) or INVALID_ARGUMENT (a
/// malformed header) and a message saying which; `defect`, when given, is set
/// to the kind (kNone on success).
Result<Header> ParseHeader(std::string_view compact_jws, HeaderDefect* defect = nullptr);

/// Not thread-safe: a Verifier reuses scratch contexts, so one thread at a
/// time uses it (one Verifier per thread, or serialize). Any key per call.
class Verifier {
 public:
  virtual ~Verifier() = default;
  /// OK only if `compact_jws` is a detached ES256 JWS (ParseHeader rules)
  /// whose signature verifies over `payload` with `key`. UNAUTHENTICATED on a
  /// bad signature.
  Status Verify(std::string_view compact_jws, std::string_view payload, const EcP256PublicKey& key) {
    return DoVerify(compact_jws, payload, key);
  }

 private:
  virtual Status DoVerify(std::string_view compact_jws, std::string_view payload,
                          const EcP256PublicKey& key) = 0;
};

std::unique_ptr<Verifier> MakeVerifier(Backend backend);

/// One entry of a JWK set: the key, its kid, and the thing that owns it.
struct Jwk {
  std::string kid;
  std::string thing;  // non-standard member "thing" (RFC 7517 4: extra members allowed)
  EcP256PublicKey key;
};

/// {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"use":"sig","alg":"ES256","thing":..}]}
std::string JwkSetToJson(const std::vector<Jwk>& keys);
/// Parses a JWK set; rejects a kid that does not equal the key's thumbprint,
/// non-EC/P-256 keys, bad base64url, duplicate kids, with the index and field.
Result<std::vector<Jwk>> JwkSetFromJson(std::string_view json);

/// One public JWK, checked as JwkSetFromJson checks each member of a set (kty
/// EC, crv P-256, x/y a point on the curve, kid = its thumbprint; use, alg
/// and thing optional). Errors start with `where` + the member ("status.next_key.kid: ...").
Result<Jwk> JwkFromJson(std::string_view json, const std::string& where);
/// {"kty":"EC","crv":"P-256","x":..,"y":..,"kid":<thumbprint>}: the public half only.
std::string PublicJwkJson(const EcP256PublicKey& key);

/// One entry of a key revocation list (docs/telemetry.md "Revoked keys").
/// A revoked key is refused for every message, whatever its `ts`: whoever
/// holds the key can write any `ts`, so a payload time cannot tell messages
/// signed before the compromise from forgeries. `at` is recorded for audit.
struct RevokedKey {
  std::string kid;     // RFC 7638 thumbprint of the revoked key (it need not be in the JWK set)
  std::string at;      // when it was revoked, RFC 3339 as written ("2025-03-01T12:00:00Z")
  int64_t at_ms = 0;   // the same instant, ms since the Unix epoch (UTC)
  std::string reason;  // optional free text ("key leaked in a support bundle")
};

/// {"revoked":[{"kid":..,"at":..,"reason":..}]} ("reason" only when non-empty).
std::string RevocationListToJson(const std::vector<RevokedKey>& revoked);
/// Parses a revocation list strictly: an object with exactly the member
/// "revoked" (an array); each entry an object with "kid" (base64url of 32
/// bytes, an RFC 7638 thumbprint), "at" (RFC 3339 date-time with a zone) and
/// optionally "reason" (a string), nothing else; no kid twice. Errors name
/// the index and field ("revocations revoked[2].at: ...").
Result<std::vector<RevokedKey>> RevocationListFromJson(std::string_view json);

/// An RFC 3339 date-time (section 5.6: full-date "T" full-time, with "Z" or a
/// numeric offset; fractional seconds allowed) as ms since the Unix epoch;
/// INVALID_ARGUMENT for anything else, including impossible dates (02-30).
Result<int64_t> ParseRfc3339Millis(std::string_view text);

/// A fresh EC P-256 private key as SEC1 PEM ("EC PRIVATE KEY"), from
/// mbedTLS's entropy source through CTR_DRBG: what a device makes when it
/// rotates its signing key. The PEM is secret: store it 0600, never log it.
Result<std::string> GenerateSigningKeyPem();

}  // namespace edgeforge::jws
