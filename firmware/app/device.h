// The firmware core: sample -> telemetry JSON -> detached JWS -> MQTT publish.
// The same class runs on a flashed gateway and inside every simulated device;
// everything it owns is injected (clock, storage, signer, session, sensors).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/link/session.h"
#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/sequence.h"
#include "hal/clock.h"
#include "hal/storage.h"

namespace edgeforge::app {

struct DeviceOptions {
  std::string thing;                // thing name = MQTT client id = cert CN = "dev"
  std::string app = "edgeforge";    // dt/<app>/<site>/<thing>/telemetry
  std::string site = "site-1";
  /// The MQTT 5 user property that carries the detached JWS.
  std::string jws_property = "jws";
};

struct DeviceCounters {
  uint64_t sampled = 0;     // messages built and signed
  uint64_t delivered = 0;   // PUBACKed by the broker
  uint64_t dropped = 0;     // could not be handed to or were refused by the broker
  uint64_t sensor_faults = 0;
};

class Device {
 public:
  Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer,
         link::Session& session, std::vector<SensorSource*> sensors);

  /// Opens the sequence counter (boot + 1), initialises sensors (a failing
  /// sensor is reported in telemetry, not fatal) and connects.
  Status Start();
  /// One sample -> sign -> publish cycle. Returns the publish hand-off status;
  /// the broker's answer arrives later and is counted in counters().
  Status PublishOnce();
  /// Disconnects and persists the exact next sequence number.
  Status Stop();

  /// Called (on the caller's thread) right before each publish is handed to the
  /// session: lets a fleet record send times and the expected seq range.
  using PublishObserver = std::function<void(uint64_t seq, Micros at)>;
  void set_publish_observer(PublishObserver o) { observer_ = std::move(o); }

  DeviceCounters counters() const;
  uint64_t boot() const { return seq_.boot(); }
  /// Publishes handed to the session whose PUBACK (or failure) is still pending.
  uint64_t in_flight() const { return in_flight_.load(); }
  const std::string& topic() const { return topic_; }
  const DeviceOptions& options() const { return options_; }

 private:
  telemetry::Message Sample();

  DeviceOptions options_;
  Clock& clock_;
  jws::Signer& signer_;
  link::Session& session_;
  std::vector<SensorSource*> sensors_;
  telemetry::SequenceCounter seq_;
  std::string topic_;
  Micros started_{0};
  PublishObserver observer_;
  uint64_t sampled_ = 0;
  uint64_t sensor_faults_ = 0;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> in_flight_{0};
};

}  // namespace edgeforge::app
