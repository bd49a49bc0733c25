// mbedTLS 2.28 building blocks private to certs/: a per-thread CTR_DRBG, RAII
// key and certificate holders, and an X.509 v3 issuer for the edgeforge profile.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <openssl/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "hal/status.h"

namespace edgeforge::certs::internal {

/// "<what>: mbedTLS -0x2700 (X509 - Certificate verification failed...)".
Status MbedTlsStatus(int ret, const std::string& what);

/// NIST SP 800-90A CTR_DRBG seeded from the OS entropy source. Not thread
/// safe: each thread owns one (mbedTLS contexts carry mutable state).
class Drbg {
 public:
  Drbg();
  ~Drbg();
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  Status Seed(std::string_view personalization);
  /// The f_rng / p_rng pair mbedTLS functions take.
  static int Random(void* drbg, unsigned char* out, size_t len);
  void* rng() { return &ctr_drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context ctr_drbg_;
};

class PkKey {
 public:
  PkKey() { mbedtls_pk_init(&pk_); }
  ~PkKey() { mbedtls_pk_free(&pk_); }
  PkKey(const PkKey&) = delete;
  PkKey& operator=(const PkKey&) = delete;
  mbedtls_pk_context* get() { return &pk_; }

 private:
  mbedtls_pk_context pk_;
};

class Certificate {
 public:
  Certificate() { mbedtls_x509_crt_init(&crt_); }
  ~Certificate() { mbedtls_x509_crt_free(&crt_); }
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;
  mbedtls_x509_crt* get() { return &crt_; }

 private:
  mbedtls_x509_crt crt_;
};

/// P-256 key generation on OpenSSL 3, handed to mbedTLS as a key pair.
/// Identities for a 10,000-device fleet must be issued in at most 10 s on two
/// cores (issue 9); with mbedTLS (comb table cached per thread, 0.29 ms per
/// key) two keys per device took 66 % of 14.5-17.2 s in its bignum code,
/// while OpenSSL's constant-time P-256 (ecp_nistz256) is many times faster.
/// Only the scalar multiplication is OpenSSL's: one context per generator
/// (fetching the algorithm, or PEM-encoding with OpenSSL 3's encoders, per
/// key took a lock both threads fought over: 13 s of system time for 10,000
/// devices), then d and Q are copied into the mbedTLS key, which encodes it.
/// The key's randomness is OpenSSL's DRBG, seeded by the OS (getrandom), as
/// the mbedTLS CTR_DRBG was. One generator per thread, like Drbg.
class KeyGenerator {
 public:
  KeyGenerator();
  ~KeyGenerator();
  KeyGenerator(const KeyGenerator&) = delete;
  KeyGenerator& operator=(const KeyGenerator&) = delete;
  /// Sets up `key` (which must be fresh) as a new EC P-256 key pair.
  Status Generate(PkKey& key);

 private:
  EVP_PKEY_CTX* ctx_ = nullptr;  // EC P-256 key generation; null if its setup failed
};
/// Sets up `dst` (fresh) as `src`'s EC key typed for ECDSA, for an issuer
/// that signs many certificates (IssueCertificate's `signer`). mbedTLS signs with an EC-typed key through a
/// temporary copy of its group, recomputing the base point's comb table for
/// every signature; an ECDSA-typed key signs with its own group, which keeps
/// the table after the first (the same saving KeyGenerator measured: 0.29 vs
/// 0.98 ms). Not thread safe: one per thread, like Drbg.
Status EcdsaSigningKey(PkKey& src, PkKey& dst);

/// SEC1 "EC PRIVATE KEY" PEM (RFC 5915), what mosquitto, Paho and jws read.
Result<std::string> PrivateKeyPem(PkKey& key);
/// `origin` names the file in errors.
Status ParsePrivateKeyPem(const std::string& pem, const std::string& origin, PkKey& key);
Status ParseCertificatePem(const std::string& pem, const std::string& origin, Certificate& crt);

/// DER (X.690) of GeneralNames for the subjectAltName extension (RFC 5280
/// 4.2.1.6): dNSName [2] IA5String, iPAddress [7] OCTET STRING (4 or 16 bytes).
std::vector<uint8_t> EncodeSubjectAltName(const std::vector<std::string>& dns_names,
                                          const std::vector<std::vector<uint8_t>>& ip_addresses);
/// DER of ExtKeyUsageSyntax (RFC 5280 4.2.1.12); `oids` are OID content bytes
/// such as MBEDTLS_OID_SERVER_AUTH.
std::vector<uint8_t> EncodeExtKeyUsage(const std::vector<std::string>& oids);

/// What differs between the CA, broker, ingest and device certificates.
struct CertProfile {
  std::string common_name;
  int days = 0;
  bool is_ca = false;
  unsigned int key_usage = 0;              // MBEDTLS_X509_KU_* bits
  std::vector<std::string> ext_key_usage;  // OID content bytes; empty = no extension
  std::vector<std::string> dns_names;
  std::vector<std::vector<uint8_t>> ip_addresses;
};

/// Issues a PEM certificate for `subject_key`, signed by `issuer_key`.
/// `issuer_cert` null means self-signed; otherwise its subject becomes the
/// issuer name byte for byte (RFC 5280 4.1.2.4 and 6.1: chaining matches names).
/// `signer`, if given, is issuer_key as EcdsaSigningKey made it (faster for
/// many signatures); issuer_key still gives the authority key identifier.
Result<std::string> IssueCertificate(const CertProfile& profile, PkKey& subject_key, PkKey& issuer_key,
                                     const mbedtls_x509_crt* issuer_cert, Drbg& drbg, std::time_t now,
                                     PkKey* signer = nullptr);

}  // namespace edgeforge::certs::internal
