// Test support: a real TCP proxy on 127.0.0.1 that fault tests put between a
// device and the broker, to cut the network in the ways networks fail.
// Header-only (like the other tests/support files): nothing to link but pthreads.
//
// Modes, switched from the test thread while connections are open:
// - kForward: bytes flow both ways; a FIN is passed on once the bytes before it
//   were delivered (half-close), an RST or socket error aborts both sides.
// - kBlackhole: nothing flows and nothing is closed. The proxy stops reading
//   and writing every socket (it does not even poll them), so the bytes a peer
//   sends pile up in the kernel's receive buffers, then in the peer's send
//   buffer; no FIN, no RST, no ICMP reaches either side. This is what a TLS
//   client's MQTT keepalive must detect: its PINGREQ gets no PINGRESP (Paho C
//   1.3 sends it a keepalive interval after the last traffic and closes the
//   socket when it went unanswered for another interval: with a 30 s
//   keepalive the loss was reported 77 s after the cut, fault_infra_itest). The
//   broker's side stays open too, until mosquitto's own 1.5x keepalive.
//   Chosen over "read and discard": nothing is lost inside the proxy, so a
//   connection whose peers did not give up resumes intact after Heal(), as it
//   would after a real partition heals, and the buffers stay bounded.
//   New connections are accepted and held the same way: a client's TLS
//   handshake gets no answer and its connect times out.
// - kReset: every open connection is closed with RST on both sides (SO_LINGER
//   0), and so is every connection accepted while in this mode.
// Heal() returns to kForward for new and open connections. A black-holed
// connection whose client gave up meanwhile was closed by the client: after
// Heal() the proxy delivers that FIN (or RST) to the broker, so such a
// connection is dead, as on a real network; the client must reconnect.
//
// One thread, poll(2), non-blocking sockets, a fixed buffer per direction per
// connection. SetMode() returns once the proxy thread applied the mode (after
// Reset(), every connection has been reset). The destructor closes every
// socket (FIN) and joins the thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hal/status.h"

namespace edgeforge::testing_support {

enum class ProxyMode {
  kForward,    // bytes flow both ways
  kBlackhole,  // nothing flows, nothing is closed: sockets are not read or written
  kReset,      // connections are closed with RST, open ones and new ones
};

/// Totals since Start(), for assertions.
struct ProxyCounters {
  uint64_t accepted = 0;           // client connections accepted
  uint64_t active = 0;             // connections open now
  uint64_t upstream_failures = 0;  // connects to the target that failed (client then reset)
  uint64_t resets = 0;             // connections closed with RST by kReset
  uint64_t aborted = 0;            // connections torn down after an RST or error from a peer
  uint64_t client_to_target = 0;   // bytes delivered to the target
  uint64_t target_to_client = 0;   // bytes delivered to clients
};

class TcpProxy {
 public:
  /// Listens on 127.0.0.1:<free port> and forwards to `target_host`:`target_port`
  /// (resolved once, here). `buffer_bytes` bounds each direction of each connection.
  static Result<std::unique_ptr<TcpProxy>> Start(const std::string& target_host, int target_port,
                                                 size_t buffer_bytes = 64 * 1024) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(target_port);
    const int gai = ::getaddrinfo(target_host.c_str(), service.c_str(), &hints, &found);
    if (gai != 0 || found == nullptr) {
      return Unavailable("tcp proxy: cannot resolve target " + target_host + ":" + service + ": " +
                         ::gai_strerror(gai));
    }
    const addrinfo* pick = found;  // IPv4 first: the local broker listens on 127.0.0.1 only
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      if (a->ai_family == AF_INET) {
        pick = a;
        break;
      }
    }
    std::unique_ptr<TcpProxy> p(new TcpProxy(buffer_bytes));
    std::memcpy(&p->target_, pick->ai_addr, pick->ai_addrlen);
    p->target_len_ = pick->ai_addrlen;
    p->target_family_ = pick->ai_family;
    ::freeaddrinfo(found);
    EF_RETURN_IF_ERROR(p->Listen());
    p->thread_ = std::thread([raw = p.get()] { raw->Run(); });
    return p;
  }

  ~TcpProxy() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    Wake();
    if (thread_.joinable()) thread_.join();
    for (auto& c : conns_) CloseConnection(c, /*rst=*/false);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  /// "ssl://localhost:<port>": the broker certificate names localhost, and
  /// hostname checks and SNI see this name, not the proxy.
  std::string ssl_uri() const { return "ssl://localhost:" + std::to_string(port_); }

  /// Applies `mode` on the proxy thread and returns once it has.
  void SetMode(ProxyMode mode) {
    std::unique_lock<std::mutex> lock(mu_);
    requested_ = mode;
    const uint64_t want = ++requested_generation_;
    lock.unlock();
    Wake();
    lock.lock();
    applied_cv_.wait(lock, [&] { return applied_generation_ >= want || finished_; });
  }
  void Blackhole() { SetMode(ProxyMode::kBlackhole); }
  void Reset() { SetMode(ProxyMode::kReset); }
  void Heal() { SetMode(ProxyMode::kForward); }

  ProxyMode mode() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requested_;
  }

  ProxyCounters counters() const {
    ProxyCounters c;
    c.accepted = accepted_.load();
    c.active = active_.load();
    c.upstream_failures = upstream_failures_.load();
    c.resets = resets_.load();
    c.aborted = aborted_.load();
    c.client_to_target = client_to_target_.load();
    c.target_to_client = target_to_client_.load();
    return c;
  }

 private:
  /// One direction of a connection: bytes read from `from`, not yet written to `to`.
  struct Pipe {
    std::vector<uint8_t> buf;
    size_t begin = 0;
    size_t end = 0;
    bool eof = false;   // `from` sent FIN
    bool shut = false;  // FIN passed on to `to`
    size_t Pending() const { return end - begin; }
    size_t Space() const { return buf.size() - end; }
  };
  struct Connection {
    int client = -1;
    int target = -1;
    bool connecting = true;  // non-blocking connect to the target in progress
    Pipe up;                 // client -> target
    Pipe down;               // target -> client
    bool dead = false;
  };

  explicit TcpProxy(size_t buffer_bytes) : buffer_bytes_(buffer_bytes == 0 ? 1 : buffer_bytes) {}

  static Status Errno(int err, const std::string& what) {
    return Unavailable("tcp proxy: " + what + ": " + std::strerror(err));
  }

  Status Listen() {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return Errno(errno, "eventfd");
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return Errno(errno, "socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Errno(errno, "bind 127.0.0.1:0");
    if (::listen(listen_fd_, 64) != 0) return Errno(errno, "listen");
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return Errno(errno, "getsockname");
    port_ = ntohs(a.sin_port);
    return Status::Ok();
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  static void SetNoDelay(int fd) {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }

  /// rst: SO_LINGER 0, so close(2) sends RST and drops unsent data.
  static void CloseFd(int& fd, bool rst) {
    if (fd < 0) return;
    if (rst) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd);
    fd = -1;
  }

  void CloseConnection(Connection& c, bool rst) {
    if (c.dead) return;
    CloseFd(c.client, rst);
    CloseFd(c.target, rst);
    c.dead = true;
    --active_;
  }

  void Accept(ProxyMode mode) {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: all taken; other errors: the client went away first
      ++accepted_;
      ++active_;
      Connection c;
      c.client = fd;
      c.up.buf.resize(buffer_bytes_);
      c.down.buf.resize(buffer_bytes_);
      if (mode == ProxyMode::kReset) {
        ++resets_;
        CloseConnection(c, /*rst=*/true);
        continue;
      }
      SetNoDelay(fd);
      c.target = ::socket(target_family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.target < 0 || (::connect(c.target, reinterpret_cast<const sockaddr*>(&target_), target_len_) != 0 &&
                           errno != EINPROGRESS)) {
        ++upstream_failures_;
        CloseConnection(c, /*rst=*/true);
        continue;
      }
      SetNoDelay(c.target);
      conns_.push_back(std::move(c));
    }
  }

  /// Reads from `from` into `p`; false if the connection must be aborted.
  static bool Fill(int from, Pipe& p) {
    if (p.begin == p.end) p.begin = p.end = 0;
    if (p.eof || p.Space() == 0) return true;
    const ssize_t n = ::recv(from, p.buf.data() + p.end, p.Space(), 0);
    if (n > 0) {
      p.end += static_cast<size_t>(n);
    } else if (n == 0) {
      p.eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return false;
    }
    return true;
  }

  /// Writes what `p` holds to `to` and passes a FIN on once it is empty.
  static bool Drain(int to, Pipe& p, std::atomic<uint64_t>& counter) {
    if (p.Pending() > 0) {
      const ssize_t n = ::send(to, p.buf.data() + p.begin, p.Pending(), MSG_NOSIGNAL);
      if (n > 0) {
        p.begin += static_cast<size_t>(n);
        counter += static_cast<uint64_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return false;
      }
    }
    if (p.eof && p.Pending() == 0 && !p.shut) {
      ::shutdown(to, SHUT_WR);
      p.shut = true;
    }
    return true;
  }

  static short ClientEvents(const Connection& c) {
    short e = 0;
    if (!c.up.eof && c.up.Space() > 0) e |= POLLIN;
    if (c.down.Pending() > 0) e |= POLLOUT;
    return e;
  }
  static short TargetEvents(const Connection& c) {
    if (c.connecting) return POLLOUT;
    short e = 0;
    if (!c.down.eof && c.down.Space() > 0) e |= POLLIN;
    if (c.up.Pending() > 0) e |= POLLOUT;
    return e;
  }

  /// Handles poll results for one forwarding connection.
  void Service(Connection& c, short client_revents, short target_revents) {
    if (c.connecting) {
      if (target_revents == 0) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.target, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ++upstream_failures_;
        CloseConnection(c, /*rst=*/true);  // as the target refused it: the client sees a reset
        return;
      }
      c.connecting = false;
    }
    bool ok = true;
    if (client_revents & (POLLIN | POLLHUP | POLLERR)) ok = ok && Fill(c.client, c.up);
    if (target_revents & (POLLIN | POLLHUP | POLLERR)) ok = ok && Fill(c.target, c.down);
    ok = ok && Drain(c.target, c.up, client_to_target_) && Drain(c.client, c.down, target_to_client_);
    // A peer's RST (POLLERR, or a failed read or write) ends the connection
    // abortively on the other side too.
    if (!ok || (client_revents & POLLERR) || (target_revents & POLLERR)) {
      ++aborted_;
      CloseConnection(c, /*rst=*/true);
      return;
    }
    if (c.up.shut && c.down.shut) CloseConnection(c, /*rst=*/false);  // both FINs passed on
  }

  /// Applies a requested mode change; returns the mode to run with.
  ProxyMode ApplyRequests(bool& stop) {
    std::lock_guard<std::mutex> lock(mu_);
    stop = stop_;
    if (applied_generation_ != requested_generation_) {
      if (requested_ == ProxyMode::kReset) {
        for (auto& c : conns_) {
          if (!c.dead) ++resets_;
          CloseConnection(c, /*rst=*/true);
        }
      }
      applied_generation_ = requested_generation_;
      applied_cv_.notify_all();
    }
    return requested_;
  }

  void Run() {
    bool stop = false;
    for (;;) {
      const ProxyMode mode = ApplyRequests(stop);
      if (stop) break;
      conns_.remove_if([](const Connection& c) { return c.dead; });
      std::vector<pollfd> fds;
      fds.push_back({wake_fd_, POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& c : conns_) {
        // Black hole: not polled at all, or POLLHUP/POLLERR would wake us forever.
        const bool forward = mode == ProxyMode::kForward;
        fds.push_back({forward ? c.client : -1, forward ? ClientEvents(c) : short{0}, 0});
        fds.push_back({forward ? c.target : -1, forward ? TargetEvents(c) : short{0}, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        uint64_t n = 0;
        (void)!::read(wake_fd_, &n, sizeof n);
      }
      if (fds[1].revents & POLLIN) Accept(mode);
      if (mode != ProxyMode::kForward) continue;
      size_t i = 2;
      for (auto& c : conns_) {
        if (i + 1 >= fds.size()) break;  // accepted during this round: polled next round
        Service(c, fds[i].revents, fds[i + 1].revents);
        i += 2;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    applied_cv_.notify_all();
  }

  const size_t buffer_bytes_;
  sockaddr_storage target_{};
  socklen_t target_len_ = 0;
  int target_family_ = AF_INET;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::list<Connection> conns_;  // proxy thread only (and the destructor, after join)

  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable applied_cv_;
  ProxyMode requested_ = ProxyMode::kForward;
  uint64_t requested_generation_ = 0;
  uint64_t applied_generation_ = 0;
  bool stop_ = false;
  bool finished_ = false;

  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> active_{0};
  std::atomic<uint64_t> upstream_failures_{0};
  std::atomic<uint64_t> resets_{0};
  std::atomic<uint64_t> aborted_{0};
  std::atomic<uint64_t> client_to_target_{0};
  std::atomic<uint64_t> target_to_client_{0};
};

}  // namespace edgeforge::testing_support
