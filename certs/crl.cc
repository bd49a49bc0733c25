#include "certs/crl.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "hal/linux/fs.h"

namespace edgeforge::certs {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

BioPtr MemBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Result<X509Ptr> ReadCert(const std::string& path) {
  auto pem = fs::ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  BioPtr bio = MemBio(*pem);
  X509Ptr crt(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!crt) return InvalidArgument("'" + path + "' is not a PEM certificate: " + OpenSslError());
  return crt;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "?";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

}  // namespace

Result<std::string> RevokeCertificate(const std::string& dir, const std::string& cert_path, int days) {
  auto ca = ReadCert(dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  auto key_pem = fs::ReadFileToString(dir + "/ca.key");
  if (!key_pem.ok()) return key_pem.status();
  BioPtr key_bio = MemBio(*key_pem);
  KeyPtr ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) return InvalidArgument("'" + dir + "/ca.key' is not a PEM private key: " + OpenSslError());
  auto crt = ReadCert(cert_path);
  if (!crt.ok()) return crt.status();
  if (X509_check_issued(ca->get(), crt->get()) != X509_V_OK) {
    return InvalidArgument("'" + cert_path + "' was not issued by the CA in '" + dir + "'");
  }
  const std::string crl_path = dir + "/crl.pem";
  CrlPtr crl;
  if (fs::IsRegularFile(crl_path)) {
    auto old = fs::ReadFileToString(crl_path);
    if (!old.ok()) return old.status();
    BioPtr bio = MemBio(*old);
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) return InvalidArgument("'" + crl_path + "' is not a PEM CRL: " + OpenSslError());
  } else {
    crl.reset(X509_CRL_new());
    if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||  // v2: entries and extensions
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca->get())) != 1) {
      return Internal("creating a CRL: " + OpenSslError());
    }
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(crt->get());
  const std::time_t now = std::time(nullptr);
  X509_REVOKED* found = nullptr;
  if (X509_CRL_get0_by_serial(crl.get(), &found, serial) != 1) {
    X509_REVOKED* entry = X509_REVOKED_new();
    TimePtr when(ASN1_TIME_set(nullptr, now));
    if (entry == nullptr || X509_REVOKED_set_serialNumber(entry, const_cast<ASN1_INTEGER*>(serial)) != 1 ||
        X509_REVOKED_set_revocationDate(entry, when.get()) != 1 || X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return Internal("adding a CRL entry: " + OpenSslError());
    }
  }
  TimePtr this_update(ASN1_TIME_set(nullptr, now));
  TimePtr next_update(ASN1_TIME_adj(nullptr, now, days, 0));
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1 || X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return Internal("signing the CRL: " + OpenSslError());
  }
  BioPtr out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_CRL(out.get(), crl.get()) != 1) return Internal("writing the CRL: " + OpenSslError());
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  EF_RETURN_IF_ERROR(fs::WriteFileAtomically(crl_path, std::string(data, static_cast<size_t>(len)), 0644));
  return SerialHex(serial);
}

}  // namespace edgeforge::certs
