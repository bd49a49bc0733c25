#include "tests/support/loopback_session.h"

#include <algorithm>
#include <utility>

namespace edgeforge::testing {
namespace {

std::string Hex2(unsigned v) {
  static const char kHex[] = "0123456789abcdef";
  return {kHex[(v >> 4) & 0xf], kHex[v & 0xf]};
}

/// Publish and subscribe outcomes as PahoSession reports them
/// (paho_session.cc FromPahoFailure): 0x87 not authorized and 0x86 are
/// PERMISSION_DENIED, any other refusal UNAVAILABLE; codes below 0x80 succeed
/// (0x10 "no matching subscribers" is a success, 3.4.2.1).
Status AckStatus(const std::string& what, uint8_t reason) {
  if (reason < 0x80) return Status::Ok();
  const std::string m = what + " refused by the broker (MQTT 5 reason 0x" + Hex2(reason) + ")";
  if (reason == 0x87 || reason == 0x86) return PermissionDenied(m);
  return Unavailable(m);
}

}  // namespace

Status ConnackStatus(uint8_t reason) {
  const std::string m = "loopback: broker refused the connection (CONNACK 0x" + Hex2(reason) + ")";
  switch (reason) {
    case 0x00:
      return Status::Ok();
    case 0x86:
    case 0x8C:
      return Unauthenticated(m);
    case 0x85:
    case 0x87:
    case 0x8A:
      return PermissionDenied(m);
    case 0x81:
    case 0x82:
    case 0x84:
    case 0x90:
    case 0x95:
    case 0x99:
    case 0x9A:
    case 0x9B:
      return FailedPrecondition(m);
    default:
      return Unavailable(m);
  }
}

bool TopicMatches(const std::string& filter, const std::string& topic) {
  size_t f = 0;
  size_t t = 0;
  while (f <= filter.size()) {
    const size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view level(filter.data() + f, f_end - f);
    if (level == "#") return true;  // the parent level and everything below (4.7.1.2)
    if (t > topic.size()) return false;
    const size_t t_end = std::min(topic.find('/', t), topic.size());
    if (level != "+" && level != std::string_view(topic.data() + t, t_end - t)) return false;
    f = f_end + 1;
    t = t_end + 1;
    if (f > filter.size()) return t > topic.size();
  }
  return false;
}

// ------------------------------------------------------------------ broker

void LoopbackBroker::QueueConnackReasons(std::vector<uint8_t> reasons) {
  queued_connack_reasons_.insert(queued_connack_reasons_.end(), reasons.begin(), reasons.end());
}

uint8_t LoopbackBroker::NextConnackReason() {
  if (queued_connack_reasons_.empty()) return connack_reason_;
  const uint8_t r = queued_connack_reasons_.front();
  queued_connack_reasons_.pop_front();
  return r;
}

void LoopbackBroker::SetPubackReason(const std::string& topic, uint8_t reason) {
  if (reason == 0) {
    puback_reasons_.erase(topic);
  } else {
    puback_reasons_[topic] = reason;
  }
}

std::shared_ptr<LoopbackConnection> LoopbackBroker::Open() {
  if (down_) return nullptr;
  auto c = std::make_shared<LoopbackConnection>();
  c->id = next_connection_id_++;
  connections_.push_back(c);
  current_ = c;
  return c;
}

void LoopbackBroker::Write(LoopbackConnection& c, const mqtt::Packet& p) {
  auto bytes = mqtt::Encode(p);
  if (!bytes.ok()) {
    errors_.push_back("broker could not encode " + std::string(mqtt::PacketName(mqtt::TypeOf(p))) + ": " +
                      bytes.status().ToString());
    return;
  }
  if (c.open) c.to_client += *bytes;
}

size_t LoopbackBroker::ReleaseConnacks() {
  size_t reached = 0;
  while (!held_connacks_.empty()) {
    HeldConnack h = std::move(held_connacks_.front());
    held_connacks_.pop_front();
    if (!h.connection->open) {
      ++stale_connacks_;  // the session abandoned that attempt: the bytes go nowhere
      continue;
    }
    Write(*h.connection, h.connack);
    if (h.connack.reason == 0) {
      accepted_.insert(h.connection->id);
    } else {
      h.connection->open = false;  // 4.13: the server closes after a refusal
      h.connection->closed_by_broker = true;
    }
    ++reached;
  }
  return reached;
}

void LoopbackBroker::DropConnection() {
  if (!current_ || !current_->open) return;
  current_->open = false;
  current_->closed_by_broker = true;
  const uint64_t id = current_->id;
  held_pubacks_.erase(std::remove_if(held_pubacks_.begin(), held_pubacks_.end(),
                                     [id](const HeldPuback& h) { return h.connection->id == id; }),
                      held_pubacks_.end());
}

void LoopbackBroker::SendDisconnect(uint8_t reason) {
  if (!current_ || !current_->open) return;
  Write(*current_, mqtt::Disconnect{reason});
  DropConnection();
}

size_t LoopbackBroker::ReleasePubacks(size_t n) {
  size_t written = 0;
  while (written < n && !held_pubacks_.empty()) {
    HeldPuback h = std::move(held_pubacks_.front());
    held_pubacks_.pop_front();
    if (!h.connection->open) continue;
    Write(*h.connection, h.puback);
    ++written;
  }
  return written;
}

Status LoopbackBroker::Deliver(mqtt::Publish p) {
  if (!connected()) return FailedPrecondition("loopback broker: Deliver with no accepted connection open");
  const auto& subs = subscriptions_[current_->id];
  if (std::none_of(subs.begin(), subs.end(), [&](const std::string& f) { return TopicMatches(f, p.topic); })) {
    return NotFound("loopback broker: no subscription matches '" + p.topic + "'");
  }
  if (p.qos > 0) {
    p.packet_id = next_packet_id_++;
    if (next_packet_id_ == 0) next_packet_id_ = 1;
  }
  Write(*current_, p);
  return Status::Ok();
}

void LoopbackBroker::Handle(LoopbackConnection& c, mqtt::Packet packet) {
  received_.push_back({c.id, packet});
  if (auto* connect = std::get_if<mqtt::Connect>(&packet)) {
    if (fail_handshakes_ > 0) {
      --fail_handshakes_;
      c.open = false;  // as a TLS alert would: no CONNACK
      c.closed_by_broker = true;
      return;
    }
    wills_by_connection_[c.id] = connect->will;
    mqtt::Connack ack{false, NextConnackReason()};
    if (hold_connacks_) {
      for (auto& conn : connections_) {
        if (conn->id == c.id) held_connacks_.push_back({conn, ack});
      }
      return;
    }
    Write(c, ack);
    if (ack.reason == 0) {
      accepted_.insert(c.id);
    } else {
      c.open = false;
      c.closed_by_broker = true;
    }
  } else if (auto* publish = std::get_if<mqtt::Publish>(&packet)) {
    if (publish->qos == 0) return;
    const auto it = puback_reasons_.find(publish->topic);
    mqtt::Puback ack{publish->packet_id, it == puback_reasons_.end() ? uint8_t{0} : it->second};
    if (hold_pubacks_) {
      for (auto& conn : connections_) {
        if (conn->id == c.id) held_pubacks_.push_back({conn, ack});
      }
      return;
    }
    Write(c, ack);
  } else if (auto* subscribe = std::get_if<mqtt::Subscribe>(&packet)) {
    mqtt::Suback ack{subscribe->packet_id, {}};
    for (const auto& f : subscribe->filters) {
      const auto it = suback_reasons_.find(f.filter);
      const uint8_t reason = it == suback_reasons_.end() ? static_cast<uint8_t>(f.qos()) : it->second;
      if (reason < 0x80) subscriptions_[c.id].push_back(f.filter);
      ack.reasons.push_back(reason);
    }
    Write(c, ack);
  } else if (std::holds_alternative<mqtt::Pingreq>(packet)) {
    Write(c, mqtt::Pingresp{});
  } else if (std::holds_alternative<mqtt::Disconnect>(packet)) {
    wills_by_connection_.erase(c.id);  // 3.14.4: a normal DISCONNECT discards the will
    c.open = false;
  } else if (std::holds_alternative<mqtt::Puback>(packet)) {
    ++client_pubacks_;
  } else {
    errors_.push_back("connection " + std::to_string(c.id) + ": a client does not send " +
                      mqtt::PacketName(mqtt::TypeOf(packet)));
  }
}

void LoopbackBroker::Closed(LoopbackConnection& c) {
  // A will is published unless a DISCONNECT removed it (3.1.2.5, 3.14.4).
  const auto it = wills_by_connection_.find(c.id);
  if (it != wills_by_connection_.end() && it->second && accepted_.count(c.id) > 0) wills_.push_back(*it->second);
  wills_by_connection_.erase(c.id);
  subscriptions_.erase(c.id);
  accepted_.erase(c.id);
}

size_t LoopbackBroker::Pump() {
  size_t processed = 0;
  const auto connections = connections_;  // Handle may not add, but keep iteration simple
  for (const auto& c : connections) {
    if (!c->to_broker.empty()) {
      c->broker_decoder.Feed(c->to_broker);
      c->to_broker.clear();
    }
    // Bytes written before a close still arrive (as data before a FIN).
    while (true) {
      auto next = c->broker_decoder.Next();
      if (!next.ok()) {
        errors_.push_back("connection " + std::to_string(c->id) + ": " + next.status().ToString());
        c->open = false;
        c->closed_by_broker = true;
        break;
      }
      if (!next->has_value()) break;
      if (c->closed_by_broker) break;  // the broker closed it: later bytes are not read
      ++processed;
      Handle(*c, std::move(**next));
    }
    if (!c->open) {
      Closed(*c);
      connections_.erase(std::remove(connections_.begin(), connections_.end(), c), connections_.end());
    }
  }
  return processed;
}

std::vector<mqtt::Publish> LoopbackBroker::publishes() const {
  std::vector<mqtt::Publish> out;
  for (const auto& r : received_) {
    if (const auto* p = std::get_if<mqtt::Publish>(&r.packet)) out.push_back(*p);
  }
  return out;
}

size_t LoopbackBroker::Count(mqtt::PacketType type) const {
  return static_cast<size_t>(std::count_if(received_.begin(), received_.end(),
                                           [type](const Received& r) { return mqtt::TypeOf(r.packet) == type; }));
}

// ----------------------------------------------------------------- session

LoopbackSession::LoopbackSession(LoopbackBroker& broker, Clock& clock, link::SessionConfig config)
    : broker_(broker), clock_(clock), config_(std::move(config)) {}

LoopbackSession::~LoopbackSession() {
  queue_.clear();                              // session.h: no callback runs once destruction has begun
  if (connection_) connection_->open = false;  // no DISCONNECT: the broker publishes the will
}

void LoopbackSession::Queue(std::function<void()> cb) {
  queue_.push_back(std::move(cb));
  if (wake_) wake_();
}

uint16_t LoopbackSession::NextPacketId() {
  // 2.2.1: an id is free again once its acknowledgement arrived.
  for (int tries = 0; tries < 65536; ++tries) {
    const uint16_t id = next_packet_id_;
    next_packet_id_ = static_cast<uint16_t>(next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1);
    if (in_flight_.count(id) == 0 && pending_subscribes_.count(id) == 0) return id;
  }
  return 0;  // all in use: Encode rejects id 0
}

Status LoopbackSession::Write(const mqtt::Packet& p) {
  auto bytes = mqtt::Encode(p);
  if (!bytes.ok()) return bytes.status();
  if (connection_ && connection_->open) connection_->to_broker += *bytes;
  last_write_ = clock_.Monotonic();
  return Status::Ok();
}

Status LoopbackSession::DoConnect(link::ConnectDone done) {
  if (state_ != State::kDisconnected) return FailedPrecondition("loopback: Connect while connected or connecting");
  auto c = broker_.Open();
  if (!c) {
    Queue([done = std::move(done)] { done(Unavailable("loopback: TCP connection refused (broker down)")); });
    return Status::Ok();
  }
  ++connections_;
  connection_ = std::move(c);
  decoder_ = mqtt::Decoder();
  state_ = State::kConnecting;
  connect_done_ = std::move(done);
  connect_deadline_ = clock_.Monotonic() + std::chrono::duration_cast<Micros>(config_.connect_timeout);
  mqtt::Connect connect;
  connect.client_id = config_.client_id;
  connect.keepalive_s = static_cast<uint16_t>(config_.keepalive_s);
  connect.clean_start = config_.clean_start;
  connect.session_expiry_s = config_.session_expiry_s;
  if (config_.will)
    connect.will = mqtt::Will{config_.will->topic, config_.will->payload, config_.will->qos, config_.will->retain};
  Status written = Write(connect);
  if (!written.ok()) {
    Ended(written.WithContext("loopback CONNECT"), "", false);
  }
  return Status::Ok();
}

Status LoopbackSession::DoSubscribe(const std::string& filter, int qos, link::MessageHandler handler,
                                    link::SubscribeDone done) {
  if (state_ != State::kConnected) return Unavailable("loopback: Subscribe '" + filter + "' while disconnected");
  mqtt::Subscribe s;
  s.packet_id = NextPacketId();
  s.filters.push_back({filter, static_cast<uint8_t>(qos)});
  EF_RETURN_IF_ERROR(Write(s));
  handlers_[filter] = std::move(handler);
  pending_subscribes_[s.packet_id] = {filter, std::move(done)};
  return Status::Ok();
}

Status LoopbackSession::DoPublish(link::OutgoingMessage message, link::PublishDone done) {
  if (state_ != State::kConnected) return Unavailable("loopback: Publish to " + message.topic + " while disconnected");
  mqtt::Publish p;
  p.topic = std::move(message.topic);
  p.payload = std::move(message.payload);
  p.qos = message.qos;
  p.user_properties = std::move(message.user_properties);
  if (p.qos > 0) p.packet_id = NextPacketId();
  EF_RETURN_IF_ERROR(Write(p));
  if (p.qos == 0) {
    Queue([done = std::move(done)] { done(Status::Ok()); });  // QoS 0: done at hand-off
  } else {
    in_flight_[p.packet_id] = std::move(done);
  }
  return Status::Ok();
}

void LoopbackSession::DoDisconnect() {
  if (state_ == State::kConnected) {
    (void)Write(mqtt::Disconnect{});
    connection_->open = false;
    Ended(Status::Ok(), "loopback: Disconnect()", false);
  } else if (state_ == State::kConnecting) {
    connection_->open = false;  // the broker may still CONNACK it: stale
    Ended(Status(StatusCode::kCancelled, "loopback: Disconnect() before the CONNACK"), "", false);
  }
}

void LoopbackSession::Ended(const Status& status, const std::string& cause, bool report_loss) {
  const std::string why = cause.empty() ? status.ToString() : cause;
  for (auto& [id, done] : in_flight_) {
    Queue([done = std::move(done), why] { done(Unavailable("loopback: connection ended before the PUBACK: " + why)); });
  }
  in_flight_.clear();
  for (auto& [id, sub] : pending_subscribes_) {
    Queue([done = std::move(sub.done), why, filter = sub.filter] {
      done(Unavailable("loopback: connection ended before the SUBACK for " + filter + ": " + why));
    });
  }
  pending_subscribes_.clear();
  if (state_ == State::kConnecting && connect_done_) {
    Queue([done = std::move(connect_done_), status] { done(status); });
  }
  connect_done_ = nullptr;
  if (state_ == State::kConnected && report_loss && lost_) {
    Queue([this, why] {
      if (lost_) lost_(why);
    });
  }
  state_ = State::kDisconnected;
  connection_.reset();
}

void LoopbackSession::OnPacket(mqtt::Packet packet) {
  if (auto* ack = std::get_if<mqtt::Connack>(&packet)) {
    if (state_ != State::kConnecting) return;  // 3.2: one CONNACK per connection; a second is ignored
    if (ack->reason == 0) {
      state_ = State::kConnected;
      Queue([done = std::move(connect_done_)] { done(Status::Ok()); });
      connect_done_ = nullptr;
    } else {
      connection_->open = false;
      Ended(ConnackStatus(ack->reason), "", false);
    }
  } else if (auto* puback = std::get_if<mqtt::Puback>(&packet)) {
    const auto it = in_flight_.find(puback->packet_id);
    if (it == in_flight_.end()) return;  // not ours (anymore): 4.3.2 allows ignoring it
    Queue([done = std::move(it->second), reason = puback->reason] { done(AckStatus("loopback: publish", reason)); });
    in_flight_.erase(it);
  } else if (auto* suback = std::get_if<mqtt::Suback>(&packet)) {
    const auto it = pending_subscribes_.find(suback->packet_id);
    if (it == pending_subscribes_.end()) return;
    const uint8_t reason = suback->reasons.empty() ? 0x80 : suback->reasons.front();
    Queue([done = std::move(it->second.done), reason, filter = it->second.filter] {
      done(AckStatus("loopback: subscribe " + filter, reason));
    });
    pending_subscribes_.erase(it);
  } else if (auto* publish = std::get_if<mqtt::Publish>(&packet)) {
    if (publish->qos == 1) (void)Write(mqtt::Puback{publish->packet_id, 0});
    for (const auto& [filter, handler] : handlers_) {
      if (!TopicMatches(filter, publish->topic)) continue;
      link::IncomingMessage m{publish->topic, publish->payload, publish->user_properties};
      Queue([handler = handler, m = std::move(m)] { handler(m); });
      break;  // one delivery per PUBLISH, as the broker sends one
    }
  } else if (auto* d = std::get_if<mqtt::Disconnect>(&packet)) {
    connection_->open = false;
    Ended(Unavailable("loopback: broker sent DISCONNECT 0x" + Hex2(d->reason)),
          "broker sent DISCONNECT 0x" + Hex2(d->reason), true);
  }
  // PINGRESP: nothing to do.
}

void LoopbackSession::Read() {
  if (!connection_) return;
  if (!connection_->to_client.empty()) {
    decoder_.Feed(connection_->to_client);
    connection_->to_client.clear();
  }
  while (connection_) {
    auto next = decoder_.Next();
    if (!next.ok()) {
      connection_->open = false;
      Ended(Unavailable("loopback: malformed bytes from the broker: " + next.status().ToString()),
            "malformed bytes from the broker", true);
      return;
    }
    if (!next->has_value()) break;
    OnPacket(std::move(**next));
  }
  if (connection_ && !connection_->open) {
    // Closed by the broker. Before a CONNACK it looks like a rejected TLS
    // handshake (session.h: UNAUTHENTICATED); after, a lost connection.
    Ended(Unauthenticated("loopback: broker closed the connection before the CONNACK (TLS handshake failure)"),
          "loopback: connection closed by the broker", true);
  }
}

size_t LoopbackSession::DoDispatch() {
  if (auto_pump_) broker_.Pump();
  Read();
  const Micros now = clock_.Monotonic();
  if (state_ == State::kConnecting && now >= connect_deadline_) {
    connection_->open = false;
    Ended(DeadlineExceeded("loopback: no CONNACK within the connect timeout"), "", false);
  }
  if (state_ == State::kConnected && config_.keepalive_s > 0 &&
      now - last_write_ >= std::chrono::duration_cast<Micros>(std::chrono::seconds(config_.keepalive_s))) {
    (void)Write(mqtt::Pingreq{});  // 3.1.2.10: a PINGREQ when nothing else was sent for a keep alive
  }
  std::deque<std::function<void()>> run;
  run.swap(queue_);
  for (auto& cb : run) cb();
  return run.size();
}

}  // namespace edgeforge::testing
