// The device's MQTT session, as device logic sees it. Paho lives behind this
// interface (firmware/link/paho_session.*); an event-loop transport can plug in
// here without touching device logic (DESIGN.md principle 1).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::link {

struct TlsIdentity {
  std::string ca_file;    // trust anchor for the broker's certificate
  std::string cert_file;  // client certificate (CN = thing name)
  std::string key_file;   // client private key
};

struct SessionConfig {
  std::string server_uri;  // "ssl://host:8883"; host is also the TLS SNI name
  std::string client_id;   // AWS IoT Core: the thing name, <= 128 bytes
  TlsIdentity tls;
  int keepalive_s = 30;    // IoT Core accepts 30..1200
  Millis connect_timeout{10000};
  /// Port 443 on IoT Core needs ALPN "x-amzn-mqtt-ca"; empty = no ALPN.
  std::vector<std::string> alpn;
};

/// Checks a config against AWS IoT Core's rules before any connection attempt.
Status ValidateSessionConfig(const SessionConfig& config);

using UserProperties = std::vector<std::pair<std::string, std::string>>;

struct OutgoingMessage {
  std::string topic;
  std::string payload;
  int qos = 1;  // IoT Core: 0 or 1
  UserProperties user_properties;
};

struct IncomingMessage {
  std::string topic;
  std::string payload;
  UserProperties user_properties;
  /// The first user property called `name`, or nullptr.
  const std::string* UserProperty(const std::string& name) const {
    for (const auto& [k, v] : user_properties) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

/// Called once per publish: OK on PUBACK (QoS 1) or hand-off (QoS 0), else why
/// not (PERMISSION_DENIED for an MQTT 5 "not authorized" PUBACK, UNAVAILABLE
/// if the connection dropped first).
using PublishDone = std::function<void(Status)>;
using MessageHandler = std::function<void(const IncomingMessage&)>;
using ConnectionLost = std::function<void(const std::string& cause)>;

class Session {
 public:
  virtual ~Session() = default;
  /// Blocks until CONNACK or `config.connect_timeout`.
  Status Connect() { return DoConnect(); }
  /// Queues a publish; `done` runs later on a transport thread.
  Status Publish(OutgoingMessage message, PublishDone done) {
    return DoPublish(std::move(message), std::move(done));
  }
  /// Blocks until SUBACK; messages arrive on `handler` (transport thread).
  Status Subscribe(const std::string& filter, int qos, MessageHandler handler) {
    return DoSubscribe(filter, qos, std::move(handler));
  }
  Status Disconnect(Millis timeout) { return DoDisconnect(timeout); }
  bool IsConnected() const { return DoIsConnected(); }
  void OnConnectionLost(ConnectionLost cb) { DoOnConnectionLost(std::move(cb)); }

 private:
  virtual Status DoConnect() = 0;
  virtual Status DoPublish(OutgoingMessage message, PublishDone done) = 0;
  virtual Status DoSubscribe(const std::string& filter, int qos, MessageHandler handler) = 0;
  virtual Status DoDisconnect(Millis timeout) = 0;
  virtual bool DoIsConnected() const = 0;
  virtual void DoOnConnectionLost(ConnectionLost cb) = 0;
};

}  // namespace edgeforge::link
