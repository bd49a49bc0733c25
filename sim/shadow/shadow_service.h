// The local broker's device shadow service: what AWS IoT Core does on the
// reserved shadow topics ("Device Shadow MQTT topics"), played by the
// kShadowServiceIdentity client (sim/broker/local_broker.h; the ACL lets it
// read and write $aws/things/+/shadow/#).
//
// It subscribes to $aws/things/+/shadow/update, /get and /delete (QoS 1),
// applies each request to that thing's ShadowDocument (shadow_document.h)
// and publishes the replies on .../update/accepted, .../update/rejected,
// .../update/delta, .../update/documents, .../get/accepted, ... exactly as
// IoT Core names them. Devices can only reach their own thing's topics (the
// broker's ACL), so the thing in the topic is the requester's own.
//
// Documents persist in one JSON file (store_path) written atomically (temp +
// fsync + rename) at most every save_interval (or 10x the last write's
// duration, for large fleets) and at Stop(), so a restarted broker and
// service keep them; a kill -9 of the service loses the changes since the
// last write. A lost connection (a broker kill or
// restart) is retried every second until Stop().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "firmware/link/session.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "sim/shadow/shadow_document.h"

namespace edgeforge::sim::shadow {

struct ShadowServiceOptions {
  std::string broker_uri;  // ssl://host:port
  std::string pki_dir;     // ca.crt, shadow.crt, shadow.key (certs/pki.h layout)
  /// The documents' file; empty keeps them in memory only.
  std::string store_path;
  std::string client_id = "edgeforge-shadow-service";
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds save_interval{200};
  /// Epoch seconds for the documents' timestamps; empty: the system clock.
  std::function<int64_t()> now_s;
  /// One line per connection event and per unreadable request topic.
  std::function<void(const std::string&)> log;
};

struct ShadowServiceStats {
  uint64_t requests = 0;          // update/get/delete messages handled
  uint64_t rejected = 0;          // answered on .../rejected
  uint64_t publish_failures = 0;  // replies the broker did not take
  uint64_t saves = 0;             // store file writes
  uint64_t reconnects = 0;
  std::string last_error;
};

class ShadowService {
 public:
  /// Loads store_path (a missing file is an empty store; an unreadable or
  /// malformed one fails naming the file and field), connects as
  /// pki_dir/shadow.crt (one attempt: a service that cannot reach its broker
  /// at start is an error) and subscribes.
  static Result<std::unique_ptr<ShadowService>> Start(const ShadowServiceOptions& options);
  ~ShadowService();
  ShadowService(const ShadowService&) = delete;
  ShadowService& operator=(const ShadowService&) = delete;

  /// Saves the documents, disconnects. Idempotent.
  Status Stop();
  ShadowServiceStats stats() const;
  bool connected() const;

  /// Reads a store file into documents (for Start and tests).
  static Result<std::map<std::string, ShadowDocument>> LoadStore(const std::string& path);
  static std::string StoreJson(const std::map<std::string, ShadowDocument>& documents);

 private:
  explicit ShadowService(ShadowServiceOptions options) : options_(std::move(options)) {}
  void Supervise();
  void OnMessage(const link::IncomingMessage& m);
  void Publish(const std::string& topic, const std::string& payload);
  Status SubscribeAll();
  Status Save();
  int64_t Now() const;
  void Log(const std::string& line) const;

  ShadowServiceOptions options_;
  SystemClock clock_;  // paces ConnectAndWait / SubscribeAndWait
  // Supervisor thread only (and the starting thread before it exists).
  std::map<std::string, ShadowDocument> documents_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_save_;
  std::chrono::milliseconds save_gap_{200};  // save_interval, or 10x the last save's duration
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;
  bool woken_ = false;
  ShadowServiceStats stats_;
  std::thread supervisor_;
  std::unique_ptr<link::Session> session_;  // last: destroyed first
};

/// The file the service keeps beside a local broker: <broker work dir>/shadows.json.
inline std::string StorePathIn(const std::string& broker_work_dir) { return broker_work_dir + "/shadows.json"; }

/// The service as `edgeforge broker` and the sim's embedded broker run it:
/// `pki_dir`'s shadow identity on `broker_uri`, documents in
/// StorePathIn(broker_work_dir); `log` gets its connection events.
Result<std::unique_ptr<ShadowService>> StartBesideBroker(const std::string& broker_uri, const std::string& pki_dir,
                                                         const std::string& broker_work_dir,
                                                         std::function<void(const std::string&)> log);

}  // namespace edgeforge::sim::shadow
