// The simulator's transport (issue 9): one epoll loop per fleet worker thread
// serving thousands of MQTT 5 sessions, each with its own client certificate
// and key, on libmosquitto driven from outside (mosquitto_socket,
// mosquitto_loop_read / loop_write / loop_misc / want_write). The device
// binary keeps Paho (firmware/link/paho/paho_session.h); both sit behind
// link::Session, so the firmware cannot tell them apart.
//
// Why this shape (docs/transport.md has the numbers): Paho C runs its own
// threads and polls every socket of the process on each turn, so its cost per
// message grows with the fleet; here a worker's loop only touches the sockets
// the kernel reports ready. TLS: one SSL_CTX per loop holds the trust anchor
// and the settings; a session adds only its certificate and key (parsed once,
// handed to OpenSSL from a certificate callback when the broker asks for it)
// and its SSL object, whose buffers are released while idle
// (SSL_MODE_RELEASE_BUFFERS).
//
// Threads: an EventLoop and every session it made belong to one thread (the
// worker's). Session callbacks are queued while the loop services sockets and
// run from Session::Dispatch() (Link::Poll), on that same thread, per the
// contract in firmware/link/session.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::sim::transport {

struct EventLoopOptions {
  /// The broker's trust anchor, loaded once for every session of the loop.
  /// Each session's SessionConfig::tls.ca_file must name this same file.
  std::string ca_file;
};

/// A network fault on one session's path to the broker (a scenario's
/// "network" fault, sim/fleet/faults.h), injected here in the transport, so
/// no root and no packet filter are needed:
///   kBlackhole  nothing gets through either way: publishes are held (like
///               unacknowledged TCP data, sent if the path comes back before
///               the connection dies), nothing is read; the session finds out
///               by its keepalive (1.5 x keepalive_s without an answer), as a
///               device behind a dead link does; connects time out.
///   kLatency    every publish leaves `latency` late and every callback
///               (PUBACK, message) arrives `latency` late.
///   kReset      the connection is reset (TCP RST) when the fault starts, and
///               every connect while it lasts fails "connection reset".
struct NetworkFault {
  enum class Mode : uint8_t { kNone, kBlackhole, kLatency, kReset };
  Mode mode = Mode::kNone;
  Millis latency{0};
};
const char* NetworkFaultName(NetworkFault::Mode mode);

struct EventLoopStats {
  size_t sessions = 0;        // alive (made and not destroyed)
  size_t connected = 0;       // CONNACK accepted, not lost or disconnected
  uint64_t ready_events = 0;  // socket readiness events serviced
  uint64_t misc_rounds = 0;   // keepalive / connect-timeout rounds (about 1 per second)
};

class EventLoop {
 public:
  /// Loads the CA and builds the shared TLS context. Errors name the file.
  static Result<std::unique_ptr<EventLoop>> Create(const EventLoopOptions& options);
  /// Every session made by this loop must be destroyed first.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// A session on this loop. Validates the config as link::ValidateSessionConfig
  /// does, reads the client certificate and key (errors name the file), and
  /// refuses what this transport does not do: a session that survives a
  /// disconnect (session_expiry_s > 0: libmosquitto 2.0 has no asynchronous
  /// connect that carries CONNECT properties; LiveIngest uses Paho for that),
  /// ALPN, a CA other than the loop's, a broker host other than the loop's
  /// first (one TLS host check per loop).
  Result<std::unique_ptr<link::Session>> MakeSession(const link::SessionConfig& config);

  /// Waits up to `max_wait` for socket events, services them (TLS handshakes,
  /// packets in and out) and, about once a second, keepalives and connect
  /// timeouts. Returns the number of ready sockets serviced. Callbacks are
  /// only queued here; sessions' owners run them with Dispatch().
  size_t RunOnce(Millis max_wait);

  EventLoopStats stats() const;

  /// Sets (or, with Mode::kNone, ends) the network fault of `session`, which
  /// this loop made; on the loop's thread. INVALID_ARGUMENT if the session is
  /// not one of this loop's.
  Status SetNetworkFault(link::Session& session, const NetworkFault& fault);

  class Impl;

 private:
  explicit EventLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeforge::sim::transport
