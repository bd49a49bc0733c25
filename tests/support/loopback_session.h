// An in-process MQTT 5 loopback for deterministic Link and Device tests
// (issue 9): LoopbackSession is a link::Session that turns every call into
// real MQTT bytes (tests/support/mqtt_wire.h) on an in-process connection, and
// LoopbackBroker is the peer that decodes them and answers with bytes, as the
// test scripts it (refuse a CONNACK, hold it, drop the connection, refuse a
// topic's PUBACKs with 0x87, hold PUBACKs, deliver PUBLISHes).
//
// Single-threaded and deterministic: nothing moves by itself. Bytes cross when
// the broker is pumped (by the test, or by the session's Dispatch(), which
// pumps its broker first), and every session callback runs from Dispatch(),
// per firmware/link/session.h. Connect timeouts follow the injected Clock,
// so a ManualClock decides when an attempt is abandoned.
//
// A connection is one "TCP stream": two byte queues and an open flag. Each
// Connect() opens a new one; an abandoned attempt's connection is closed, so
// a CONNACK the broker releases for it later (a stale CONNACK) lands nowhere
// but in stale_connacks(), as it would on a real closed socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "tests/support/mqtt_wire.h"

namespace edgeforge::testing {

/// One in-process stream between a LoopbackSession and a LoopbackBroker.
struct LoopbackConnection {
  uint64_t id = 0;        // 1, 2, ... in the order the session opened them
  std::string to_broker;  // bytes written by the session, not yet read by the broker
  std::string to_client;  // bytes written by the broker, not yet read by the session
  bool open = true;       // false once either side closed it
  bool closed_by_broker = false;
  mqtt::Decoder broker_decoder;  // the broker's view of to_broker
};

/// CONNACK reason code -> Status, as session.h documents PahoSession's mapping.
Status ConnackStatus(uint8_t reason);
/// MQTT topic filter matching (section 4.7): '+' one level, '#' the rest.
bool TopicMatches(const std::string& filter, const std::string& topic);

class LoopbackBroker {
 public:
  /// What the broker received, in order, tagged with the connection.
  struct Received {
    uint64_t connection = 0;
    mqtt::Packet packet;
  };

  // ---- scripting (takes effect for packets processed from now on)

  /// Refuses TCP: the next Connect()s fail with UNAVAILABLE, no CONNECT sent.
  void SetDown(bool down) { down_ = down; }
  /// The reason code of every CONNACK from now on (0x00 accepts).
  void SetConnackReason(uint8_t reason) { connack_reason_ = reason; }
  /// Reason codes for the next CONNECTs, used first and one each (then SetConnackReason's).
  void QueueConnackReasons(std::vector<uint8_t> reasons);
  /// Closes the next `n` connections on CONNECT without a CONNACK: how a
  /// TLS handshake failure / rejected client certificate looks to the session
  /// (session.h: UNAUTHENTICATED).
  void FailHandshakes(int n) { fail_handshakes_ = n; }
  /// While holding, CONNACKs are kept instead of written (the CONNECT is recorded).
  void HoldConnacks(bool hold) { hold_connacks_ = hold; }
  /// Writes the held CONNACKs to their connections; returns how many reached
  /// an open one (the others are stale: counted in stale_connacks()).
  size_t ReleaseConnacks();
  /// Closes the open connection without a DISCONNECT (network loss). The
  /// session sees it on its next Dispatch(). Held PUBACKs for it are dropped.
  void DropConnection();
  /// Sends DISCONNECT with `reason` (0x8E: session taken over) on the open
  /// connection and closes it, as a broker does when a second client
  /// connects with the same client id.
  void SendDisconnect(uint8_t reason);
  /// PUBACK reason for publishes to `topic` (0x87 not authorized, ...); 0 resets.
  void SetPubackReason(const std::string& topic, uint8_t reason);
  /// While holding, PUBACKs queue (in order) until ReleasePubacks().
  void HoldPubacks(bool hold) { hold_pubacks_ = hold; }
  /// Writes up to `n` held PUBACKs, oldest first; returns how many were written.
  size_t ReleasePubacks(size_t n = SIZE_MAX);
  /// SUBACK reason for SUBSCRIBEs to `filter` (0x87, 0x80, ...); default: the granted QoS.
  void SetSubackReason(const std::string& filter, uint8_t reason) { suback_reasons_[filter] = reason; }
  /// Sends `p` to the client on the open connection if one of its
  /// subscriptions matches (the packet id is assigned here for QoS 1).
  /// FAILED_PRECONDITION if there is no open connection, NOT_FOUND if no
  /// subscription matches.
  Status Deliver(mqtt::Publish p);

  // ---- moving bytes

  /// Reads and answers everything the session wrote; returns packets processed.
  size_t Pump();

  // ---- observations

  const std::vector<Received>& received() const { return received_; }
  /// Every PUBLISH received, in order.
  std::vector<mqtt::Publish> publishes() const;
  /// How many packets of `type` were received.
  size_t Count(mqtt::PacketType type) const;
  size_t held_pubacks() const { return held_pubacks_.size(); }
  size_t held_connacks() const { return held_connacks_.size(); }
  size_t stale_connacks() const { return stale_connacks_; }
  /// PUBACKs the session sent for QoS 1 deliveries.
  size_t client_pubacks() const { return client_pubacks_; }
  /// Protocol errors seen in the session's bytes (a test expects none).
  const std::vector<std::string>& errors() const { return errors_; }
  /// Wills the broker would have published (connections closed without DISCONNECT).
  const std::vector<mqtt::Will>& wills_published() const { return wills_; }
  bool connected() const { return current_ && current_->open && accepted_.count(current_->id) > 0; }

 private:
  friend class LoopbackSession;
  /// The session opens a connection (nullptr: refused, the broker is down).
  std::shared_ptr<LoopbackConnection> Open();
  void Handle(LoopbackConnection& c, mqtt::Packet p);
  void Write(LoopbackConnection& c, const mqtt::Packet& p);
  void Closed(LoopbackConnection& c);
  uint8_t NextConnackReason();

  struct HeldPuback {
    std::shared_ptr<LoopbackConnection> connection;
    mqtt::Puback puback;
  };
  struct HeldConnack {
    std::shared_ptr<LoopbackConnection> connection;
    mqtt::Connack connack;
  };

  bool down_ = false;
  uint8_t connack_reason_ = 0;
  std::deque<uint8_t> queued_connack_reasons_;
  int fail_handshakes_ = 0;
  bool hold_connacks_ = false;
  bool hold_pubacks_ = false;
  std::map<std::string, uint8_t> puback_reasons_;
  std::map<std::string, uint8_t> suback_reasons_;
  std::vector<std::shared_ptr<LoopbackConnection>> connections_;  // not yet fully read
  std::shared_ptr<LoopbackConnection> current_;                   // the newest
  uint64_t next_connection_id_ = 1;
  std::set<uint64_t> accepted_;  // connections whose CONNACK accepted
  std::map<uint64_t, std::optional<mqtt::Will>> wills_by_connection_;
  std::map<uint64_t, std::vector<std::string>> subscriptions_;  // per connection
  std::deque<HeldPuback> held_pubacks_;
  std::deque<HeldConnack> held_connacks_;
  uint16_t next_packet_id_ = 1;
  size_t stale_connacks_ = 0;
  size_t client_pubacks_ = 0;
  std::vector<Received> received_;
  std::vector<std::string> errors_;
  std::vector<mqtt::Will> wills_;
};

class LoopbackSession final : public link::Session {
 public:
  /// `config` supplies the CONNECT (client id, keepalive, clean start,
  /// session expiry, will) and connect_timeout. The broker must outlive the session.
  LoopbackSession(LoopbackBroker& broker, Clock& clock, link::SessionConfig config);
  ~LoopbackSession() override;

  /// When false, Dispatch() does not pump the broker: the test moves bytes
  /// with LoopbackBroker::Pump() itself (default true).
  void set_auto_pump(bool on) { auto_pump_ = on; }
  /// Connections opened so far (every Connect() that reached the broker).
  uint64_t connections() const { return connections_; }

 private:
  enum class State : uint8_t {
    kDisconnected,  // no connection (initially, after a loss or Disconnect())
    kConnecting,    // CONNECT written, waiting for CONNACK until the deadline
    kConnected,     // CONNACK accepted
  };
  struct PendingSubscribe {
    std::string filter;
    link::SubscribeDone done;
  };

  Status DoConnect(link::ConnectDone done) override;
  Status DoSubscribe(const std::string& filter, int qos, link::MessageHandler handler,
                     link::SubscribeDone done) override;
  Status DoPublish(link::OutgoingMessage message, link::PublishDone done) override;
  void DoDisconnect() override;
  bool DoIsConnected() const override { return state_ == State::kConnected; }
  void DoOnConnectionLost(link::ConnectionLost cb) override { lost_ = std::move(cb); }
  size_t DoDispatch() override;
  void DoSetWakeup(std::function<void()> wake) override { wake_ = std::move(wake); }

  void Queue(std::function<void()> cb);
  /// Writes a packet to the current connection; an encoding error (a field
  /// MQTT cannot carry) is returned to the caller and nothing is written.
  Status Write(const mqtt::Packet& p);
  /// Reads what the broker wrote and turns it into queued callbacks.
  void Read();
  void OnPacket(mqtt::Packet p);
  /// The connection ended (`status` for a pending connect, `cause` for a loss).
  void Ended(const Status& status, const std::string& cause, bool report_loss);
  uint16_t NextPacketId();

  LoopbackBroker& broker_;
  Clock& clock_;
  link::SessionConfig config_;
  bool auto_pump_ = true;
  State state_ = State::kDisconnected;
  std::shared_ptr<LoopbackConnection> connection_;
  mqtt::Decoder decoder_;
  link::ConnectDone connect_done_;
  Micros connect_deadline_{0};
  Micros last_write_{0};
  std::map<uint16_t, link::PublishDone> in_flight_;
  std::map<uint16_t, PendingSubscribe> pending_subscribes_;
  std::map<std::string, link::MessageHandler> handlers_;
  link::ConnectionLost lost_;
  std::function<void()> wake_;
  std::deque<std::function<void()>> queue_;
  uint16_t next_packet_id_ = 1;
  uint64_t connections_ = 0;
};

}  // namespace edgeforge::testing
