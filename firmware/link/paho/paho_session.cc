#include "firmware/link/paho/paho_session.h"

#include <mqtt/async_client.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "firmware/link/broker_uri.h"
#include "firmware/link/callback_queue.h"
#include "firmware/link/paho/tls_probe.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::link {
namespace {

// MQTT 5 reason codes (OASIS MQTT 5.0 section 2.4) that a broker uses to refuse.
constexpr int kNotAuthorized = 0x87;
constexpr int kBadUserNameOrPassword = 0x86;

std::string Hex2(int v) {
  static const char kHex[] = "0123456789abcdef";
  return {kHex[(v >> 4) & 0xf], kHex[v & 0xf]};
}

std::string ReasonText(int reason) {
  return "MQTT 5 reason 0x" + Hex2(reason) + " " + mqtt::exception::reason_code_str(reason);
}

Status FromPahoFailure(const std::string& what, int rc, int reason) {
  // Paho C leaves rc at 0 ("Success") when the broker's reason code is the failure.
  std::string m = reason > 0 && rc == MQTTASYNC_SUCCESS ? what + " refused by the broker"
                                                        : what + " failed: " + mqtt::exception::error_str(rc);
  if (reason > 0) m += " (" + ReasonText(reason) + ")";
  if (reason == kNotAuthorized || reason == kBadUserNameOrPassword) return PermissionDenied(m);
  return Unavailable(m);
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void* ToContext(uint64_t id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
uint64_t FromContext(void* context) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(context)); }

/// The Paho message of a completed, failed token ("TCP connect timeout").
std::string FailureMessage(const mqtt::token& tok) {
  try {
    const_cast<mqtt::token&>(tok).try_wait();  // complete: rethrows the stored failure
  } catch (const mqtt::exception& e) {
    return e.get_message();
  }
  return {};
}

class PahoSession;

/// Forwards Paho's per-operation results to the session; the token's user
/// context carries the attempt, publish or subscribe id, never a pointer.
class ConnectListener final : public mqtt::iaction_listener {
 public:
  explicit ConnectListener(PahoSession& s) : session_(s) {}
  void on_success(const mqtt::token& tok) override;
  void on_failure(const mqtt::token& tok) override;

 private:
  PahoSession& session_;
};

class PublishListener final : public mqtt::iaction_listener {
 public:
  explicit PublishListener(PahoSession& s) : session_(s) {}
  void on_success(const mqtt::token& tok) override;
  void on_failure(const mqtt::token& tok) override;

 private:
  PahoSession& session_;
};

class SubscribeListener final : public mqtt::iaction_listener {
 public:
  explicit SubscribeListener(PahoSession& s) : session_(s) {}
  void on_success(const mqtt::token& tok) override;
  void on_failure(const mqtt::token& tok) override;

 private:
  PahoSession& session_;
};

/// Two kinds of members: the transport side (Paho's threads) only reads the
/// const config and Post()s into queue_; everything else (state_, pending
/// completions, handlers) belongs to the thread that calls the Session's
/// methods and Dispatch(), so it needs no lock.
class PahoSession final : public Session {
 public:
  explicit PahoSession(SessionConfig config)
      : config_(std::move(config)),
        where_("mqtt " + config_.client_id + "@" + config_.server_uri),
        client_(config_.server_uri, config_.client_id, mqtt::create_options(MQTTVERSION_5)) {
    client_.set_connection_lost_handler([this](const std::string& cause) { PostLost(cause); });
    // Paho C reports a broker's DISCONNECT (e.g. 0x8E session taken over)
    // only here, not as a lost connection (MQTTAsync_receiveThread).
    client_.set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode reason) {
      PostLost("broker sent DISCONNECT, " + ReasonText(static_cast<int>(reason)));
    });
    client_.set_message_callback([this](const mqtt::const_message_ptr& msg) { PostMessage(*msg); });
    InitConnectOptions();
  }

  ~PahoSession() override {
    queue_.Close();  // nothing queued runs from here on, nothing more is queued
    {
      std::unique_lock<std::mutex> lock(mu_);
      closing_ = true;
      idle_.wait(lock, [this] { return active_callbacks_ == 0; });
    }
    if (state_ == State::kIdle && !client_.is_connected()) return;
    try {
      // The one wait left: the process must not exit with the socket half
      // closed (the broker would then publish the will).
      client_.disconnect(1000)->wait_for(Millis(1500));
    } catch (const mqtt::exception&) {
      // Not connected (an attempt still open): MQTTAsync_destroy closes it.
    }
  }

  // --- Paho's threads: these only compute and Post(). ---

  void OnConnected(const mqtt::token& tok) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    const uint64_t attempt = FromContext(tok.get_user_context());
    queue_.Post([this, attempt] { CompleteConnect(attempt, Status::Ok()); });
  }

  void OnConnectFailed(const mqtt::token& tok) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    const uint64_t attempt = FromContext(tok.get_user_context());
    if (attempt != open_attempt_.load()) return;  // abandoned by Disconnect(): nobody waits
    const std::string message = FailureMessage(tok);
    TcpProbe probe = TcpProbe::kNotRun;
    std::string diagnosis;
    if (message == kPahoTcpTlsFailure || message == kPahoClosedBeforeConnack) {
      // Paho C 1.3 reports TCP refused and a failed TLS handshake alike
      // (MQTTAsync_connecting), and passes up neither OpenSSL's verify result
      // nor the broker's alert: one handshake of our own with the same files
      // tells them apart and says which side refused and why (tls_probe.h).
      // It blocks Paho's thread, bounded, as Paho's own DNS lookup and
      // connect do; never the device's thread.
      auto uri = ParseBrokerUri(config_.server_uri);  // checked by ValidateSessionConfig
      if (uri.ok()) diagnosis = DiagnoseTlsHandshake(*uri, config_.tls, std::min(config_.connect_timeout, Millis(2000)));
      probe = diagnosis.empty() ? TcpProbe::kTcpFails : TcpProbe::kTcpConnects;
    }
    Status result = ConnectFailureStatus(where_, tok.get_return_code(), static_cast<int>(tok.get_reason_code()),
                                         message, probe, diagnosis);
    queue_.Post([this, attempt, result = std::move(result)] { CompleteConnect(attempt, result); });
  }

  void OnPublishResult(const mqtt::token& tok, Status result) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    const uint64_t id = FromContext(tok.get_user_context());
    queue_.Post([this, id, result = std::move(result)] { CompletePublish(id, result); });
  }

  void OnSubscribeResult(const mqtt::token& tok, bool success) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    const uint64_t id = FromContext(tok.get_user_context());
    Status result = Status::Ok();
    if (success) {
      try {
        const mqtt::subscribe_response resp = tok.get_subscribe_response();  // by value
        for (auto rc : resp.get_reason_codes()) {
          if (rc >= 0x80) {
            result = FromPahoFailure(where_ + ": subscribe", MQTTASYNC_FAILURE, static_cast<int>(rc));
            break;
          }
        }
      } catch (const mqtt::exception& e) {
        result = FromPahoFailure(where_ + ": subscribe", e.get_return_code(), e.get_reason_code());
      }
    } else {
      result = FromPahoFailure(where_ + ": subscribe", tok.get_return_code(), static_cast<int>(tok.get_reason_code()));
    }
    queue_.Post([this, id, result = std::move(result)] { CompleteSubscribe(id, result); });
  }

  const std::string& where() const { return where_; }

 private:
  enum class State {
    kIdle,        // no connection and no attempt open
    kConnecting,  // an attempt (attempt_) waits for CONNACK
    kConnected,   // CONNACK accepted (dispatched); publishes go out
  };

  /// Counts a Paho callback in progress; none enters once the destructor
  /// began, and the destructor waits for those inside (they use queue_ and
  /// config_, which die with this object).
  struct CallbackScope {
    explicit CallbackScope(PahoSession& s) : session(s) {
      std::lock_guard<std::mutex> lock(s.mu_);
      entered = !s.closing_;
      if (entered) ++s.active_callbacks_;
    }
    ~CallbackScope() {
      if (!entered) return;
      std::lock_guard<std::mutex> lock(session.mu_);
      if (--session.active_callbacks_ == 0) session.idle_.notify_all();
    }
    PahoSession& session;
    bool entered = false;
  };

  void PostLost(const std::string& cause) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    queue_.Post([this, cause] { HandleLost(cause); });
  }

  void PostMessage(const mqtt::message& msg) {
    CallbackScope scope(*this);
    if (!scope.entered) return;
    IncomingMessage in;
    in.topic = msg.get_topic();
    in.payload = msg.get_payload_str();
    const auto& props = msg.get_properties();
    const size_t n = props.count(mqtt::property::USER_PROPERTY);
    for (size_t i = 0; i < n; ++i) {
      auto [k, v] = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
      in.user_properties.emplace_back(std::move(k), std::move(v));
    }
    queue_.Post([this, in = std::move(in)] { DeliverMessage(in); });
  }

  /// Fills connect_opts_ in place, once. Paho C++ 1.2's connect_options copy
  /// and move constructors do not re-point the C struct's connectProperties
  /// (nor ssl_options' ALPN list) at the copy's own members: a copy stays
  /// valid only while its source lives. So the source is this member, and
  /// async_client::connect() gets a copy of it.
  void InitConnectOptions() {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(config_.tls.ca_file);
    ssl.set_key_store(config_.tls.cert_file);
    ssl.set_private_key(config_.tls.key_file);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // X509_check_host: the broker's certificate must name the URI host
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    // Paho C >= 1.3.7 (SSL_CTX_set_alpn_protos); the SNI name is the URI host
    // (SSLSocket_setSocketForSSL: SSL_set_tlsext_host_name).
    if (!config_.alpn.empty()) ssl.set_alpn_protos(config_.alpn);
    // No ssl.set_error_handler(): Paho C++ 1.2 hands Paho C a context pointer
    // into the by-value connect_options of async_client::connect(), which is
    // gone when the handshake fails on Paho's thread (ASan: stack-use-after-scope).
    mqtt::connect_options& o = connect_opts_;
    o.set_mqtt_version(MQTTVERSION_5);
    o.set_clean_start(config_.clean_start);
    o.set_keep_alive_interval(std::chrono::seconds(config_.keepalive_s));
    o.set_connect_timeout(std::chrono::seconds((config_.connect_timeout.count() + 999) / 1000));
    o.set_automatic_reconnect(false);  // our backoff decides (the reconnect-storm lesson)
    o.set_ssl(std::move(ssl));
    if (config_.will) {
      const auto& w = *config_.will;
      o.set_will(mqtt::will_options(w.topic, w.payload, w.qos, w.retain));
    }
    if (config_.session_expiry_s > 0) {
      o.set_properties(
          {mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int32_t>(config_.session_expiry_s))});
    }
  }

  // --- The owner's thread: Session calls and Dispatch(). ---

  Status DoConnect(ConnectDone done) override {
    if (state_ == State::kConnected) return FailedPrecondition(where_ + ": already connected");
    if (state_ == State::kConnecting) return FailedPrecondition(where_ + ": a connect attempt is already open");
    const uint64_t attempt = ++attempt_;
    state_ = State::kConnecting;
    connect_done_ = std::move(done);
    open_attempt_.store(attempt);
    try {
      client_.connect(connect_opts_, ToContext(attempt), connect_listener_);
    } catch (const mqtt::exception& e) {
      // Paho refused before starting: no callback follows, and no `done`.
      CloseAttempt();
      return ConnectFailureStatus(where_, e.get_return_code(), e.get_reason_code(), e.get_message());
    }
    return Status::Ok();
  }

  /// Forgets the open attempt (its `done` is dropped).
  void CloseAttempt() {
    ++attempt_;
    open_attempt_.store(0);
    state_ = State::kIdle;
    connect_done_ = nullptr;
  }

  /// Ends attempt `attempt` with `result`, unless it was abandoned meanwhile.
  void CompleteConnect(uint64_t attempt, const Status& result) {
    if (attempt != attempt_ || state_ != State::kConnecting) {
      // Abandoned by Disconnect(): a connection it still made is dropped.
      if (result.ok()) DropStaleConnection();
      return;
    }
    ConnectDone done = std::move(connect_done_);
    connect_done_ = nullptr;
    open_attempt_.store(0);
    state_ = result.ok() ? State::kConnected : State::kIdle;
    if (done) done(result);
  }

  void DropStaleConnection() {
    try {
      (void)client_.disconnect(0);  // not waited on
    } catch (const mqtt::exception&) {
      // Already gone.
    }
  }

  Status DoPublish(OutgoingMessage m, PublishDone done) override {
    if (m.qos != 0 && m.qos != 1) return InvalidArgument("qos must be 0 or 1 (AWS IoT Core)");
    if (state_ != State::kConnected) return Unavailable(where_ + ": publish to " + m.topic + ": not connected");
    const uint64_t id = next_id_++;
    mqtt::properties props;
    for (auto& [k, v] : m.user_properties) {
      props.add(mqtt::property(mqtt::property::USER_PROPERTY, k, v));
    }
    auto msg = mqtt::message_ptr_builder()
                   .topic(std::move(m.topic))
                   .payload(std::move(m.payload))
                   .qos(m.qos)
                   .properties(std::move(props))
                   .finalize();
    try {
      client_.publish(msg, ToContext(id), publish_listener_);
    } catch (const mqtt::exception& e) {
      return FromPahoFailure(where_ + ": publish to " + msg->get_topic(), e.get_return_code(), e.get_reason_code());
    }
    pending_.emplace(id, std::move(done));
    return Status::Ok();
  }

  void CompletePublish(uint64_t id, const Status& result) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // already failed by a loss or Disconnect()
    PublishDone done = std::move(it->second);
    pending_.erase(it);
    if (done) done(result);
  }

  Status DoSubscribe(const std::string& filter, int qos, MessageHandler handler, SubscribeDone done) override {
    if (state_ != State::kConnected) return Unavailable(where_ + ": subscribe " + filter + ": not connected");
    const uint64_t id = next_id_++;
    try {
      client_.subscribe(filter, qos, ToContext(id), subscribe_listener_);
    } catch (const mqtt::exception& e) {
      return FromPahoFailure(where_ + ": subscribe " + filter, e.get_return_code(), e.get_reason_code());
    }
    // Set before the SUBACK: a retained message may come right behind it.
    auto it = std::find_if(handlers_.begin(), handlers_.end(), [&](const auto& h) { return h.first == filter; });
    if (it != handlers_.end()) {
      it->second = std::move(handler);
    } else {
      handlers_.emplace_back(filter, std::move(handler));
    }
    subscribes_.emplace(id, PendingSubscribe{filter, std::move(done)});
    return Status::Ok();
  }

  void CompleteSubscribe(uint64_t id, const Status& result) {
    auto it = subscribes_.find(id);
    if (it == subscribes_.end()) return;  // already failed by a loss or Disconnect()
    PendingSubscribe sub = std::move(it->second);
    subscribes_.erase(it);
    if (sub.done) sub.done(result.ok() ? result : result.WithContext(sub.filter));
  }

  void DoDisconnect() override {
    const State was = state_;
    if (was == State::kConnecting) {
      ConnectDone cancelled = std::move(connect_done_);
      CloseAttempt();
      queue_.Post([cancelled = std::move(cancelled), where = where_] {
        if (cancelled) cancelled(Status(StatusCode::kCancelled, where + ": connect abandoned by Disconnect()"));
      });
    }
    state_ = State::kIdle;
    if (was != State::kIdle) DropStaleConnection();
    // Outcomes Paho queued before this call still count (a PUBACK already
    // received completes OK); what is still open afterwards gets UNAVAILABLE.
    const uint64_t last = next_id_;
    queue_.Post([this, last] { FailOpen(where_ + ": disconnected", last); });
  }

  bool DoIsConnected() const override { return state_ == State::kConnected; }

  void DoOnConnectionLost(ConnectionLost cb) override { lost_ = std::move(cb); }

  size_t DoDispatch() override { return queue_.Drain(); }

  void DoSetWakeup(std::function<void()> wake) override { queue_.SetWakeup(std::move(wake)); }

  /// Completes every publish and subscribe started before id `below` that is
  /// still open, oldest first, with UNAVAILABLE.
  void FailOpen(const std::string& why, uint64_t below) {
    std::vector<PublishDone> publishes;
    for (auto it = pending_.begin(); it != pending_.end() && it->first < below;) {
      publishes.push_back(std::move(it->second));
      it = pending_.erase(it);
    }
    std::vector<PendingSubscribe> subs;
    for (auto it = subscribes_.begin(); it != subscribes_.end() && it->first < below;) {
      subs.push_back(std::move(it->second));
      it = subscribes_.erase(it);
    }
    for (auto& done : publishes) {
      if (done) done(Unavailable(why + " before PUBACK"));
    }
    for (auto& sub : subs) {
      if (sub.done) sub.done(Unavailable(why + " before SUBACK for " + sub.filter));
    }
  }

  void HandleLost(const std::string& cause) {
    if (state_ != State::kConnected) return;  // after Disconnect(), or a second report
    state_ = State::kIdle;
    const std::string why = where_ + ": connection lost" + (cause.empty() ? "" : " (" + cause + ")");
    // Paho fails in-flight QoS 1 publishes itself only when it cleans the
    // session (session expiry 0); with a persistent session it would keep them
    // for a resend we do not rely on. Either way each gets its answer here.
    FailOpen(why, next_id_);
    if (lost_) lost_(why);
  }

  void DeliverMessage(const IncomingMessage& in) {
    for (const auto& [filter, handler] : handlers_) {
      if (topic::FilterMatches(filter, in.topic)) {
        if (handler) handler(in);
        return;
      }
    }
  }

  struct PendingSubscribe {
    std::string filter;
    SubscribeDone done;
  };

  const SessionConfig config_;
  const std::string where_;             // names the session in every error
  mqtt::connect_options connect_opts_;  // filled once by InitConnectOptions(), then only copied

  // Shared with Paho's threads.
  CallbackQueue queue_;
  std::atomic<uint64_t> open_attempt_{0};  // the attempt a failure probe is worth running for; 0: none
  std::mutex mu_;                          // guards closing_ and active_callbacks_
  std::condition_variable idle_;
  bool closing_ = false;
  int active_callbacks_ = 0;

  // The owner's thread only.
  State state_ = State::kIdle;
  uint64_t attempt_ = 0;
  ConnectDone connect_done_;
  uint64_t next_id_ = 1;                     // publish and subscribe ids, in call order
  std::map<uint64_t, PublishDone> pending_;  // publish id -> completion, until PUBACK
  std::map<uint64_t, PendingSubscribe> subscribes_;
  std::vector<std::pair<std::string, MessageHandler>> handlers_;
  ConnectionLost lost_;

  // Declared before client_ so that they outlive it: Paho may still call in
  // while async_client's destructor runs.
  ConnectListener connect_listener_{*this};
  PublishListener publish_listener_{*this};
  SubscribeListener subscribe_listener_{*this};
  mqtt::async_client client_;
};

void ConnectListener::on_success(const mqtt::token& tok) { session_.OnConnected(tok); }
void ConnectListener::on_failure(const mqtt::token& tok) { session_.OnConnectFailed(tok); }

void PublishListener::on_success(const mqtt::token& tok) { session_.OnPublishResult(tok, Status::Ok()); }

void SubscribeListener::on_success(const mqtt::token& tok) { session_.OnSubscribeResult(tok, true); }
void SubscribeListener::on_failure(const mqtt::token& tok) { session_.OnSubscribeResult(tok, false); }

void PublishListener::on_failure(const mqtt::token& tok) {
  std::string what = session_.where() + ": publish";
  if (const auto* d = dynamic_cast<const mqtt::delivery_token*>(&tok); d != nullptr && d->get_message()) {
    what += " to " + d->get_message()->get_topic();
  }
  session_.OnPublishResult(tok, FromPahoFailure(what, tok.get_return_code(), static_cast<int>(tok.get_reason_code())));
}

}  // namespace

/// What a refusal reason means for a device, where the spec or IoT Core's
/// docs say more than the reason's name (OASIS MQTT 5.0 section 3.2.2.2).
std::string ConnackHint(int reason) {
  switch (reason) {
    case 0x85:
      return ": the broker does not accept this client id (IoT Core: the policy's iot:Connect resource "
             "client/<thing> must match it)";
    case 0x86:
    case 0x8C:
      return ": the broker did not accept this identity's credentials";
    case 0x87:
      return ": the broker knows this identity but its policy does not allow it to connect with this client id "
             "(IoT Core: iot:Connect in the certificate's policy; a local mosquitto: its ACL / plugin)";
    case 0x8A:
      return ": the broker banned this client";
    case 0x89:
    case 0x88:
      return ": the broker is busy or unavailable; retry later";
    case 0x9F:
      return ": too many CONNECTs (IoT Core allows 1 per second per client id)";
    default:
      return "";
  }
}

Status ConnackRefusalStatus(const std::string& where, int reason) {
  const std::string m =
      where + ": broker refused the connection (CONNACK " + ReasonText(reason) + ")" + ConnackHint(reason);
  switch (reason) {
    case 0x86:  // bad user name or password
    case 0x8C:  // bad authentication method
      return Unauthenticated(m);
    case 0x85:  // client identifier not valid (IoT Core: policy's iot:Connect resource)
    case 0x87:  // not authorized
    case 0x8A:  // banned
      return PermissionDenied(m);
    case 0x81:  // malformed packet
    case 0x82:  // protocol error
    case 0x84:  // unsupported protocol version
    case 0x90:  // topic name invalid (the will topic)
    case 0x95:  // packet too large
    case 0x99:  // payload format invalid
    case 0x9A:  // retain not supported (will retain)
    case 0x9B:  // QoS not supported (will QoS)
      return FailedPrecondition(m);
    default:  // 0x80 unspecified, 0x88 unavailable, 0x89 busy, 0x97 quota, 0x9F rate...
      return Unavailable(m);
  }
}

Status ConnectFailureStatus(const std::string& where, int rc, int reason, const std::string& paho_message,
                            TcpProbe probe, const std::string& diagnosis) {
  if (reason >= 0x80) return ConnackRefusalStatus(where, reason);
  if (paho_message == kPahoConnackRefused && rc >= 0x80) return ConnackRefusalStatus(where, rc);
  const std::string detail =
      " (paho rc " + std::to_string(rc) + (paho_message.empty() ? "" : ", " + paho_message) + ")";
  if (paho_message == kPahoConnectTimeout) {
    return DeadlineExceeded(where + ": no CONNACK within the connect timeout" + detail);
  }
  if ((paho_message == kPahoTcpTlsFailure || paho_message == kPahoClosedBeforeConnack) && !diagnosis.empty()) {
    return Unauthenticated(where + ": TLS: " + diagnosis + detail);
  }
  if (paho_message == kPahoTcpTlsFailure && probe == TcpProbe::kTcpConnects) {
    // Paho C 1.3 passes up neither OpenSSL's verify result nor the alert
    // received, so which side refused is not known here.
    return Unauthenticated(where + ": TCP connects but the TLS handshake failed: a certificate was rejected" +
                           " and Paho does not say which side refused. The local identity check covers our own" +
                           " files; what it cannot see: the broker does not trust the CA that issued" +
                           " our certificate, or the certificate is revoked or not registered/active there" +
                           " (IoT Core), or the broker's certificate is not signed by our CA file or does not" +
                           " name the host in the URI" + detail);
  }
  if (paho_message == kPahoClosedBeforeConnack) {
    return Unauthenticated(where + ": the broker closed the connection after TLS, before CONNACK, without a" +
                           " reason: under TLS 1.3 that is how a broker refuses a client certificate (its CA not" +
                           " trusted there, revoked, or not registered/active on IoT Core)" + detail);
  }
  switch (rc) {
    case MQTTASYNC_NULL_PARAMETER:
    case MQTTASYNC_BAD_STRUCTURE:
    case MQTTASYNC_BAD_QOS:
    case MQTTASYNC_SSL_NOT_SUPPORTED:
    case MQTTASYNC_BAD_PROTOCOL:
    case MQTTASYNC_BAD_MQTT_OPTION:
    case MQTTASYNC_WRONG_MQTT_VERSION:
      return FailedPrecondition(where + ": Paho refused the connect options: " + mqtt::exception::error_str(rc) +
                                detail);
    default:
      return Unavailable(where + ": connect failed" + detail);
  }
}

Status ValidateSessionConfig(const SessionConfig& c) {
  auto uri = ParseBrokerUri(c.server_uri);  // ssl:// or mqtts:// only: mutual TLS
  if (!uri.ok()) return uri.status();
  if (c.client_id.empty() || c.client_id.size() > 128) {
    return InvalidArgument("client id '" + c.client_id + "' must be 1..128 bytes (AWS IoT Core)");
  }
  if (c.keepalive_s < 30 || c.keepalive_s > 1200) {
    return InvalidArgument("keepalive " + std::to_string(c.keepalive_s) + " s is outside AWS IoT Core's 30..1200 s");
  }
  if (c.connect_timeout.count() <= 0) {
    return InvalidArgument("connect timeout " + std::to_string(c.connect_timeout.count()) + " ms must be > 0");
  }
  for (const auto& p : c.alpn) {
    // RFC 7301 section 3.1: each protocol name is 1..255 bytes.
    if (p.empty() || p.size() > 255) return InvalidArgument("ALPN protocol '" + p + "' must be 1..255 bytes");
  }
  if (uri->port == 443 && c.alpn.empty()) {
    return InvalidArgument("broker URI '" + c.server_uri +
                           "': MQTT on port 443 needs ALPN (AWS IoT Core: \"x-amzn-mqtt-ca\")");
  }
  if (c.will) {
    if (Status s = topic::ValidatePublishTopic(c.will->topic); !s.ok()) return s.WithContext("will topic");
    if (c.will->qos != 0 && c.will->qos != 1) {
      return InvalidArgument("will qos " + std::to_string(c.will->qos) + " must be 0 or 1 (AWS IoT Core)");
    }
    if (c.will->payload.size() > 128 * 1024) {
      return InvalidArgument("will payload of " + std::to_string(c.will->payload.size()) +
                             " bytes exceeds AWS IoT Core's 128 KB");
    }
  }
  for (const auto* f : {&c.tls.ca_file, &c.tls.cert_file, &c.tls.key_file}) {
    if (!FileExists(*f)) return NotFound("TLS file '" + *f + "' does not exist");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Session>> MakePahoSession(const SessionConfig& config) {
  EF_RETURN_IF_ERROR(ValidateSessionConfig(config));
  try {
    return std::unique_ptr<Session>(new PahoSession(config));
  } catch (const mqtt::exception& e) {
    return InvalidArgument("MQTT client for '" + config.server_uri + "': " + e.what());
  }
}

}  // namespace edgeforge::link
