#include "certs/x509_writer.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstring>

namespace edgeforge::certs::internal {
namespace {

constexpr char kOrganization[] = "edgeforge";
constexpr std::time_t kBackdateSeconds = 3600;  // tolerate clock skew between hosts
constexpr size_t kSerialBytes = 16;             // RFC 5280 4.1.2.2: <= 20 octets

// X.690 8.1.3: definite length, short form below 128, else long form.
void AppendDerLength(std::vector<uint8_t>& out, size_t len) {
  if (len < 0x80) {
    out.push_back(static_cast<uint8_t>(len));
    return;
  }
  std::vector<uint8_t> bytes;
  for (size_t v = len; v != 0; v >>= 8) bytes.insert(bytes.begin(), static_cast<uint8_t>(v & 0xff));
  out.push_back(static_cast<uint8_t>(0x80 | bytes.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void AppendTlv(std::vector<uint8_t>& out, uint8_t tag, const uint8_t* data, size_t len) {
  out.push_back(tag);
  AppendDerLength(out, len);
  out.insert(out.end(), data, data + len);
}

std::vector<uint8_t> DerSequence(const std::vector<uint8_t>& content) {
  std::vector<uint8_t> out;
  AppendTlv(out, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE, content.data(), content.size());
  return out;
}

std::string TimeString(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);  // mbedTLS validity format
  return buf;
}

Status AddNameAttribute(mbedtls_asn1_named_data** list, const char* oid, size_t oid_len,
                        const mbedtls_asn1_buf& value) {
  mbedtls_asn1_named_data* node = mbedtls_asn1_store_named_data(list, oid, oid_len, value.p, value.len);
  if (node == nullptr) return ResourceExhausted("out of memory building an X.509 name");
  node->val.tag = value.tag;
  return Status::Ok();
}

Status AddUtf8Attribute(mbedtls_asn1_named_data** list, const char* oid, size_t oid_len, const std::string& value) {
  mbedtls_asn1_buf buf{};
  buf.tag = MBEDTLS_ASN1_UTF8_STRING;
  buf.len = value.size();
  // mbedtls_asn1_store_named_data copies the bytes; it only takes a non-const pointer.
  buf.p = reinterpret_cast<unsigned char*>(const_cast<char*>(value.data()));
  return AddNameAttribute(list, oid, oid_len, buf);
}

// mbedTLS writes a name list head-last, so storing attributes in encoding
// order yields that order in the DER: O=edgeforge, CN=<common name>.
Status SetName(mbedtls_asn1_named_data** name, const std::string& common_name) {
  EF_RETURN_IF_ERROR(AddUtf8Attribute(name, MBEDTLS_OID_AT_ORGANIZATION, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION),
                                      kOrganization));
  return AddUtf8Attribute(name, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), common_name);
}

// Issuer = the CA's subject with the same OIDs, string tags and bytes.
Status CopyIssuer(mbedtls_x509write_cert& crt, const mbedtls_x509_name* ca_subject) {
  size_t count = 0;
  for (const mbedtls_x509_name* n = ca_subject; n != nullptr; n = n->next, ++count) {
    if (n->next_merged != 0) return Unimplemented("CA subject has a multi-valued RDN");
    EF_RETURN_IF_ERROR(AddNameAttribute(&crt.issuer, reinterpret_cast<const char*>(n->oid.p), n->oid.len, n->val));
  }
  size_t copied = 0;
  for (const mbedtls_asn1_named_data* n = crt.issuer; n != nullptr; n = n->next) ++copied;
  if (copied != count) return Unimplemented("CA subject repeats an attribute type");
  return Status::Ok();
}

Status SetSerialAndValidity(mbedtls_x509write_cert& crt, const CertProfile& profile, Drbg& drbg, std::time_t now) {
  std::array<unsigned char, kSerialBytes> serial{};
  int ret = Drbg::Random(drbg.rng(), serial.data(), serial.size());
  if (ret != 0) return MbedTlsStatus(ret, "drawing a serial number");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x40);  // positive, 16 octets
  mbedtls_mpi mpi;
  mbedtls_mpi_init(&mpi);
  ret = mbedtls_mpi_read_binary(&mpi, serial.data(), serial.size());
  if (ret == 0) ret = mbedtls_x509write_crt_set_serial(&crt, &mpi);
  mbedtls_mpi_free(&mpi);
  if (ret != 0) return MbedTlsStatus(ret, "setting the serial number");
  const std::time_t not_before = now - kBackdateSeconds;
  const std::time_t not_after = not_before + static_cast<std::time_t>(profile.days) * 86400;
  ret = mbedtls_x509write_crt_set_validity(&crt, TimeString(not_before).c_str(), TimeString(not_after).c_str());
  return ret == 0 ? Status::Ok() : MbedTlsStatus(ret, "setting the validity");
}

Status SetOptionalExtension(mbedtls_x509write_cert& crt, const char* oid, size_t oid_len,
                            const std::vector<uint8_t>& der) {
  int ret = mbedtls_x509write_crt_set_extension(&crt, oid, oid_len, 0, der.data(), der.size());
  return ret == 0 ? Status::Ok() : MbedTlsStatus(ret, "adding an extension");
}

Status SetExtensions(mbedtls_x509write_cert& crt, const CertProfile& profile) {
  // RFC 5280 4.2.1.9: CA:true is critical (mbedTLS marks it so when is_ca).
  int ret = mbedtls_x509write_crt_set_basic_constraints(&crt, profile.is_ca ? 1 : 0, -1);
  // RFC 5280 4.2.1.1 / 4.2.1.2: key identifiers let verifiers pick the issuer key.
  if (ret == 0) ret = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
  if (ret == 0) ret = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
  if (ret == 0) ret = mbedtls_x509write_crt_set_key_usage(&crt, profile.key_usage);
  if (ret != 0) return MbedTlsStatus(ret, "adding standard extensions");
  if (!profile.ext_key_usage.empty()) {
    EF_RETURN_IF_ERROR(SetOptionalExtension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                                            EncodeExtKeyUsage(profile.ext_key_usage)));
  }
  if (!profile.dns_names.empty() || !profile.ip_addresses.empty()) {
    // RFC 5280 4.2.1.6: non-critical because the subject name is not empty.
    EF_RETURN_IF_ERROR(SetOptionalExtension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
                                            EncodeSubjectAltName(profile.dns_names, profile.ip_addresses)));
  }
  return Status::Ok();
}

Result<std::string> WritePem(mbedtls_x509write_cert& crt, Drbg& drbg) {
  std::vector<unsigned char> buf(4096);
  int ret = mbedtls_x509write_crt_pem(&crt, buf.data(), buf.size(), &Drbg::Random, drbg.rng());
  if (ret != 0) return MbedTlsStatus(ret, "signing the certificate");
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

}  // namespace

Status MbedTlsStatus(int ret, const std::string& what) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof text);
  char code[24];
  std::snprintf(code, sizeof code, "-0x%04x", static_cast<unsigned>(-ret));
  return Internal(what + ": mbedTLS " + code + " (" + text + ")");
}

Drbg::Drbg() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&ctr_drbg_);
}

Drbg::~Drbg() {
  mbedtls_ctr_drbg_free(&ctr_drbg_);
  mbedtls_entropy_free(&entropy_);
}

Status Drbg::Seed(std::string_view personalization) {
  int ret =
      mbedtls_ctr_drbg_seed(&ctr_drbg_, mbedtls_entropy_func, &entropy_,
                            reinterpret_cast<const unsigned char*>(personalization.data()), personalization.size());
  return ret == 0 ? Status::Ok() : MbedTlsStatus(ret, "seeding CTR_DRBG from OS entropy");
}

int Drbg::Random(void* drbg, unsigned char* out, size_t len) { return mbedtls_ctr_drbg_random(drbg, out, len); }

namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

KeyGenerator::KeyGenerator() {
  ctx_ = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (ctx_ != nullptr && (EVP_PKEY_keygen_init(ctx_) != 1 || EVP_PKEY_CTX_set_group_name(ctx_, "P-256") != 1)) {
    EVP_PKEY_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

KeyGenerator::~KeyGenerator() { EVP_PKEY_CTX_free(ctx_); }

Status KeyGenerator::Generate(PkKey& key) {
  if (ctx_ == nullptr) return Internal("setting up EC P-256 key generation (OpenSSL): " + OpenSslError());
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_generate(ctx_, &pkey) != 1) {
    return Internal("generating an EC P-256 key (OpenSSL): " + OpenSslError());
  }
  unsigned char d[32];
  unsigned char q[65];  // uncompressed point: 04 || X || Y
  size_t q_len = 0;
  BIGNUM* priv = nullptr;
  bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 &&
            BN_bn2binpad(priv, d, sizeof d) == static_cast<int>(sizeof d) &&
            EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof q, &q_len) == 1 &&
            q_len == sizeof q;
  BN_clear_free(priv);
  EVP_PKEY_free(pkey);
  if (!ok) {
    OPENSSL_cleanse(d, sizeof d);
    return Internal("reading a new EC P-256 key (OpenSSL): " + OpenSslError());
  }
  int ret = mbedtls_pk_setup(key.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  mbedtls_ecp_keypair* ec = ret == 0 ? mbedtls_pk_ec(*key.get()) : nullptr;
  if (ret == 0) ret = mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1);
  if (ret == 0) ret = mbedtls_mpi_read_binary(&ec->d, d, sizeof d);
  if (ret == 0) ret = mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, q, q_len);
  // Cheap (no scalar multiplication): the point is on the curve, d in range.
  if (ret == 0) ret = mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q);
  if (ret == 0) ret = mbedtls_ecp_check_privkey(&ec->grp, &ec->d);
  OPENSSL_cleanse(d, sizeof d);
  return ret == 0 ? Status::Ok() : MbedTlsStatus(ret, "importing a new EC P-256 key");
}

Status EcdsaSigningKey(PkKey& src, PkKey& dst) {
  if (!mbedtls_pk_can_do(src.get(), MBEDTLS_PK_ECKEY)) return InvalidArgument("not an EC key");
  int ret = mbedtls_pk_setup(dst.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA));
  if (ret == 0) ret = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(*dst.get()), mbedtls_pk_ec(*src.get()));
  return ret == 0 ? Status::Ok() : MbedTlsStatus(ret, "copying an EC key for ECDSA");
}

Result<std::string> PrivateKeyPem(PkKey& key) {
  std::vector<unsigned char> buf(2048);
  int ret = mbedtls_pk_write_key_pem(key.get(), buf.data(), buf.size());
  if (ret != 0) return MbedTlsStatus(ret, "encoding a private key");
  std::string pem(reinterpret_cast<const char*>(buf.data()));
  mbedtls_platform_zeroize(buf.data(), buf.size());
  return pem;
}

Status ParsePrivateKeyPem(const std::string& pem, const std::string& origin, PkKey& key) {
  // PEM input must include the terminating NUL in the length (mbedTLS 2.x API).
  int ret =
      mbedtls_pk_parse_key(key.get(), reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1, nullptr, 0);
  if (ret != 0) return MbedTlsStatus(ret, "cannot parse private key '" + origin + "'");
  if (!mbedtls_pk_can_do(key.get(), MBEDTLS_PK_ECKEY) ||
      mbedtls_pk_ec(*key.get())->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgument("'" + origin + "' is not an EC P-256 key");
  }
  return Status::Ok();
}

Status ParseCertificatePem(const std::string& pem, const std::string& origin, Certificate& crt) {
  int ret = mbedtls_x509_crt_parse(crt.get(), reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1);
  if (ret != 0) return MbedTlsStatus(ret, "cannot parse certificate '" + origin + "'");
  return Status::Ok();
}

std::vector<uint8_t> EncodeSubjectAltName(const std::vector<std::string>& dns_names,
                                          const std::vector<std::vector<uint8_t>>& ip_addresses) {
  std::vector<uint8_t> names;
  for (const std::string& dns : dns_names) {
    AppendTlv(names, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2,  // dNSName [2] IA5String
              reinterpret_cast<const uint8_t*>(dns.data()), dns.size());
  }
  for (const std::vector<uint8_t>& ip : ip_addresses) {
    AppendTlv(names, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7, ip.data(), ip.size());  // iPAddress [7]
  }
  return DerSequence(names);
}

std::vector<uint8_t> EncodeExtKeyUsage(const std::vector<std::string>& oids) {
  std::vector<uint8_t> content;
  for (const std::string& oid : oids) {
    AppendTlv(content, MBEDTLS_ASN1_OID, reinterpret_cast<const uint8_t*>(oid.data()), oid.size());
  }
  return DerSequence(content);
}

Result<std::string> IssueCertificate(const CertProfile& profile, PkKey& subject_key, PkKey& issuer_key,
                                     const mbedtls_x509_crt* issuer_cert, Drbg& drbg, std::time_t now, PkKey* signer) {
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  struct Cleanup {
    mbedtls_x509write_cert* c;
    ~Cleanup() { mbedtls_x509write_crt_free(c); }
  } cleanup{&crt};
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);  // ecdsa-with-SHA256
  mbedtls_x509write_crt_set_subject_key(&crt, subject_key.get());
  mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key.get());
  EF_RETURN_IF_ERROR(SetName(&crt.subject, profile.common_name));
  if (issuer_cert == nullptr) {
    EF_RETURN_IF_ERROR(SetName(&crt.issuer, profile.common_name));  // self-signed
  } else {
    EF_RETURN_IF_ERROR(CopyIssuer(crt, &issuer_cert->subject));
  }
  EF_RETURN_IF_ERROR(SetSerialAndValidity(crt, profile, drbg, now));
  EF_RETURN_IF_ERROR(SetExtensions(crt, profile));  // the authority key id needs issuer_key's EC type
  if (signer != nullptr) mbedtls_x509write_crt_set_issuer_key(&crt, signer->get());
  return WritePem(crt, drbg);
}

}  // namespace edgeforge::certs::internal
