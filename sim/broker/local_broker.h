// A local mosquitto that mirrors AWS IoT Core (DESIGN.md "Local broker"):
// TLS 1.2+ on a loopback port, client certificates required, the certificate's
// CN becomes the MQTT username (= thing name), and ACL patterns let each thing
// publish only to its own dt/<app>/<site>/<thing>/... and shadow topics, while
// one ingest identity reads everything.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::sim {

inline constexpr const char* kIngestIdentity = "edgeforge-ingest";

struct BrokerOptions {
  std::string pki_dir;             // ca.crt, broker.crt, broker.key (certs/pki.h layout)
  std::string work_dir;            // mosquitto.conf, acl, mosquitto.log go here
  int port = 0;                    // 0: pick a free loopback port
  std::string mosquitto = "";      // binary; empty: search PATH, /usr/sbin, /usr/local/sbin
  Millis start_timeout{10000};
};

/// mosquitto.conf text for `opts` listening on `port`.
std::string MosquittoConfig(const BrokerOptions& opts, int port);
/// ACL file text (mosquitto acl_file format).
std::string AclRules();
/// The mosquitto binary, or NOT_FOUND with the apt-get command that installs it.
Result<std::string> FindMosquitto(const std::string& hint);

class LocalBroker {
 public:
  /// Writes the config, starts mosquitto and waits until its TLS port accepts
  /// connections. Errors carry the tail of mosquitto's log.
  static Result<std::unique_ptr<LocalBroker>> Start(const BrokerOptions& opts);
  ~LocalBroker();
  LocalBroker(const LocalBroker&) = delete;
  LocalBroker& operator=(const LocalBroker&) = delete;

  /// SIGTERM, then SIGKILL after `grace`. Idempotent.
  Status Stop(Millis grace = Millis(5000));
  /// SIGKILL now (fault tests).
  void Kill();
  /// Whether the mosquitto process is still running (reaps it if it exited).
  bool Running();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  /// "ssl://localhost:<port>": the name the broker certificate carries.
  std::string uri() const { return "ssl://localhost:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  LocalBroker(pid_t pid, int port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}
  pid_t pid_;
  int port_;
  std::string log_path_;
};

}  // namespace edgeforge::sim
