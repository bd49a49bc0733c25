// The device's link to IoT Core: a durable outbox drained over an MQTT session
// that reconnects by itself. coreMQTT style: the link does no I/O of its own
// besides calling the session and the outbox it is given; time comes from the
// injected clock and jitter from the injected entropy, and the device thread
// drives it with Poll() (no thread of its own, so a process can hold
// thousands of links). Poll() first runs the session's Dispatch(), so every
// outcome (CONNACK, SUBACK, PUBACK, incoming message, lost connection) is
// applied on the device thread: the link has no lock.
//
// States (one at a time):
//   kIdle        not started, or stopped
//   kWaiting     disconnected, waiting out the backoff delay before a CONNECT
//   kConnecting  a CONNECT is in progress (non-blocking)
//   kConnected   CONNACK accepted: queued messages are published, paced by
//                the governor, at most max_in_flight awaiting PUBACK; the
//                subscriptions' SUBACKs may still be on their way
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/link/backoff.h"
#include "firmware/link/governor.h"
#include "firmware/link/outbox.h"
#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/entropy.h"
#include "hal/status.h"

namespace edgeforge::link {

struct LinkOptions {
  BackoffOptions backoff;
  GovernorOptions governor;
  size_t max_in_flight = 20;  // QoS 1 publishes awaiting PUBACK
  /// One line per connection event (connected, lost, attempt failed with the
  /// delay before the next): once per attempt, never in a tight loop. Also
  /// one line per topic whose publish the broker refused (MQTT 5 0x87), once
  /// per episode (see refused_topics_). Always called on the thread that
  /// calls Poll() / Stop(), never on a transport thread.
  std::function<void(const std::string&)> log;
};

/// INVALID_ARGUMENT naming the field.
Status ValidateLinkOptions(const LinkOptions& options);

/// "always" | "batch" | "never" (SyncPolicyName's names); INVALID_ARGUMENT otherwise.
Result<SyncPolicy> ParseSyncPolicy(std::string_view name);

// Lifetime: the session calls back into the link (PUBACKs, connection lost)
// only from Session::Dispatch(), which Poll() and Stop() call; callbacks that
// a destroyed link left in the session do nothing. Destroy the link before
// the outbox.

struct LinkStats {
  bool connected = false;
  uint64_t connects = 0;          // CONNACKs accepted
  uint64_t reconnects = 0;        // of those, after the first
  uint64_t connect_failures = 0;  // attempts that failed
  uint64_t connections_lost = 0;  // connections that ended without Stop()
  uint64_t delivered = 0;         // PUBACKed (removed from the outbox)
  uint64_t rejected = 0;          // refused by the broker (not authorized): removed and counted
  uint64_t republished = 0;       // sent again after a connection loss or a failed publish
  uint64_t taken_over = 0;        // connections the broker ended because another client used our client id
  uint64_t identity_conflicts = 0;  // NoteIdentityConflict(): another instance seen using this identity
  std::string last_error;         // why the last attempt failed or the connection ended
};

class Link {
 public:
  enum class State : uint8_t { kIdle, kWaiting, kConnecting, kConnected };

  static Result<std::unique_ptr<Link>> Create(Session& session, Outbox& outbox, Clock& clock, Entropy& entropy,
                                              LinkOptions options);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// Starts connecting (the first attempt at once).
  void Start();
  /// Durably queues a message (the outbox applies its bound and drop policy);
  /// it is published when connected. Never blocks on the network.
  Status Send(Priority priority, uint64_t seq, const OutgoingMessage& m);
  /// A subscription made on every (re)connect; `handler` runs on the device
  /// thread, from Poll() (Session::Dispatch()). A refused SUBACK fails the
  /// connection attempt.
  void Subscribe(std::string filter, int qos, MessageHandler handler);
  /// Ends the connection (a clean DISCONNECT: no will) and connects again a
  /// second later, e.g. with a TLS identity renewed on disk (the session
  /// reads its files at every connect). In-flight messages are sent again on
  /// the new connection; nothing is lost, nothing counted as a loss.
  void Reconnect(const std::string& why);
  /// Another instance was seen using this identity (e.g. the device shadow
  /// reported by someone else while this one runs): a broker that ends the
  /// older connection without DISCONNECT 0x8E (mosquitto 2.0) leaves no other
  /// trace. Until a connection stays up for the backoff's stable_after, every
  /// lost connection is an identity conflict: counted, logged as one and
  /// retried after the authorization backoff. `evidence` goes in the log.
  void NoteIdentityConflict(const std::string& evidence);
  /// Drives connects, reconnects and publishing. Returns when to call again.
  Micros Poll();
  /// Publishes what it can within `timeout` (calling Poll and sleeping
  /// 10 ms on the clock between), then ends the attempt or connection (its
  /// late CONNACK/SUBACK/CANCELLED count for nothing), Disconnect()s,
  /// Dispatch()es once (PUBACKs that arrived are acked, the rest requeued)
  /// and syncs the outbox: what is left stays queued on disk. Returns the
  /// sync's status.
  Status Stop(Millis timeout);

  /// Called on the device thread (from Poll()) once per publish outcome: OK when the
  /// broker PUBACKed `seq`, else why not (the message stays queued unless
  /// refused). Lets a fleet tell device-side from broker-side loss. Set it
  /// before Start().
  using DeliveryObserver = std::function<void(uint64_t seq, const Status& result)>;
  void set_delivery_observer(DeliveryObserver o) { delivery_observer_ = std::move(o); }
  /// The observer set, so an owner can chain its own in front of it (Device::Start).
  const DeliveryObserver& delivery_observer() const { return delivery_observer_; }

  State state() const { return state_; }
  LinkStats stats() const;
  const OutboxStats outbox_stats() const { return outbox_.stats(); }
  /// The outbox (crash-loss accounting at device start).
  Outbox& outbox() { return outbox_; }

 private:
  Link(Session& session, Outbox& outbox, Clock& clock, Entropy& entropy, LinkOptions options, Backoff backoff,
       Governor governor);
  void BeginConnect(Micros now);
  void OnConnectResult(const Status& s, Micros now);
  /// Sends SUBSCRIBE for every subscription; false if one could not start.
  bool SubscribeAll(Micros now);
  /// A refused or failed SUBACK (or SUBSCRIBE): the attempt failed.
  void OnSubscribeFailed(const Status& s, Micros now);
  void OnLost(const std::string& cause, Micros now);
  /// The backoff a failed connect gets (see link.cc: a first TLS failure is
  /// retried at the network pace).
  FailureKind ClassifyFailure(const Status& s);
  /// `why` (optional) names the class of failure in the log line.
  void ScheduleRetry(FailureKind kind, Micros now, const char* why = nullptr);
  Micros Pump(Micros now);
  uint64_t RandomBits();
  void Log(const std::string& line);
  /// A publish to `topic`, sent on connection `generation`, ended with `result`.
  void OnPublishDone(uint64_t generation, uint64_t id, const std::string& topic, const Status& result);

  Session& session_;
  Outbox& outbox_;
  Clock& clock_;
  Entropy& entropy_;
  LinkOptions options_;
  Backoff backoff_;
  Governor governor_;
  State state_ = State::kIdle;
  int tls_failures_in_a_row_ = 0;  // UNAUTHENTICATED connect failures since the last other outcome
  bool identity_conflict_ = false;  // NoteIdentityConflict() until a connection is stable
  Micros connected_at_{0};          // when the current connection's CONNACK came
  Micros next_attempt_{0};
  struct Subscription {
    std::string filter;
    int qos;
    MessageHandler handler;
  };
  std::vector<Subscription> subscriptions_;
  DeliveryObserver delivery_observer_;

  // Session callbacks hold a copy: false once the link is gone, so a
  // callback the session still dispatches later does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::optional<std::string> lost_;  // a loss seen while publishing or dispatching, handled by Poll
  uint64_t generation_ = 0;          // connection attempt number: drops stale callbacks

  // Refusals (MQTT 5 PUBACK 0x87): removed from the outbox, never retried,
  // counted in stats_.rejected (not as drops), logged with the topic once per
  // episode; an episode ends when a publish to that topic succeeds or the
  // connection is re-established.
  std::set<std::string> refused_topics_;  // topics in an episode (already logged)

  size_t in_flight_ = 0;  // publishes of this connection awaiting their outcome
  LinkStats stats_;       // counters (connects, failures, delivered, ...)
};

}  // namespace edgeforge::link
