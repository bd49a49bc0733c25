#include "certs/identity_check.h"

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "certs/pki.h"
#include "certs/x509_writer.h"
#include "hal/linux/fs.h"

namespace edgeforge::certs {
namespace {

using internal::Certificate;
using internal::PkKey;

constexpr char kAwsIotCertificateCn[] = "AWS IoT Certificate";  // CreateKeysAndCertificate's subject

std::string Quoted(const std::string& path) { return "'" + path + "'"; }

std::string ModeString(unsigned int mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
  return buf;
}

std::string MbedTlsText(int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof text);
  char code[16];
  std::snprintf(code, sizeof code, "-0x%04x", static_cast<unsigned>(-ret));
  return std::string("mbedTLS ") + code + " " + text;
}

/// `what` ("CA file") 'path': exists, is a regular file, can be read.
Result<std::string> ReadIdentityFile(const std::string& path, const std::string& what) {
  if (path.empty()) return InvalidArgument(what + ": no file given");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(what + " " + Quoted(path) + " does not exist");
    return fs::ErrnoStatus(err, what + " " + Quoted(path));
  }
  if (!S_ISREG(st.st_mode)) return InvalidArgument(what + " " + Quoted(path) + " is not a regular file");
  Result<std::string> content = fs::ReadFileToString(path);
  if (!content.ok()) {
    return Status(content.status().code(), what + " " + Quoted(path) + ": " + content.status().message() +
                                               (content.status().code() == StatusCode::kPermissionDenied
                                                    ? " (run the device as the user that owns it)"
                                                    : ""));
  }
  if (content->empty()) return InvalidArgument(what + " " + Quoted(path) + " is empty");
  return content;
}

bool Contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

/// Why a PEM file did not parse, in words a user can act on. `label` is the
/// PEM type expected ("CERTIFICATE", "PRIVATE KEY" matches any key type).
Status PemProblem(const std::string& content, const std::string& path, const std::string& what,
                  const std::string& label, int mbedtls_ret) {
  const std::string where = what + " " + Quoted(path);
  const size_t begin = content.find("-----BEGIN ");
  if (begin == std::string::npos) {
    return InvalidArgument(where + " is not PEM (no '-----BEGIN " + label +
                           "-----' line; Paho/OpenSSL read PEM only; a DER file converts with `openssl " +
                           (label == "CERTIFICATE" ? "x509" : "pkey") + " -inform der -in FILE -out FILE.pem`)");
  }
  const size_t end_of_label = content.find("-----", begin + 11);
  const std::string found =
      end_of_label == std::string::npos ? "" : content.substr(begin + 11, end_of_label - begin - 11);
  const bool want_key = label == "PRIVATE KEY";
  const bool is_key = found.size() >= 11 && found.compare(found.size() - 11, 11, "PRIVATE KEY") == 0;
  if (want_key && found == "CERTIFICATE") {
    return InvalidArgument(where + " holds a certificate, not a private key (--cert and --key swapped?)");
  }
  if (!want_key && is_key) {
    return InvalidArgument(where + " holds a private key, not a certificate (--cert and --key swapped?)");
  }
  if (want_key && Contains(content, "ENCRYPTED")) {  // PKCS#8 label or a legacy Proc-Type header
    return InvalidArgument(where +
                           " is encrypted; the device has no passphrase for it: decrypt it with "
                           "`openssl pkey -in FILE -out FILE.plain` (then mode 600)");
  }
  if (end_of_label == std::string::npos || !Contains(content, ("-----END " + found + "-----").c_str())) {
    return DataLoss(where + " is truncated: '-----BEGIN " + found + "-----' without its '-----END " + found +
                    "-----' line (" + std::to_string(content.size()) + " bytes; copy the file again)");
  }
  const std::string expected = want_key ? "private key" : "certificate";
  if (mbedtls_ret == 0) {  // not even tried: the file holds PEM of another type
    return InvalidArgument(where + " holds '-----BEGIN " + found + "-----', not a " + expected);
  }
  return InvalidArgument(where + " is not a valid PEM " + expected + " (" + MbedTlsText(mbedtls_ret) + ")");
}

Status ParseCertificates(const std::string& content, const std::string& path, const std::string& what,
                         Certificate& crt) {
  if (!Contains(content, "-----BEGIN CERTIFICATE-----")) return PemProblem(content, path, what, "CERTIFICATE", 0);
  // PEM input includes the terminating NUL in the length (mbedTLS 2.x API).
  // A positive result counts certificates in the file that did not parse.
  const int ret =
      mbedtls_x509_crt_parse(crt.get(), reinterpret_cast<const unsigned char*>(content.c_str()), content.size() + 1);
  if (ret < 0) return PemProblem(content, path, what, "CERTIFICATE", ret);
  if (ret > 0) {
    return InvalidArgument(what + " " + Quoted(path) + ": " + std::to_string(ret) +
                           " of its certificates do not parse (a truncated or damaged block)");
  }
  return Status::Ok();
}

Status ParseKey(const std::string& content, const std::string& path, const std::string& what, PkKey& key) {
  if (!Contains(content, "-----BEGIN ")) return PemProblem(content, path, what, "PRIVATE KEY", 0);
  const int ret = mbedtls_pk_parse_key(key.get(), reinterpret_cast<const unsigned char*>(content.c_str()),
                                       content.size() + 1, nullptr, 0);
  if (ret != 0) return PemProblem(content, path, what, "PRIVATE KEY", ret);
  return Status::Ok();
}

int64_t ToUnix(const mbedtls_x509_time& t) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.mon - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.min;
  tm.tm_sec = t.sec;
  return static_cast<int64_t>(::timegm(&tm));
}

std::string CommonName(const mbedtls_x509_name* name) {
  for (const mbedtls_x509_name* n = name; n != nullptr; n = n->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(n->val.p), n->val.len);
    }
  }
  return {};
}

std::string DnString(const mbedtls_x509_name* dn) {
  char buf[512];
  const int n = mbedtls_x509_dn_gets(buf, sizeof buf, dn);
  return n < 0 ? std::string("(unprintable name)") : std::string(buf, static_cast<size_t>(n));
}

bool SameName(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && std::memcmp(a.p, b.p, a.len) == 0;
}

/// The certificate of `ca_list` whose subject is `crt`'s issuer, or nullptr.
const mbedtls_x509_crt* IssuerIn(const mbedtls_x509_crt* crt, const mbedtls_x509_crt* ca_list) {
  for (const mbedtls_x509_crt* ca = ca_list; ca != nullptr && ca->raw.len > 0; ca = ca->next) {
    if (SameName(crt->issuer_raw, ca->subject_raw)) return ca;
  }
  return nullptr;
}

Status CheckValidity(const mbedtls_x509_crt& crt, const std::string& path, const std::string& what, int64_t now) {
  const int64_t from = ToUnix(crt.valid_from);
  const int64_t to = ToUnix(crt.valid_to);
  const std::string period =
      " (valid " + FormatUtc(from) + " to " + FormatUtc(to) + "; this device's clock says " + FormatUtc(now) + ")";
  if (now < from) {
    return FailedPrecondition(what + " " + Quoted(path) + " is not valid yet: notBefore " + FormatUtc(from) + period +
                              ": set the clock (NTP) or issue a certificate valid now");
  }
  if (now > to) {
    return FailedPrecondition(what + " " + Quoted(path) + " expired: notAfter " + FormatUtc(to) + period +
                              ": issue a new certificate for this thing");
  }
  return Status::Ok();
}

/// Parses the TLS key into `key` and checks the signing key (if any) is P-256.
Status ParseKeys(const IdentityFiles& files, PkKey& key) {
  Result<std::string> tls_key = ReadIdentityFile(files.tls_key, "TLS key");
  if (!tls_key.ok()) return tls_key.status();
  EF_RETURN_IF_ERROR(ParseKey(*tls_key, files.tls_key, "TLS key", key));
  if (files.sign_key.empty()) return Status::Ok();
  Result<std::string> sign_key = ReadIdentityFile(files.sign_key, "signing key");
  if (!sign_key.ok()) return sign_key.status();
  PkKey sign;
  EF_RETURN_IF_ERROR(ParseKey(*sign_key, files.sign_key, "signing key", sign));
  if (!mbedtls_pk_can_do(sign.get(), MBEDTLS_PK_ECKEY) ||
      mbedtls_pk_ec(*sign.get())->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgument("signing key " + Quoted(files.sign_key) +
                           " is not an EC P-256 key (telemetry is signed ES256, RFC 7518 3.4)");
  }
  return Status::Ok();
}

/// kFast for EC keys: the public point stored in the key file (SEC1 keys
/// carry it; mbedTLS computes it on parse when absent) against the
/// certificate's, without the scalar multiplication that proves the private
/// scalar is its own.
bool SamePublicKey(mbedtls_pk_context& cert_pk, mbedtls_pk_context& key) {
  if (!mbedtls_pk_can_do(&cert_pk, MBEDTLS_PK_ECKEY) || !mbedtls_pk_can_do(&key, MBEDTLS_PK_ECKEY)) {
    return mbedtls_pk_check_pair(&cert_pk, &key) == 0;
  }
  const mbedtls_ecp_keypair* a = mbedtls_pk_ec(cert_pk);
  const mbedtls_ecp_keypair* b = mbedtls_pk_ec(key);
  return a->grp.id == b->grp.id && mbedtls_ecp_point_cmp(&a->Q, &b->Q) == 0;
}

Status CheckKeyPair(const IdentityFiles& files, mbedtls_x509_crt& leaf, PkKey& key, IdentityCheckDepth depth) {
  // The TLS handshake would fail with an opaque alert; here it has a name.
  const bool pair = depth == IdentityCheckDepth::kFull ? mbedtls_pk_check_pair(&leaf.pk, key.get()) == 0
                                                       : SamePublicKey(leaf.pk, *key.get());
  if (!pair) {
    return FailedPrecondition("TLS key " + Quoted(files.tls_key) + " is not the key of certificate " +
                              Quoted(files.cert) + " (CN '" + CommonName(&leaf.subject) +
                              "'): the key of another certificate; use the key that was made with it");
  }
  return Status::Ok();
}

Status CheckSubject(const mbedtls_x509_crt& leaf, const std::string& path, const std::string& thing,
                    IdentityReport& report) {
  if (mbedtls_x509_crt_check_extended_key_usage(&leaf, MBEDTLS_OID_CLIENT_AUTH,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
    return FailedPrecondition("certificate " + Quoted(path) + " (CN '" + report.common_name +
                              "') is not a TLS client certificate: its extendedKeyUsage lacks clientAuth "
                              "(a server certificate?)");
  }
  if (report.common_name == thing) return Status::Ok();
  if (report.common_name == kAwsIotCertificateCn) {
    report.warnings.push_back("certificate " + Quoted(path) + " has AWS IoT's generic CN '" +
                              std::string(kAwsIotCertificateCn) + "': its binding to thing '" + thing +
                              "' (AttachThingPrincipal) cannot be checked locally");
    return Status::Ok();
  }
  return FailedPrecondition("certificate " + Quoted(path) + " is for CN '" + report.common_name + "', not thing '" +
                            thing +
                            "': the broker takes the CN as the thing name and would refuse every publish "
                            "(MQTT 5 reason 0x87); use thing " +
                            thing + "'s own certificate and key, or --thing " + report.common_name);
}

Status CheckChain(mbedtls_x509_crt& leaf, mbedtls_x509_crt& ca, const IdentityFiles& files, int64_t now,
                  IdentityCheckDepth depth, IdentityReport& report) {
  // The top of what the certificate file holds (leaf, then intermediates).
  const mbedtls_x509_crt* top = &leaf;
  while (top->next != nullptr && top->next->raw.len > 0 && IssuerIn(top, &ca) == nullptr) top = top->next;
  const mbedtls_x509_crt* issuer = IssuerIn(top, &ca);
  if (issuer == nullptr) {
    report.warnings.push_back("certificate " + Quoted(files.cert) + " was issued by '" + DnString(&top->issuer) +
                              "', which is not in CA file " + Quoted(files.ca) +
                              ": its chain cannot be checked here (normal for AWS-issued certificates, whose CA "
                              "the device does not hold; the broker checks it)");
    return Status::Ok();
  }
  EF_RETURN_IF_ERROR(CheckValidity(*issuer, files.ca, "CA certificate in", now));
  if (depth == IdentityCheckDepth::kFast) return Status::Ok();  // issuer by name only
  uint32_t flags = 0;
  (void)mbedtls_x509_crt_verify(&leaf, &ca, nullptr, nullptr, &flags, nullptr, nullptr);
  // Validity was judged above against the caller's clock, not mbedTLS's.
  flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
  if (flags == 0) {
    report.chain_verified = true;
    return Status::Ok();
  }
  if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0) {
    return Unauthenticated("certificate " + Quoted(files.cert) + " does not chain to CA file " + Quoted(files.ca) +
                           ": its issuer is named '" + DnString(&top->issuer) +
                           "' like a CA there, but that CA's key did not sign it (another CA with the same "
                           "name, e.g. from another `edgeforge certs init`); use the CA file of the PKI that "
                           "issued the certificate");
  }
  char info[512];
  const int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
  std::string why = n > 0 ? std::string(info, static_cast<size_t>(n)) : "flags " + std::to_string(flags);
  for (char& c : why) {
    if (c == '\n') c = ';';
  }
  return Unauthenticated("certificate " + Quoted(files.cert) + " does not verify against CA file " + Quoted(files.ca) +
                         ": " + why);
}

}  // namespace

std::string FormatUtc(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string IdentityReport::Summary() const {
  return "CN=" + common_name + ", valid " + FormatUtc(not_before) + " to " + FormatUtc(not_after) + ", issued by " +
         issuer + (chain_verified ? " (chain verified)" : " (signatures not checked)");
}

Status CheckPrivateKeyMode(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(what + " " + Quoted(path) + " does not exist");
    return fs::ErrnoStatus(err, what + " " + Quoted(path));
  }
  // AWS IoT Device Client refuses private keys more permissive than 0600, as
  // OpenSSH does: a key others can read is a key others can use.
  if ((st.st_mode & 077u) != 0) {
    return PermissionDenied(what + " " + Quoted(path) + " has mode " + ModeString(st.st_mode) + ": " +
                            ((st.st_mode & 044u) != 0 ? "readable" : "accessible") +
                            " by group or others; run `chmod 600 " + path + "`");
  }
  return Status::Ok();
}

Result<IdentityReport> CheckDeviceIdentity(const IdentityFiles& files, const std::string& thing, int64_t now_unix,
                                           IdentityCheckDepth depth) {
  EF_RETURN_IF_ERROR(CheckPrivateKeyMode(files.tls_key, "TLS key"));
  if (!files.sign_key.empty()) EF_RETURN_IF_ERROR(CheckPrivateKeyMode(files.sign_key, "signing key"));
  Result<std::string> ca_pem = ReadIdentityFile(files.ca, "CA file");
  if (!ca_pem.ok()) return ca_pem.status();
  Certificate ca;
  EF_RETURN_IF_ERROR(ParseCertificates(*ca_pem, files.ca, "CA file", ca));
  Result<std::string> cert_pem = ReadIdentityFile(files.cert, "certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  Certificate cert;
  EF_RETURN_IF_ERROR(ParseCertificates(*cert_pem, files.cert, "certificate", cert));
  mbedtls_x509_crt& leaf = *cert.get();
  PkKey key;
  EF_RETURN_IF_ERROR(ParseKeys(files, key));

  IdentityReport report;
  report.common_name = CommonName(&leaf.subject);
  report.issuer = DnString(&leaf.issuer);
  report.not_before = ToUnix(leaf.valid_from);
  report.not_after = ToUnix(leaf.valid_to);
  EF_RETURN_IF_ERROR(CheckSubject(leaf, files.cert, thing, report));
  EF_RETURN_IF_ERROR(CheckKeyPair(files, leaf, key, depth));
  EF_RETURN_IF_ERROR(CheckValidity(leaf, files.cert, "certificate", now_unix));
  EF_RETURN_IF_ERROR(CheckChain(leaf, *ca.get(), files, now_unix, depth, report));
  return report;
}

Status CheckFleetIdentities(const std::string& pki_dir, const std::vector<std::string>& things, int64_t now_unix,
                            IdentityCheckDepth depth) {
  for (const char* stem : {"ca", "broker", "ingest", "shadow"}) {
    const std::string key = pki_dir + "/" + stem + ".key";
    if (fs::IsRegularFile(key)) EF_RETURN_IF_ERROR(CheckPrivateKeyMode(key, std::string(stem) + " key"));
  }
  for (const std::string& thing : things) {
    const DevicePaths p = PathsFor(pki_dir, thing);
    auto r = CheckDeviceIdentity({pki_dir + "/ca.crt", p.cert, p.tls_key, p.sign_key}, thing, now_unix, depth);
    if (!r.ok()) return r.status().WithContext("device " + thing);
  }
  return Status::Ok();
}

}  // namespace edgeforge::certs
