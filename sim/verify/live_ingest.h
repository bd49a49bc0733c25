// The live verifier's subscription: the ingest identity subscribed to
// dt/<app>/+/+/+ as an IoT rule is, kept alive across broker restarts.
//
// It connects with a persistent MQTT 5 session (clean start off, a session
// expiry interval; OASIS MQTT 5.0 sections 3.1.2.4 and 3.1.2.11.2) under one
// client id for its whole life, so a broker that stays up queues what is
// published while the verifier is away, and a broker restarted from its
// database (BrokerPersistence::kEveryChange) still has the session. A lost
// connection is retried with link::Backoff (network failures) on a thread of
// its own, which also drives the session's Dispatch() (woken by the
// session's wakeup) and so runs the message handler; each outage is reported to the verifier with its duration
// (TelemetryVerifier::NoteOutage), and when the connection does not come
// back before Stop() that is a reason the verification cannot PASS.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "firmware/link/backoff.h"
#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "sim/verify/verifier.h"

namespace edgeforge::sim {

struct LiveIngestOptions {
  std::string broker_uri;  // ssl://host:port
  std::string pki_dir;     // ca.crt, ingest.crt, ingest.key (certs/pki.h layout)
  /// One id for the ingest's whole life: the broker finds its session by it.
  std::string client_id;
  std::string filter;  // e.g. dt/edgeforge/+/+/+
  /// How long the broker keeps the session (and queues for it) while the
  /// verifier is away. One hour covers any restart a test or a demo makes.
  uint32_t session_expiry_s = 3600;
  /// Reconnects: a verifier has one connection, so it may retry faster than
  /// a fleet (link::Backoff still keeps CONNECTs >= 1 s apart after a
  /// failure).
  link::BackoffOptions backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(5000),
                               std::chrono::milliseconds(10000), 2.0, std::chrono::milliseconds(5000)};
  std::chrono::milliseconds connect_timeout{5000};
  /// One line per connection event (lost, reconnected, attempt failed).
  std::function<void(const std::string&)> log;
};

struct LiveIngestStats {
  bool connected = false;
  uint64_t disconnects = 0;                   // connections lost
  uint64_t reconnects = 0;                    // connections made again
  std::chrono::milliseconds disconnected{0};  // in total, including an outage still open
  std::string last_error;
};

class LiveIngest {
 public:
  /// Connects (blocking, one attempt: a verifier that cannot reach the broker
  /// at start is an error) and subscribes; `handler` then runs on the
  /// verifier's supervisor thread (from Session::Dispatch()) for every
  /// message. `verifier` receives NoteOutage() per outage.
  static Result<std::unique_ptr<LiveIngest>> Start(const LiveIngestOptions& options, link::MessageHandler handler,
                                                   TelemetryVerifier& verifier);
  ~LiveIngest();
  LiveIngest(const LiveIngest&) = delete;
  LiveIngest& operator=(const LiveIngest&) = delete;

  /// Ends reconnecting and disconnects (`timeout` is unused: the verifier
  /// has no publishes to wait for), then ends the broker's session for
  /// this client id (so nothing is queued for a verifier that is gone). An
  /// outage still open is reported to the verifier as one that did not end
  /// (a failure reason). Idempotent.
  Status Stop(std::chrono::milliseconds timeout);
  LiveIngestStats stats() const;
  bool connected() const;

 private:
  LiveIngest(LiveIngestOptions options, link::Backoff backoff, TelemetryVerifier& verifier)
      : options_(std::move(options)), backoff_(std::move(backoff)), verifier_(verifier) {}
  void Supervise();
  /// One clean-start, zero-expiry connection under our client id.
  void EndSession();
  void OnLost(const std::string& cause);
  /// The session's wakeup (a transport thread): ends the supervisor's sleep.
  void Wake();
  /// Waits `d` or until Stop(); false if stopped.
  bool WaitFor(std::chrono::milliseconds d);
  void Log(const std::string& line);

  LiveIngestOptions options_;
  link::Backoff backoff_;  // supervisor thread only
  SystemClock clock_;      // paces ConnectAndWait / SubscribeAndWait
  TelemetryVerifier& verifier_;
  link::MessageHandler handler_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;   // a connection loss waits for the supervisor
  bool woken_ = false;  // the session queued callbacks: Dispatch() them
  std::chrono::steady_clock::time_point lost_at_;
  LiveIngestStats stats_;
  uint64_t random_state_ = 0x9e3779b97f4a7c15ull;  // backoff jitter (splitmix64)
  std::thread supervisor_;
  // Last: destroyed first, so no callback reaches a dead member.
  std::unique_ptr<link::Session> session_;
};

}  // namespace edgeforge::sim
