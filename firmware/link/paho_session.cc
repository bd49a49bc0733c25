#include "firmware/link/paho_session.h"

#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <mqtt/async_client.h>

#include "firmware/telemetry/topic.h"

namespace edgeforge::link {
namespace {

// MQTT 5 reason codes (OASIS MQTT 5.0 section 2.4) that a broker uses to refuse.
constexpr int kNotAuthorized = 0x87;
constexpr int kBadUserNameOrPassword = 0x86;

Status FromPahoFailure(const std::string& what, int rc, int reason) {
  std::string m = what + " failed: " + mqtt::exception::error_str(rc);
  if (reason > 0) {
    static const char kHex[] = "0123456789abcdef";
    const std::string hex{kHex[(reason >> 4) & 0xf], kHex[reason & 0xf]};
    m += " (MQTT 5 reason 0x" + hex + " " + mqtt::exception::reason_code_str(reason) + ")";
  }
  if (reason == kNotAuthorized || reason == kBadUserNameOrPassword) return PermissionDenied(m);
  return Unavailable(m);
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Owns the per-publish completion and deletes itself once it has run.
struct PublishContext {
  PublishDone done;
};

class PublishListener final : public mqtt::iaction_listener {
  void on_success(const mqtt::token& tok) override { Finish(tok, Status::Ok()); }
  void on_failure(const mqtt::token& tok) override {
    Finish(tok, FromPahoFailure("publish", tok.get_return_code(), tok.get_reason_code()));
  }
  static void Finish(const mqtt::token& tok, Status s) {
    auto* ctx = static_cast<PublishContext*>(tok.get_user_context());
    if (ctx == nullptr) return;
    if (ctx->done) ctx->done(std::move(s));
    delete ctx;
  }
};

class PahoSession final : public Session {
 public:
  explicit PahoSession(SessionConfig config)
      : config_(std::move(config)),
        client_(config_.server_uri, config_.client_id, mqtt::create_options(MQTTVERSION_5)) {
    client_.set_connection_lost_handler([this](const std::string& cause) {
      connected_ = false;
      std::lock_guard<std::mutex> lock(mu_);
      if (lost_) lost_(cause);
    });
    client_.set_message_callback([this](const mqtt::const_message_ptr& msg) { Dispatch(*msg); });
  }

  ~PahoSession() override {
    if (connected_) (void)DoDisconnect(Millis(1000));
  }

 private:
  Status DoConnect() override {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(config_.tls.ca_file);
    ssl.set_key_store(config_.tls.cert_file);
    ssl.set_private_key(config_.tls.key_file);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // check the broker's name against its certificate
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    if (!config_.alpn.empty()) ssl.set_alpn_protos(config_.alpn);
    // No ssl.set_error_handler(): Paho C++ 1.2 hands Paho C a context pointer
    // into the by-value connect_options of async_client::connect(), which is
    // gone when the handshake fails on Paho's thread (ASan: stack-use-after-scope).
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_5)
                    .clean_start(true)
                    .keep_alive_interval(std::chrono::seconds(config_.keepalive_s))
                    .connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(config_.connect_timeout))
                    .ssl(std::move(ssl))
                    .finalize();
    try {
      auto tok = client_.connect(opts);
      if (!tok->wait_for(config_.connect_timeout + Millis(1000))) {
        return DeadlineExceeded("connect to " + config_.server_uri + " timed out");
      }
    } catch (const mqtt::exception& e) {
      return FromPahoFailure("connect to " + config_.server_uri, e.get_return_code(), e.get_reason_code());
    }
    connected_ = true;
    return Status::Ok();
  }

  Status DoPublish(OutgoingMessage m, PublishDone done) override {
    if (m.qos != 0 && m.qos != 1) return InvalidArgument("qos must be 0 or 1 (AWS IoT Core)");
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
    auto* ctx = new PublishContext{std::move(done)};
    try {
      client_.publish(msg, ctx, listener_);
    } catch (const mqtt::exception& e) {
      delete ctx;
      return FromPahoFailure("publish", e.get_return_code(), e.get_reason_code());
    }
    return Status::Ok();
  }

  Status DoSubscribe(const std::string& filter, int qos, MessageHandler handler) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      handlers_.emplace_back(filter, std::move(handler));
    }
    try {
      auto tok = client_.subscribe(filter, qos);
      if (!tok->wait_for(config_.connect_timeout)) return DeadlineExceeded("subscribe " + filter);
      const mqtt::subscribe_response resp = tok->get_subscribe_response();  // by value
      for (auto rc : resp.get_reason_codes()) {
        if (rc >= 0x80) {
          return FromPahoFailure("subscribe " + filter, MQTTASYNC_FAILURE, static_cast<int>(rc));
        }
      }
    } catch (const mqtt::exception& e) {
      return FromPahoFailure("subscribe " + filter, e.get_return_code(), e.get_reason_code());
    }
    return Status::Ok();
  }

  Status DoDisconnect(Millis timeout) override {
    connected_ = false;
    try {
      client_.disconnect(static_cast<int>(timeout.count()))->wait_for(timeout + Millis(500));
    } catch (const mqtt::exception& e) {
      return FromPahoFailure("disconnect", e.get_return_code(), e.get_reason_code());
    }
    return Status::Ok();
  }

  bool DoIsConnected() const override { return connected_ && client_.is_connected(); }

  void DoOnConnectionLost(ConnectionLost cb) override {
    std::lock_guard<std::mutex> lock(mu_);
    lost_ = std::move(cb);
  }

  void Dispatch(const mqtt::message& msg) {
    IncomingMessage in;
    in.topic = msg.get_topic();
    in.payload = msg.get_payload_str();
    const auto& props = msg.get_properties();
    const size_t n = props.count(mqtt::property::USER_PROPERTY);
    for (size_t i = 0; i < n; ++i) {
      auto [k, v] = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
      in.user_properties.emplace_back(std::move(k), std::move(v));
    }
    MessageHandler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [filter, h] : handlers_) {
        if (topic::FilterMatches(filter, in.topic)) {
          handler = h;
          break;
        }
      }
    }
    if (handler) handler(in);  // outside the lock: a handler may subscribe
  }

  SessionConfig config_;
  mqtt::async_client client_;
  PublishListener listener_;
  std::atomic<bool> connected_{false};
  std::mutex mu_;  // guards handlers_ and lost_
  std::vector<std::pair<std::string, MessageHandler>> handlers_;
  ConnectionLost lost_;
};

}  // namespace

Status ValidateSessionConfig(const SessionConfig& c) {
  if (c.server_uri.rfind("ssl://", 0) != 0 && c.server_uri.rfind("mqtts://", 0) != 0) {
    return InvalidArgument("broker URI '" + c.server_uri + "' must start with ssl:// or mqtts:// (mutual TLS only)");
  }
  if (c.client_id.empty() || c.client_id.size() > 128) {
    return InvalidArgument("client id '" + c.client_id + "' must be 1..128 bytes (AWS IoT Core)");
  }
  if (c.keepalive_s < 30 || c.keepalive_s > 1200) {
    return InvalidArgument("keepalive " + std::to_string(c.keepalive_s) + " s is outside AWS IoT Core's 30..1200 s");
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
