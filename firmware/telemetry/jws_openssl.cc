// OpenSSL 3.0 libcrypto backend of firmware/telemetry/jws.h: the host fast path
// (fleet simulator, ingest verifier). Produces and accepts the same bytes as
// the mbedTLS backend.
//
// Both classes hash the RFC 7797 signing input themselves (SHA-256). The
// Signer then uses an EVP_PKEY_CTX initialised once, equivalent to
// EVP_DigestSign without re-fetching algorithms per message; the Verifier uses
// ECDSA_do_verify on a reused EC_KEY. That API is deprecated in 3.0 (see
// OpenSslVerifier for why it is used); the warnings are off for this file only.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/jws_internal.h"

namespace edgeforge::jws {

namespace {

template <auto Fn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Free<EVP_MD_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Free<EC_GROUP_free>>;
using EcKeyPtr = std::unique_ptr<EC_KEY, Free<EC_KEY_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Free<EC_POINT_free>>;

// P-256 DER ECDSA-Sig-Value: SEQUENCE of two INTEGERs of at most 33 bytes.
constexpr size_t kMaxDerSignature = 72;

/// Drains this thread's OpenSSL error queue into one line (so a failure here
/// never leaks into an unrelated later call).
std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

// Never prompt on a terminal for an encrypted key (PEM's default callback does).
int NoPassword(char*, int, int, void*) { return -1; }

Status HashSigningInput(EVP_MD_CTX* md_ctx, const EVP_MD* sha256, std::string_view header_b64, std::string_view payload,
                        std::array<uint8_t, 32>& out) {
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(md_ctx, sha256, nullptr) != 1 ||
      EVP_DigestUpdate(md_ctx, header_b64.data(), header_b64.size()) != 1 || EVP_DigestUpdate(md_ctx, ".", 1) != 1 ||
      EVP_DigestUpdate(md_ctx, payload.data(), payload.size()) != 1 ||
      EVP_DigestFinal_ex(md_ctx, out.data(), &len) != 1 || len != out.size()) {
    return Internal("jws openssl: sha256: " + OpenSslError());
  }
  return Status::Ok();
}

struct Sha256 {
  MdPtr md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  MdCtxPtr ctx{EVP_MD_CTX_new()};
  bool ok() const { return md && ctx; }
};

Result<PkeyPtr> ReadPrivateKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("jws openssl: BIO_new_mem_buf failed");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!pkey) return InvalidArgument("jws signer: cannot parse private key PEM: " + OpenSslError());
  if (!EVP_PKEY_is_a(pkey.get(), "EC")) {
    return InvalidArgument(std::string("jws signer: expected an EC P-256 key, got ") +
                           EVP_PKEY_get0_type_name(pkey.get()));
  }
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof group, &group_len) != 1 ||
      std::strcmp(group, SN_X9_62_prime256v1) != 0) {
    ERR_clear_error();
    return InvalidArgument(std::string("jws signer: EC key is not on P-256, got '") + group + "'");
  }
  ERR_clear_error();  // the PEM decoders may queue errors from formats they tried
  return pkey;
}

Result<EcP256PublicKey> ExportPublic(const EVP_PKEY* pkey) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
           EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  BnPtr xp(x), yp(y);
  EcP256PublicKey out;
  if (!ok || BN_bn2binpad(x, out.x.data(), 32) != 32 || BN_bn2binpad(y, out.y.data(), 32) != 32) {
    return Internal("jws openssl: cannot export public key: " + OpenSslError());
  }
  return out;
}

/// Owns one private key. Not thread-safe: one thread at a time per Signer
/// (the digest and signing contexts are reused across calls).
class OpenSslSigner final : public Signer {
 public:
  OpenSslSigner(const EcP256PublicKey& pub, PkeyPtr pkey)
      : Signer(Backend::kOpenSsl, pub), pkey_(std::move(pkey)), header_b64_(detail::EncodeProtectedHeader(kid())) {}

  Status Init() {
    if (!sha256_.ok()) return Internal("jws openssl: SHA256 unavailable: " + OpenSslError());
    sign_ctx_.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
    if (!sign_ctx_) return Internal("jws openssl: EVP_PKEY_CTX_new: " + OpenSslError());
    // An imported key carries an optional public part; refuse one that does
    // not belong to the private scalar (the kid would name the wrong key).
    if (EVP_PKEY_pairwise_check(sign_ctx_.get()) != 1) {
      return InvalidArgument("jws signer: public key does not match private key: " + OpenSslError());
    }
    if (EVP_PKEY_sign_init(sign_ctx_.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(sign_ctx_.get(), sha256_.md.get()) != 1) {
      return Internal("jws openssl: sign init: " + OpenSslError());
    }
    return Status::Ok();
  }

 private:
  Result<std::string> DoSign(std::string_view payload) override {
    std::array<uint8_t, 32> hash{};
    EF_RETURN_IF_ERROR(HashSigningInput(sha256_.ctx.get(), sha256_.md.get(), header_b64_, payload, hash));
    std::array<uint8_t, kMaxDerSignature> der{};
    size_t der_len = der.size();
    // EVP_PKEY_sign may be called repeatedly on one initialised context.
    if (EVP_PKEY_sign(sign_ctx_.get(), der.data(), &der_len, hash.data(), hash.size()) != 1) {
      return Internal("jws openssl: sign: " + OpenSslError());
    }
    const unsigned char* p = der.data();
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
    if (!sig) return Internal("jws openssl: cannot decode own DER signature: " + OpenSslError());
    // RFC 7518 section 3.4: R and S as 32-byte big-endian, concatenated.
    std::array<uint8_t, 64> rs{};
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), rs.data(), 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), rs.data() + 32, 32) != 32) {
      return Internal("jws openssl: signature scalar longer than 32 bytes");
    }
    return detail::CompactDetached(header_b64_, rs);
  }

  PkeyPtr pkey_;
  std::string header_b64_;  // fixed per key, encoded once
  Sha256 sha256_;
  PkeyCtxPtr sign_ctx_;
};

/// Not thread-safe: one thread at a time per Verifier (the EC_KEY, point,
/// signature and digest context are scratch state reused across calls).
///
/// Uses the EC_KEY API (deprecated in 3.0, still supported) on purpose: with
/// EVP, a new public key costs an EVP_PKEY_fromdata (~15-40 us, group setup
/// included) per key, which a fleet verifier interleaving thousands of devices
/// pays on nearly every message (bench/jws_bench.cc "Verify64Keys"). Here a
/// key change is one EC_POINT_oct2point (<1 us). Revisit when moving to an
/// OpenSSL without EC_KEY: EVP plus a per-key context cache.
class OpenSslVerifier final : public Verifier {
 public:
  Status Init() {
    if (!sha256_.ok()) return Internal("jws openssl: SHA256 unavailable: " + OpenSslError());
    group_.reset(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
    ec_key_.reset(EC_KEY_new());
    point_.reset(group_ ? EC_POINT_new(group_.get()) : nullptr);
    sig_.reset(ECDSA_SIG_new());
    BIGNUM* r = BN_new();
    BIGNUM* s = BN_new();
    if (!group_ || !ec_key_ || !point_ || !sig_ || !r || !s || EC_KEY_set_group(ec_key_.get(), group_.get()) != 1 ||
        ECDSA_SIG_set0(sig_.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return Internal("jws openssl: verifier init: " + OpenSslError());
    }
    r_ = r;  // owned by sig_, refilled per message
    s_ = s;
    return Status::Ok();
  }

 private:
  Status DoVerify(std::string_view compact_jws, std::string_view payload, const EcP256PublicKey& key) override {
    auto parts = detail::PrepareVerify(compact_jws, key);
    if (!parts.ok()) return parts.status();
    EF_RETURN_IF_ERROR(UseKey(key));
    std::array<uint8_t, 32> hash{};
    EF_RETURN_IF_ERROR(HashSigningInput(sha256_.ctx.get(), sha256_.md.get(), parts->header_b64, payload, hash));
    if (!BN_bin2bn(parts->r_s.data(), 32, r_) || !BN_bin2bn(parts->r_s.data() + 32, 32, s_)) {
      return Internal("jws openssl: reading signature scalars: " + OpenSslError());
    }
    int rc = ECDSA_do_verify(hash.data(), static_cast<int>(hash.size()), sig_.get(), ec_key_.get());
    if (rc == 1) return Status::Ok();
    std::string why = OpenSslError();
    if (rc == 0) return Unauthenticated("jws signature: does not verify (openssl)");
    return Unauthenticated("jws signature: rejected by openssl: " + why);
  }

  Status UseKey(const EcP256PublicKey& key) {
    std::array<uint8_t, 65> point{};  // SEC 1 section 2.3.3 uncompressed: 04 || X || Y
    point[0] = 0x04;
    std::copy(key.x.begin(), key.x.end(), point.begin() + 1);
    std::copy(key.y.begin(), key.y.end(), point.begin() + 33);
    // oct2point rejects points off the curve (EC_POINT_set_affine_coordinates).
    if (EC_POINT_oct2point(group_.get(), point_.get(), point.data(), point.size(), nullptr) != 1) {
      ERR_clear_error();
      return InvalidArgument("jws verify: key is not a point on P-256");
    }
    if (EC_KEY_set_public_key(ec_key_.get(), point_.get()) != 1) {
      return Internal("jws openssl: EC_KEY_set_public_key: " + OpenSslError());
    }
    return Status::Ok();
  }

  Sha256 sha256_;
  EcGroupPtr group_;
  EcKeyPtr ec_key_;
  EcPointPtr point_;
  EcdsaSigPtr sig_;
  BIGNUM* r_ = nullptr;
  BIGNUM* s_ = nullptr;
};

}  // namespace

namespace detail {

Result<std::unique_ptr<Signer>> MakeOpenSslSigner(std::string_view private_key_pem) {
  auto pkey = ReadPrivateKey(private_key_pem);
  if (!pkey.ok()) return pkey.status();
  auto pub = ExportPublic(pkey->get());
  if (!pub.ok()) return pub.status();
  auto signer = std::make_unique<OpenSslSigner>(*pub, std::move(pkey).value());
  EF_RETURN_IF_ERROR(signer->Init());
  return std::unique_ptr<Signer>(std::move(signer));
}

std::unique_ptr<Verifier> MakeOpenSslVerifier() {
  auto verifier = std::make_unique<OpenSslVerifier>();
  if (!verifier->Init().ok()) return nullptr;  // only if the default provider lacks SHA-256
  return verifier;
}

}  // namespace detail
}  // namespace edgeforge::jws
