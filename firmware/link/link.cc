#include "firmware/link/link.h"

#include <algorithm>
#include <cstring>

namespace edgeforge::link {
namespace {

/// While connected with work queued, how soon Poll wants to run again (PUBACKs
/// arrive on transport threads; the device thread picks up the freed window).
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
  session_.OnConnectionLost([this](const std::string& cause) {
    std::lock_guard<std::mutex> lock(mu_);
    lost_ = cause.empty() ? "connection lost" : cause;
  });
}

Link::~Link() = default;

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

Status Link::Send(Priority priority, uint64_t seq, const OutgoingMessage& m) {
  auto id = outbox_.Append(priority, seq, m);
  return id.ok() ? Status::Ok() : id.status();
}

void Link::Subscribe(std::string filter, int qos, MessageHandler handler) {
  subscriptions_.push_back({std::move(filter), qos, std::move(handler)});
}

void Link::BeginConnect(Micros now) {
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connect_result_.reset();
    lost_.reset();
    generation = ++generation_;
  }
  state_ = State::kConnecting;
  Status started = session_.ConnectAsync([this, generation](Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_) connect_result_ = std::move(s);
  });
  if (!started.ok()) OnConnectResult(started, now);
}

void Link::OnConnectResult(const Status& s, Micros now) {
  if (s.ok()) {
    for (const Subscription& sub : subscriptions_) {
      Status sub_status = session_.Subscribe(sub.filter, sub.qos, sub.handler);
      if (!sub_status.ok()) {
        OnConnectResult(sub_status.WithContext("subscribe " + sub.filter), now);
        (void)session_.Disconnect(Millis(1000));
        return;
      }
    }
    state_ = State::kConnected;
    {
      std::lock_guard<std::mutex> lock(mu_);
      refused_topics_.clear();  // a new connection starts new refusal episodes
      refusal_episodes_.store(0);
    }
    backoff_.OnConnected(now);
    tls_failures_in_a_row_ = 0;
    ++stats_.connects;
    if (stats_.connects > 1) ++stats_.reconnects;
    Log("link: connected" +
        std::string(stats_.connects > 1 ? " (reconnect " + std::to_string(stats_.reconnects) + ")" : ""));
    return;
  }
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

void Link::ScheduleRetry(FailureKind kind, Micros now) {
  const Millis delay = backoff_.NextDelay(RandomBits(), kind);
  next_attempt_ = now + std::chrono::duration_cast<Micros>(delay);
  state_ = State::kWaiting;
  Log("link: " + stats_.last_error + "; " + (kind == FailureKind::kAuthorization ? "authorization failure, " : "") +
      "next attempt in " + Seconds(delay) + " (attempt " + std::to_string(backoff_.attempt()) + ")");
}

void Link::OnLost(const std::string& cause, Micros now) {
  ++stats_.connections_lost;
  stats_.last_error = cause;
  backoff_.OnDisconnected(now);
  // In-flight messages go back to their place; a PUBACK that still arrives
  // for one acks it (Ack works on queued ids too), a failure Nacks a no-op.
  outbox_.RequeueInFlight();
  ScheduleRetry(FailureKind::kNetwork, now);
}

void Link::OnPublishDone(uint64_t id, const std::string& topic, const Status& result) {
  if (result.ok()) {
    (void)outbox_.Ack(id);
    delivered_.fetch_add(1);
    if (refusal_episodes_.load() > 0) {  // a success ends that topic's refusal episode
      std::lock_guard<std::mutex> lock(mu_);
      refused_topics_.erase(topic);
      refusal_episodes_.store(refused_topics_.size());
    }
  } else if (result.code() == StatusCode::kPermissionDenied) {
    // The broker refused this message for good (MQTT 5 0x87): resending
    // would jam the queue. Removed and counted, never silently; logged once
    // per topic and episode so that a fleet of refusals is not a log flood.
    (void)outbox_.Ack(id);
    rejected_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    if (refused_topics_.insert(topic).second) {
      refusal_episodes_.store(refused_topics_.size());
      refusal_log_.push_back("link: publish to " + topic + " refused: " + result.message() +
                             "; not granted to this identity by the broker's policy (IoT policy / ACL): removed, "
                             "counted as refused, not retried; more refusals on this topic are counted, not logged, "
                             "until a publish to it succeeds or the link reconnects");
    }
  } else {
    outbox_.Nack(id);
    republished_.fetch_add(1);
  }
  in_flight_.fetch_sub(1);
}

void Link::LogRefusals() {
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lines.swap(refusal_log_);
  }
  for (const std::string& line : lines) Log(line);
}

Micros Link::Pump(Micros now) {
  while (in_flight_.load() < options_.max_in_flight) {
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
    in_flight_.fetch_add(1);
    Status handed =
        session_.Publish(std::move(q.message), [this, id, seq, topic = std::move(topic)](const Status& done) {
          if (delivery_observer_) delivery_observer_(seq, done);
          OnPublishDone(id, topic, done);
        });
    if (!handed.ok()) {
      in_flight_.fetch_sub(1);
      outbox_.Nack(id);
      std::lock_guard<std::mutex> lock(mu_);
      if (!lost_) lost_ = handed.ToString();
      return now;
    }
  }
  return now + kBusyPoll;
}

Micros Link::Poll() {
  const Micros now = clock_.Monotonic();
  std::optional<Status> result;
  std::optional<std::string> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    result.swap(connect_result_);
    lost.swap(lost_);
  }
  (void)outbox_.SyncIfDue();
  LogRefusals();
  switch (state_) {
    case State::kIdle:
      return now + kIdlePoll;
    case State::kWaiting:
      if (now < next_attempt_) return next_attempt_;
      BeginConnect(now);
      return now + kBusyPoll;
    case State::kConnecting:
      if (!result) return now + kBusyPoll;
      OnConnectResult(*result, now);
      if (state_ != State::kConnected) return next_attempt_;
      return Pump(now);
    case State::kConnected:
      if (lost) {
        OnLost(*lost, now);
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
    if (outbox_.depth() == 0 && in_flight_.load() == 0) break;
    clock_.SleepFor(Micros(10000));
  }
  Status disconnected = Status::Ok();
  if (state_ == State::kConnected || session_.IsConnected()) disconnected = session_.Disconnect(Millis(2000));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;  // a CONNACK still on its way is for nobody
  }
  state_ = State::kIdle;
  LogRefusals();  // refusals that arrived while disconnecting
  outbox_.RequeueInFlight();
  Status synced = outbox_.Sync();
  return disconnected.ok() ? synced : disconnected;
}

LinkStats Link::stats() const {
  LinkStats s = stats_;
  s.connected = state_ == State::kConnected;
  s.delivered = delivered_.load();
  s.rejected = rejected_.load();
  s.republished = republished_.load();
  return s;
}

}  // namespace edgeforge::link
