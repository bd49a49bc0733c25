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

/// Parses and checks the protected header: must be valid base64url JSON with
/// alg "ES256", b64 false, crit exactly ["b64"], a non-empty kid, and the
/// compact form must have an empty payload part. Any other shape (alg "none",
/// HS256, b64 true or absent, unknown crit members, extra dots) is rejected
/// with UNAUTHENTICATED or INVALID_ARGUMENT and a message saying which.
Result<Header> ParseHeader(std::string_view compact_jws);

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

}  // namespace edgeforge::jws
