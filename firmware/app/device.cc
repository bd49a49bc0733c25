#include "firmware/app/device.h"

#include <algorithm>

#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::app {
namespace {

/// Windows announcing a new key whose PUBACK is awaited (Device::OnDelivered).
constexpr size_t kMaxAnnouncingSeqs = 1024;

}  // namespace

Device::Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer, link::Link& link,
               pipeline::Pipeline& pipeline)
    : options_(std::move(options)),
      clock_(clock),
      signer_(&signer),
      link_(link),
      pipeline_(pipeline),
      storage_(storage, options_.storage_log),
      seq_(storage_) {}

Device::~Device() {
  if (observing_deliveries_) link_.set_delivery_observer(std::move(previous_delivery_observer_));
}

Status Device::Start() {
  EF_RETURN_IF_ERROR(telemetry::ValidateKind(options_.kind).WithContext("kind"));
  auto t = topic::TelemetryTopic(options_.app, options_.site, options_.thing);
  if (!t.ok()) return t.status();
  telemetry_topic_ = *t;
  auto a = topic::AlarmTopic(options_.app, options_.site, options_.thing);
  if (!a.ok()) return a.status();
  alarm_topic_ = *a;
  EF_RETURN_IF_ERROR(seq_.Open().WithContext(options_.thing));
  // This run of the firmware, as its shadow report names it: the boot
  // counter and the wall clock at start tell it from an earlier run of the
  // same device and, practically always, from another device with a copy of
  // the identity (CheckSessionInShadow).
  start_wall_ms_ = clock_.WallMillis();
  instance_ = std::to_string(seq_.boot()) + "-" + std::to_string(start_wall_ms_);
  AccountCrashLoss();
  started_ = clock_.Monotonic();
  EF_RETURN_IF_ERROR(pipeline_.Init().WithContext(options_.thing));
  if (options_.board != nullptr && options_.node != nullptr) EF_RETURN_IF_ERROR(StartShadow());
  // A key rotation waits for the PUBACK of a window that announced the new
  // key; the owner's observer (a fleet's loss attribution) still sees every
  // outcome, after ours.
  if (!observing_deliveries_) {
    previous_delivery_observer_ = link_.delivery_observer();
    link_.set_delivery_observer([this](uint64_t seq, const Status& result) {
      if (result.ok()) OnDelivered(seq);
      if (previous_delivery_observer_) previous_delivery_observer_(seq, result);
    });
    observing_deliveries_ = true;
  }
  link_.Start();
  return Status::Ok();
}

void Device::AccountCrashLoss() {
  link::Outbox& box = link_.outbox();
  if (const std::optional<telemetry::PreviousBoot>& prev = seq_.previous_boot()) {
    const link::crash_loss::Recovered& r = box.recovered();
    const link::crash_loss::Loss loss = link::crash_loss::ComputeLoss(r.floor, r.surviving, prev->issued_below);
    CrashLoss c;
    c.boot = prev->boot;
    c.any_issued = prev->issued_below > 0;
    c.last_seq = c.any_issued ? prev->issued_below - 1 : 0;
    c.exact = prev->exact;
    c.lost = loss.count;
    c.ranges = loss.lost;
    if (!r.floor_problem.empty()) c.note = "outbox floor " + r.floor_problem + ": every seq without a record counted";
    crash_loss_ = std::move(c);
  }
  // Everything below this boot's first seq is now accounted: delivered,
  // dropped, still queued, or in crash_loss_.
  Status s = box.ResolveCrashLoss(seq_.peek_next());
  if (crash_loss_) crash_loss_->resolved = std::move(s);
}

Status Device::StartShadow() {
  auto topics = app::ShadowTopicsFor(options_.thing);
  if (!topics.ok()) return topics.status();
  shadow_topics_ = *topics;
  const std::set<std::string> channels = ChannelsOf(*options_.node);
  std::optional<app::ConfigError> load_error;
  DeviceConfig config = DefaultsFrom(*options_.board);
  auto loaded = LoadConfig(storage_, *options_.board, channels);
  if (loaded.ok()) {
    config = *loaded;
  } else if (loaded.status().code() != StatusCode::kNotFound) {
    // A corrupt or stale persisted config must not stop the device: run on
    // the board's and say so in the reported state.
    load_error = app::ConfigError{0, loaded.status().ToString()};
  }
  const PipelineSettings p = ToPipeline(config, *options_.node);
  EF_RETURN_IF_ERROR(pipeline_.Reconfigure(clock_.Monotonic(), p.sample_periods, p.report_period, p.rules)
                         .WithContext(options_.thing + " config"));
  shadow_ = std::make_unique<app::ConfigShadow>(*options_.board, channels, config);
  if (load_error) shadow_->Fail(*load_error);
  // Runs on the device thread, from Link::Poll(): no lock. Deltas are only
  // queued here and applied by Step(), so a delta never reconfigures the
  // pipeline in the middle of the link's Dispatch().
  link_.Subscribe(shadow_topics_.update_delta, 1, [this](const link::IncomingMessage& m) {
    if (deltas_.size() < 16)
      deltas_.push_back(m.payload);  // a flood of deltas: the newest are dropped, the shadow resends
  });
  // "Interacting with shadows": a device that connects asks for its shadow
  // (/get) and applies the delta in get/accepted. The SUBSCRIBE goes out at
  // CONNACK, before the get (RequestShadowOnConnect), so the broker has the
  // subscription when the answer comes.
  link_.Subscribe(shadow_topics_.get_accepted, 1, [this](const link::IncomingMessage& m) {
    auto delta = app::DeltaFromGetAccepted(m.payload);
    if (delta.ok() && deltas_.size() < 16) deltas_.push_back(std::move(*delta));
    CheckSessionInShadow(m.payload);
  });
  for (const NodePart& part : options_.node->parts()) sensors_[part.device->name] = "ok";
  // The first report goes out on connect, right behind the get
  // (RequestShadowOnConnect): IoT Core answers a stale desired with a delta.
  return Status::Ok();
}

void Device::HandleDeltas(Micros now) {
  std::vector<std::string> deltas;
  deltas.swap(deltas_);
  for (const std::string& json : deltas) {
    app::DeltaDecision d = shadow_->OnDelta(json);
    if (d.action == app::DeltaAction::kIgnore) continue;
    if (d.action == app::DeltaAction::kApply) {
      const PipelineSettings p = ToPipeline(d.config, *options_.node);
      Status s = pipeline_.Reconfigure(now, p.sample_periods, p.report_period, p.rules);
      if (s.ok()) s = SaveConfig(storage_, d.config);
      if (s.ok()) {
        shadow_->Commit(d.config);
      } else {
        shadow_->Fail(app::ConfigError{d.config.version, s.ToString()});
      }
    } else {
      shadow_->Fail(d.error);
    }
    ReportState();
  }
}

void Device::CheckSessionInShadow(const std::string& get_accepted) {
  // The shadow's last report is another run's, made after this run started:
  // another device is connected as this thing (a broker that ends the older
  // connection with DISCONNECT 0x8E tells the link directly; mosquitto 2.0
  // just closes it). An earlier run of this device reported before this one
  // started, so a reboot is never taken for a copy.
  const auto other = app::ReportedSessionFromGetAccepted(get_accepted);
  if (!other || other->instance == instance_ || other->since_ms < start_wall_ms_) return;
  link_.NoteIdentityConflict("the shadow of " + options_.thing + " was reported by another run (" + other->instance +
                             ", connected since " + std::to_string(other->since_ms) + " ms) after this run (" +
                             instance_ + ") started");
}

bool Device::RequestShadowOnConnect() {
  const uint64_t connects = link_.stats().connects;
  if (link_.state() != link::Link::State::kConnected || connects == shadow_get_connects_) return false;
  shadow_get_connects_ = connects;
  link::OutgoingMessage get;
  get.topic = shadow_topics_.get;
  get.payload = "{}";  // IoT Core takes an empty or JSON get request; no clientToken needed
  if (link_.Send(link::Priority::kState, 0, get).code() == StatusCode::kInvalidArgument) {
    CountDrop(link::Priority::kState);
    return false;
  }
  ++shadow_gets_;
  // Then this run's session, right behind the get: the shadow answers the
  // get first (one client's messages are handled in order), so the answer
  // still shows who reported before this connection (CheckSessionInShadow),
  // and a copy of this identity connecting later sees this run at once.
  connected_since_ms_ = clock_.WallMillis();
  ReportState();
  return true;
}

void Device::ReportState() {
  if (!shadow_) return;
  app::ReportedInfo info;
  info.firmware_version = options_.firmware_version;
  info.config = shadow_->active();
  info.config_error = shadow_->error();
  info.sensors = sensors_;
  const link::OutboxStats q = link_.outbox_stats();
  info.queue = {q.depth, q.bytes, q.dropped[0] + dropped_by_class_[0], q.dropped[1] + dropped_by_class_[1],
                q.dropped[2] + dropped_by_class_[2]};
  info.reconnects = link_.stats().reconnects;
  const DeviceCounters c = counters();
  info.storage_errors = c.storage_errors;
  info.refused = c.refused;
  reported_reconnects_ = info.reconnects;
  info.instance = instance_;
  // Before the first connection: the run's start.
  info.connected_since_ms = connected_since_ms_ != 0 ? connected_since_ms_ : start_wall_ms_;
  reported_storage_errors_ = info.storage_errors;
  reported_refused_ = info.refused;
  if (crash_loss_) info.crash_loss = app::CrashLossReport{crash_loss_->boot, crash_loss_->lost};
  link::OutgoingMessage out;
  out.topic = shadow_topics_.update;
  out.payload = app::ReportedState(info);
  ++shadow_reports_;
  // Shadow documents are not telemetry: no seq of their own (0), no JWS.
  // The outbox counts every failure but INVALID_ARGUMENT (firmware/link/outbox.h).
  if (link_.Send(link::Priority::kState, 0, out).code() == StatusCode::kInvalidArgument) {
    CountDrop(link::Priority::kState);
  }
}

std::optional<app::ConfigError> Device::config_error() const { return shadow_ ? shadow_->error() : std::nullopt; }

Micros Device::Step() {
  if (shadow_) HandleDeltas(clock_.Monotonic());
  pipeline::StepResult r = pipeline_.Step(clock_.Monotonic(), clock_.WallMillis());
  for (const auto& e : r.alarms) PublishAlarm(e);
  if (r.report) {
    PublishReport(*r.report);
    if (shadow_) {
      // Sensor health or the link changed: tell the shadow (not every window).
      std::map<std::string, std::string> health;
      for (const NodePart& part : options_.node->parts()) health[part.device->name] = "ok";
      for (const std::string& f : r.report->faults) {
        const size_t colon = f.find(": ");
        if (colon != std::string::npos && health.count(f.substr(0, colon)))
          health[f.substr(0, colon)] = f.substr(colon + 2);
      }
      // Storage errors or refusals since the last report: tell the shadow too
      // (at most once per window, also while the disk stays full).
      const DeviceCounters c = counters();
      if (health != sensors_ || link_.stats().reconnects != reported_reconnects_ ||
          c.storage_errors != reported_storage_errors_ || c.refused != reported_refused_) {
        sensors_ = std::move(health);
        ReportState();
      }
    }
  }
  Micros link_wake = link_.Poll();
  if (shadow_ && RequestShadowOnConnect()) link_wake = link_.Poll();  // send the get now, not at the next wake
  return std::min(r.next_wake, link_wake);
}

std::optional<uint64_t> Device::NextSeq(link::Priority priority) {
  auto seq = seq_.Next();
  if (seq.ok()) return *seq;
  CountDrop(priority);  // the counter could not be made durable: never risk a reused seq
  return std::nullopt;
}

void Device::CountDrop(link::Priority priority) {
  ++dropped_;
  ++dropped_by_class_[static_cast<size_t>(priority)];
}

void Device::PublishAlarm(const pipeline::AlarmEvent& e) {
  const std::optional<uint64_t> seq = NextSeq(link::Priority::kAlarm);
  if (!seq) return;
  telemetry::AlarmMessage m;
  m.dev = options_.thing;
  m.kind = options_.kind;
  m.seq = *seq;
  m.boot = seq_.boot();
  m.ts = e.ts_ms;
  m.alarm = e.alarm;
  ++alarms_;
  Publish(link::Priority::kAlarm, alarm_topic_, telemetry::Serialize(m), m.seq);
}

void Device::PublishReport(const pipeline::Window& w) {
  const std::optional<uint64_t> seq = NextSeq(link::Priority::kBulk);
  if (!seq) return;
  telemetry::Telemetry m;
  m.dev = options_.thing;
  m.kind = options_.kind;
  m.seq = *seq;
  m.boot = seq_.boot();
  m.ts = w.end_ms;
  m.window_start = w.start_ms;
  m.window_ms = static_cast<uint64_t>(std::chrono::duration_cast<Millis>(w.length).count());
  m.readings = w.channels;
  m.status.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.Monotonic() - started_).count();
  const DeviceCounters c = counters();
  const link::OutboxStats q = link_.outbox_stats();
  m.status.dropped = c.dropped;
  m.status.faults = w.faults;
  m.status.skipped_samples = w.skipped_samples;
  m.status.queue_depth = q.depth;
  m.status.dropped_by_class = {q.dropped[0] + dropped_by_class_[0], q.dropped[1] + dropped_by_class_[1],
                               q.dropped[2] + dropped_by_class_[2]};
  m.status.storage_errors = c.storage_errors;
  m.status.refused = c.refused;
  m.status.quarantined = q.quarantined_records;
  m.status.reconnects = c.reconnects;
  if (crash_loss_ && crash_loss_->any_issued) {
    m.status.prev_boot =
        telemetry::PrevBoot{crash_loss_->boot, crash_loss_->last_seq, crash_loss_->exact, crash_loss_->lost};
  }
  if (next_signer_) {
    // Announced with the current key in every window until one is PUBACKed
    // (OnDelivered). Seq 0 is also the seq of every shadow message, so a
    // window with seq 0 cannot be told apart by its PUBACK: the next one counts.
    m.status.next_key = jws::Jwk{next_signer_->kid(), "", next_signer_->public_key()};
    if (m.seq != 0) announcing_seqs_.insert(m.seq);
    // Bounded while the broker refuses every window: forgetting the oldest
    // only means a later window's PUBACK completes the rotation.
    if (announcing_seqs_.size() > kMaxAnnouncingSeqs) announcing_seqs_.erase(announcing_seqs_.begin());
  }
  ++reports_;
  Publish(link::Priority::kBulk, telemetry_topic_, telemetry::Serialize(m), m.seq);
}

void Device::Publish(link::Priority priority, const std::string& topic, std::string payload, uint64_t seq) {
  ++sampled_;
  link::OutgoingMessage out;
  out.topic = topic;
  out.payload = std::move(payload);
  auto jws = signer_->Sign(out.payload);
  if (!jws.ok()) {
    CountDrop(priority);
    return;
  }
  out.user_properties.emplace_back(options_.jws_property, std::move(*jws));
  if (observer_) observer_(seq, clock_.Monotonic());
  // The outbox counts every failure after validating the message (bound,
  // ENOSPC, EIO, torn write: dropped; failed fdatasync: still queued) in its
  // stats; INVALID_ARGUMENT is the one it leaves to us (firmware/link/outbox.h).
  if (link_.Send(priority, seq, out).code() == StatusCode::kInvalidArgument) CountDrop(priority);
}

Status Device::RotateSigningKey() {
  auto pem = jws::GenerateSigningKeyPem();
  if (!pem.ok()) return pem.status().WithContext("key rotation");
  return RotateSigningKey(std::move(*pem));
}

Status Device::RotateSigningKey(std::string private_key_pem) {
  if (!observing_deliveries_) return FailedPrecondition("key rotation: the device is not started");
  if (next_signer_) {
    return FailedPrecondition("key rotation: kid '" + next_signer_->kid() +
                              "' is announced and not yet in use; one rotation at a time");
  }
  auto next = jws::MakeSigner(signer_->backend(), private_key_pem);
  if (!next.ok()) return next.status().WithContext("key rotation");
  if ((*next)->kid() == signer_->kid()) return InvalidArgument("key rotation: the new key is the key in use");
  next_signer_ = std::move(*next);
  next_key_pem_ = std::move(private_key_pem);
  announcing_seqs_.clear();
  return Status::Ok();
}

void Device::OnDelivered(uint64_t seq) {
  if (!next_signer_ || announcing_seqs_.count(seq) == 0) return;
  // The broker holds a window announcing the new key, ahead of anything the
  // new key will sign: from here on every message is signed with it.
  rotated_signer_ = std::move(next_signer_);
  signer_ = rotated_signer_.get();
  announcing_seqs_.clear();
  ++key_rotations_;
  if (rotation_observer_) rotation_observer_(signer_->kid(), next_key_pem_);
  std::fill(next_key_pem_.begin(), next_key_pem_.end(), '\0');  // best effort: the key lives on in the signer
  next_key_pem_.clear();
}

Status Device::Stop(Millis drain) {
  Status s = link_.Stop(drain);
  Status c = seq_.Close();
  return s.ok() ? c : s;
}

uint64_t Device::queued() const { return link_.outbox_stats().depth; }

DeviceCounters Device::counters() const {
  uint64_t faults = 0;
  for (const auto& c : pipeline_.counters()) faults += c.failures;
  const link::LinkStats l = link_.stats();
  const link::OutboxStats q = link_.outbox_stats();
  DeviceCounters c;
  c.sampled = sampled_;
  c.reports = reports_;
  c.alarms = alarms_;
  c.shadow_reports = shadow_reports_;
  c.shadow_gets = shadow_gets_;
  c.delivered = l.delivered;
  c.dropped = dropped_ + q.dropped[0] + q.dropped[1] + q.dropped[2];
  c.refused = l.rejected;
  c.storage_errors = q.storage_errors + storage_.errors();
  c.queued = q.depth;
  c.reconnects = l.reconnects;
  c.sensor_faults = faults;
  c.key_rotations = key_rotations_;
  c.identity_conflicts = l.taken_over + l.identity_conflicts;
  return c;
}

}  // namespace edgeforge::app
