#include "firmware/link/paho/tls_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>

namespace edgeforge::link {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void SetTimeouts(int fd, Millis limit) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((limit.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string Utc(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What our own certificate says about a refusal the broker did not explain
// (TLS's bad_certificate covers a certificate not yet valid, among others).
std::string OwnCertificateDates(const std::string& cert_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return "";
  X509Ptr crt(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!crt) return "";
  if (X509_cmp_current_time(X509_get0_notBefore(crt.get())) > 0) {
    return "; our certificate " + cert_file + " is not valid before " + Utc(X509_get0_notBefore(crt.get())) +
           " (this device's clock, or a certificate issued with a future start date)";
  }
  if (X509_cmp_current_time(X509_get0_notAfter(crt.get())) < 0) {
    return "; our certificate " + cert_file + " expired " + Utc(X509_get0_notAfter(crt.get()));
  }
  return "";
}

// The broker's certificate failed our checks (OpenSSL's verify result).
std::string BrokerCertificateProblem(long verify, const BrokerUri& uri, const TlsIdentity& tls) {
  const std::string what = X509_verify_cert_error_string(verify);
  switch (verify) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "we refused the broker: its certificate does not name the host '" + uri.host +
             "' we connect to (" + what + "); use the host name its certificate was issued for";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "we refused the broker: its certificate is not signed by the CA in " + tls.ca_file + " (" + what +
             "); for IoT Core use Amazon Root CA 1";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "we refused the broker: its certificate has expired (" + what + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "we refused the broker: its certificate is not valid yet (" + what +
             "); check this device's clock";
    default:
      return "we refused the broker's certificate: " + what;
  }
}

// The handshake failed without a verify error on our side: an alert from the
// broker, or a protocol mismatch.
std::string HandshakeProblem(unsigned long err, const TlsIdentity& tls) {
  const int reason = ERR_GET_REASON(err);
  const std::string text = err != 0 ? ERR_reason_error_string(err) != nullptr ? ERR_reason_error_string(err) : "?"
                                    : "the connection closed";
  switch (reason) {
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return "the broker refused our certificate " + tls.cert_file + ": it is revoked (" + text +
             "); provision a new identity";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return "the broker refused our certificate " + tls.cert_file + ": it has expired (" + text + ")" +
             OwnCertificateDates(tls.cert_file);
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return "the broker refused our certificate " + tls.cert_file +
             ": it does not trust the CA that issued it (" + text +
             "); IoT Core: register the CA, or use a certificate IoT Core issued";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "the broker requires a client certificate and got none it accepts (" + text + ")";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      return "the broker refused our certificate " + tls.cert_file + " (" + text + ")" +
             OwnCertificateDates(tls.cert_file);
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return "no TLS version in common: we require TLS 1.2 or newer and the broker offers an older one (" + text +
             ")";
    default:
      return "the TLS handshake failed: " + text;
  }
}

}  // namespace

int ConnectTcp(const BrokerUri& uri, Millis limit) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  if (::getaddrinfo(uri.host.c_str(), std::to_string(uri.port).c_str(), &hints, &list) != 0) return -1;
  int connected = -1;
  for (const addrinfo* a = list; a != nullptr && connected < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    bool ok = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!ok && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      ok = ::poll(&p, 1, static_cast<int>(limit.count())) == 1 &&
           ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    if (ok && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0) {
      connected = fd;
    } else {
      ::close(fd);
    }
  }
  ::freeaddrinfo(list);
  return connected;
}

std::string DiagnoseTlsHandshake(const BrokerUri& uri, const TlsIdentity& tls, Millis limit) {
  Fd fd(ConnectTcp(uri, limit));
  if (fd.get() < 0) return "";
  SetTimeouts(fd.get(), limit);
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return "";
  // What Paho is given (paho_session.cc InitConnectOptions): TLS >= 1.2, the
  // CA file, our certificate and key, the broker's name checked.
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1) {
    return "the CA file " + tls.ca_file + " cannot be loaded";
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return "our certificate " + tls.cert_file + " or key " + tls.key_file + " cannot be used together";
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) return "";
  if (!IsIpAddress(uri.host)) SSL_set_tlsext_host_name(ssl.get(), uri.host.c_str());
  SSL_set1_host(ssl.get(), uri.host.c_str());  // a name or an IP address, as X509_check_host/_ip
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    std::string why = verify != X509_V_OK ? BrokerCertificateProblem(verify, uri, tls)
                                          : HandshakeProblem(ERR_peek_last_error(), tls);
    ERR_clear_error();
    return why;
  }
  // TLS 1.3: the broker judges our certificate after its Finished, so its
  // verdict comes as an alert on our first read. A broker that accepted us
  // sends nothing before our CONNECT: the read times out.
  SetTimeouts(fd.get(), std::min(limit, Millis(1000)));
  char byte = 0;
  const int n = SSL_read(ssl.get(), &byte, 1);
  const int e = SSL_get_error(ssl.get(), n);
  if (n <= 0 && (e == SSL_ERROR_SSL || e == SSL_ERROR_ZERO_RETURN ||
                 (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK))) {
    std::string why = HandshakeProblem(ERR_peek_last_error(), tls);
    ERR_clear_error();
    return why;
  }
  ERR_clear_error();
  return "a TLS handshake with the same files succeeds now (" + std::string(SSL_get_version(ssl.get())) +
         "): the failure was transient";
}

}  // namespace edgeforge::link
