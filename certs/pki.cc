#include "certs/pki.h"

#include <dirent.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>
#include <mbedtls/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <regex>
#include <set>
#include <system_error>
#include <thread>

#include "certs/x509_writer.h"
#include "firmware/telemetry/jws.h"
#include "hal/linux/fs.h"

namespace edgeforge::certs {
namespace {

using internal::Certificate;
using internal::CertProfile;
using internal::Drbg;
using internal::PkKey;

constexpr size_t kMaxThingName = 128;  // AWS IoT CreateThing: thingName length 1..128
constexpr unsigned int kDirMode = 0755;
constexpr unsigned int kCertMode = 0644;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool IsThingChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-';
}

// `kind` ("thing name", "file stem") leads the message.
Status ValidateName(std::string_view kind, std::string_view name) {
  const std::string rule = "; AWS IoT thing names are 1..128 characters of [a-zA-Z0-9:_-]";
  if (name.empty()) return InvalidArgument(std::string(kind) + " \"\" is empty" + rule);
  if (name.size() > kMaxThingName) {
    return InvalidArgument(std::string(kind) + " " + Quote(name) + " is " + std::to_string(name.size()) +
                           " characters, more than 128" + rule);
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsThingChar(name[i])) {
      return InvalidArgument(std::string(kind) + " " + Quote(name) + " has " + Quote(name.substr(i, 1)) +
                             " at position " + std::to_string(i) + rule);
    }
  }
  return Status::Ok();
}

Status ValidateCommonName(const std::string& cn) {
  bool printable = std::all_of(cn.begin(), cn.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (cn.empty() || cn.size() > kMaxThingName || !printable) {
    return InvalidArgument("common name " + Quote(cn) + " must be 1..128 printable ASCII characters");
  }
  return Status::Ok();
}

std::string Join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

CertProfile CaProfile() {
  CertProfile p;
  p.common_name = kCaCommonName;
  p.days = kCaDays;
  p.is_ca = true;
  p.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;  // RFC 5280 4.2.1.3
  return p;
}

CertProfile BrokerProfile() {
  CertProfile p;
  p.common_name = kBrokerCommonName;
  p.days = kLeafDays;
  p.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT;
  p.ext_key_usage = {std::string(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))};
  p.dns_names = {"localhost"};
  p.ip_addresses = {{127, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  return p;
}

CertProfile ClientProfile(const std::string& common_name) {
  CertProfile p;
  p.common_name = common_name;
  p.days = kLeafDays;
  p.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  p.ext_key_usage = {std::string(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))};
  return p;
}

struct CaMaterial {
  PkKey key;
  PkKey signer;  // key typed for ECDSA (EcdsaSigningKey): it signs every leaf
  Certificate crt;
};

Status LoadCa(const std::string& dir, CaMaterial& ca) {
  const std::string key_path = Join(dir, "ca.key");
  const std::string crt_path = Join(dir, "ca.crt");
  if (!fs::IsRegularFile(key_path) || !fs::IsRegularFile(crt_path)) {
    return NotFound("no CA in '" + dir + "' (ca.key and ca.crt); run `edgeforge certs init --dir " + dir + "` first");
  }
  Result<std::string> key_pem = fs::ReadFileToString(key_path);
  if (!key_pem.ok()) return key_pem.status();
  EF_RETURN_IF_ERROR(internal::ParsePrivateKeyPem(*key_pem, key_path, ca.key));
  Result<std::string> crt_pem = fs::ReadFileToString(crt_path);
  if (!crt_pem.ok()) return crt_pem.status();
  EF_RETURN_IF_ERROR(internal::ParseCertificatePem(*crt_pem, crt_path, ca.crt));
  if (mbedtls_pk_check_pair(&ca.crt.get()->pk, ca.key.get()) != 0) {
    return FailedPrecondition("'" + key_path + "' is not the key of '" + crt_path + "'");
  }
  return internal::EcdsaSigningKey(ca.key, ca.signer).WithContext(key_path);
}

// What one thread needs to mint identities; mbedTLS contexts are not shareable.
// The DRBG draws certificate serials and ECDSA nonces; keys come from OpenSSL.
struct Minter {
  Drbg drbg;
  internal::KeyGenerator keys;
};

Status SeedMinter(Minter& m, const std::string& who) {
  return m.drbg.Seed("edgeforge-certs/" + who);  // personalization, SP 800-90A 8.7.1
}

Result<std::string> NewKey(Minter& m, PkKey& key) {
  EF_RETURN_IF_ERROR(m.keys.Generate(key));
  return internal::PrivateKeyPem(key);
}

// Key first (O_EXCL, 0600), cert last and renamed into place: a cert never
// exists without its key.
Status WriteIdentity(const std::string& key_path, const std::string& crt_path, const CertProfile& profile,
                     CaMaterial* ca, Minter& m, std::time_t now) {
  PkKey key;
  Result<std::string> key_pem = NewKey(m, key);
  if (!key_pem.ok()) return key_pem.status();
  EF_RETURN_IF_ERROR(fs::WritePrivateFile(key_path, *key_pem));
  PkKey& issuer_key = ca != nullptr ? ca->key : key;
  const mbedtls_x509_crt* issuer_crt = ca != nullptr ? ca->crt.get() : nullptr;
  Result<std::string> crt_pem = internal::IssueCertificate(profile, key, issuer_key, issuer_crt, m.drbg, now,
                                                           ca != nullptr ? &ca->signer : nullptr);
  Status st =
      crt_pem.ok() ? fs::WriteFileAtomically(crt_path, *crt_pem, kCertMode) : crt_pem.status().WithContext(crt_path);
  // Best effort: without its cert the key is useless and would block a retry
  // of CreateCa (which refuses to overwrite ca.key).
  if (!st.ok()) (void)fs::RemoveIfExists(key_path);
  return st;
}

Status PrepareDir(const std::string& dir) {
  EF_RETURN_IF_ERROR(fs::MakeDirs(dir, kDirMode));
  Status st = fs::CheckWritableDir(dir);
  if (!st.ok()) return Status(st.code(), "PKI " + st.message());
  return Status::Ok();
}

Status CreateCaLocked(const std::string& dir) {
  for (const char* name : {"ca.key", "ca.crt"}) {
    struct stat st {};
    const std::string path = Join(dir, name);
    if (::lstat(path.c_str(), &st) == 0) {
      return AlreadyExists("'" + path + "' already exists; refusing to overwrite the CA");
    }
  }
  Minter m;
  EF_RETURN_IF_ERROR(SeedMinter(m, "ca"));
  return WriteIdentity(Join(dir, "ca.key"), Join(dir, "ca.crt"), CaProfile(), nullptr, m, std::time(nullptr));
}

Status CreateLeafLocked(const std::string& dir, const std::string& stem, const CertProfile& profile) {
  const std::string crt_path = Join(dir, stem + ".crt");
  const std::string key_path = Join(dir, stem + ".key");
  if (fs::IsRegularFile(crt_path)) {
    return AlreadyExists("'" + crt_path + "' already exists; refusing to overwrite it");
  }
  CaMaterial ca;
  EF_RETURN_IF_ERROR(LoadCa(dir, ca));
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(key_path));  // orphan of an interrupted run
  Minter m;
  EF_RETURN_IF_ERROR(SeedMinter(m, stem));
  return WriteIdentity(key_path, crt_path, profile, &ca, m, std::time(nullptr));
}

// A broken identity (cert without key) is replaced; a complete one is kept.
Status EnsureLeafLocked(const std::string& dir, const std::string& stem, const CertProfile& profile) {
  const std::string crt_path = Join(dir, stem + ".crt");
  if (fs::IsRegularFile(crt_path) && fs::IsRegularFile(Join(dir, stem + ".key"))) {
    return Status::Ok();
  }
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(crt_path));
  return CreateLeafLocked(dir, stem, profile);
}

bool DeviceComplete(const DevicePaths& p) {
  return fs::IsRegularFile(p.cert) && fs::IsRegularFile(p.tls_key) && fs::IsRegularFile(p.sign_key);
}

}  // namespace

// ---- names -------------------------------------------------------------------

Status ValidateThingName(std::string_view name) { return ValidateName("thing name", name); }

std::string DeviceName(std::string_view prefix, int index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", index);
  return std::string(prefix) + digits;
}

std::vector<std::string> FleetDeviceNames(std::string_view prefix, int count) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count > 0 ? count : 0));
  for (int i = 1; i <= count; ++i) names.push_back(DeviceName(prefix, i));
  return names;
}

DevicePaths PathsFor(const std::string& pki_dir, const std::string& thing) {
  DevicePaths p;
  p.dir = pki_dir + "/devices/" + thing;
  p.cert = p.dir + "/device.crt";
  p.tls_key = p.dir + "/device.key";
  p.sign_key = p.dir + "/sign.key";
  return p;
}

// ---- CA, broker, clients -------------------------------------------------------

Status CreateCa(const std::string& dir) {
  EF_RETURN_IF_ERROR(PrepareDir(dir));
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  return CreateCaLocked(dir);
}

Status CreateBrokerCert(const std::string& dir) {
  EF_RETURN_IF_ERROR(PrepareDir(dir));
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  return CreateLeafLocked(dir, "broker", BrokerProfile());
}

Status CreateClientCert(const std::string& dir, const std::string& common_name, const std::string& file_stem) {
  EF_RETURN_IF_ERROR(ValidateName("file stem", file_stem));
  EF_RETURN_IF_ERROR(ValidateCommonName(common_name));
  EF_RETURN_IF_ERROR(PrepareDir(dir));
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  return CreateLeafLocked(dir, file_stem, ClientProfile(common_name));
}

// ---- devices -------------------------------------------------------------------

namespace {

Status ValidateThings(const std::vector<std::string>& things, int threads) {
  std::set<std::string_view> seen;
  for (const std::string& thing : things) {
    EF_RETURN_IF_ERROR(ValidateThingName(thing));
    if (!seen.insert(thing).second) {
      return InvalidArgument("thing name " + Quote(thing) + " is listed more than once");
    }
  }
  if (threads < 1) return InvalidArgument("threads must be >= 1, got " + std::to_string(threads));
  return Status::Ok();
}

// Shared by the worker threads of one CreateDevices call.
struct DeviceBatch {
  DeviceBatch(const std::string& d, const std::vector<std::string>& t, std::time_t n) : dir(d), todo(t), now(n) {}
  const std::string& dir;
  const std::vector<std::string>& todo;
  std::time_t now;
  std::atomic<size_t> next{0};
  std::atomic<int> created{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;

  void Fail(const Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failed.exchange(true)) first_error = st;
  }
};

// sign.key and device.key before device.crt (see pki.h); stale files of an
// interrupted run are removed cert first.
Status CreateDevice(DeviceBatch& batch, const std::string& thing, CaMaterial& ca, Minter& m) {
  const DevicePaths p = PathsFor(batch.dir, thing);
  EF_RETURN_IF_ERROR(fs::MakeDirs(p.dir, kDirMode));
  for (const std::string* f : {&p.cert, &p.tls_key, &p.sign_key}) {
    EF_RETURN_IF_ERROR(fs::RemoveIfExists(*f));
  }
  PkKey sign_key;
  Result<std::string> sign_pem = NewKey(m, sign_key);
  if (!sign_pem.ok()) return sign_pem.status();
  EF_RETURN_IF_ERROR(fs::WritePrivateFile(p.sign_key, *sign_pem));
  return WriteIdentity(p.tls_key, p.cert, ClientProfile(thing), &ca, m, batch.now);
}

void RunDeviceWorker(DeviceBatch& batch, int worker) {
  Minter m;  // one per thread, as is the CA key copy (its group caches tables)
  CaMaterial ca;
  Status st = SeedMinter(m, "devices-" + std::to_string(worker));
  if (st.ok()) st = LoadCa(batch.dir, ca);
  while (st.ok() && !batch.failed.load()) {
    const size_t i = batch.next.fetch_add(1);
    if (i >= batch.todo.size()) return;
    st = CreateDevice(batch, batch.todo[i], ca, m);
    if (st.ok()) batch.created.fetch_add(1);
  }
  if (!st.ok()) batch.Fail(st);
}

Status RunDeviceWorkers(DeviceBatch& batch, int threads) {
  const size_t n = std::min(static_cast<size_t>(threads), batch.todo.size());
  std::vector<std::thread> pool;
  try {
    for (size_t w = 1; w < n; ++w) pool.emplace_back(RunDeviceWorker, std::ref(batch), static_cast<int>(w));
  } catch (const std::system_error& e) {
    batch.Fail(ResourceExhausted(std::string("cannot start a worker thread: ") + e.what()));
  }
  RunDeviceWorker(batch, 0);  // the calling thread works too
  for (std::thread& t : pool) t.join();
  return batch.failed.load() ? batch.first_error : Status::Ok();
}

Result<int> CreateDevicesLocked(const std::string& dir, const std::vector<std::string>& things, int threads) {
  std::vector<std::string> todo;
  for (const std::string& thing : things) {
    if (!DeviceComplete(PathsFor(dir, thing))) todo.push_back(thing);
  }
  if (todo.empty()) return 0;
  CaMaterial ca;
  EF_RETURN_IF_ERROR(LoadCa(dir, ca));  // fail once, before any thread starts
  EF_RETURN_IF_ERROR(fs::MakeDirs(Join(dir, "devices"), kDirMode));
  DeviceBatch batch(dir, todo, std::time(nullptr));
  Status st = RunDeviceWorkers(batch, threads);
  if (!st.ok()) {  // say how far it got: the created devices stay and count next time
    return st.WithContext("after creating " + std::to_string(batch.created.load()) + " of " +
                          std::to_string(todo.size()) + " devices");
  }
  return batch.created.load();
}

}  // namespace

Result<int> CreateDevices(const std::string& dir, const std::vector<std::string>& things, int threads) {
  EF_RETURN_IF_ERROR(ValidateThings(things, threads));
  if (!fs::IsRegularFile(Join(dir, "ca.crt"))) {
    CaMaterial ca;
    return LoadCa(dir, ca);  // NOT_FOUND with the init hint
  }
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  return CreateDevicesLocked(dir, things, threads);
}

// ---- key set -------------------------------------------------------------------

namespace {

Result<std::vector<std::string>> ListDeviceDirs(const std::string& devices_dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(devices_dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;  // no devices yet: an empty key set
    return fs::ErrnoStatus(errno, "cannot list '" + devices_dir + "'");
  }
  while (const dirent* e = ::readdir(d)) {
    if (ValidateThingName(e->d_name).ok()) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status WriteJwksLocked(const std::string& dir) {
  Result<std::string> json = JwksJson(dir);
  if (!json.ok()) return json.status();
  return fs::WriteFileAtomically(Join(dir, "jwks.json"), *json, kCertMode);
}

}  // namespace

Result<std::string> JwksJson(const std::string& dir) {
  Result<std::vector<std::string>> names = ListDeviceDirs(Join(dir, "devices"));
  if (!names.ok()) return names.status();
  std::vector<jws::Jwk> keys;
  for (const std::string& thing : *names) {
    const std::string path = PathsFor(dir, thing).sign_key;
    if (!fs::IsRegularFile(path)) continue;  // not a device (yet)
    Result<std::string> pem = fs::ReadFileToString(path);
    if (!pem.ok()) return pem.status();
    Result<jws::EcP256PublicKey> pub = jws::PublicKeyFromPem(*pem);
    if (!pub.ok()) return pub.status().WithContext(path);
    keys.push_back(jws::Jwk{jws::Thumbprint(*pub), thing, *pub});
  }
  std::string json = jws::JwkSetToJson(keys);
  if (json.empty() || json.back() != '\n') json += '\n';  // a text file
  return json;
}

Status WriteJwks(const std::string& dir) {
  EF_RETURN_IF_ERROR(fs::CheckWritableDir(dir));
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  return WriteJwksLocked(dir);
}

// ---- simulator entry point ----------------------------------------------------

namespace {

Status EnsureCaLocked(const std::string& dir) {
  const bool has_key = fs::IsRegularFile(Join(dir, "ca.key"));
  const bool has_crt = fs::IsRegularFile(Join(dir, "ca.crt"));
  if (!has_key && !has_crt) return CreateCaLocked(dir);
  if (has_key && has_crt) return Status::Ok();
  // Never replace half a CA silently: a human may have put it there.
  return FailedPrecondition("'" + dir + "' has " + (has_key ? "ca.key but no ca.crt" : "ca.crt but no ca.key") +
                            "; remove it to create a new CA");
}

// Everything present and jwks.json current: nothing to write, so a PKI
// provisioned once can be mounted read-only into simulator shards.
bool PkiUpToDate(const std::string& dir, const std::vector<std::string>& things) {
  for (const char* f :
       {"ca.key", "ca.crt", "broker.key", "broker.crt", "ingest.key", "ingest.crt", "shadow.key", "shadow.crt"}) {
    if (!fs::IsRegularFile(Join(dir, f))) return false;
  }
  for (const std::string& thing : things) {
    if (!DeviceComplete(PathsFor(dir, thing))) return false;
  }
  Result<std::string> json = JwksJson(dir);
  Result<std::string> on_disk = fs::ReadFileToString(Join(dir, "jwks.json"));
  return json.ok() && on_disk.ok() && *json == *on_disk;
}

}  // namespace

Status EnsurePki(const std::string& dir, const std::vector<std::string>& things, int threads) {
  EF_RETURN_IF_ERROR(ValidateThings(things, threads));
  if (PkiUpToDate(dir, things)) return Status::Ok();
  EF_RETURN_IF_ERROR(PrepareDir(dir));
  fs::DirLock lock;
  EF_RETURN_IF_ERROR(lock.Acquire(dir));
  EF_RETURN_IF_ERROR(EnsureCaLocked(dir));
  EF_RETURN_IF_ERROR(EnsureLeafLocked(dir, "broker", BrokerProfile()));
  EF_RETURN_IF_ERROR(EnsureLeafLocked(dir, "ingest", ClientProfile(kIngestCommonName)));
  EF_RETURN_IF_ERROR(EnsureLeafLocked(dir, "shadow", ClientProfile(kShadowServiceCommonName)));
  Result<int> created = CreateDevicesLocked(dir, things, threads);
  if (!created.ok()) return created.status();
  return WriteJwksLocked(dir);
}

// ---- Keys made on the device, certificates from a CSR (docs/aws-iot.md) ----

namespace {

constexpr size_t kMaxCsrBytes = 16 * 1024;

// The subject's common name, or empty.
std::string CommonName(const mbedtls_x509_name* name) {
  for (; name != nullptr; name = name->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return "";
}

class Csr {
 public:
  Csr() { mbedtls_x509_csr_init(&csr_); }
  ~Csr() { mbedtls_x509_csr_free(&csr_); }
  Csr(const Csr&) = delete;
  Csr& operator=(const Csr&) = delete;
  mbedtls_x509_csr* get() { return &csr_; }

 private:
  mbedtls_x509_csr csr_;
};

// PKCS#10 (RFC 2986 4.2): the signature over certificationRequestInfo must be
// the subject key's own, which proves the requester holds the private key.
Status VerifyCsrSignature(mbedtls_x509_csr& csr, const std::string& origin) {
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(csr.sig_md);
  if (md == nullptr) return InvalidArgument(origin + ": the CSR's signature algorithm is not supported");
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (mbedtls_md(md, csr.cri.p, csr.cri.len, hash) != 0) return Internal(origin + ": hashing the CSR failed");
  const int ret = mbedtls_pk_verify_ext(csr.sig_pk, csr.sig_opts, &csr.pk, csr.sig_md, hash,
                                        mbedtls_md_get_size(md), csr.sig.p, csr.sig.len);
  if (ret != 0) return internal::MbedTlsStatus(ret, origin + ": the CSR's signature does not verify with its own key");
  return Status::Ok();
}

}  // namespace

Result<bool> EnsurePrivateKey(const std::string& key_path) {
  if (fs::IsRegularFile(key_path)) return false;
  Minter m;
  EF_RETURN_IF_ERROR(SeedMinter(m, "device-key"));
  PkKey key;
  Result<std::string> pem = NewKey(m, key);
  if (!pem.ok()) return pem.status();
  EF_RETURN_IF_ERROR(fs::WritePrivateFile(key_path, *pem));  // O_EXCL, 0600
  return true;
}

Result<std::string> MakeCsr(const std::string& key_path, const std::string& thing) {
  EF_RETURN_IF_ERROR(ValidateThingName(thing));
  Result<std::string> key_pem = fs::ReadFileToString(key_path);
  if (!key_pem.ok()) return key_pem.status();
  PkKey key;
  EF_RETURN_IF_ERROR(internal::ParsePrivateKeyPem(*key_pem, key_path, key));
  Drbg drbg;
  EF_RETURN_IF_ERROR(drbg.Seed("edgeforge-csr"));
  mbedtls_x509write_csr req;
  mbedtls_x509write_csr_init(&req);
  mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(&req, key.get());
  int ret = mbedtls_x509write_csr_set_subject_name(&req, ("CN=" + thing).c_str());
  std::string pem(4096, '\0');
  if (ret == 0) {
    ret = mbedtls_x509write_csr_pem(&req, reinterpret_cast<unsigned char*>(pem.data()), pem.size(), Drbg::Random,
                                    drbg.rng());
  }
  mbedtls_x509write_csr_free(&req);
  if (ret != 0) return internal::MbedTlsStatus(ret, "writing the CSR for " + key_path);
  pem.resize(std::strlen(pem.c_str()));
  return pem;
}

Result<std::string> SignCsr(const std::string& dir, const std::string& csr_pem, const std::string& origin) {
  if (csr_pem.size() > kMaxCsrBytes) return InvalidArgument(origin + ": larger than a CSR (16 KiB)");
  if (csr_pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string::npos) {
    return InvalidArgument(origin + ": not a PEM certificate request (no BEGIN CERTIFICATE REQUEST)");
  }
  Csr csr;
  int ret = mbedtls_x509_csr_parse(csr.get(), reinterpret_cast<const unsigned char*>(csr_pem.c_str()),
                                   csr_pem.size() + 1);
  if (ret != 0) return internal::MbedTlsStatus(ret, origin + ": not a valid CSR");
  EF_RETURN_IF_ERROR(VerifyCsrSignature(*csr.get(), origin));
  mbedtls_pk_context* pk = &csr.get()->pk;
  if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY || mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgument(origin + ": the CSR's key is not EC P-256 (what IoT Core and the firmware use)");
  }
  const std::string thing = CommonName(&csr.get()->subject);
  if (thing.empty()) return InvalidArgument(origin + ": the CSR's subject has no CN (the thing name)");
  EF_RETURN_IF_ERROR(ValidateThingName(thing).WithContext(origin + ": subject CN"));
  // Only the public half travels: copy it into a key of our own for the issuer.
  unsigned char der[256];
  const int len = mbedtls_pk_write_pubkey_der(pk, der, sizeof der);
  if (len < 0) return internal::MbedTlsStatus(len, origin + ": reading the CSR's public key");
  PkKey subject;
  ret = mbedtls_pk_parse_public_key(subject.get(), der + sizeof der - len, static_cast<size_t>(len));
  if (ret != 0) return internal::MbedTlsStatus(ret, origin + ": reading the CSR's public key");
  CaMaterial ca;
  EF_RETURN_IF_ERROR(LoadCa(dir, ca));
  Drbg drbg;
  EF_RETURN_IF_ERROR(drbg.Seed("edgeforge-sign-csr"));
  return internal::IssueCertificate(ClientProfile(thing), subject, ca.key, ca.crt.get(), drbg, std::time(nullptr),
                                    &ca.signer);
}

Result<std::string> CsrCommonName(const std::string& csr_pem) {
  Csr csr;
  const int ret = mbedtls_x509_csr_parse(csr.get(), reinterpret_cast<const unsigned char*>(csr_pem.c_str()),
                                         csr_pem.size() + 1);
  if (ret != 0) return internal::MbedTlsStatus(ret, "not a valid CSR");
  return CommonName(&csr.get()->subject);
}

Status CreateVerificationCert(const std::string& dir, const std::string& registration_code,
                              const std::string& out_dir) {
  static const std::regex kCode(R"(^[A-Za-z0-9]{1,64}$)");
  if (!std::regex_match(registration_code, kCode)) {
    return InvalidArgument("registration code '" + registration_code +
                           "' is not what `aws iot get-registration-code` prints (1..64 letters and digits)");
  }
  CaMaterial ca;
  EF_RETURN_IF_ERROR(LoadCa(dir, ca));
  const std::string key_path = Join(out_dir, "verification.key");
  const std::string crt_path = Join(out_dir, "verification.crt");
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(crt_path));
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(key_path));
  CertProfile p;
  p.common_name = registration_code;
  p.days = 7;  // proves possession of the CA key once, at registration
  p.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  Minter m;
  EF_RETURN_IF_ERROR(SeedMinter(m, "verification"));
  return WriteIdentity(key_path, crt_path, p, &ca, m, std::time(nullptr));
}

}  // namespace edgeforge::certs
