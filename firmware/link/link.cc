#include "firmware/link/link.h"

#include <algorithm>
#include <cstring>

namespace edgeforge::link {
namespace {

/// While connected with work queued, how soon Poll wants to run again (its
/// Dispatch() applies the PUBACKs queued meanwhile and refills the window; a
/// session wakeup can bring the device loop back sooner).
constexpr Micros kBusyPoll{10'000};
/// Connected and idle, or connecting: nothing happens without an event, but
/// Poll is cheap, so the device loop's own cadence is enough.
constexpr Micros kIdlePoll{1'000'000};

std::string Seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

Result<SyncPolicy> ParseSyncPolicy(std::string_view name) {
  for (SyncPolicy p : {SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNever}) {
    if (name == SyncPolicyName(p)) return p;
  }
  return InvalidArgument("sync policy '" + std::string(name) + "' is not always, batch or never");
}

Status ValidateLinkOptions(const LinkOptions& o) {
  EF_RETURN_IF_ERROR(ValidateBackoffOptions(o.backoff).WithContext("link backoff"));
  EF_RETURN_IF_ERROR(ValidateGovernorOptions(o.governor).WithContext("link governor"));
  if (o.max_in_flight < 1 || o.max_in_flight > 65535) {
    return InvalidArgument("link max_in_flight must be 1..65535 (MQTT packet ids), got " +
                           std::to_string(o.max_in_flight));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Link>> Link::Create(Session& session, Outbox& outbox, Clock& clock, Entropy& entropy,
                                           LinkOptions options) {
  EF_RETURN_IF_ERROR(ValidateLinkOptions(options));
  auto backoff = Backoff::Create(options.backoff);
  if (!backoff.ok()) return backoff.status();
  auto governor = Governor::Create(options.governor);
  if (!governor.ok()) return governor.status();
  return std::unique_ptr<Link>(
      new Link(session, outbox, clock, entropy, std::move(options), std::move(*backoff), std::move(*governor)));
}

Link::Link(Session& session, Outbox& outbox, Clock& clock, Entropy& entropy, LinkOptions options, Backoff backoff,
           Governor governor)
    : session_(session),
      outbox_(outbox),
      clock_(clock),
      entropy_(entropy),
      options_(std::move(options)),
      backoff_(std::move(backoff)),
      governor_(std::move(governor)) {
  session_.OnConnectionLost([this, alive = std::weak_ptr<bool>(alive_)](const std::string& cause) {
    if (alive.expired()) return;
    if (!lost_) lost_ = cause.empty() ? "connection lost" : cause;
  });
}

// The session may already be gone (owners used to destroy it first), so the
// destructor does not touch it: callbacks it still holds see alive_ expired.
Link::~Link() { alive_.reset(); }

void Link::Log(const std::string& line) {
  if (options_.log) options_.log(line);
}

uint64_t Link::RandomBits() {
  uint8_t b[8] = {};
  if (!entropy_.Fill(MutBytes(b, sizeof b)).ok()) return 0;  // the bound still holds: delay 0 + floor
  uint64_t v = 0;
  std::memcpy(&v, b, sizeof v);
  return v;
}

void Link::Start() {
  if (state_ != State::kIdle) return;
  state_ = State::kWaiting;
  next_attempt_ = clock_.Monotonic();
}

void Link::Reconnect(const std::string& why) {
  if (state_ != State::kConnected && state_ != State::kConnecting) return;  // the next attempt uses it anyway
  const Micros now = clock_.Monotonic();
  ++generation_;  // callbacks of this connection are for nobody now
  session_.Disconnect();
  outbox_.RequeueInFlight();  // sent again on the new connection: nothing lost, duplicates at worst
  in_flight_ = 0;
  state_ = State::kWaiting;
  // IoT Core: at most one CONNECT per second per client id; the connection
  // being replaced was opened by the last one.
  next_attempt_ = now + std::chrono::duration_cast<Micros>(kIotCoreConnectSpacing);
  Log("link: reconnecting: " + why);
}

void Link::NoteIdentityConflict(const std::string& evidence) {
  ++stats_.identity_conflicts;
  if (!identity_conflict_) Log("link: identity conflict: " + evidence + "; two devices may share this identity");
  identity_conflict_ = true;
}

Status Link::Send(Priority priority, uint64_t seq, const OutgoingMessage& m) {
  auto id = outbox_.Append(priority, seq, m);
  return id.ok() ? Status::Ok() : id.status();
}

void Link::Subscribe(std::string filter, int qos, MessageHandler handler) {
  subscriptions_.push_back({std::move(filter), qos, std::move(handler)});
}

void Link::BeginConnect(Micros now) {
  lost_.reset();
  const uint64_t generation = ++generation_;
  state_ = State::kConnecting;
  Status started = session_.Connect([this, alive = std::weak_ptr<bool>(alive_), generation](Status s) {
    // Runs from Dispatch() at the top of Poll() (or Stop()): a result for an
    // attempt Stop() or a failed SUBACK already gave up on is for nobody.
    if (alive.expired() || generation != generation_ || state_ != State::kConnecting) return;
    OnConnectResult(s, clock_.Monotonic());
  });
  if (!started.ok()) OnConnectResult(started, now);
}

void Link::OnConnectResult(const Status& s, Micros now) {
  if (!s.ok()) {
    ++stats_.connect_failures;
    stats_.last_error = s.ToString();
    ScheduleRetry(ClassifyFailure(s), now);
    return;
  }
  // Connected at CONNACK, before the SUBACKs: publishing starts at once.
  // Fine for IoT Core: telemetry does not depend on any subscription, and
  // the one the device makes (its shadow's update/delta) loses nothing in the
  // gap, since IoT Core keeps desired state in the shadow document and sends
  // the delta again on the next shadow update the device publishes. A SUBACK
  // that fails later still fails the attempt (OnSubscribeFailed).
  state_ = State::kConnected;
  in_flight_ = 0;
  refused_topics_.clear();  // a new connection starts new refusal episodes
  backoff_.OnConnected(now);
  connected_at_ = now;
  tls_failures_in_a_row_ = 0;
  ++stats_.connects;
  if (stats_.connects > 1) ++stats_.reconnects;
  Log("link: connected" +
      std::string(stats_.connects > 1 ? " (reconnect " + std::to_string(stats_.reconnects) + ")" : ""));
  (void)SubscribeAll(now);
}

bool Link::SubscribeAll(Micros now) {
  const uint64_t generation = generation_;
  for (const Subscription& sub : subscriptions_) {
    Status started =
        session_.Subscribe(sub.filter, sub.qos, sub.handler,
                           [this, alive = std::weak_ptr<bool>(alive_), generation, filter = sub.filter](Status s) {
                             if (alive.expired() || s.ok() || generation != generation_ || state_ != State::kConnected)
                               return;
                             OnSubscribeFailed(s.WithContext("subscribe " + filter), clock_.Monotonic());
                           });
    if (!started.ok()) {
      OnSubscribeFailed(started.WithContext("subscribe " + sub.filter), now);
      return false;
    }
  }
  return true;
}

void Link::OnSubscribeFailed(const Status& s, Micros now) {
  // Without its subscriptions the device would miss commands for the whole
  // connection: this attempt failed. A new generation makes every callback
  // of this connection stale; the backoff keeps counting (the storm guard)
  // because the connection was not up for stable_after.
  ++generation_;
  session_.Disconnect();
  outbox_.RequeueInFlight();
  in_flight_ = 0;
  backoff_.OnDisconnected(now);
  ++stats_.connect_failures;
  stats_.last_error = s.ToString();
  ScheduleRetry(ClassifyFailure(s), now);
}

FailureKind Link::ClassifyFailure(const Status& s) {
  if (!IsAuthFailure(s)) {
    tls_failures_in_a_row_ = 0;
    return FailureKind::kNetwork;
  }
  // A CONNACK refusal comes from the broker itself: believed at once. A TLS
  // failure (UNAUTHENTICATED without a CONNACK) can also be a broker that was
  // down when the CONNECT was tried and back when the session's TCP probe
  // ran (paho_session.h: the probe tells "TLS failed" from "TCP refused"):
  // seen after a broker kill -9 + restart, when devices then sat in the
  // 10-120 s authorization backoff. The first one retries at the network
  // pace; a second in a row is an authorization failure.
  // CONNACK 0x86 / 0x8C also arrive as UNAUTHENTICATED: session.h gives the
  // code only, so the refusal is told from a TLS failure by the "(CONNACK "
  // that PahoSession (ConnackRefusalStatus) and the test loopback put in its
  // message (tests/firmware/link/link_test.cc found 0x86 retried at 1 s).
  const bool connack_refusal = s.message().find("(CONNACK ") != std::string::npos;
  if (s.code() == StatusCode::kPermissionDenied || connack_refusal || ++tls_failures_in_a_row_ >= 2) {
    return FailureKind::kAuthorization;
  }
  return FailureKind::kNetwork;
}

void Link::ScheduleRetry(FailureKind kind, Micros now, const char* why) {
  const Millis delay = backoff_.NextDelay(RandomBits(), kind);
  next_attempt_ = now + std::chrono::duration_cast<Micros>(delay);
  state_ = State::kWaiting;
  const std::string label =
      why != nullptr ? std::string(why) + ", " : kind == FailureKind::kAuthorization ? "authorization failure, " : "";
  Log("link: " + stats_.last_error + "; " + label + "next attempt in " + Seconds(delay) + " (attempt " +
      std::to_string(backoff_.attempt()) + ")");
}

void Link::OnLost(const std::string& cause, Micros now) {
  ++stats_.connections_lost;
  stats_.last_error = cause;
  ++generation_;  // SUBACKs of the lost connection are for nobody
  backoff_.OnDisconnected(now);
  // In-flight messages go back to their place; a PUBACK that still arrives
  // for one acks it (Ack works on queued ids too), a failure Nacks a no-op.
  outbox_.RequeueInFlight();
  in_flight_ = 0;
  // A connection that stayed up long enough ends a suspected conflict (the
  // other instance is gone, or it was a one-off).
  if (identity_conflict_ && now - connected_at_ >= std::chrono::duration_cast<Micros>(backoff_.options().stable_after)) {
    identity_conflict_ = false;
  }
  if (IsSessionTakenOver(cause) || identity_conflict_) {
    // Another client connected with our client id. Reconnecting at the
    // network pace would take the session back from it at once, and it from
    // us: two devices sharing one identity kick each other in a loop (IoT
    // Core allows one CONNECT per second per client id and throttles the
    // rest). Only an operator can fix a duplicated identity: the
    // authorization backoff (>= 10 s, growing) keeps both online part of the
    // time and says so in every log line.
    if (IsSessionTakenOver(cause)) ++stats_.taken_over;
    stats_.last_error = (IsSessionTakenOver(cause) ? "session taken over: another client connected with this client id ("
                                                   : "connection lost while another instance uses this identity (") +
                        cause + "); two devices may share this identity";
    ScheduleRetry(FailureKind::kAuthorization, now, "identity conflict");
    return;
  }
  ScheduleRetry(FailureKind::kNetwork, now);
}

void Link::OnPublishDone(uint64_t generation, uint64_t id, const std::string& topic, const Status& result) {
  if (result.ok()) {
    (void)outbox_.Ack(id);
    ++stats_.delivered;
    refused_topics_.erase(topic);  // a success ends that topic's refusal episode
  } else if (result.code() == StatusCode::kPermissionDenied) {
    // The broker refused this message for good (MQTT 5 0x87): resending
    // would jam the queue. Removed and counted, never silently; logged once
    // per topic and episode so that a fleet of refusals is not a log flood.
    (void)outbox_.Ack(id);
    ++stats_.rejected;
    if (refused_topics_.insert(topic).second) {
      Log("link: publish to " + topic + " refused: " + result.message() +
          "; not granted to this identity by the broker's policy (IoT policy / ACL): removed, "
          "counted as refused, not retried; more refusals on this topic are counted, not logged, "
          "until a publish to it succeeds or the link reconnects");
    }
  } else {
    outbox_.Nack(id);
    ++stats_.republished;
  }
  // A late outcome of an earlier connection does not free this one's window.
  if (generation == generation_ && in_flight_ > 0) --in_flight_;
}

Micros Link::Pump(Micros now) {
  while (in_flight_ < options_.max_in_flight) {
    std::vector<QueuedMessage> next = outbox_.TakeForSend(1);
    if (next.empty()) return now + kIdlePoll;
    QueuedMessage& q = next.front();
    const size_t bytes = MessageBytes(q.message);
    if (!governor_.TryAcquire(bytes, now)) {
      outbox_.Nack(q.id);
      return std::max(now + Micros(1), governor_.NextAvailable(bytes, now));
    }
    const uint64_t id = q.id;
    const uint64_t seq = q.seq;
    std::string topic = q.message.topic;  // copied first: the message is moved into the call
    Status handed =
        session_.Publish(std::move(q.message), [this, alive = std::weak_ptr<bool>(alive_), generation = generation_, id,
                                                seq, topic = std::move(topic)](const Status& done) {
          if (alive.expired()) return;
          if (delivery_observer_) delivery_observer_(seq, done);
          OnPublishDone(generation, id, topic, done);
        });
    if (!handed.ok()) {
      outbox_.Nack(id);
      if (!lost_) lost_ = handed.ToString();
      return now;
    }
    ++in_flight_;
  }
  return now + kBusyPoll;
}

Micros Link::Poll() {
  // First: every outcome the transport queued runs here, on this thread.
  session_.Dispatch();
  const Micros now = clock_.Monotonic();
  (void)outbox_.SyncIfDue();
  switch (state_) {
    case State::kIdle:
      return now + kIdlePoll;
    case State::kWaiting:
      if (now < next_attempt_) return next_attempt_;
      BeginConnect(now);
      if (state_ == State::kWaiting) return next_attempt_;  // Connect() failed at once
      return now + kBusyPoll;
    case State::kConnecting:
      return now + kBusyPoll;
    case State::kConnected:
      if (lost_) {
        std::string cause = std::move(*lost_);
        lost_.reset();
        OnLost(cause, now);
        return next_attempt_;
      }
      return Pump(now);
  }
  return now + kIdlePoll;
}

Status Link::Stop(Millis timeout) {
  const Micros end = clock_.Monotonic() + std::chrono::duration_cast<Micros>(timeout);
  while (state_ == State::kConnected && clock_.Monotonic() < end) {
    (void)Poll();
    if (outbox_.depth() == 0 && in_flight_ == 0) break;
    clock_.SleepFor(Micros(10000));
  }
  // First: the CANCELLED of an open connect, and any CONNACK or SUBACK still
  // on its way, are for nobody (not a failed attempt to log and back off from).
  ++generation_;
  if (state_ == State::kConnected || state_ == State::kConnecting || session_.IsConnected()) session_.Disconnect();
  // The publish outcomes Disconnect() settled land now (PUBACKs already
  // received: acked; the rest: UNAVAILABLE, requeued below).
  session_.Dispatch();
  state_ = State::kIdle;
  lost_.reset();
  outbox_.RequeueInFlight();
  in_flight_ = 0;
  return outbox_.Sync();
}

LinkStats Link::stats() const {
  LinkStats s = stats_;
  s.connected = state_ == State::kConnected;
  return s;
}

}  // namespace edgeforge::link
