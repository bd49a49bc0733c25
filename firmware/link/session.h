// The device's MQTT session, as device logic sees it. Paho lives behind this
// interface for the device binary (firmware/link/paho/paho_session.*); the
// simulator's event-loop transport (sim/transport/) plugs in here without
// touching device logic (DESIGN.md principle 1). Nothing here blocks: every
// call starts work and returns; outcomes come back through Dispatch().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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
  /// MQTT 5 last will (OASIS MQTT 5.0 section 3.1.2.5): the broker publishes
  /// it when the network connection closes without a DISCONNECT, including a
  /// takeover by a second connection with the same client id.
  struct Will {
    std::string topic;  // e.g. dt/<app>/<site>/<thing>/status
    std::string payload;
    int qos = 1;  // IoT Core: 0 or 1
    bool retain = false;
  };

  std::string server_uri;  // "ssl://host:8883"; host is also the TLS SNI name
  std::string client_id;   // AWS IoT Core: the thing name, <= 128 bytes
  TlsIdentity tls;
  int keepalive_s = 30;  // IoT Core accepts 30..1200
  Millis connect_timeout{10000};
  /// Port 443 on IoT Core needs ALPN "x-amzn-mqtt-ca"; empty = no ALPN.
  std::vector<std::string> alpn;
  std::optional<Will> will;
  /// MQTT 5 Clean Start. A session survives a disconnect only if
  /// `session_expiry_s` > 0 (MQTT 5.0 section 3.1.2.11.2).
  bool clean_start = true;
  uint32_t session_expiry_s = 0;
};

/// Checks a config against AWS IoT Core's rules before any connection attempt.
Status ValidateSessionConfig(const SessionConfig& config);

/// Connect failures are classified by code so that reconnect logic can back
/// off harder when retrying unchanged cannot help (PahoSession's mapping,
/// shown against mosquitto in tests/firmware/link/paho/session_itest.cc):
///   UNAUTHENTICATED     TCP connects but the TLS handshake fails (either side
///                       rejected the other's certificate), or the broker
///                       closes the connection after TLS and before CONNACK
///                       (TLS 1.3 shows a rejected client certificate only
///                       then), or CONNACK 0x86 bad user name or password /
///                       0x8C bad authentication method;
///   PERMISSION_DENIED   CONNACK 0x87 not authorized, 0x85 client identifier
///                       not valid, 0x8A banned: the identity is known, the
///                       policy says no;
///   FAILED_PRECONDITION CONNACK refusing this session's parameters (0x81,
///                       0x82, 0x84 version, 0x90 will topic, 0x95, 0x99,
///                       0x9A will retain, 0x9B will QoS);
///   UNAVAILABLE         TCP refused or unreachable, name not resolved, any
///                       other CONNACK refusal (0x88 server unavailable, 0x89
///                       busy, 0x97 quota exceeded, 0x9F connection rate);
///   DEADLINE_EXCEEDED   no CONNACK within connect_timeout (a black hole).
/// True for the first two: back off harder.
inline bool IsAuthFailure(const Status& s) {
  return s.code() == StatusCode::kUnauthenticated || s.code() == StatusCode::kPermissionDenied;
}

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

/// Completions (issue 9, "a session that never blocks"). Every callback a
/// session is given runs on the thread that calls Session::Dispatch() (the
/// device's own thread: Link::Poll calls it first thing), never on a
/// transport thread. Transports queue outcomes as they happen and Dispatch()
/// applies them, so device state (outbox, link, shadow) is only ever touched
/// by its own thread and needs no lock against the network.

/// Once per publish: OK on PUBACK (QoS 1) or hand-off (QoS 0), else why not
/// (PERMISSION_DENIED for an MQTT 5 "not authorized" PUBACK, UNAVAILABLE if
/// the connection dropped first or Disconnect() was called).
using PublishDone = std::function<void(Status)>;
/// Incoming PUBLISHes matching a subscription.
using MessageHandler = std::function<void(const IncomingMessage&)>;
/// Once per lost connection (never after Disconnect()). A broker's DISCONNECT
/// is reported with "DISCONNECT" and its reason code in lower-case hex
/// ("0x8e") in `cause`.
using ConnectionLost = std::function<void(const std::string& cause)>;

/// Whether a lost connection's cause is MQTT 5 reason 0x8E "Session taken
/// over": the broker (IoT Core, mosquitto) closed it because another client
/// connected with the same client id, i.e. two devices share one identity.
inline bool IsSessionTakenOver(const std::string& cause) {
  return cause.find("DISCONNECT") != std::string::npos && cause.find("0x8e") != std::string::npos;
}
/// Once per Connect(): OK once CONNACK accepted the session, else why not
/// (see IsAuthFailure); CANCELLED if Disconnect() came first.
using ConnectDone = std::function<void(Status)>;
/// Once per Subscribe(): OK when SUBACK granted the filter, else why not
/// (PERMISSION_DENIED for SUBACK 0x87, UNAVAILABLE if the connection dropped).
using SubscribeDone = std::function<void(Status)>;

class Session {
 public:
  /// Implementations drop queued callbacks: none runs once destruction has
  /// begun, so callbacks may capture objects that die with the session's owner.
  virtual ~Session() = default;

  /// Starts connecting and returns at once; `done` runs exactly once, from a
  /// later Dispatch(). FAILED_PRECONDITION (and no `done`) if already
  /// connected or connecting. Automatic reconnect is off: after a lost
  /// connection the owner decides when to call this again.
  Status Connect(ConnectDone done) { return DoConnect(std::move(done)); }
  /// While connected: sends SUBSCRIBE and returns at once; `done` runs once
  /// from a later Dispatch(). Messages matching `filter` reach `handler`
  /// from Dispatch(). A second call with the same filter replaces its handler
  /// (re-subscribe after a reconnect with clean_start). UNAVAILABLE at once
  /// (and no `done`) while disconnected.
  Status Subscribe(const std::string& filter, int qos, MessageHandler handler, SubscribeDone done) {
    return DoSubscribe(filter, qos, std::move(handler), std::move(done));
  }
  /// Queues a publish and returns at once; `done` runs exactly once from a
  /// later Dispatch(). While disconnected: UNAVAILABLE at once and `done`
  /// never runs (no offline buffering: the durable outbox keeps the message).
  Status Publish(OutgoingMessage message, PublishDone done) { return DoPublish(std::move(message), std::move(done)); }
  /// Starts a clean DISCONNECT (no will) and returns at once. Publishes still
  /// in flight complete with UNAVAILABLE and an open Connect() with
  /// CANCELLED, from later Dispatch() calls; no ConnectionLost follows.
  /// Waiting for PUBACKs first is the owner's job (Link::Stop polls).
  void Disconnect() { DoDisconnect(); }
  /// True between an accepted CONNACK and a loss or Disconnect(), as far as
  /// the events dispatched so far tell.
  bool IsConnected() const { return DoIsConnected(); }
  /// `cb` runs once per lost connection (not after Disconnect()), from
  /// Dispatch(), after the in-flight publishes got their UNAVAILABLE.
  void OnConnectionLost(ConnectionLost cb) { DoOnConnectionLost(std::move(cb)); }
  /// Runs, on the calling thread, every callback queued since the last call,
  /// in the order the transport saw the events. Returns how many ran. Cheap
  /// when nothing is queued.
  size_t Dispatch() { return DoDispatch(); }
  /// Optional: `wake` is called (on a transport thread, possibly with
  /// transport locks held: it must only signal, e.g. notify a condition
  /// variable or write an eventfd) whenever a callback is queued, so that a
  /// device loop can sleep until there is something to Dispatch().
  void SetWakeup(std::function<void()> wake) { DoSetWakeup(std::move(wake)); }

 private:
  virtual Status DoConnect(ConnectDone done) = 0;
  virtual Status DoSubscribe(const std::string& filter, int qos, MessageHandler handler, SubscribeDone done) = 0;
  virtual Status DoPublish(OutgoingMessage message, PublishDone done) = 0;
  virtual void DoDisconnect() = 0;
  virtual bool DoIsConnected() const = 0;
  virtual void DoOnConnectionLost(ConnectionLost cb) = 0;
  virtual size_t DoDispatch() = 0;
  virtual void DoSetWakeup(std::function<void()> wake) { (void)wake; }
};

/// For tools and tests that have nothing else to do while connecting (the
/// verifier's first connect, CLI probes): Connect(), then Dispatch() every
/// millisecond on `clock` until `done` ran or `timeout` passed
/// (DEADLINE_EXCEEDED, and the attempt is cancelled with Disconnect()).
/// Device logic never calls these: Link drives the session from Poll().
Status ConnectAndWait(Session& session, Clock& clock, Millis timeout);
/// The same for one Subscribe().
Status SubscribeAndWait(Session& session, Clock& clock, Millis timeout, const std::string& filter, int qos,
                        MessageHandler handler);
/// Publishes and waits for the outcome (QoS 1: the PUBACK).
Status PublishAndWait(Session& session, Clock& clock, Millis timeout, OutgoingMessage message);

}  // namespace edgeforge::link
