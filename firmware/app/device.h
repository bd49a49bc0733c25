// The firmware core: sensors -> pipeline (sample periods, report windows,
// threshold alarms) -> telemetry / alarm JSON -> detached JWS -> the link
// (a durable outbox drained over a reconnecting MQTT session).
// The same class runs on a flashed gateway and inside every simulated device;
// everything it owns is injected (clock, storage, signer, session, pipeline).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "edgeforge/version.h"
#include "firmware/app/counting_storage.h"
#include "firmware/app/device_config.h"
#include "firmware/app/node.h"
#include "firmware/link/link.h"
#include "firmware/app/shadow.h"
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
  /// With both set, the device keeps its config in the device shadow: it
  /// loads the persisted config (or the board's), applies valid deltas from
  /// $aws/things/<thing>/shadow/update/delta and reports its state. Both
  /// must outlive the Device; `node` is the one the pipeline samples.
  const board::Board* board = nullptr;
  const Node* node = nullptr;
  std::string firmware_version = kVersion;  // CMake project version (edgeforge/version.h)
  /// One line per state-storage failure episode (the seq lease, config.json).
  std::function<void(const std::string&)> storage_log;
};

struct DeviceCounters {
  uint64_t sampled = 0;         // messages built and signed (telemetry + alarms)
  uint64_t reports = 0;         // telemetry messages among them
  uint64_t alarms = 0;          // alarm messages among them
  uint64_t shadow_reports = 0;  // reported-state updates queued for the device shadow (not in sampled)
  uint64_t shadow_gets = 0;     // /shadow/get requests queued, one per connection (not in sampled)
  uint64_t delivered = 0;       // PUBACKed by the broker (removed from the outbox)
  uint64_t dropped = 0;         // never to be delivered: outbox bound or storage failure, seq lease, signing
  uint64_t refused = 0;         // refused by the broker (MQTT 5 0x87, link stats().rejected); not in dropped
  uint64_t storage_errors = 0;  // failed storage operations: outbox log (write, sync, replace) + state files
  uint64_t queued = 0;          // in the durable outbox, not yet PUBACKed
  uint64_t reconnects = 0;      // connections re-established
  uint64_t sensor_faults = 0;   // source Init/Sample failures (pipeline counters)
  uint64_t key_rotations = 0;   // signing keys taken into use by RotateSigningKey (rotations completed)
  uint64_t identity_conflicts = 0;  // another device seen using this identity (takeovers, shadow reports)
};

/// What the boot before this one can no longer deliver (issue 8, "crash loss
/// is exact"): seqs it issued whose messages a kill -9, a power cut or a
/// damaged outbox log lost. Never less than the real loss; see
/// firmware/link/crash_loss.h for when it is more.
struct CrashLoss {
  uint64_t boot = 0;        // the previous boot
  bool any_issued = false;  // a seq was issued before this boot (else last_seq means nothing)
  uint64_t last_seq = 0;    // the last seq issued before this boot (by `boot` or, if it issued none, earlier)
  bool exact = false;       // last_seq from the issued mark; false: the lease limit, an upper bound
  uint64_t lost = 0;        // seqs <= last_seq that can no longer be delivered
  std::vector<link::crash_loss::SeqRange> ranges;  // those seqs
  std::string note;                                // why the count may be high (floor file problem), or empty
  Status resolved;  // recording the accounting in the outbox; not ok: the next boot counts these again
};

class Device {
 public:
  Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer, link::Link& link,
         pipeline::Pipeline& pipeline);
  /// Gives the link back the delivery observer it had before Start().
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  /// Opens the sequence counter (boot + 1), accounts the previous boot's
  /// crash loss (crash_loss()), initialises the pipeline's
  /// sensors (a failing sensor is reported in telemetry, not fatal) and
  /// starts the link (it connects in the background and keeps reconnecting:
  /// a broker that is down does not stop the device).
  Status Start();
  /// Runs what is due at the clock's now: samples, then the alarm messages
  /// they raised (queued at alarm priority: sent first, dropped last), then
  /// the telemetry report when its window closed, then the link. Returns the
  /// monotonic instant to call Step again. Failures are counted, not returned.
  Micros Step();
  /// Publishes what the link can within `drain`, disconnects, syncs the
  /// outbox (the rest stays queued on disk) and persists the next seq.
  Status Stop(Millis drain = Millis(2000));

  /// Signing-key rotation (docs/telemetry.md "Signing-key rotation"): makes
  /// a new ES256 key (jws::GenerateSigningKeyPem) for the current signer's
  /// backend and announces its public half in `status.next_key` of every
  /// telemetry window, signed with the current key, until the broker has
  /// accepted (PUBACKed) one of them; every message after that is signed
  /// with the new key. Waiting for the PUBACK, not just for the queue, means
  /// a window that is dropped or refused never leaves a verifier without the
  /// key; messages already queued keep their old-key signatures, which a
  /// verifier still accepts (their seqs are below the new key's first).
  /// After Start(). FAILED_PRECONDITION while a rotation is pending; the key
  /// generator's error otherwise. A rotation still pending when the device
  /// stops is not kept: the next start signs with the key it is given, which
  /// a verifier still accepts (the announced key was never used).
  Status RotateSigningKey();
  /// The same with a key the caller made (PEM, SEC1 or PKCS#8): INVALID_ARGUMENT
  /// if it is not an EC P-256 key or is the key in use.
  Status RotateSigningKey(std::string private_key_pem);
  /// Called on the device thread (from Step(), when the PUBACK is handled)
  /// as the new key takes over, with its kid and PEM, so that the owner can
  /// keep it for the next start. The PEM is secret: store it 0600, never log
  /// it. Set before rotating.
  using KeyRotationObserver = std::function<void(const std::string& kid, const std::string& private_key_pem)>;
  void set_key_rotation_observer(KeyRotationObserver o) { rotation_observer_ = std::move(o); }
  /// The kid messages are signed with now.
  const std::string& signing_kid() const { return signer_->kid(); }
  /// The kid announced and not yet in use; empty when no rotation is pending.
  std::string pending_kid() const { return next_signer_ ? next_signer_->kid() : std::string(); }

  /// Called (on the caller's thread) right before each publish is handed to
  /// the session: lets a fleet record send times and the expected seq range.
  using PublishObserver = std::function<void(uint64_t seq, Micros at)>;
  void set_publish_observer(PublishObserver o) { observer_ = std::move(o); }

  DeviceCounters counters() const;
  uint64_t boot() const { return seq_.boot(); }
  /// After Start: the previous boot's crash loss, or nullopt on a first boot.
  const std::optional<CrashLoss>& crash_loss() const { return crash_loss_; }
  /// Messages in the durable outbox, not yet PUBACKed.
  uint64_t queued() const;
  const std::string& telemetry_topic() const { return telemetry_topic_; }
  const std::string& alarm_topic() const { return alarm_topic_; }
  const DeviceOptions& options() const { return options_; }
  /// The active config (shadow), or nullptr without a board.
  const DeviceConfig* config() const { return shadow_ ? &shadow_->active() : nullptr; }
  /// The last shadow delta rejected, if the current config came with one.
  std::optional<app::ConfigError> config_error() const;

 private:
  Status StartShadow();
  /// Compares the previous boot's issued seqs with what the outbox recovered.
  void AccountCrashLoss();
  /// Applies or rejects the deltas that arrived since the last Step.
  void HandleDeltas(Micros now);
  /// Queues the reported state (sent at state priority).
  void ReportState();
  /// Once per new connection: queues a /shadow/get, so desired state set
  /// while the device was away arrives (IoT Core sends a delta only when an
  /// update happens). True if it queued one.
  bool RequestShadowOnConnect();
  /// The next seq, or nullopt (counted as dropped in `priority`'s class) if it could not be leased.
  std::optional<uint64_t> NextSeq(link::Priority priority);
  /// A message lost before the outbox counted it (seq lease, signing, refused as invalid).
  void CountDrop(link::Priority priority);
  void PublishAlarm(const pipeline::AlarmEvent& e);
  void PublishReport(const pipeline::Window& w);
  /// Signs and queues `payload` on the link; counts the outcome.
  void Publish(link::Priority priority, const std::string& topic, std::string payload, uint64_t seq);
  /// Another run of the firmware in the shadow's report, connected after
  /// this one started: Link::NoteIdentityConflict.
  void CheckSessionInShadow(const std::string& get_accepted);
  /// A PUBACK (link delivery observer): completes a pending rotation when it
  /// acknowledges a window that announced the new key.
  void OnDelivered(uint64_t seq);

  DeviceOptions options_;
  Clock& clock_;
  jws::Signer* signer_;  // the key in use: the injected one, or rotated_signer_
  link::Link& link_;
  pipeline::Pipeline& pipeline_;
  CountingStorage storage_;  // the injected storage, its failed writes counted
  telemetry::SequenceCounter seq_;
  std::string telemetry_topic_;
  std::string alarm_topic_;
  Micros started_{0};
  PublishObserver observer_;
  uint64_t sampled_ = 0;
  uint64_t reports_ = 0;
  uint64_t alarms_ = 0;
  uint64_t dropped_ = 0;  // lost before the outbox: seq lease or signing failed
  std::array<uint64_t, link::kPriorityCount> dropped_by_class_{};  // the same, by class
  // Shadow (with a board): deltas arrive from Link::Poll() on the device
  // thread (Session::Dispatch()), so deltas_ needs no lock.
  std::unique_ptr<app::ConfigShadow> shadow_;
  app::ShadowTopics shadow_topics_;
  std::vector<std::string> deltas_;             // queued by the delta handler, applied by Step()
  std::map<std::string, std::string> sensors_;  // last reported health, by device name
  uint64_t reported_reconnects_ = 0;
  uint64_t reported_storage_errors_ = 0;  // as last reported to the shadow
  uint64_t reported_refused_ = 0;
  uint64_t shadow_reports_ = 0;
  uint64_t shadow_gets_ = 0;
  uint64_t shadow_get_connects_ = 0;  // link_.stats().connects when the last get was queued
  std::optional<CrashLoss> crash_loss_;
  std::string instance_;            // this run: "<boot>-<wall ms at start>" (the shadow report's session)
  int64_t start_wall_ms_ = 0;
  int64_t connected_since_ms_ = 0;  // wall ms when the current connection was seen up (0: none yet)
  // Signing-key rotation: the key announced and not yet in use, its PEM
  // (handed to rotation_observer_ at the switch, then wiped), the seqs of the
  // windows that announced it, and the key in use after the last switch.
  std::unique_ptr<jws::Signer> next_signer_;
  std::string next_key_pem_;
  std::set<uint64_t> announcing_seqs_;
  std::unique_ptr<jws::Signer> rotated_signer_;
  KeyRotationObserver rotation_observer_;
  uint64_t key_rotations_ = 0;
  link::Link::DeliveryObserver previous_delivery_observer_;  // the owner's, chained behind ours
  bool observing_deliveries_ = false;
};

}  // namespace edgeforge::app
