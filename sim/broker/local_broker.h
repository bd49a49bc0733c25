// A local mosquitto that mirrors AWS IoT Core (DESIGN.md "Local broker"):
// TLS 1.2+ on a loopback port, client certificates required, the certificate's
// CN becomes the MQTT username (= thing name), and ACL patterns let each thing
// publish only to its own dt/<app>/<site>/<thing>/... and shadow topics, while
// one ingest identity reads everything and one shadow-service identity plays
// IoT Core's shadow service on $aws/things/+/shadow/#.
//
// Fault tests: Kill() is kill -9 (no cleanup, nothing flushed), Restart()
// starts the same mosquitto.conf on the same port.
//
// What survives a kill -9 (mosquitto 2.0.11; src/persist_write.c, src/loop.c,
// mosquitto.conf(5)):
// - BrokerPersistence::kOff (BrokerOptions' default): nothing. Sessions,
//   subscriptions, queued and in-flight messages live in memory only. A
//   message the broker PUBACKed to its publisher and had not yet written to
//   the subscriber's socket is gone, and so is everything queued for an
//   offline subscriber.
// - kEveryChange (`persistence true`, `autosave_on_changes true`,
//   `autosave_interval 1`): mosquitto rewrites its whole database
//   (mosquitto.db.new, fflush + fsync, rename) at the end of every event-loop
//   iteration that changed something. Saved: retained messages, sessions with
//   clean_start = false (MQTT 5: give them a session expiry interval > 0, or
//   they end at disconnect anyway), their subscriptions, and the QoS >= 1
//   messages queued or in flight to them. Never saved: clean-start sessions
//   and what is queued for them (devices connect with clean_start = true;
//   the live verifier, sim/verify/live_ingest.h, with clean_start = false and
//   a session expiry, so its session and queue are saved).
//   Still not guaranteed: the PUBACK to the publisher is written while the
//   PUBLISH is handled and the save comes after the rest of that loop
//   iteration, so a kill -9 in between loses a message its publisher saw
//   acknowledged. Bytes already in a subscriber socket's kernel buffer reach it
//   only if the kernel sends them before the FIN; Linux resets instead (and
//   drops them) when the killed broker left unread data in that socket.
//   Messages sent to a persistent subscriber but not yet PUBACKed by it are
//   sent again (DUP) after the restart: duplicates, not losses. Each save
//   costs O(stored messages) plus one fsync; with a subscriber that keeps up
//   the database stays tiny (177 bytes at the end of the runs below).
// - `persistence true` with mosquitto's default autosave_interval (1800 s)
//   would lose up to 30 minutes of changes; not offered.
//
// kFleetBrokerPersistence = kEveryChange: what `edgeforge sim` starts, so its
// verifier survives a broker kill -9 (tests/reliability/
// fleet_broker_kill_itest.cc; with kOff that test loses messages). Cost,
// measured on the 2-core dev box shared with other builds: mosquitto 2.0.11
// CPU (utime + stime from /proc) over `edgeforge sim --devices 100
// --duration 30s` against the same mosquitto.conf with and without the
// persistence lines (procedure: docs/reliability.md, "Verifiers"):
//   default windows (10 s; 204 messages, ~7/s)   kOff 0.46 s   kEveryChange 0.74 s
//   --interval 1s (2,904 messages, ~97/s)        kOff 1.04 s   kEveryChange 2.99 s
// i.e. about +0.67 ms of broker CPU per message, mostly in the kernel
// (fsync): +1% of a core at the demo's default, +6% at 100 msg/s. It grows
// linearly, and worse once the verifier falls behind, because every save
// writes what is queued for it: 10,000 devices at 1,000 msg/s got 180-600
// msg/s through to the verifier and a 199 MB database rewritten on every
// change. So the fleet keeps kEveryChange only up to kEveryChangeMaxRate
// scheduled msg/s and runs its broker in memory above it, saying so
// (sim/fleet/provisioning.h LocalBrokerPersistence).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::sim {

inline constexpr const char* kIngestIdentity = "edgeforge-ingest";
/// Plays AWS IoT Core's shadow service: may publish and subscribe
/// $aws/things/+/shadow/# (update/delta, update/accepted, ...), nothing under dt/.
inline constexpr const char* kShadowServiceIdentity = "edgeforge-shadow";

/// What mosquitto writes to disk (see the file comment for what each keeps).
enum class BrokerPersistence {
  kOff,          // in memory only: a kill -9 or restart forgets everything
  kEveryChange,  // database rewritten after every change; persistent sessions survive
};

/// What `edgeforge sim` starts its local broker with (the choice and its
/// measured cost: see the file comment).
inline constexpr BrokerPersistence kFleetBrokerPersistence = BrokerPersistence::kEveryChange;

struct BrokerOptions {
  std::string pki_dir;          // ca.crt, broker.crt, broker.key (certs/pki.h layout)
  std::string work_dir;         // mosquitto.conf, acl, mosquitto.log go here
  int port = 0;                 // 0: pick a free loopback port
  std::string mosquitto = "";   // binary; empty: search PATH, /usr/sbin, /usr/local/sbin
  Millis start_timeout{10000};  // Start() and Restart(): until TLS answers on the port
  BrokerPersistence persistence = BrokerPersistence::kOff;
};

/// mosquitto.conf text for `opts` listening on `port`.
std::string MosquittoConfig(const BrokerOptions& opts, int port);
/// ACL file text (mosquitto acl_file format).
std::string AclRules();
/// The mosquitto binary, or NOT_FOUND with the apt-get command that installs it.
Result<std::string> FindMosquitto(const std::string& hint);

class LocalBroker {
 public:
  /// Writes the config, removes a database left in work_dir by an earlier
  /// broker, starts mosquitto and waits until its port answers a TLS
  /// ClientHello. Errors carry the tail of mosquitto's log.
  static Result<std::unique_ptr<LocalBroker>> Start(const BrokerOptions& opts);
  ~LocalBroker();
  LocalBroker(const LocalBroker&) = delete;
  LocalBroker& operator=(const LocalBroker&) = delete;

  /// SIGTERM (mosquitto saves its database when persistence is on), then
  /// SIGKILL after `grace`. Idempotent.
  Status Stop(Millis grace = Millis(5000));
  /// kill -9 and reap: no cleanup, no database save; clients see their TCP
  /// connections closed by the kernel. port() and the config stay, so
  /// Restart() can follow. OK if the broker is not running.
  Status Kill();
  /// Starts mosquitto again with the same mosquitto.conf on the same port
  /// (with kEveryChange it loads the database it left) and waits until the
  /// port answers TLS, at most start_timeout. OK without doing anything if it
  /// is running. UNAVAILABLE with the log tail if it exits or does not answer
  /// (e.g. another process took the port meanwhile).
  Status Restart();
  /// Whether the mosquitto process is alive (reaps it if it exited).
  bool running() const;
  /// Same as running(); kept for existing callers.
  bool Running() { return running(); }

  int port() const { return port_; }
  /// The process id, or -1 when not running.
  pid_t pid() const { return pid_; }
  /// "ssl://localhost:<port>": the name the broker certificate carries.
  std::string uri() const { return "ssl://localhost:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  LocalBroker(pid_t pid, int port, std::string binary, std::string conf_path, std::string log_path,
              Millis start_timeout)
      : pid_(pid),
        port_(port),
        binary_(std::move(binary)),
        conf_path_(std::move(conf_path)),
        log_path_(std::move(log_path)),
        start_timeout_(start_timeout) {}
  /// Waits until the port answers TLS or the process exits or start_timeout_ passes.
  Status WaitUntilServing();

  mutable pid_t pid_;  // -1 once reaped; running() reaps, hence mutable
  int port_;
  std::string binary_;
  std::string conf_path_;
  std::string log_path_;
  Millis start_timeout_;
};

}  // namespace edgeforge::sim
