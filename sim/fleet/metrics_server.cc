#include "sim/fleet/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

namespace edgeforge::sim {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kClientTimeoutMs = 1000;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

/// Reads until the end of the request head, a full buffer or the timeout.
std::string ReadHead(int fd) {
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestBytes) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kClientTimeoutMs) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, kClientTimeoutMs) <= 0) return;
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string Response(int code, const char* reason, const std::string& type, const std::string& body) {
  std::ostringstream r;
  r << "HTTP/1.1 " << code << " " << reason << "\r\nContent-Type: " << type << "\r\nContent-Length: " << body.size()
    << "\r\nConnection: close\r\n\r\n"
    << body;
  return r.str();
}

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(int listen_fd, int stop_r, int stop_w, uint16_t port, Render render)
      : listen_fd_(listen_fd), stop_r_(stop_r), stop_w_(stop_w), port_(port), render_(std::move(render)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Impl() {
    const char b = 1;
    (void)!::write(stop_w_, &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_r_);
    ::close(stop_w_);
  }
  uint16_t port() const { return port_; }
  uint64_t scrapes() const { return scrapes_.load(); }

 private:
  void Loop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_r_, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents != 0) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;  // EMFILE, ECONNABORTED: the next scrape tries again
      Serve(fd);
      ::close(fd);
    }
  }

  void Serve(int fd) {
    const std::string head = ReadHead(fd);
    const size_t eol = head.find("\r\n");
    if (eol == std::string::npos || head.find("\r\n\r\n") == std::string::npos) {
      WriteAll(fd, Response(400, "Bad Request", "text/plain", "incomplete or oversized request head\n"));
      return;
    }
    std::istringstream line(head.substr(0, eol));
    std::string method, target, version;
    line >> method >> target >> version;
    if (method.empty() || target.empty() || version.rfind("HTTP/1.", 0) != 0) {
      WriteAll(fd, Response(400, "Bad Request", "text/plain", "not an HTTP/1.x request line\n"));
      return;
    }
    const std::string path = target.substr(0, target.find('?'));
    if (path != "/metrics") {
      WriteAll(fd, Response(404, "Not Found", "text/plain", "only /metrics is served here\n"));
      return;
    }
    if (method != "GET" && method != "HEAD") {
      WriteAll(fd, Response(405, "Method Not Allowed", "text/plain", "GET /metrics\n"));
      return;
    }
    std::string r = Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_());
    if (method == "HEAD") r.resize(r.find("\r\n\r\n") + 4);
    WriteAll(fd, r);
    scrapes_.fetch_add(1);
  }

  int listen_fd_;
  int stop_r_;
  int stop_w_;
  uint16_t port_;
  Render render_;
  std::atomic<uint64_t> scrapes_{0};
  std::thread thread_;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;
uint16_t MetricsServer::port() const { return impl_->port(); }
uint64_t MetricsServer::scrapes() const { return impl_->scrapes(); }
std::string MetricsServer::url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/metrics"; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& addr, Render render) {
  const size_t colon = addr.rfind(':');
  const std::string where = "--prometheus " + addr;
  if (colon == std::string::npos) return InvalidArgument(where + ": give host:port or :port (e.g. 127.0.0.1:9464)");
  std::string host = addr.substr(0, colon);
  const std::string port = addr.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return InvalidArgument(where + ": the port must be 0..65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int gai = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) return InvalidArgument(where + ": " + ::gai_strerror(gai));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = Errno("socket");
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
      last = Errno("bind");
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return Unavailable(where + ": " + last);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const uint16_t bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const Status st = Internal(Errno("pipe2"));
    ::close(fd);
    return st;
  }
  auto impl = std::make_unique<Impl>(fd, pipe_fds[0], pipe_fds[1], bound_port, std::move(render));
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::string PrometheusFamily(const std::string& name, const std::string& type, const std::string& help,
                             const std::vector<std::pair<std::string, double>>& samples) {
  std::ostringstream out;
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  for (const auto& [labels, value] : samples) {
    out << name << labels << " ";
    if (std::isnan(value)) {
      out << "NaN";
    } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
      out << static_cast<long long>(value);
    } else {
      out << value;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace edgeforge::sim
