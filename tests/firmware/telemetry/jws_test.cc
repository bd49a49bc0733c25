// Tests for firmware/telemetry/jws.h: detached ES256 JWS (RFC 7515 appendix F,
// RFC 7797), RFC 7638 thumbprints, JWK sets, both backends and across them.
// Keys are generated per run; nothing secret is checked in.
#include "firmware/telemetry/jws.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

namespace edgeforge::jws {

// Readable parameter names in gtest output (found by ADL, so not in the
// anonymous namespace).
void PrintTo(Backend b, std::ostream* os) { *os << BackendName(b); }

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Returns a memory BIO's contents and frees it.
std::string TakeBioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(len));
  BIO_free(bio);
  return text;
}

constexpr std::string_view kPayload =
    R"({"dev":"thing-0001","seq":42,"boot":3,"ts":1718000000123,"t":21.37,"rh":48.2,"p":101325.4})";

// --- key material, generated with mbedTLS and converted with OpenSSL -------

class Drbg {
 public:
  Drbg() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static constexpr char kPers[] = "jws_test";
    EXPECT_EQ(0, mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                       reinterpret_cast<const unsigned char*>(kPers), sizeof kPers - 1));
  }
  ~Drbg() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  mbedtls_ctr_drbg_context* get() { return &drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

struct PemKey {
  std::string private_sec1;   // "EC PRIVATE KEY" (or "RSA PRIVATE KEY")
  std::string private_pkcs8;  // "PRIVATE KEY"
  std::string public_spki;    // "PUBLIC KEY"
};

std::string ToPkcs8(const std::string& pem) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  EXPECT_NE(pkey, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  EXPECT_EQ(1, PEM_write_bio_PrivateKey(out, pkey, nullptr, nullptr, 0, nullptr, nullptr));
  EVP_PKEY_free(pkey);
  return TakeBioText(out);
}

std::string ToEncryptedPkcs8(const std::string& pem) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  BIO* out = BIO_new(BIO_s_mem());
  char password[] = "secret";
  EXPECT_EQ(1, PEM_write_bio_PKCS8PrivateKey(out, pkey, EVP_aes_128_cbc(), password, 6, nullptr, nullptr));
  EVP_PKEY_free(pkey);
  return TakeBioText(out);
}

PemKey WritePems(mbedtls_pk_context* pk) {
  std::vector<unsigned char> buf(8192);
  PemKey out;
  EXPECT_EQ(0, mbedtls_pk_write_key_pem(pk, buf.data(), buf.size()));
  out.private_sec1 = reinterpret_cast<const char*>(buf.data());
  EXPECT_EQ(0, mbedtls_pk_write_pubkey_pem(pk, buf.data(), buf.size()));
  out.public_spki = reinterpret_cast<const char*>(buf.data());
  out.private_pkcs8 = ToPkcs8(out.private_sec1);
  return out;
}

PemKey GenerateEc(mbedtls_ecp_group_id curve) {
  Drbg drbg;
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  EXPECT_EQ(0, mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
  EXPECT_EQ(0, mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, drbg.get()));
  PemKey out = WritePems(&pk);
  mbedtls_pk_free(&pk);
  return out;
}

PemKey GenerateRsa() {
  Drbg drbg;
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  EXPECT_EQ(0, mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)));
  EXPECT_EQ(0, mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, drbg.get(), 1024, 65537));
  PemKey out = WritePems(&pk);
  mbedtls_pk_free(&pk);
  return out;
}

// --- independent helpers (OpenSSL EVP_DigestSign, OpenSSL SHA-256) ---------

std::string B64(std::string_view s) { return Base64UrlEncode(AsBytes(s)); }

std::string CanonicalJwk(const EcP256PublicKey& k) {
  return R"({"crv":"P-256","kty":"EC","x":")" + Base64UrlEncode(k.x) + R"(","y":")" + Base64UrlEncode(k.y) + R"("})";
}

std::string OpenSslSha256B64(const std::string& s) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return Base64UrlEncode(d);
}

std::string ExpectedHeader(const std::string& kid) {
  return R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":")" + kid + R"("})";
}

/// A validly ES256-signed detached JWS over an arbitrary header JSON, so header
/// checks are tested on signatures that would otherwise verify.
std::string SignArbitrary(const std::string& private_pem, const std::string& header_json, std::string_view payload) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  std::string header_b64 = B64(header_json);
  std::string input = header_b64 + "." + std::string(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(1, EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, pkey, nullptr));
  std::array<unsigned char, 80> der{};
  size_t der_len = der.size();
  EXPECT_EQ(
      1, EVP_DigestSign(ctx, der.data(), &der_len, reinterpret_cast<const unsigned char*>(input.data()), input.size()));
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  std::array<uint8_t, 64> rs{};
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs.data() + 32, 32);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return header_b64 + ".." + Base64UrlEncode(rs);
}

std::vector<uint8_t> SignatureBytes(const std::string& jws) {
  auto sig = Base64UrlDecode(jws.substr(jws.rfind('.') + 1));
  EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  return sig.ok() ? *sig : std::vector<uint8_t>{};
}

std::string WithSignature(const std::string& jws, ConstBytes sig) {
  return jws.substr(0, jws.rfind('.') + 1) + Base64UrlEncode(sig);
}

class Keys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new PemKey(GenerateEc(MBEDTLS_ECP_DP_SECP256R1));
    b_ = new PemKey(GenerateEc(MBEDTLS_ECP_DP_SECP256R1));
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
  }
  static EcP256PublicKey Pub(const PemKey& k) {
    auto pub = PublicKeyFromPem(k.public_spki);
    EXPECT_TRUE(pub.ok()) << pub.status().ToString();
    return pub.ok() ? *pub : EcP256PublicKey{};
  }
  static std::unique_ptr<Signer> MustSigner(Backend b, const std::string& pem) {
    auto s = MakeSigner(b, pem);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static const PemKey& a() { return *a_; }
  static const PemKey& b() { return *b_; }

 private:
  static inline PemKey* a_ = nullptr;
  static inline PemKey* b_ = nullptr;
};

const std::vector<Backend> kBackends = {Backend::kMbedTls, Backend::kOpenSsl};

// --- base64url ---------------------------------------------------------------

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 section 10, without padding (RFC 7515 section 2).
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(B64(plain), encoded);
    auto back = Base64UrlDecode(encoded);
    ASSERT_TRUE(back.ok()) << encoded;
    EXPECT_EQ(std::string(back->begin(), back->end()), plain);
  }
  const uint8_t url_chars[] = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64UrlEncode(url_chars), "-_-_");
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::vector<uint8_t> data;
  for (size_t n = 0; n < 300; ++n) {
    auto back = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_TRUE(back.ok()) << n;
    EXPECT_EQ(*back, data);
    data.push_back(static_cast<uint8_t>(n * 37 + 11));
  }
}

TEST(Base64Url, RejectsNonCanonicalInput) {
  for (std::string_view bad : {"Zg==", "Zm8=", "Zm9v+w", "Zm9v/w", " Zg", "Zg\n", "Zm 9v", "Z", "Zm9vY",
                               "Zh",   // 'h' leaves non-zero trailing bits
                               "Zm9",  // '9' likewise for two bytes
                               "Zm\x80v", "Zm.v"}) {
    auto r = Base64UrlDecode(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(r.status().message(), HasSubstr("base64url"));
    }
  }
  EXPECT_THAT(Base64UrlDecode("ab+c").status().message(), HasSubstr("'+' at offset 2"));
  EXPECT_THAT(Base64UrlDecode("Zh").status().message(), HasSubstr("trailing bits"));
}

// --- backends, thumbprint, PEM ----------------------------------------------

TEST(Backend, NamesRoundTrip) {
  for (Backend b : kBackends) {
    auto parsed = ParseBackend(BackendName(b));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, b);
  }
  auto bad = ParseBackend("wolfssl");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'wolfssl'"));
}

TEST_F(Keys, ThumbprintIsSha256OfCanonicalJwk) {
  EcP256PublicKey pub = Pub(a());
  // RFC 7638 section 3: required members, sorted, no whitespace; hashed here
  // with OpenSSL, in the library with mbedTLS.
  EXPECT_EQ(Thumbprint(pub), OpenSslSha256B64(CanonicalJwk(pub)));
  EXPECT_EQ(Thumbprint(pub).size(), 43u);
  EXPECT_NE(Thumbprint(pub), Thumbprint(Pub(b())));
}

TEST(Thumbprint, FixedKeyFromRfc7515AppendixA3) {
  // The P-256 key of RFC 7515 A.3; expectation built by hand from RFC 7638 3.
  auto x = Base64UrlDecode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
  auto y = Base64UrlDecode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
  ASSERT_TRUE(x.ok() && y.ok());
  EcP256PublicKey k;
  std::copy(x->begin(), x->end(), k.x.begin());
  std::copy(y->begin(), y->end(), k.y.begin());
  EXPECT_EQ(Thumbprint(k),
            OpenSslSha256B64(R"({"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
                             R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})"));
}

TEST_F(Keys, PublicKeyFromPemReadsSec1Pkcs8AndSpki) {
  auto sec1 = PublicKeyFromPem(a().private_sec1);
  auto pkcs8 = PublicKeyFromPem(a().private_pkcs8);
  auto spki = PublicKeyFromPem(a().public_spki);
  ASSERT_TRUE(sec1.ok()) << sec1.status().ToString();
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status().ToString();
  ASSERT_TRUE(spki.ok()) << spki.status().ToString();
  EXPECT_THAT(a().private_sec1, HasSubstr("BEGIN EC PRIVATE KEY"));
  EXPECT_THAT(a().private_pkcs8, HasSubstr("BEGIN PRIVATE KEY"));
  EXPECT_THAT(a().public_spki, HasSubstr("BEGIN PUBLIC KEY"));
  EXPECT_EQ(*sec1, *spki);
  EXPECT_EQ(*pkcs8, *spki);
}

TEST(PublicKeyFromPem, RejectsOtherKeysAndGarbage) {
  PemKey rsa = GenerateRsa();
  PemKey p384 = GenerateEc(MBEDTLS_ECP_DP_SECP384R1);
  for (const std::string* pem : {&rsa.private_sec1, &rsa.private_pkcs8, &rsa.public_spki, &p384.private_sec1,
                                 &p384.private_pkcs8, &p384.public_spki}) {
    auto r = PublicKeyFromPem(*pem);
    EXPECT_FALSE(r.ok()) << *pem;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    }
  }
  EXPECT_THAT(PublicKeyFromPem(rsa.public_spki).status().message(), HasSubstr("RSA"));
  EXPECT_THAT(PublicKeyFromPem(p384.public_spki).status().message(), HasSubstr("P-256"));
  EXPECT_FALSE(PublicKeyFromPem("").ok());
  EXPECT_FALSE(PublicKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());

  for (Backend backend : kBackends) {
    for (const std::string* pem :
         {&rsa.private_sec1, &rsa.private_pkcs8, &p384.private_sec1, &p384.private_pkcs8, &p384.public_spki}) {
      auto s = MakeSigner(backend, *pem);
      EXPECT_FALSE(s.ok()) << BackendName(backend) << " " << *pem;
      if (!s.ok()) {
        EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
      }
    }
  }
}

TEST_F(Keys, EncryptedKeysAreRejectedWithoutPrompting) {
  const std::string encrypted = ToEncryptedPkcs8(a().private_sec1);
  ASSERT_THAT(encrypted, HasSubstr("BEGIN ENCRYPTED PRIVATE KEY"));
  EXPECT_EQ(PublicKeyFromPem(encrypted).status().code(), StatusCode::kInvalidArgument);
  for (Backend backend : kBackends) {
    auto s = MakeSigner(backend, encrypted);
    ASSERT_FALSE(s.ok()) << BackendName(backend);
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
    EXPECT_THAT(s.status().message(), HasSubstr("cannot parse private key"));
  }
}

TEST_F(Keys, SignersAgreeOnKeyAndKidForEveryPemForm) {
  EcP256PublicKey pub = Pub(a());
  for (Backend backend : kBackends) {
    for (const std::string* pem : {&a().private_sec1, &a().private_pkcs8}) {
      auto signer = MustSigner(backend, *pem);
      ASSERT_NE(signer, nullptr);
      EXPECT_EQ(signer->backend(), backend);
      EXPECT_EQ(signer->public_key(), pub);
      EXPECT_EQ(signer->kid(), Thumbprint(pub));
    }
  }
}

// --- sign / verify across backends -----------------------------------------

class CrossBackend : public Keys, public ::testing::WithParamInterface<std::tuple<Backend, Backend>> {
 protected:
  Backend signer_backend() const { return std::get<0>(GetParam()); }
  std::unique_ptr<Verifier> verifier() const { return MakeVerifier(std::get<1>(GetParam())); }
};

TEST_P(CrossBackend, SignsAndVerifiesExactBytes) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  ASSERT_NE(signer, nullptr);
  auto v = verifier();
  ASSERT_NE(v, nullptr);
  for (std::string_view payload : {kPayload, std::string_view(""), std::string_view("a.b..c\0\xff", 9)}) {
    auto jws = signer->Sign(payload);
    ASSERT_TRUE(jws.ok()) << jws.status().ToString();
    Status st = v->Verify(*jws, payload, signer->public_key());
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

TEST_P(CrossBackend, CompactFormAndHeaderAreExact) {
  auto signer = MustSigner(signer_backend(), a().private_pkcs8);
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(kPayload);
  ASSERT_TRUE(jws.ok());
  const size_t dot = jws->find('.');
  ASSERT_EQ(jws->substr(dot, 2), "..");
  auto header = Base64UrlDecode(jws->substr(0, dot));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(std::string(header->begin(), header->end()), ExpectedHeader(signer->kid()));
  EXPECT_EQ(SignatureBytes(*jws).size(), 64u);
  auto parsed = ParseHeader(*jws);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->alg, "ES256");
  EXPECT_EQ(parsed->kid, signer->kid());
}

TEST_P(CrossBackend, VerifiesSignaturesMadeByAnIndependentSigner) {
  auto v = verifier();
  std::string jws = SignArbitrary(a().private_sec1, ExpectedHeader(Thumbprint(Pub(a()))), kPayload);
  EXPECT_TRUE(v->Verify(jws, kPayload, Pub(a())).ok());
}

TEST_P(CrossBackend, RejectsTamperedPayload) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  auto v = verifier();
  auto jws = signer->Sign(kPayload);
  ASSERT_TRUE(jws.ok());
  for (size_t i : {size_t{0}, kPayload.size() / 2, kPayload.size() - 1}) {
    std::string tampered(kPayload);
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Status st = v->Verify(*jws, tampered, signer->public_key());
    EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << i << " " << st.ToString();
  }
  std::string longer = std::string(kPayload) + " ";
  EXPECT_EQ(v->Verify(*jws, longer, signer->public_key()).code(), StatusCode::kUnauthenticated);
}

TEST_P(CrossBackend, RejectsTamperedHeaderKeepingSignature) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  auto v = verifier();
  auto jws = signer->Sign(kPayload);
  ASSERT_TRUE(jws.ok());
  const std::string sig_part = jws->substr(jws->rfind('.'));
  const std::string other_kid = Thumbprint(Pub(b()));
  const std::vector<std::pair<std::string, std::string>> headers = {
      {ExpectedHeader(other_kid), "kid"},
      {R"({"alg":"none","b64":false,"crit":["b64"],"kid":")" + signer->kid() + R"("})", "alg must be ES256"},
      {R"({"alg":"HS256","b64":false,"crit":["b64"],"kid":")" + signer->kid() + R"("})", "alg must be ES256"},
      {R"({"alg":"ES256","b64":true,"crit":["b64"],"kid":")" + signer->kid() + R"("})", "b64 must be false"},
      {R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":")" + signer->kid() + R"(","x":1})", "does not verify"},
  };
  for (const auto& [header, why] : headers) {
    std::string forged = B64(header) + "." + sig_part;
    Status st = v->Verify(forged, kPayload, signer->public_key());
    EXPECT_FALSE(st.ok()) << header;
    EXPECT_THAT(st.message(), HasSubstr(why)) << header;
  }
  // The same kid swap, verified with the key the forged kid names.
  Status st = v->Verify(B64(ExpectedHeader(other_kid)) + "." + sig_part, kPayload, Pub(b()));
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st.ToString();
}

TEST_P(CrossBackend, RejectsSwappedSignatureAndWrongKey) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  auto v = verifier();
  auto one = signer->Sign(kPayload);
  auto two = signer->Sign("{\"seq\":43}");
  ASSERT_TRUE(one.ok() && two.ok());
  std::vector<uint8_t> sig_two = SignatureBytes(*two);
  EXPECT_EQ(v->Verify(WithSignature(*one, sig_two), kPayload, signer->public_key()).code(),
            StatusCode::kUnauthenticated);
  // Wrong key, caught by the kid check...
  Status st = v->Verify(*one, kPayload, Pub(b()));
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr("kid"));
  // ...and by the signature itself when the header names the wrong key.
  std::string by_a_claims_b = SignArbitrary(a().private_sec1, ExpectedHeader(Thumbprint(Pub(b()))), kPayload);
  st = v->Verify(by_a_claims_b, kPayload, Pub(b()));
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr("does not verify"));
}

TEST_P(CrossBackend, RejectsBadSignatureLengthsAndScalars) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  auto v = verifier();
  auto jws = signer->Sign(kPayload);
  ASSERT_TRUE(jws.ok());
  const std::vector<uint8_t> sig = SignatureBytes(*jws);
  const EcP256PublicKey pub = signer->public_key();

  std::vector<uint8_t> short_sig(sig.begin(), sig.end() - 1);
  std::vector<uint8_t> long_sig = sig;
  long_sig.push_back(0);
  for (const auto* bad : {&short_sig, &long_sig}) {
    Status st = v->Verify(WithSignature(*jws, *bad), kPayload, pub);
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr("must be 64 bytes")) << st.ToString();
  }
  EXPECT_FALSE(v->Verify(jws->substr(0, jws->rfind('.') + 1), kPayload, pub).ok());  // empty signature
  EXPECT_FALSE(v->Verify(*jws + "=", kPayload, pub).ok());

  // SEC 1 4.1.4: r and s must be in [1, n-1].
  const std::vector<uint8_t> n = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                  0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
  for (size_t half : {size_t{0}, size_t{32}}) {
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<uint8_t> bad = sig;
      if (variant == 0) std::fill(bad.begin() + static_cast<long>(half), bad.begin() + static_cast<long>(half) + 32, 0);
      if (variant == 1) std::copy(n.begin(), n.end(), bad.begin() + static_cast<long>(half));
      if (variant == 2)
        std::fill(bad.begin() + static_cast<long>(half), bad.begin() + static_cast<long>(half) + 32, 0xFF);
      Status st = v->Verify(WithSignature(*jws, bad), kPayload, pub);
      EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << half << "/" << variant << " " << st.ToString();
      EXPECT_THAT(st.message(), HasSubstr(half == 0 ? "r is not in" : "s is not in"));
    }
  }
}

TEST_P(CrossBackend, RejectsKeyOffTheCurve) {
  auto signer = MustSigner(signer_backend(), a().private_sec1);
  auto v = verifier();
  auto jws = signer->Sign(kPayload);
  ASSERT_TRUE(jws.ok());
  EcP256PublicKey off = signer->public_key();
  off.y[31] ^= 1;
  // Build a header naming that key, so the kid check does not catch it first.
  std::string forged = B64(ExpectedHeader(Thumbprint(off))) + jws->substr(jws->find('.'));
  Status st = v->Verify(forged, kPayload, off);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("not a point on P-256"));
}

TEST_P(CrossBackend, VerifierSwitchesBetweenKeys) {
  auto sa = MustSigner(signer_backend(), a().private_sec1);
  auto sb = MustSigner(signer_backend(), b().private_pkcs8);
  auto v = verifier();
  auto ja = sa->Sign(kPayload);
  auto jb = sb->Sign(kPayload);
  ASSERT_TRUE(ja.ok() && jb.ok());
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(v->Verify(*ja, kPayload, sa->public_key()).ok());
    EXPECT_TRUE(v->Verify(*jb, kPayload, sb->public_key()).ok());
    EXPECT_FALSE(v->Verify(*jb, kPayload, sa->public_key()).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Jws, CrossBackend,
                         ::testing::Combine(::testing::ValuesIn(kBackends), ::testing::ValuesIn(kBackends)),
                         [](const auto& p) {
                           return std::string(BackendName(std::get<0>(p.param))) + "_to_" +
                                  BackendName(std::get<1>(p.param));
                         });

TEST_F(Keys, MbedTlsSignaturesAreDeterministicRfc6979) {
  auto signer = MustSigner(Backend::kMbedTls, a().private_sec1);
  auto one = signer->Sign(kPayload);
  auto two = signer->Sign(kPayload);
  auto other = signer->Sign("{}");
  ASSERT_TRUE(one.ok() && two.ok() && other.ok());
  EXPECT_EQ(*one, *two);
  EXPECT_NE(SignatureBytes(*one), SignatureBytes(*other));
}

TEST_F(Keys, VerifierAcceptsNonCriticalExtraMembers) {
  std::string header =
      R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":")" + Thumbprint(Pub(a())) + R"(","typ":"JOSE","cty":"json"})";
  std::string jws = SignArbitrary(a().private_pkcs8, header, kPayload);
  for (Backend backend : kBackends) {
    Status st = MakeVerifier(backend)->Verify(jws, kPayload, Pub(a()));
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

// --- ParseHeader ---------------------------------------------------------------

struct BadHeader {
  std::string compact;
  StatusCode code;
  std::string message;
};

TEST(ParseHeader, RejectsEveryOtherShape) {
  const std::string kid = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
  auto h = [](const std::string& json) { return B64(json) + ".."; };
  const std::string sig = ".." + std::string(86, 'A');
  const std::string ok_header = ExpectedHeader(kid);
  const std::vector<BadHeader> cases = {
      {B64(ok_header) + "." + std::string(86, 'A'), StatusCode::kInvalidArgument, "exactly 3"},
      {B64(ok_header) + "..." + std::string(86, 'A'), StatusCode::kInvalidArgument, "exactly 3"},
      {B64(ok_header) + ".e30." + std::string(86, 'A'), StatusCode::kInvalidArgument, "payload part must be empty"},
      {sig, StatusCode::kInvalidArgument, "jws header: empty"},
      {"eyJhbGciOiJFUzI1NiJ9=..", StatusCode::kInvalidArgument, "jws header: base64url"},
      {"ey+hbGciOiJFUzI1NiJ9..", StatusCode::kInvalidArgument, "jws header: base64url"},
      {h("{\"alg\":"), StatusCode::kInvalidArgument, "not valid JSON"},
      {h("[\"ES256\"]"), StatusCode::kInvalidArgument, "not a JSON object"},
      {h("\"ES256\""), StatusCode::kInvalidArgument, "not a JSON object"},
      {h(R"({"b64":false,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated, "alg missing"},
      {h(R"({"alg":"none","b64":false,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "jws header: alg must be ES256, got 'none'"},
      {h(R"({"alg":"HS256","b64":false,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "alg must be ES256, got 'HS256'"},
      {h(R"({"alg":"es256","b64":false,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated, "got 'es256'"},
      {h(R"({"alg":["ES256"],"b64":false,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "alg must be ES256"},
      {h(R"({"alg":"ES256","crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated, "b64 missing"},
      {h(R"({"alg":"ES256","b64":true,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "b64 must be false, got true"},
      {h(R"({"alg":"ES256","b64":"false","crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "b64 must be false"},
      {h(R"({"alg":"ES256","b64":0,"crit":["b64"],"kid":"k"})"), StatusCode::kUnauthenticated, "b64 must be false"},
      {h(R"({"alg":"ES256","b64":false,"kid":"k"})"), StatusCode::kUnauthenticated, "crit missing"},
      {h(R"({"alg":"ES256","b64":false,"crit":[],"kid":"k"})"), StatusCode::kUnauthenticated, "crit must be exactly"},
      {h(R"({"alg":"ES256","b64":false,"crit":"b64","kid":"k"})"), StatusCode::kUnauthenticated,
       "crit must be exactly"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64","exp"],"exp":1,"kid":"k"})"), StatusCode::kUnauthenticated,
       "crit must be exactly"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64","b64"],"kid":"k"})"), StatusCode::kUnauthenticated,
       "crit must be exactly"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"]})"), StatusCode::kInvalidArgument, "kid missing"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":""})"), StatusCode::kInvalidArgument, "kid is empty"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":7})"), StatusCode::kInvalidArgument,
       "kid must be a string"},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":"k","alg":"none"})"), StatusCode::kInvalidArgument,
       "duplicate member 'alg'"},
      {h(R"({"alg":"none","b64":false,"crit":["b64"],"kid":"k","alg":"ES256"})"), StatusCode::kInvalidArgument,
       "duplicate member 'alg'"},
  };
  for (const auto& c : cases) {
    auto r = ParseHeader(c.compact);
    ASSERT_FALSE(r.ok()) << c.compact;
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.compact;
  }
  // Size cap on network input, and error messages stay short.
  const std::string huge =
      h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":"k","pad":")" + std::string(3000, 'p') + "\"}");
  EXPECT_THAT(ParseHeader(huge).status().message(), HasSubstr("more than the 2048 accepted"));
  auto long_crit =
      ParseHeader(h(R"({"alg":"ES256","b64":false,"crit":[")" + std::string(500, 'c') + R"("],"kid":"k"})"));
  EXPECT_LT(long_crit.status().message().size(), 120u) << long_crit.status().message();

  auto good = ParseHeader(h(ok_header) + std::string(86, 'A'));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->kid, kid);
  // Nested objects may repeat member names used at the top level.
  auto nested = ParseHeader(h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":"k","x5":{"kid":1,"alg":2}})"));
  EXPECT_TRUE(nested.ok()) << nested.status().ToString();
}

// The verifier counts refusals by the rule that failed (docs/telemetry.md, "What
// a verifier checks"): ParseHeader says which.
TEST(ParseHeader, SaysWhichRuleFailed) {
  auto h = [](const std::string& json) { return B64(json) + ".."; };
  const std::vector<std::pair<std::string, HeaderDefect>> cases = {
      {"x.y", HeaderDefect::kMalformed},
      {h("[1]"), HeaderDefect::kMalformed},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"]})"), HeaderDefect::kMalformed},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":"k","kid":"j"})"), HeaderDefect::kMalformed},
      {h(R"({"b64":false,"crit":["b64"],"kid":"k"})"), HeaderDefect::kAlg},
      {h(R"({"alg":"none","b64":false,"crit":["b64"],"kid":"k"})"), HeaderDefect::kAlg},
      {h(R"({"alg":"HS256","b64":false,"crit":["b64"],"kid":"k"})"), HeaderDefect::kAlg},
      {h(R"({"alg":"ES256","crit":["b64"],"kid":"k"})"), HeaderDefect::kB64},
      {h(R"({"alg":"ES256","b64":true,"crit":["b64"],"kid":"k"})"), HeaderDefect::kB64},
      {h(R"({"alg":"ES256","b64":false,"kid":"k"})"), HeaderDefect::kB64NotCritical},
      {h(R"({"alg":"ES256","b64":false,"crit":[],"kid":"k"})"), HeaderDefect::kB64NotCritical},
      {h(R"({"alg":"ES256","b64":false,"crit":"b64","kid":"k"})"), HeaderDefect::kB64NotCritical},
      {h(R"({"alg":"ES256","b64":false,"crit":["exp"],"exp":1,"kid":"k"})"), HeaderDefect::kB64NotCritical},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64","exp"],"exp":1,"kid":"k"})"), HeaderDefect::kUnknownCrit},
      {h(R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":"k"})"), HeaderDefect::kNone},
  };
  for (const auto& [compact, want] : cases) {
    HeaderDefect got = HeaderDefect::kNone;
    auto r = ParseHeader(compact, &got);
    EXPECT_EQ(r.ok(), want == HeaderDefect::kNone) << compact;
    EXPECT_EQ(static_cast<int>(got), static_cast<int>(want)) << compact << ": " << r.status().ToString();
  }
}

// --- JWK sets ------------------------------------------------------------------

class JwkSet : public Keys {
 protected:
  static std::vector<Jwk> Three() {
    PemKey c = GenerateEc(MBEDTLS_ECP_DP_SECP256R1);
    std::vector<Jwk> keys;
    for (const auto& [pem, thing] : std::vector<std::pair<const PemKey*, std::string>>{
             {&a(), "thing-0001"}, {&b(), "thing-0002"}, {&c, "thing-\"quoted\""}}) {
      EcP256PublicKey pub = Pub(*pem);
      keys.push_back({Thumbprint(pub), thing, pub});
    }
    return keys;
  }
  static Status Parse(const std::string& json) { return JwkSetFromJson(json).status(); }
  static void ExpectRejected(const std::string& json, const std::string& message) {
    auto r = JwkSetFromJson(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(message)) << json;
  }
  static std::string Replace(std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  }
};

TEST_F(JwkSet, RoundTrips) {
  std::vector<Jwk> keys = Three();
  std::string json = JwkSetToJson(keys);
  EXPECT_THAT(json, HasSubstr(R"({"keys":[{"kty":"EC","crv":"P-256","x":")"));
  EXPECT_THAT(json, HasSubstr(R"("use":"sig","alg":"ES256","thing":"thing-0001"})"));
  auto back = JwkSetFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*back)[i].kid, keys[i].kid);
    EXPECT_EQ((*back)[i].thing, keys[i].thing);
    EXPECT_EQ((*back)[i].key, keys[i].key);
  }
  // A "thing" that is not UTF-8 must not throw out of JwkSetToJson.
  std::vector<Jwk> odd = {keys[0]};
  odd[0].thing = "bad\xff";
  EXPECT_THAT(JwkSetToJson(odd), HasSubstr(R"("thing":"bad)"));

  auto empty = JwkSetFromJson(JwkSetToJson({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // "use", "alg" and "thing" are optional on input (RFC 7517 4.2, 4.4).
  const std::string minimal = R"({"keys":[{"kty":"EC","crv":"P-256","x":")" + Base64UrlEncode(keys[0].key.x) +
                              R"(","y":")" + Base64UrlEncode(keys[0].key.y) + R"(","kid":")" + keys[0].kid + "\"}]}";
  auto min = JwkSetFromJson(minimal);
  ASSERT_TRUE(min.ok()) << min.status().ToString();
  EXPECT_EQ((*min)[0].thing, "");
}

TEST_F(JwkSet, RejectsWithIndexAndField) {
  std::vector<Jwk> keys = Three();
  const std::string good = JwkSetToJson(keys);
  const std::string x1 = Base64UrlEncode(keys[1].key.x);

  ExpectRejected("not json", "jwks: not valid JSON");
  ExpectRejected("[]", "jwks: not a JSON object");
  ExpectRejected(R"({"keys":{}})", "jwks keys: missing or not an array");
  ExpectRejected(R"({"keys":[1]})", "jwks keys[0]: not an object");

  std::vector<Jwk> wrong_kid = keys;
  wrong_kid[1].kid = keys[0].kid;
  wrong_kid[1].kid[0] = wrong_kid[1].kid[0] == 'A' ? 'B' : 'A';
  ExpectRejected(JwkSetToJson(wrong_kid), "jwks keys[1].kid: ");
  ExpectRejected(JwkSetToJson(wrong_kid), "is not the key's RFC 7638 thumbprint");

  std::vector<Jwk> duplicate = keys;
  duplicate.push_back(keys[0]);
  ExpectRejected(JwkSetToJson(duplicate), "jwks keys[3].kid: duplicate of keys[0]");

  ExpectRejected(Replace(good, R"("crv":"P-256")", R"("crv":"P-384")"),
                 R"(jwks keys[0].crv: must be "P-256", got 'P-384')");
  ExpectRejected(Replace(good, R"("kty":"EC")", R"("kty":"RSA")"), "jwks keys[0].kty");
  ExpectRejected(Replace(good, "\"x\":\"" + x1, "\"x\":\"" + x1 + "="), "jwks keys[1].x: bad base64url");
  ExpectRejected(Replace(good, "\"x\":\"" + x1, "\"x\":\"" + x1.substr(0, 40)), "jwks keys[1].x: must be 32 bytes");
  ExpectRejected(Replace(good, "\"x\":\"" + x1 + "\",", ""), "jwks keys[1].x: missing");
  ExpectRejected(Replace(good, R"("use":"sig")", R"("use":"enc")"), "jwks keys[0].use");
  ExpectRejected(Replace(good, R"("alg":"ES256")", R"("alg":"ES384")"), "jwks keys[0].alg");
  ExpectRejected(Replace(good, R"("thing":"thing-0002")", R"("thing":2)"), "jwks keys[1].thing");

  std::vector<Jwk> off_curve = keys;
  off_curve[2].key.y[31] ^= 1;
  off_curve[2].kid = Thumbprint(off_curve[2].key);
  ExpectRejected(JwkSetToJson(off_curve), "jwks keys[2].x/y: not a point on P-256");
}

TEST_F(JwkSet, OneJwkIsCheckedLikeAMemberOfASet) {
  const std::vector<Jwk> keys = Three();
  const std::string one = PublicJwkJson(keys[0].key);
  EXPECT_EQ(one, R"({"kty":"EC","crv":"P-256","x":")" + Base64UrlEncode(keys[0].key.x) + R"(","y":")" +
                     Base64UrlEncode(keys[0].key.y) + R"(","kid":")" + keys[0].kid + R"("})");
  auto back = JwkFromJson(one, "status.next_key");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kid, keys[0].kid);
  EXPECT_EQ(back->key, keys[0].key);
  auto wrong = JwkFromJson(Replace(one, keys[0].kid, keys[1].kid), "status.next_key");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("status.next_key.kid: "));
  EXPECT_THAT(JwkFromJson("[]", "status.next_key").status().message(), HasSubstr("status.next_key: not an object"));
}

// --- Revocation lists (docs/telemetry.md "Revoked keys") ----------------------

class Revocations : public JwkSet {
 protected:
  static void ExpectRevocationRejected(const std::string& json, const std::string& message) {
    auto r = RevocationListFromJson(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(message)) << json;
  }
};

TEST_F(Revocations, RoundTripsWithTheInstant) {
  const std::vector<Jwk> keys = Three();
  std::vector<RevokedKey> list = {{keys[0].kid, "2025-03-01T12:00:00Z", 0, "leaked in a support bundle"},
                                  {keys[1].kid, "2025-03-01T13:00:00.250+01:00", 0, ""}};
  auto back = RevocationListFromJson(RevocationListToJson(list));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].kid, keys[0].kid);
  EXPECT_EQ((*back)[0].at, "2025-03-01T12:00:00Z");
  EXPECT_EQ((*back)[0].at_ms, 1'740'830'400'000);  // date -u -d 2025-03-01T12:00:00Z +%s
  EXPECT_EQ((*back)[0].reason, "leaked in a support bundle");
  EXPECT_EQ((*back)[1].at_ms, 1'740'830'400'250);  // the same instant + 250 ms, written at +01:00
  EXPECT_EQ((*back)[1].reason, "");
  EXPECT_THAT(RevocationListToJson(list), Not(HasSubstr(R"("reason":"")")));
  auto empty = RevocationListFromJson(R"({"revoked":[]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(Revocations, RejectsWithIndexAndField) {
  const std::vector<Jwk> keys = Three();
  const std::string good = RevocationListToJson(
      {{keys[0].kid, "2025-03-01T12:00:00Z", 0, "x"}, {keys[1].kid, "2025-03-02T12:00:00Z", 0, ""}});
  ExpectRevocationRejected("nope", "revocations: not valid JSON");
  ExpectRevocationRejected("[]", "revocations: not a JSON object");
  ExpectRevocationRejected("{}", "revocations revoked: missing or not an array");
  ExpectRevocationRejected(R"({"revoked":{}})", "revocations revoked: missing or not an array");
  ExpectRevocationRejected(R"({"revoked":[],"keys":[]})", "revocations: unknown member 'keys'");
  ExpectRevocationRejected(R"({"revoked":[7]})", "revocations revoked[0]: not an object");
  ExpectRevocationRejected(Replace(good, "\"kid\":\"" + keys[1].kid + "\",", ""),
                           "revocations revoked[1].kid: missing");
  ExpectRevocationRejected(Replace(good, keys[1].kid, "not-a-thumbprint"),
                           "revocations revoked[1].kid: 'not-a-thumbprint' is not an RFC 7638 thumbprint");
  ExpectRevocationRejected(Replace(good, keys[1].kid, keys[0].kid),
                           "revocations revoked[1].kid: duplicate of revoked[0]");
  ExpectRevocationRejected(Replace(good, R"(,"at":"2025-03-02T12:00:00Z")", ""), "revocations revoked[1].at: missing");
  ExpectRevocationRejected(Replace(good, R"("at":"2025-03-02T12:00:00Z")", R"("at":1740830400)"),
                           "revocations revoked[1].at: missing or not a string");
  ExpectRevocationRejected(Replace(good, R"("reason":"x")", R"("reason":["x"])"), "revocations revoked[0].reason");
  ExpectRevocationRejected(Replace(good, R"("reason":"x")", R"("revoked_at":"x")"),
                           "revocations revoked[0].revoked_at: unknown member");
  for (const char* at : {"2025-03-02", "2025-03-02 12:00:00Z", "2025-03-02T12:00:00", "2025-02-29T12:00:00Z",
                         "2025-13-01T12:00:00Z", "2025-03-02T24:00:00Z", "2025-03-02T12:00:00.Z",
                         "2025-03-02T12:00:00+1:00", "2025-03-02T12:00:00Zjunk", "yesterday"}) {
    ExpectRevocationRejected(Replace(good, "2025-03-02T12:00:00Z", at),
                             std::string("revocations revoked[1].at: '") + at + "' is not an RFC 3339 date-time");
  }
}

TEST(Rfc3339, AcceptsWhatTheRfcAllows) {
  EXPECT_EQ(*ParseRfc3339Millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Millis("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(*ParseRfc3339Millis("2024-02-29t23:00:00-01:00"), *ParseRfc3339Millis("2024-03-01T00:00:00Z"));
  EXPECT_EQ(*ParseRfc3339Millis("2016-12-31T23:59:60Z"), *ParseRfc3339Millis("2017-01-01T00:00:00Z"));  // leap second
  EXPECT_EQ(*ParseRfc3339Millis("2025-03-01T12:00:00.1234567z"), 1'740'830'400'123);
  EXPECT_FALSE(ParseRfc3339Millis("2100-02-29T00:00:00Z").ok());  // not a leap year
}

// A device makes its next signing key itself (key rotation): a P-256 key that
// both backends sign with, a new one every time.
TEST(GenerateSigningKeyPem, MakesFreshP256KeysBothBackendsUse) {
  auto a = GenerateSigningKeyPem();
  auto b = GenerateSigningKeyPem();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_THAT(*a, HasSubstr("-----BEGIN EC PRIVATE KEY-----"));
  EXPECT_NE(*a, *b);
  auto mbed = MakeSigner(Backend::kMbedTls, *a);
  auto ossl = MakeSigner(Backend::kOpenSsl, *a);
  ASSERT_TRUE(mbed.ok()) << mbed.status().ToString();
  ASSERT_TRUE(ossl.ok()) << ossl.status().ToString();
  EXPECT_EQ((*mbed)->kid(), (*ossl)->kid());
  EXPECT_EQ(PublicKeyFromPem(*a)->x, (*mbed)->public_key().x);
  auto sig = (*mbed)->Sign("payload");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(MakeVerifier(Backend::kOpenSsl)->Verify(*sig, "payload", (*ossl)->public_key()).ok());
}

}  // namespace
}  // namespace edgeforge::jws
