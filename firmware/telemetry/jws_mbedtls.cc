// mbedTLS 2.28 backend of firmware/telemetry/jws.h: the portable path a
// flashed device uses. Signing is deterministic ECDSA (RFC 6979) with a
// CTR_DRBG only for scalar blinding, so a device without a good entropy source
// still never reuses a nonce.
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <array>
#include <memory>
#include <string>

#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/jws_internal.h"

namespace edgeforge::jws {

namespace {

// SHA-256 over the RFC 7797 signing input ASCII(b64url(header)) '.' payload,
// without building the concatenation.
Status SigningInputHash(std::string_view header_b64, std::string_view payload, std::array<uint8_t, 32>& out) {
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  int rc = mbedtls_sha256_starts_ret(&sha, /*is224=*/0);
  if (rc == 0)
    rc = mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>(header_b64.data()), header_b64.size());
  if (rc == 0) rc = mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>("."), 1);
  if (rc == 0) rc = mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  if (rc == 0) rc = mbedtls_sha256_finish_ret(&sha, out.data());
  mbedtls_sha256_free(&sha);
  if (rc != 0) return Internal("jws mbedtls: sha256: " + detail::MbedTlsError(rc));
  return Status::Ok();
}

struct PkFree {
  void operator()(mbedtls_pk_context* pk) const {
    mbedtls_pk_free(pk);
    delete pk;
  }
};
using PkPtr = std::unique_ptr<mbedtls_pk_context, PkFree>;

Result<PkPtr> ParsePrivateKey(std::string_view pem) {
  std::string buf(pem);  // mbedTLS wants PEM NUL-terminated, NUL counted in the length
  PkPtr pk(new mbedtls_pk_context);
  mbedtls_pk_init(pk.get());
  int rc = mbedtls_pk_parse_key(pk.get(), reinterpret_cast<const uint8_t*>(buf.c_str()), buf.size() + 1, nullptr, 0);
  if (rc != 0) return InvalidArgument("jws signer: cannot parse private key PEM: " + detail::MbedTlsError(rc));
  if (!mbedtls_pk_can_do(pk.get(), MBEDTLS_PK_ECKEY)) {
    return InvalidArgument(std::string("jws signer: expected an EC P-256 key, got ") + mbedtls_pk_get_name(pk.get()));
  }
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
  if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1) return InvalidArgument("jws signer: EC key is not on P-256");
  // A SEC1 key carries an optional public key; make sure it belongs to d, or
  // every signature would carry a kid for a key that cannot verify it.
  rc = mbedtls_ecp_check_pub_priv(ec, ec);
  if (rc != 0) return InvalidArgument("jws signer: public key does not match private key: " + detail::MbedTlsError(rc));
  return pk;
}

/// Owns one private key. Not thread-safe: one thread at a time per Signer
/// (the DRBG, scratch MPIs and the group's precomputed table are mutable).
class MbedTlsSigner final : public Signer {
 public:
  MbedTlsSigner(const EcP256PublicKey& pub, PkPtr pk)
      : Signer(Backend::kMbedTls, pub), pk_(std::move(pk)), header_b64_(detail::EncodeProtectedHeader(kid())) {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    mbedtls_mpi_init(&r_);
    mbedtls_mpi_init(&s_);
  }
  ~MbedTlsSigner() override {
    mbedtls_mpi_free(&s_);
    mbedtls_mpi_free(&r_);
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  MbedTlsSigner(const MbedTlsSigner&) = delete;
  MbedTlsSigner& operator=(const MbedTlsSigner&) = delete;

  Status Init() {
    static constexpr char kPersonalization[] = "edgeforge-jws-es256";
    int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                   reinterpret_cast<const uint8_t*>(kPersonalization), sizeof kPersonalization - 1);
    if (rc != 0) return Unavailable("jws signer: seeding ctr_drbg: " + detail::MbedTlsError(rc));
    return Status::Ok();
  }

 private:
  Result<std::string> DoSign(std::string_view payload) override {
    std::array<uint8_t, 32> hash{};
    EF_RETURN_IF_ERROR(SigningInputHash(header_b64_, payload, hash));
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk_);
    int rc = mbedtls_ecdsa_sign_det_ext(&ec->grp, &r_, &s_, &ec->d, hash.data(), hash.size(), MBEDTLS_MD_SHA256,
                                        mbedtls_ctr_drbg_random, &drbg_);
    if (rc != 0) return Internal("jws mbedtls: ecdsa sign: " + detail::MbedTlsError(rc));
    // RFC 7518 section 3.4: R and S as 32-byte big-endian, concatenated.
    std::array<uint8_t, 64> rs{};
    if (mbedtls_mpi_write_binary(&r_, rs.data(), 32) != 0 || mbedtls_mpi_write_binary(&s_, rs.data() + 32, 32) != 0) {
      return Internal("jws mbedtls: signature scalar longer than 32 bytes");
    }
    return detail::CompactDetached(header_b64_, rs);
  }

  PkPtr pk_;
  std::string header_b64_;  // fixed per key, encoded once
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  mbedtls_mpi r_;
  mbedtls_mpi s_;
};

/// Not thread-safe: one thread at a time per Verifier (the group caches its
/// precomputed base-point table, the point and MPIs are scratch).
class MbedTlsVerifier final : public Verifier {
 public:
  MbedTlsVerifier() {
    mbedtls_ecp_group_init(&grp_);
    mbedtls_ecp_point_init(&q_);
    mbedtls_mpi_init(&r_);
    mbedtls_mpi_init(&s_);
  }
  ~MbedTlsVerifier() override {
    mbedtls_mpi_free(&s_);
    mbedtls_mpi_free(&r_);
    mbedtls_ecp_point_free(&q_);
    mbedtls_ecp_group_free(&grp_);
  }
  MbedTlsVerifier(const MbedTlsVerifier&) = delete;
  MbedTlsVerifier& operator=(const MbedTlsVerifier&) = delete;

  Status Init() {
    int rc = mbedtls_ecp_group_load(&grp_, MBEDTLS_ECP_DP_SECP256R1);
    if (rc != 0) return Internal("jws verifier: loading P-256: " + detail::MbedTlsError(rc));
    return Status::Ok();
  }

 private:
  Status DoVerify(std::string_view compact_jws, std::string_view payload, const EcP256PublicKey& key) override {
    auto parts = detail::PrepareVerify(compact_jws, key);
    if (!parts.ok()) return parts.status();
    EF_RETURN_IF_ERROR(LoadKey(key));
    std::array<uint8_t, 32> hash{};
    EF_RETURN_IF_ERROR(SigningInputHash(parts->header_b64, payload, hash));
    if (mbedtls_mpi_read_binary(&r_, parts->r_s.data(), 32) != 0 ||
        mbedtls_mpi_read_binary(&s_, parts->r_s.data() + 32, 32) != 0) {
      return Internal("jws mbedtls: reading signature scalars");
    }
    int rc = mbedtls_ecdsa_verify(&grp_, hash.data(), hash.size(), &q_, &r_, &s_);
    if (rc == MBEDTLS_ERR_ECP_VERIFY_FAILED) return Unauthenticated("jws signature: does not verify (mbedtls)");
    if (rc != 0) return Internal("jws mbedtls: ecdsa verify: " + detail::MbedTlsError(rc));
    return Status::Ok();
  }

  Status LoadKey(const EcP256PublicKey& key) {
    if (mbedtls_mpi_read_binary(&q_.X, key.x.data(), key.x.size()) != 0 ||
        mbedtls_mpi_read_binary(&q_.Y, key.y.data(), key.y.size()) != 0 || mbedtls_mpi_lset(&q_.Z, 1) != 0) {
      return Internal("jws mbedtls: reading public key");
    }
    // SEC 1 section 3.2.2.1: reject points off the curve before using them.
    if (mbedtls_ecp_check_pubkey(&grp_, &q_) != 0) return InvalidArgument("jws verify: key is not a point on P-256");
    return Status::Ok();
  }

  mbedtls_ecp_group grp_;
  mbedtls_ecp_point q_;
  mbedtls_mpi r_;
  mbedtls_mpi s_;
};

}  // namespace

Result<std::string> GenerateSigningKeyPem() {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context pk;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_pk_init(&pk);
  static constexpr char kPersonalization[] = "edgeforge-jws-keygen";
  // SEC1 PEM of a P-256 key is ~230 bytes; the buffer is wiped before it goes.
  std::array<unsigned char, 1024> pem{};
  int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                 reinterpret_cast<const uint8_t*>(kPersonalization), sizeof kPersonalization - 1);
  const char* step = "seeding ctr_drbg";
  if (rc == 0) {
    step = "pk setup";
    rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  }
  if (rc == 0) {
    step = "P-256 key generation";
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &drbg);
  }
  if (rc == 0) {
    step = "writing PEM";
    rc = mbedtls_pk_write_key_pem(&pk, pem.data(), pem.size());
  }
  Result<std::string> out = rc == 0 ? Result<std::string>(std::string(reinterpret_cast<const char*>(pem.data())))
                                    : Internal(std::string("jws keygen: ") + step + ": " + detail::MbedTlsError(rc));
  mbedtls_platform_zeroize(pem.data(), pem.size());
  mbedtls_pk_free(&pk);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return out;
}

namespace detail {

Result<std::unique_ptr<Signer>> MakeMbedTlsSigner(std::string_view private_key_pem) {
  auto pk = ParsePrivateKey(private_key_pem);
  if (!pk.ok()) return pk.status();
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(**pk);
  EcP256PublicKey pub;
  if (mbedtls_mpi_write_binary(&ec->Q.X, pub.x.data(), pub.x.size()) != 0 ||
      mbedtls_mpi_write_binary(&ec->Q.Y, pub.y.data(), pub.y.size()) != 0) {
    return Internal("jws signer: cannot export public key");
  }
  auto signer = std::make_unique<MbedTlsSigner>(pub, std::move(pk).value());
  EF_RETURN_IF_ERROR(signer->Init());
  return std::unique_ptr<Signer>(std::move(signer));
}

std::unique_ptr<Verifier> MakeMbedTlsVerifier() {
  auto verifier = std::make_unique<MbedTlsVerifier>();
  if (!verifier->Init().ok()) return nullptr;  // only if the library lacks P-256
  return verifier;
}

}  // namespace detail
}  // namespace edgeforge::jws
