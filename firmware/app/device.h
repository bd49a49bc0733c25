// The firmware core: sensors -> pipeline (sample periods, report windows,
// threshold alarms) -> telemetry / alarm JSON -> detached JWS -> MQTT publish.
// The same class runs on a flashed gateway and inside every simulated device;
// everything it owns is injected (clock, storage, signer, session, pipeline).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "firmware/link/session.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/sequence.h"
#include "hal/clock.h"
#include "hal/storage.h"

namespace edgeforge::app {

struct DeviceOptions {
  std::string thing;              // thing name = MQTT client id = cert CN = "dev"
  std::string kind = "factory";   // node kind from the board: telemetry "kind"
  std::string app = "edgeforge";  // dt/<app>/<site>/<thing>/{telemetry,alarm}
  std::string site = "site-1";
  /// The MQTT 5 user property that carries the detached JWS.
  std::string jws_property = "jws";
};

struct DeviceCounters {
  uint64_t sampled = 0;        // messages built and signed (telemetry + alarms)
  uint64_t reports = 0;        // telemetry messages among them
  uint64_t alarms = 0;         // alarm messages among them
  uint64_t delivered = 0;      // PUBACKed by the broker
  uint64_t dropped = 0;        // could not be handed to or were refused by the broker
  uint64_t sensor_faults = 0;  // source Init/Sample failures (pipeline counters)
};

class Device {
 public:
  Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer, link::Session& session,
         pipeline::Pipeline& pipeline);

  /// Opens the sequence counter (boot + 1), initialises the pipeline's
  /// sensors (a failing sensor is reported in telemetry, not fatal) and
  /// connects.
  Status Start();
  /// Runs what is due at the clock's now: samples, then the alarm messages
  /// they raised (published first: they are the urgent ones), then the
  /// telemetry report when its window closed. Returns the monotonic instant
  /// to call Step again. Publish failures are counted, not returned.
  Micros Step();
  /// Disconnects and persists the exact next sequence number.
  Status Stop();

  /// Called (on the caller's thread) right before each publish is handed to
  /// the session: lets a fleet record send times and the expected seq range.
  using PublishObserver = std::function<void(uint64_t seq, Micros at)>;
  void set_publish_observer(PublishObserver o) { observer_ = std::move(o); }

  DeviceCounters counters() const;
  uint64_t boot() const { return seq_.boot(); }
  /// Publishes handed to the session whose PUBACK (or failure) is still pending.
  uint64_t in_flight() const { return in_flight_.load(); }
  const std::string& telemetry_topic() const { return telemetry_topic_; }
  const std::string& alarm_topic() const { return alarm_topic_; }
  const DeviceOptions& options() const { return options_; }

 private:
  /// The next seq, or nullopt (counted as dropped) if it could not be leased.
  std::optional<uint64_t> NextSeq();
  void PublishAlarm(const pipeline::AlarmEvent& e);
  void PublishReport(const pipeline::Window& w);
  /// Signs and hands `payload` to the session; counts the outcome.
  void Publish(const std::string& topic, std::string payload, uint64_t seq);

  DeviceOptions options_;
  Clock& clock_;
  jws::Signer& signer_;
  link::Session& session_;
  pipeline::Pipeline& pipeline_;
  telemetry::SequenceCounter seq_;
  std::string telemetry_topic_;
  std::string alarm_topic_;
  Micros started_{0};
  PublishObserver observer_;
  uint64_t sampled_ = 0;
  uint64_t reports_ = 0;
  uint64_t alarms_ = 0;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> in_flight_{0};
};

}  // namespace edgeforge::app
