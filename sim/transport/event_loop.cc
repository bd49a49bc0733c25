#include "sim/transport/event_loop.h"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "firmware/link/broker_uri.h"
#include "firmware/link/paho/paho_session.h"  // ConnackRefusalStatus: one mapping of CONNACK reason codes

// libmosquitto's mosquitto_new opens a socketpair in every handle: its own
// threaded loop (mosquitto_loop / loop_start) selects on one end so that a
// publish from another thread can wake it, and every queued packet writes a
// byte to the other end. An event loop driving the socket from outside never
// reads it, so it costs two descriptors and one write(2) per packet for
// nothing; with the TLS socket, three descriptors per device, and 10,000
// devices need 30,000 on a box whose hard limit is 20,000 (issue 9). There is
// no option to turn it off, but libmosquitto tolerates a failure: it logs a
// warning ("outgoing publish commands may be delayed": true only of its own
// loop thread) and leaves both ends invalid, which every use checks.
// (lib/mosquitto.c mosquitto_reinitialise, lib/packet_mosq.c packet__queue.)
// So this binary defines socketpair(2): while the flag below is set on the
// calling thread (only around our own mosquitto_new) it fails with EMFILE;
// otherwise it is the plain system call, as glibc's is on Linux.
// The dynamic linker binds libmosquitto's reference to this definition
// because the executable comes first in the lookup order (as with malloc
// interposition); MosqSessionITest.HundredsOfSessionsOnOneLoopConnectAndPublish
// checks that each connected session holds one descriptor.
namespace {
thread_local bool t_refuse_socketpair = false;
}  // namespace

extern "C" int socketpair(int domain, int type, int protocol, int sv[2]) {
  if (t_refuse_socketpair) {
    errno = EMFILE;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_socketpair, domain, type, protocol, sv));
}

namespace edgeforge::sim::transport {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// Keepalive pings and connect deadlines are checked this often; the
/// keepalive itself is 30 s or more (IoT Core), so a second is plenty.
constexpr auto kMiscPeriod = std::chrono::seconds(1);

std::once_flag g_lib_once;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/// The session whose SSL is being set up by mosquitto_connect_bind_async on
/// this thread: the certificate callback can run before the SSL* is known to
/// us if the broker answers within that call.
class MosqSession;
thread_local MosqSession* t_connecting = nullptr;
int g_ssl_index = -1;

}  // namespace

class EventLoop::Impl {
 public:
  ~Impl() {
    if (epfd_ >= 0) ::close(epfd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }

  Status Init(const EventLoopOptions& o);
  Result<std::unique_ptr<link::Session>> MakeSession(const link::SessionConfig& config);
  size_t RunOnce(Millis max_wait);

  // For sessions.
  void Watch(MosqSession* s, int fd);
  void Unwatch(MosqSession* s);
  void UpdateInterest(MosqSession* s);
  void Remove(MosqSession* s);
  SSL_CTX* ctx() const { return ctx_; }

  EventLoopStats stats_;
  std::vector<MosqSession*> sessions_;  // alive, for the misc round

 private:
  void MiscRound();

  int epfd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  std::string ca_file_;
  std::string host_;  // the broker host every session of this loop connects to
  std::unordered_map<int, MosqSession*> by_fd_;
  SteadyClock::time_point next_misc_ = SteadyClock::now();
  std::vector<epoll_event> events_ = std::vector<epoll_event>(256);
};

namespace {

class MosqSession final : public link::Session {
 public:
  enum class State : uint8_t { kIdle, kConnecting, kConnected, kDisconnecting };

  MosqSession(EventLoop::Impl& loop, link::SessionConfig config, link::BrokerUri uri, X509* cert, EVP_PKEY* key)
      : loop_(loop), config_(std::move(config)), uri_(std::move(uri)), cert_(cert), key_(key) {
    where_ = "mqtt " + config_.client_id + "@" + config_.server_uri;
  }

  ~MosqSession() override {
    destroying_ = true;
    pending_.clear();
    DestroyHandle();
    loop_.Remove(this);
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }

  // --- called by the loop ---------------------------------------------------
  bool wants_out() const { return out_registered_; }
  void set_out_registered(bool v) { out_registered_ = v; }
  bool WantWrite() const { return mosq_ != nullptr && mosquitto_want_write(mosq_); }

  void OnReady(uint32_t events) {
    if (mosq_ == nullptr) return;
    if (state_ == State::kConnecting && (events & (EPOLLERR | EPOLLHUP)) != 0) {
      // The non-blocking TCP connect failed (refused, unreachable): the
      // socket's pending error says so. libmosquitto's handshake path would
      // only retry SSL_connect on it until the connect timeout.
      // SSL_connect's first write may already have consumed that error
      // (libmosquitto then returns success with errno ECONNREFUSED); a
      // socket without a peer never connected at all.
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
        FailConnectFromRc(MOSQ_ERR_ERRNO, soerr);
        return;
      }
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 && errno == ENOTCONN) {
        FailConnectFromRc(MOSQ_ERR_ERRNO, ECONNREFUSED);
        return;
      }
    }
    SSL* ssl = static_cast<SSL*>(mosquitto_ssl_get(mosq_));
    const bool handshaking = ssl != nullptr && !SSL_is_init_finished(ssl);
    // While the TLS handshake runs, only loop_read drives it (libmosquitto's
    // want_connect path); a writable socket then means "try the handshake".
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 || handshaking) {
      errno = 0;
      const int rc = mosquitto_loop_read(mosq_, 1);
      const int err = errno;
      if (!AfterIo(rc, err)) return;
      if (state_ == State::kConnecting && handshaking && (events & EPOLLHUP) != 0) {
        // Closed by the broker mid-handshake, and libmosquitto reported
        // success (errno EPIPE): a refused certificate looks like this.
        FailConnectFromRc(MOSQ_ERR_TLS, err);
        return;
      }
    }
    if (mosq_ != nullptr && (events & EPOLLOUT) != 0 && !handshaking) {
      errno = 0;
      const int rc = mosquitto_loop_write(mosq_, 1);
      const int err = errno;
      if (!AfterIo(rc, err)) return;
    }
    if (mosq_ != nullptr) loop_.UpdateInterest(this);
  }

  void Misc(SteadyClock::time_point now) {
    FlushDelayed(now);
    if (held_connect_ && now >= connect_deadline_) {
      held_connect_ = false;
      FailConnect(StatusCode::kDeadlineExceeded, "TCP connect timed out (network fault: black hole)");
      return;
    }
    if (mosq_ == nullptr) return;
    if (fault_.mode == NetworkFault::Mode::kBlackhole && state_ == State::kConnected) {
      // No PINGREQ leaves and no PINGRESP arrives: the keepalive runs out.
      const auto silent = std::chrono::milliseconds(config_.keepalive_s * 1500);
      if (now - blackhole_since_ >= silent) {
        EndConnection("keepalive: no answer for " + std::to_string(silent.count() / 1000) +
                      " s (network fault: black hole)");
        DestroyHandle();
      }
      return;
    }
    if (state_ == State::kConnecting && now >= connect_deadline_) {
      FailConnect(StatusCode::kDeadlineExceeded,
                  "no CONNACK within " + std::to_string(config_.connect_timeout.count()) + " ms");
      return;
    }
    if (state_ == State::kConnected) {
      const int rc = mosquitto_loop_misc(mosq_);  // PINGREQ when due; keepalive expiry closes
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        EndConnection("keepalive: " + std::string(mosquitto_strerror(rc)));
        return;
      }
      if (mosq_ != nullptr) loop_.UpdateInterest(this);
    }
  }

  // --- libmosquitto callbacks (inside loop_read / loop_write) ---------------
  void OnConnack(int reason) {
    if (state_ != State::kConnecting) return;
    if (reason != 0) {
      const Status s = link::ConnackRefusalStatus(where_, reason);
      state_ = State::kIdle;
      Queue([done = std::move(connect_done_), s] { done(s); });
      connect_done_ = nullptr;
      dead_ = true;  // the broker closes the connection; the handle goes at the next Connect
      return;
    }
    state_ = State::kConnected;
    ++loop_.stats_.connected;
    Queue([this, done = std::move(connect_done_)] {
      connected_view_ = true;
      done(Status::Ok());
    });
    connect_done_ = nullptr;
  }

  void OnPublished(int mid, int reason) {
    auto it = publishes_.find(mid);
    if (it == publishes_.end()) return;
    link::PublishDone done = std::move(it->second);
    publishes_.erase(it);
    Status s = Status::Ok();
    if (reason == MQTT_RC_NOT_AUTHORIZED) {
      s = PermissionDenied(where_ + ": PUBACK 0x87 not authorized");
    } else if (reason >= 0x80) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%02X", reason);
      s = Unavailable(where_ + ": PUBACK " + hex + " " + mosquitto_reason_string(reason));
    }
    Queue([done = std::move(done), s] { done(s); });
  }

  void OnSubscribed(int mid, int count, const int* granted) {
    auto it = subscribes_.find(mid);
    if (it == subscribes_.end()) return;
    link::SubscribeDone done = std::move(it->second);
    subscribes_.erase(it);
    Status s = Status::Ok();
    if (count < 1 || granted[0] >= 0x80) {
      const int code = count < 1 ? 0x80 : granted[0];
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%02X", code);
      s = code == MQTT_RC_NOT_AUTHORIZED ? PermissionDenied(where_ + ": SUBACK 0x87 not authorized")
                                         : Unavailable(where_ + ": SUBACK " + hex);
    }
    Queue([done = std::move(done), s] { done(s); });
  }

  void OnMessage(const mosquitto_message* m, const mosquitto_property* props) {
    link::IncomingMessage in;
    in.topic = m->topic != nullptr ? m->topic : "";
    if (m->payloadlen > 0) in.payload.assign(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
    bool skip_first = false;
    for (const mosquitto_property* p = props; p != nullptr;) {
      char* name = nullptr;
      char* value = nullptr;
      p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip_first);
      if (p == nullptr) break;
      in.user_properties.emplace_back(name, value);
      std::free(name);
      std::free(value);
      skip_first = true;
    }
    Queue([this, in = std::move(in)] {
      for (const auto& [filter, handler] : handlers_) {
        bool match = false;
        if (mosquitto_topic_matches_sub(filter.c_str(), in.topic.c_str(), &match) == MOSQ_ERR_SUCCESS && match) {
          handler(in);
          return;
        }
      }
    });
  }

  void OnDisconnected(int rc) {
    if (state_ == State::kConnecting) {
      // libmosquitto calls this from inside loop_read / loop_write and uses
      // the handle after it returns (it unlocks the handle's callback mutex):
      // the connect fails now, the handle goes in AfterIo once the loop call
      // has returned. Destroying it here was a use after free (found by TSan).
      defer_destroy_ = true;
      FailConnectFromRc(rc, errno);
      defer_destroy_ = false;
      return;
    }
    EndConnection(rc == 0 ? "disconnected" : std::string("connection lost: ") + mosquitto_strerror(rc));
  }

  /// Sets or ends this session's network fault (NetworkFault).
  void SetFault(const NetworkFault& f) {
    const NetworkFault before = fault_;
    fault_ = f;
    if (before.mode == NetworkFault::Mode::kBlackhole && f.mode != NetworkFault::Mode::kBlackhole) {
      // Packets flow again: the socket is read again, and a connect waiting
      // in the black hole gets through (its SYN's retransmit).
      if (mosq_ != nullptr && !dead_) loop_.Watch(this, mosquitto_socket(mosq_));
      if (held_connect_) {
        held_connect_ = false;
        state_ = State::kIdle;
        link::ConnectDone done = std::move(connect_done_);
        connect_done_ = nullptr;
        if (Status s = DoConnect(done); !s.ok()) Queue([done, s] { done(s); });
      }
    }
    if (f.mode == NetworkFault::Mode::kBlackhole && before.mode != NetworkFault::Mode::kBlackhole) {
      blackhole_since_ = SteadyClock::now();
      if (mosq_ != nullptr) loop_.Unwatch(this);
    }
    if (f.mode == NetworkFault::Mode::kReset) ResetConnection();
    if (f.mode != NetworkFault::Mode::kLatency) FlushDelayed(SteadyClock::time_point::max());
  }

  /// The client certificate, when the broker asks for it.
  int SetClientCertificate(SSL* ssl) {
    if (SSL_use_certificate(ssl, cert_) != 1 || SSL_use_PrivateKey(ssl, key_) != 1) return 0;
    return 1;
  }

 private:
  // --- Session ----------------------------------------------------------------
  Status DoConnect(link::ConnectDone done) override {
    if (state_ == State::kConnecting || state_ == State::kConnected) {
      return FailedPrecondition(where_ + ": already " + (state_ == State::kConnected ? "connected" : "connecting"));
    }
    DestroyHandle();
    if (fault_.mode == NetworkFault::Mode::kReset || fault_.mode == NetworkFault::Mode::kBlackhole) {
      connect_done_ = std::move(done);
      state_ = State::kConnecting;
      dead_ = false;
      if (fault_.mode == NetworkFault::Mode::kReset) {
        FailConnect(StatusCode::kUnavailable, "TCP connect failed: connection reset by peer (network fault: reset)");
      } else {
        held_connect_ = true;  // the SYN goes nowhere: Misc times it out
        connect_deadline_ = SteadyClock::now() + config_.connect_timeout;
      }
      return Status::Ok();
    }
    t_refuse_socketpair = true;  // see socketpair() above
    mosq_ = mosquitto_new(config_.client_id.c_str(), config_.clean_start, this);
    t_refuse_socketpair = false;
    if (mosq_ == nullptr) return ResourceExhausted(where_ + ": mosquitto_new failed (out of memory)");
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_void_option(mosq_, MOSQ_OPT_SSL_CTX, loop_.ctx());
    mosquitto_int_option(mosq_, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(mosq_, [](mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
      static_cast<MosqSession*>(obj)->OnConnack(rc);
    });
    mosquitto_publish_v5_callback_set(mosq_, [](mosquitto*, void* obj, int mid, int rc, const mosquitto_property*) {
      static_cast<MosqSession*>(obj)->OnPublished(mid, rc);
    });
    mosquitto_subscribe_v5_callback_set(
        mosq_, [](mosquitto*, void* obj, int mid, int count, const int* granted, const mosquitto_property*) {
          static_cast<MosqSession*>(obj)->OnSubscribed(mid, count, granted);
        });
    mosquitto_message_v5_callback_set(
        mosq_, [](mosquitto*, void* obj, const mosquitto_message* m, const mosquitto_property* props) {
          static_cast<MosqSession*>(obj)->OnMessage(m, props);
        });
    mosquitto_disconnect_v5_callback_set(mosq_, [](mosquitto*, void* obj, int rc, const mosquitto_property*) {
      static_cast<MosqSession*>(obj)->OnDisconnected(rc);
    });
    if (config_.will) {
      const auto& w = *config_.will;
      const int rc = mosquitto_will_set_v5(mosq_, w.topic.c_str(), static_cast<int>(w.payload.size()), w.payload.data(),
                                           w.qos, w.retain, nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return InvalidArgument(where_ + ": last will " + w.topic + ": " + mosquitto_strerror(rc));
      }
    }
    connect_done_ = std::move(done);
    state_ = State::kConnecting;
    dead_ = false;
    connect_deadline_ = SteadyClock::now() + config_.connect_timeout;
    t_connecting = this;
    errno = 0;
    const int rc = mosquitto_connect_bind_async(mosq_, uri_.host.c_str(), uri_.port, config_.keepalive_s, nullptr);
    const int err = errno;
    t_connecting = nullptr;
    if (rc != MOSQ_ERR_SUCCESS) {
      FailConnectFromRc(rc, err);
      return Status::Ok();  // the outcome is the queued `done`, as for any failed attempt
    }
    if (SSL* ssl = static_cast<SSL*>(mosquitto_ssl_get(mosq_)); ssl != nullptr) SSL_set_ex_data(ssl, g_ssl_index, this);
    loop_.Watch(this, mosquitto_socket(mosq_));
    return Status::Ok();
  }

  Status DoSubscribe(const std::string& filter, int qos, link::MessageHandler handler,
                     link::SubscribeDone done) override {
    if (state_ != State::kConnected) return Unavailable(where_ + ": subscribe " + filter + ": not connected");
    int mid = 0;
    const int rc = mosquitto_subscribe_v5(mosq_, &mid, filter.c_str(), qos, 0, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return Unavailable(where_ + ": subscribe " + filter + ": " + mosquitto_strerror(rc));
    bool replaced = false;
    for (auto& [f, h] : handlers_) {
      if (f == filter) {
        h = std::move(handler);
        replaced = true;
      }
    }
    if (!replaced) handlers_.emplace_back(filter, std::move(handler));
    subscribes_[mid] = std::move(done);
    loop_.UpdateInterest(this);
    return Status::Ok();
  }

  Status DoPublish(link::OutgoingMessage m, link::PublishDone done) override {
    if (state_ != State::kConnected) return Unavailable(where_ + ": publish " + m.topic + ": not connected");
    if (fault_.mode == NetworkFault::Mode::kBlackhole) {
      // Held like unacknowledged TCP data: sent when the path is back (the
      // retransmit gets through), failed if the connection dies first.
      delayed_out_.push_back({SteadyClock::time_point::max(), std::move(m), std::move(done)});
      return Status::Ok();
    }
    if (fault_.mode == NetworkFault::Mode::kLatency) {
      delayed_out_.push_back({SteadyClock::now() + fault_.latency, std::move(m), std::move(done)});
      return Status::Ok();
    }
    return SendNow(std::move(m), std::move(done));
  }

  Status SendNow(link::OutgoingMessage m, link::PublishDone done) {
    mosquitto_property* props = nullptr;
    for (const auto& [k, v] : m.user_properties) {
      if (mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, k.c_str(), v.c_str()) !=
          MOSQ_ERR_SUCCESS) {
        mosquitto_property_free_all(&props);
        return InvalidArgument(where_ + ": user property " + k + " of " + m.topic);
      }
    }
    int mid = 0;
    // The done is registered before the call: with QoS 0 libmosquitto
    // reports the hand-off from inside it.
    const int rc = mosquitto_publish_v5(mosq_, &mid, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                        m.payload.data(), m.qos, false, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
      return rc == MOSQ_ERR_NO_CONN ? Unavailable(where_ + ": publish " + m.topic + ": not connected")
                                    : InvalidArgument(where_ + ": publish " + m.topic + ": " + mosquitto_strerror(rc));
    }
    publishes_[mid] = std::move(done);
    if (mosq_ != nullptr) loop_.UpdateInterest(this);
    return Status::Ok();
  }

  void DoDisconnect() override {
    if (held_connect_) {
      held_connect_ = false;
      Queue([done = std::move(connect_done_), w = where_] {
        done(Status(StatusCode::kCancelled, w + ": connect cancelled by Disconnect"));
      });
      connect_done_ = nullptr;
      state_ = State::kIdle;
      return;
    }
    if (mosq_ == nullptr || state_ == State::kIdle) return;
    if (state_ == State::kConnecting) {
      Queue([done = std::move(connect_done_), w = where_] {
        done(Status(StatusCode::kCancelled, w + ": connect cancelled by Disconnect"));
      });
      connect_done_ = nullptr;
      state_ = State::kIdle;
      FailInFlight("disconnected");
      DestroyHandle();
      return;
    }
    // DISCONNECT (reason 0: the broker drops the will), then the socket goes.
    state_ = State::kDisconnecting;
    (void)mosquitto_disconnect_v5(mosq_, 0, nullptr);
    if (loop_.stats_.connected > 0) --loop_.stats_.connected;
    FailInFlight("disconnected");
    state_ = State::kIdle;
    Queue([this] { connected_view_ = false; });
    DestroyHandle();
  }

  bool DoIsConnected() const override { return connected_view_; }
  void DoOnConnectionLost(link::ConnectionLost cb) override { on_lost_ = std::move(cb); }

  size_t DoDispatch() override {
    const auto now = SteadyClock::now();
    FlushDelayed(now);
    if (pending_.empty()) return 0;
    std::vector<Pending> run;
    if (pending_.back().due <= now) {
      run.swap(pending_);
    } else {
      // Under a latency fault: only what has arrived by now, in order.
      size_t k = 0;
      while (k < pending_.size() && pending_[k].due <= now) ++k;
      run.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.begin() + long(k)));
      pending_.erase(pending_.begin(), pending_.begin() + long(k));
    }
    for (auto& p : run) {
      if (destroying_) break;
      p.fn();
    }
    return run.size();
  }

  void DoSetWakeup(std::function<void()> wake) override { wake_ = std::move(wake); }

  // --- helpers --------------------------------------------------------------
  void Queue(std::function<void()> fn) {
    if (destroying_) return;
    auto due = SteadyClock::time_point::min();
    if (fault_.mode == NetworkFault::Mode::kLatency) due = SteadyClock::now() + fault_.latency;
    if (!pending_.empty()) due = std::max(due, pending_.back().due);  // never overtakes
    pending_.push_back({due, std::move(fn)});
    if (wake_) wake_();
  }

  /// Sends the delayed publishes (latency fault) due by `now`.
  void FlushDelayed(SteadyClock::time_point now) {
    while (!delayed_out_.empty() && delayed_out_.front().due <= now) {
      Delayed d = std::move(delayed_out_.front());
      delayed_out_.pop_front();
      if (state_ != State::kConnected) {
        Queue([done = std::move(d.done), s = Unavailable(where_ + ": connection lost before publish")] { done(s); });
        continue;
      }
      Status s = SendNow(std::move(d.m), d.done);
      if (!s.ok()) Queue([done = std::move(d.done), s] { done(s); });
    }
  }

  /// A reset fault: the connection (or connect) ends with a TCP RST.
  void ResetConnection() {
    if (mosq_ == nullptr) return;
    const int fd = mosquitto_socket(mosq_);
    if (fd >= 0) {
      linger l{1, 0};  // close() sends RST instead of FIN
      (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    if (state_ == State::kConnecting) {
      FailConnect(StatusCode::kUnavailable, "connection reset by peer (network fault: reset)");
    } else if (state_ == State::kConnected) {
      EndConnection("connection reset by peer (network fault: reset)");
      DestroyHandle();
    }
  }

  /// After loop_read / loop_write: false if the connection is gone.
  bool AfterIo(int rc, int err) {
    if (rc == MOSQ_ERR_SUCCESS) return mosq_ != nullptr && !dead_;
    if (state_ == State::kConnecting) {
      FailConnectFromRc(rc, err);
      return false;
    }
    // libmosquitto already ran on_disconnect for a connected session (or this
    // is the close after a refused CONNACK).
    if (state_ == State::kConnected) EndConnection(std::string("connection lost: ") + mosquitto_strerror(rc));
    if (dead_) DestroyHandle();
    return false;
  }

  void FailConnectFromRc(int rc, int err) {
    if (rc == MOSQ_ERR_ERRNO &&
        (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == ETIMEDOUT)) {
      FailConnect(StatusCode::kUnavailable, std::string("TCP connect failed: ") + std::strerror(err));
    } else if (rc == MOSQ_ERR_EAI) {
      FailConnect(StatusCode::kUnavailable, "broker host " + uri_.host + " not resolved");
    } else if (rc == MOSQ_ERR_NOMEM) {
      FailConnect(StatusCode::kResourceExhausted, "out of memory");
    } else {
      // TCP connected: the TLS handshake failed (either side rejected the
      // other's certificate), or the broker closed the connection after TLS
      // and before CONNACK (TLS 1.3 shows a rejected client certificate so).
      std::string why = rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(err)) : mosquitto_strerror(rc);
      FailConnect(StatusCode::kUnauthenticated,
                  "TLS handshake or connection closed before CONNACK (" + why +
                      "): check that the broker trusts this device's CA and the device trusts the broker's");
    }
  }

  void FailConnect(StatusCode code, const std::string& why) {
    state_ = State::kIdle;
    if (connect_done_) {
      Queue([done = std::move(connect_done_), s = Status(code, where_ + ": " + why)] { done(s); });
      connect_done_ = nullptr;
    }
    DestroyHandle();
  }

  /// A connected session's connection ended without Disconnect().
  void EndConnection(const std::string& cause) {
    if (state_ != State::kConnected && state_ != State::kDisconnecting) return;
    const bool lost = state_ == State::kConnected;
    state_ = State::kIdle;
    if (loop_.stats_.connected > 0) --loop_.stats_.connected;
    FailInFlight(cause);
    if (lost) {
      Queue([this, cause] {
        connected_view_ = false;
        if (on_lost_) on_lost_(cause);
      });
    }
    dead_ = true;
    loop_.Unwatch(this);
  }

  void FailInFlight(const std::string& cause) {
    for (auto& d : delayed_out_) {
      Queue([done = std::move(d.done), s = Unavailable(where_ + ": " + cause + " before publish")] { done(s); });
    }
    delayed_out_.clear();
    for (auto& [mid, done] : publishes_) {
      Queue([done = std::move(done), s = Unavailable(where_ + ": " + cause + " before PUBACK")] { done(s); });
    }
    publishes_.clear();
    for (auto& [mid, done] : subscribes_) {
      Queue([done = std::move(done), s = Unavailable(where_ + ": " + cause + " before SUBACK")] { done(s); });
    }
    subscribes_.clear();
  }

  void DestroyHandle() {
    if (mosq_ == nullptr) return;
    loop_.Unwatch(this);
    if (defer_destroy_) {  // inside a libmosquitto callback: AfterIo destroys it
      dead_ = true;
      return;
    }
    mosquitto* m = mosq_;
    mosq_ = nullptr;
    mosquitto_destroy(m);  // closes the socket; no callbacks from here on
    dead_ = false;
  }

  EventLoop::Impl& loop_;
  link::SessionConfig config_;
  link::BrokerUri uri_;
  X509* cert_;
  EVP_PKEY* key_;
  std::string where_;
  mosquitto* mosq_ = nullptr;
  int fd_ = -1;
  bool out_registered_ = false;
  State state_ = State::kIdle;
  bool dead_ = false;  // the connection ended; the handle is destroyed at the next chance
  bool destroying_ = false;
  bool defer_destroy_ = false;  // in a libmosquitto callback on this handle (OnDisconnected)
  bool connected_view_ = false;  // as far as dispatched callbacks tell (IsConnected)
  SteadyClock::time_point connect_deadline_{};
  link::ConnectDone connect_done_;
  std::unordered_map<int, link::PublishDone> publishes_;
  std::unordered_map<int, link::SubscribeDone> subscribes_;
  std::vector<std::pair<std::string, link::MessageHandler>> handlers_;
  link::ConnectionLost on_lost_;
  std::function<void()> wake_;
  struct Pending {
    SteadyClock::time_point due;  // min(): at once; later under a latency fault
    std::function<void()> fn;
  };
  std::vector<Pending> pending_;
  // The network fault (NetworkFault) and what it holds back.
  NetworkFault fault_;
  SteadyClock::time_point blackhole_since_{};
  bool held_connect_ = false;  // a connect into a black hole, failed by Misc at its deadline
  struct Delayed {
    SteadyClock::time_point due;
    link::OutgoingMessage m;
    link::PublishDone done;
  };
  std::deque<Delayed> delayed_out_;

  friend class EventLoop::Impl;
};

int ClientCertCallback(SSL* ssl, void*) {
  auto* s = static_cast<MosqSession*>(SSL_get_ex_data(ssl, g_ssl_index));
  if (s == nullptr) s = t_connecting;
  return s == nullptr ? 0 : s->SetClientCertificate(ssl);
}

}  // namespace

Status EventLoop::Impl::Init(const EventLoopOptions& o) {
  std::call_once(g_lib_once, [] {
    mosquitto_lib_init();
    g_ssl_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  });
  if (o.ca_file.empty()) return InvalidArgument("event loop: ca_file is empty");
  ca_file_ = o.ca_file;
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return Internal("event loop: SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);  // IoT Core: TLS 1.2 and 1.3
  SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);  // idle sessions hold no 16 KiB record buffers
  if (SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr) != 1) {
    return InvalidArgument(o.ca_file + ": cannot load as a CA certificate: " + OpenSslError());
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_cb(ctx_, ClientCertCallback, nullptr);
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return Internal(std::string("event loop: epoll_create1: ") + std::strerror(errno));
  return Status::Ok();
}

namespace {

template <typename T, typename Read>
T* ReadPem(const std::string& path, Read read, std::string& error) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  T* v = read(f);
  std::fclose(f);
  if (v == nullptr) error = path + ": not a PEM " + OpenSslError();
  return v;
}

}  // namespace

Result<std::unique_ptr<link::Session>> EventLoop::Impl::MakeSession(const link::SessionConfig& c) {
  EF_RETURN_IF_ERROR(link::ValidateSessionConfig(c));
  auto uri = link::ParseBrokerUri(c.server_uri);
  if (!uri.ok()) return uri.status();
  if (c.session_expiry_s > 0 || !c.clean_start) {
    return InvalidArgument(c.client_id +
                           ": the event-loop transport opens clean sessions only (clean_start, session_expiry_s 0); "
                           "a session that survives a disconnect needs the Paho session");
  }
  if (!c.alpn.empty()) return InvalidArgument(c.client_id + ": ALPN is not supported by the event-loop transport");
  if (c.tls.ca_file != ca_file_) {
    return InvalidArgument(c.client_id + ": tls.ca_file " + c.tls.ca_file + " is not the event loop's CA " + ca_file_);
  }
  if (host_.empty()) {
    host_ = uri->host;
    // The broker certificate must name the host (or address) we dial.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx_);
    in6_addr a6{};
    in_addr a4{};
    const bool is_ip = ::inet_pton(AF_INET, host_.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host_.c_str(), &a6) == 1;
    const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, host_.c_str(), host_.size());
    if (ok != 1) return InvalidArgument("event loop: broker host " + host_ + ": " + OpenSslError());
  } else if (uri->host != host_) {
    return InvalidArgument(c.client_id + ": broker host " + uri->host + " differs from this event loop's " + host_ +
                           " (one loop serves one broker)");
  }
  std::string error;
  X509* cert = ReadPem<X509>(
      c.tls.cert_file, [](FILE* f) { return PEM_read_X509(f, nullptr, nullptr, nullptr); }, error);
  if (cert == nullptr) return InvalidArgument(c.client_id + ": tls.cert_file " + error);
  EVP_PKEY* key = ReadPem<EVP_PKEY>(
      c.tls.key_file, [](FILE* f) { return PEM_read_PrivateKey(f, nullptr, nullptr, nullptr); }, error);
  if (key == nullptr) {
    X509_free(cert);
    return InvalidArgument(c.client_id + ": tls.key_file " + error);
  }
  if (X509_check_private_key(cert, key) != 1) {
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return InvalidArgument(c.client_id + ": tls.key_file " + c.tls.key_file + " does not match tls.cert_file " +
                           c.tls.cert_file);
  }
  auto s = std::make_unique<MosqSession>(*this, c, std::move(*uri), cert, key);
  sessions_.push_back(s.get());
  ++stats_.sessions;
  return std::unique_ptr<link::Session>(std::move(s));
}

void EventLoop::Impl::Watch(MosqSession* s, int fd) {
  if (fd < 0) return;
  s->fd_ = fd;
  epoll_event ev{};
  ev.events = EPOLLIN | (s->WantWrite() ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  s->set_out_registered((ev.events & EPOLLOUT) != 0);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
    (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
  by_fd_[fd] = s;
}

void EventLoop::Impl::Unwatch(MosqSession* s) {
  if (s->fd_ < 0) return;
  // The socket may already be closed by libmosquitto (then the kernel
  // dropped it from the epoll set by itself and this fails harmlessly).
  (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, s->fd_, nullptr);
  auto it = by_fd_.find(s->fd_);
  if (it != by_fd_.end() && it->second == s) by_fd_.erase(it);
  s->fd_ = -1;
  s->set_out_registered(false);
}

void EventLoop::Impl::UpdateInterest(MosqSession* s) {
  if (s->fd_ < 0) return;
  const bool want = s->WantWrite();
  if (want == s->wants_out()) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.fd = s->fd_;
  (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, s->fd_, &ev);
  s->set_out_registered(want);
}

void EventLoop::Impl::Remove(MosqSession* s) {
  Unwatch(s);
  for (size_t i = 0; i < sessions_.size(); ++i) {
    if (sessions_[i] == s) {
      sessions_[i] = sessions_.back();
      sessions_.pop_back();
      break;
    }
  }
  if (stats_.sessions > 0) --stats_.sessions;
}

void EventLoop::Impl::MiscRound() {
  const auto now = SteadyClock::now();
  ++stats_.misc_rounds;
  // Misc may destroy a handle (timeout), never a session: the vector is stable.
  for (size_t i = 0; i < sessions_.size(); ++i) sessions_[i]->Misc(now);
}

size_t EventLoop::Impl::RunOnce(Millis max_wait) {
  auto now = SteadyClock::now();
  if (now >= next_misc_) {
    MiscRound();
    next_misc_ = now + kMiscPeriod;
  }
  const auto until_misc = std::chrono::duration_cast<Millis>(next_misc_ - now);
  const long wait_ms = std::max<long>(0, std::min<long>(max_wait.count(), until_misc.count()));
  const int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), static_cast<int>(wait_ms));
  if (n <= 0) return 0;
  for (int i = 0; i < n; ++i) {
    auto it = by_fd_.find(events_[static_cast<size_t>(i)].data.fd);
    if (it == by_fd_.end()) continue;  // closed by an earlier event of this batch
    it->second->OnReady(events_[static_cast<size_t>(i)].events);
  }
  stats_.ready_events += static_cast<uint64_t>(n);
  if (static_cast<size_t>(n) == events_.size()) events_.resize(events_.size() * 2);
  return static_cast<size_t>(n);
}

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLoop::~EventLoop() = default;

Result<std::unique_ptr<EventLoop>> EventLoop::Create(const EventLoopOptions& options) {
  auto impl = std::make_unique<Impl>();
  EF_RETURN_IF_ERROR(impl->Init(options));
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(impl)));
}

Result<std::unique_ptr<link::Session>> EventLoop::MakeSession(const link::SessionConfig& config) {
  return impl_->MakeSession(config);
}

size_t EventLoop::RunOnce(Millis max_wait) { return impl_->RunOnce(max_wait); }

EventLoopStats EventLoop::stats() const { return impl_->stats_; }

Status EventLoop::SetNetworkFault(link::Session& session, const NetworkFault& fault) {
  for (MosqSession* s : impl_->sessions_) {
    if (static_cast<link::Session*>(s) == &session) {
      s->SetFault(fault);
      return Status::Ok();
    }
  }
  return InvalidArgument("network fault: the session is not one of this event loop's");
}

const char* NetworkFaultName(NetworkFault::Mode mode) {
  switch (mode) {
    case NetworkFault::Mode::kNone:
      return "none";
    case NetworkFault::Mode::kBlackhole:
      return "blackhole";
    case NetworkFault::Mode::kLatency:
      return "latency";
    case NetworkFault::Mode::kReset:
      return "reset";
  }
  return "?";
}

}  // namespace edgeforge::sim::transport
