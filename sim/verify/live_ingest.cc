#include "sim/verify/live_ingest.h"

#include "firmware/link/paho/paho_session.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::chrono::milliseconds Since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t);
}

Micros MonotonicNow() { return std::chrono::duration_cast<Micros>(SteadyClock::now().time_since_epoch()); }

// Paho checks connect timeouts only every 3 s (MQTTAsync_checkTimeouts): a
// wait for CONNACK gives it that much past connect_timeout to report first.
constexpr Millis kPahoTimeoutSlack{4000};
// How long the supervisor sleeps between Dispatch() calls when no wakeup came
// (a backstop: the session's wakeup normally ends the sleep at once).
constexpr Millis kIdleWait{100};

}  // namespace

Result<std::unique_ptr<LiveIngest>> LiveIngest::Start(const LiveIngestOptions& o, link::MessageHandler handler,
                                                      TelemetryVerifier& verifier) {
  auto backoff = link::Backoff::Create(o.backoff);
  if (!backoff.ok()) return backoff.status().WithContext("verifier reconnect backoff");
  link::SessionConfig c;
  c.server_uri = o.broker_uri;
  c.client_id = o.client_id;
  c.tls = {o.pki_dir + "/ca.crt", o.pki_dir + "/ingest.crt", o.pki_dir + "/ingest.key"};
  c.connect_timeout = o.connect_timeout;
  // Persistent: what is published while the verifier is away is queued for it.
  c.clean_start = false;
  c.session_expiry_s = o.session_expiry_s;
  auto session = link::MakePahoSession(c);
  if (!session.ok()) return session.status();
  std::unique_ptr<LiveIngest> in(new LiveIngest(o, std::move(*backoff), verifier));
  in->handler_ = std::move(handler);
  in->session_ = std::move(*session);
  LiveIngest* raw = in.get();
  in->session_->OnConnectionLost([raw](const std::string& cause) { raw->OnLost(cause); });
  in->session_->SetWakeup([raw] { raw->Wake(); });
  // This thread drives the session until the supervisor starts; from then on
  // only the supervisor calls it (and so runs the handler).
  EF_RETURN_IF_ERROR(link::ConnectAndWait(*in->session_, in->clock_, o.connect_timeout + kPahoTimeoutSlack));
  EF_RETURN_IF_ERROR(link::SubscribeAndWait(*in->session_, in->clock_, o.connect_timeout, o.filter, 1, in->handler_));
  in->backoff_.OnConnected(MonotonicNow());
  {
    std::lock_guard<std::mutex> lock(in->mu_);
    in->stats_.connected = true;
  }
  in->supervisor_ = std::thread([raw] { raw->Supervise(); });
  return in;
}

LiveIngest::~LiveIngest() { (void)Stop(std::chrono::milliseconds(1000)); }

void LiveIngest::Log(const std::string& line) {
  if (options_.log) options_.log(line);
}

void LiveIngest::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void LiveIngest::OnLost(const std::string& cause) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    lost_ = true;
    lost_at_ = SteadyClock::now();
    stats_.connected = false;
    ++stats_.disconnects;
    stats_.last_error = cause;
  }
  cv_.notify_all();
  Log("verifier: " + cause + "; reconnecting");
}

bool LiveIngest::WaitFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void LiveIngest::Supervise() {
  for (;;) {
    SteadyClock::time_point since;
    session_->Dispatch();  // messages reach handler_ here; a loss sets lost_
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kIdleWait, [this] { return stopping_ || lost_ || woken_; });
      woken_ = false;
      if (stopping_) return;
      if (!lost_) continue;
      since = lost_at_;
    }
    backoff_.OnDisconnected(MonotonicNow());
    link::FailureKind kind = link::FailureKind::kNetwork;
    for (;;) {
      random_state_ += 0x9e3779b97f4a7c15ull;  // splitmix64 (Steele et al. 2014)
      uint64_t z = random_state_;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      const Millis delay = backoff_.NextDelay(z ^ (z >> 31), kind);
      if (!WaitFor(delay)) return;
      Status s = link::ConnectAndWait(*session_, clock_, options_.connect_timeout + kPahoTimeoutSlack);
      // Resubscribing is harmless when the broker kept the session, and
      // needed when it did not (a broker restarted without its database).
      // Messages the broker queued meanwhile may arrive (and reach handler_
      // on this thread) before the SUBACK.
      if (s.ok()) s = link::SubscribeAndWait(*session_, clock_, options_.connect_timeout, options_.filter, 1, handler_);
      if (s.ok()) break;
      if (session_->IsConnected()) session_->Disconnect();
      kind = link::IsAuthFailure(s) ? link::FailureKind::kAuthorization : link::FailureKind::kNetwork;
      std::lock_guard<std::mutex> lock(mu_);
      stats_.last_error = s.ToString();
    }
    backoff_.OnConnected(MonotonicNow());
    const auto outage = Since(since);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (lost_at_ != since) {
        // Lost again while resubscribing: one outage, still open.
        lost_at_ = since;
        continue;
      }
      lost_ = false;
      stats_.connected = true;
      ++stats_.reconnects;
      stats_.disconnected += outage;
    }
    verifier_.NoteOutage(outage, "");
    Log("verifier: reconnected after " + std::to_string(outage.count()) + " ms (persistent session)");
  }
}

Status LiveIngest::Stop(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Ok();
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  bool open_outage = false;
  SteadyClock::time_point since;
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_outage = lost_;
    since = lost_at_;
  }
  if (open_outage) {
    const auto outage = Since(since);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.disconnected += outage;
    }
    verifier_.NoteOutage(outage, "the verifier was still disconnected at the end (" + std::to_string(outage.count()) +
                                     " ms): what was published meanwhile is unknown");
  }
  (void)timeout;  // nothing to wait for: the verifier publishes nothing
  if (session_) {
    session_->Disconnect();
    session_->Dispatch();  // the supervisor is gone: this thread owns the session now
  }
  if (!open_outage) EndSession();
  return Status::Ok();
}

void LiveIngest::EndSession() {
  // The broker would otherwise queue for this dead client id until the
  // session expires (an hour): one clean-start connection ends it (MQTT 5.0
  // section 3.1.2.4: Clean Start discards the existing session; expiry 0
  // ends the new one at DISCONNECT).
  link::SessionConfig c;
  c.server_uri = options_.broker_uri;
  c.client_id = options_.client_id;
  c.tls = {options_.pki_dir + "/ca.crt", options_.pki_dir + "/ingest.crt", options_.pki_dir + "/ingest.key"};
  c.connect_timeout = options_.connect_timeout;
  c.clean_start = true;
  c.session_expiry_s = 0;
  auto session = link::MakePahoSession(c);
  if (!session.ok() || !link::ConnectAndWait(**session, clock_, options_.connect_timeout + kPahoTimeoutSlack).ok()) {
    Log("verifier: could not end its persistent session " + options_.client_id + "; the broker expires it in " +
        std::to_string(options_.session_expiry_s) + " s");
    return;
  }
  (*session)->Disconnect();  // the destructor waits (bounded) for the DISCONNECT to go out
}

LiveIngestStats LiveIngest::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LiveIngestStats s = stats_;
  if (lost_ && !stopping_) s.disconnected += Since(lost_at_);
  return s;
}

bool LiveIngest::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.connected;
}

}  // namespace edgeforge::sim
