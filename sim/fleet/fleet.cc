#include "sim/fleet/fleet.h"

#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>

#include "certs/pki.h"
#include "firmware/telemetry/topic.h"
#include "hal/linux/fs.h"
#include "hal/linux/shared_log_store.h"
#include "hal/sim/sim_append_log.h"
#include "sim/fleet/devices.h"
#include "sim/fleet/fleet_verifier.h"
#include "sim/fleet/metrics_server.h"
#include "sim/fleet/provisioning.h"
#include "sim/fleet/scheduler.h"
#include "sim/shadow/shadow_service.h"
#include "sim/transport/event_loop.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// The --prometheus page: the live counters, named as Prometheus's naming
/// guide asks (a unit suffix, _total on counters).
std::string RenderFleetMetrics(const FleetSnapshot& f, double scheduled_rate, const LatencyHistogram* latency) {
  const auto count = [](uint64_t v) { return static_cast<double>(v); };
  std::string out;
  out += PrometheusFamily("edgeforge_sim_devices", "gauge", "Devices in the run.", {{"", f.devices}});
  out += PrometheusFamily("edgeforge_sim_connected_devices", "gauge",
                          "Devices that have connected at least once since the run started.", {{"", f.connected}});
  out += PrometheusFamily("edgeforge_sim_online_devices", "gauge", "Devices connected now (tallied every second).",
                          {{"", f.online}});
  out += PrometheusFamily("edgeforge_sim_up", "gauge", "1 once the fleet is up and the measured window has started.",
                          {{"", f.up ? 1 : 0}});
  out +=
      PrometheusFamily("edgeforge_sim_elapsed_seconds", "gauge", "Seconds since the run started.", {{"", f.elapsed_s}});
  out += PrometheusFamily("edgeforge_sim_scheduled_messages_per_second", "gauge",
                          "Telemetry the devices' report windows schedule per second, the whole fleet up.",
                          {{"", scheduled_rate}});
  out += PrometheusFamily("edgeforge_sim_published_messages_total", "counter",
                          "Telemetry and alarm messages the devices built, signed and handed to their links.",
                          {{"", count(f.published)}});
  out += PrometheusFamily("edgeforge_sim_delivered_messages_total", "counter",
                          "Messages the broker acknowledged (PUBACK), shadow updates included.",
                          {{"", count(f.delivered)}});
  out += PrometheusFamily("edgeforge_sim_queued_messages", "gauge",
                          "Messages in the devices' durable outboxes, not yet acknowledged.", {{"", count(f.queued)}});
  out += PrometheusFamily("edgeforge_sim_errors_total", "counter", "Errors by kind.",
                          {{"{kind=\"dropped\"}", count(f.dropped)},
                           {"{kind=\"refused\"}", count(f.refused)},
                           {"{kind=\"connection_lost\"}", count(f.connections_lost)},
                           {"{kind=\"connect_failed\"}", count(f.connect_failures)}});
  if (f.verified >= 0) {
    out += PrometheusFamily("edgeforge_sim_verified_messages_total", "counter",
                            "Messages the ingest verifier received with a valid signature.",
                            {{"", static_cast<double>(f.verified)}});
  }
  if (latency != nullptr) {
    out +=
        latency->Prometheus("edgeforge_sim_latency_seconds", "Device publish to verifier receive, verified messages.");
  }
  return out;
}

/// Failures of the first few devices, so a run that cannot connect says why.
constexpr int kFailuresLogged = 5;

Result<std::unique_ptr<LocalBroker>> StartBroker(const FleetOptions& o, const Provisioned& p, std::ostream& log) {
  BrokerOptions b;
  b.pki_dir = p.pki_dir;
  b.work_dir = o.work_dir + "/broker";
  b.persistence = LocalBrokerPersistence(o, p, log);
  auto started = LocalBroker::Start(b);
  if (!started.ok()) return started.status();
  log << "broker: local mosquitto pid " << (*started)->pid() << " at " << (*started)->uri() << " (log "
      << (*started)->log_path() << ")\n";
  return started;
}

/// Counters, connects, the schedule and what was achieved of it.
void Count(const std::vector<std::unique_ptr<VirtualDevice>>& devices, const Provisioned& p, const ScheduleOutcome& run,
           FleetReport& r) {
  const Micros window = run.end - run.up;
  r.series = run.series;
  for (const ProvisionedGroup& g : p.groups) {
    GroupReport gr;
    gr.name = g.name;
    gr.board = p.boards[g.board].name;
    gr.site = g.site;
    r.groups.push_back(std::move(gr));
  }
  r.up_s = std::chrono::duration<double>(run.up).count();
  r.measured_s = std::chrono::duration<double>(window).count();
  r.worst_lag_ms = std::chrono::duration<double, std::milli>(run.worst_lag).count();
  r.workers = run.workers;
  r.open_files = run.open_files;
  for (const auto& d : devices) {
    // A device without power (a power-cut fault) has no schedule meanwhile.
    const Micros on = std::max(window - d->off_total, Micros(0));
    std::vector<std::pair<Micros, Micros>> changes;
    for (const auto& [at, period] : d->report_changes) changes.emplace_back(at - run.up, period);
    const uint64_t scheduled =
        ScheduledReportsWithChanges(on, StaggerOffset(d->index, devices.size(), d->report), d->report, changes);
    r.scheduled += scheduled;
    const auto c = d->Counters();
    r.power_cuts += d->power_cuts;
    GroupReport& g = r.groups[p.group_of[d->index]];
    ++g.devices;
    g.things.push_back(d->thing);
    g.published += c.reports + c.alarms;
    g.delivered += c.delivered;
    g.dropped += c.dropped;
    g.refused += c.refused;
    if (d->connected()) {
      ++r.connected;
      ++g.connected;
      if (d->late) ++r.late;
      if (c.reports + c.alarms == 0 && scheduled > 0) {
        ++r.never_published;
        ++g.never_published;
      }
    }
    r.sampled += c.sampled;
    r.reports += c.reports;
    r.alarms += c.alarms;
    r.achieved += c.reports + c.alarms;
    // Shadow traffic is in `delivered` too: the reports and one get per connection.
    r.shadow_reports += c.shadow_reports + c.shadow_gets;
    r.sensor_faults += c.sensor_faults;
    r.delivered += c.delivered;
    r.dropped += c.dropped + c.refused;  // refused is apart from dropped in DeviceCounters (issue 8)
  }
}

/// Lines from other threads (the outbox stores' recovery and compaction
/// notes), written to the log by the fleet thread only.
class LogQueue {
 public:
  void Push(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
  }
  void Flush(std::ostream& log) {
    std::vector<std::string> lines;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines.swap(lines_);
    }
    for (const std::string& l : lines) log << l << "\n";
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;  // guarded by mu_
};

/// Where each device's outbox lives, by --sync (docs/reliability.md):
///   never   in memory: no files, nothing survives the run
///   batch   a tenant of its worker's SharedLogStore
///           (<work>/devices/worker-<w>/store.log): the worker group-commits
///           the whole store every 200 ms with one fdatasync, so the outbox
///           itself never syncs; one file per worker instead of two per device
///   always  its own files, one fdatasync per message (the device binary's way)
class OutboxStores {
 public:
  Status Open(const FleetOptions& o, int workers, LogQueue& log) {
    sync_ = o.sync;
    if (o.sync != link::SyncPolicy::kBatch) return Status::Ok();
    for (int w = 0; w < workers; ++w) {
      StoreOptions so;
      so.log = [&log, w](const std::string& line) { log.Push("outbox store " + std::to_string(w) + ": " + line); };
      auto store = SharedLogStore::Open(o.work_dir + "/devices/worker-" + std::to_string(w) + "/store.log", so);
      if (!store.ok()) return store.status().WithContext("--sync batch outbox store");
      stores_.push_back(std::move(*store));
    }
    return Status::Ok();
  }
  OutboxBackend For(size_t device, const std::string& thing) {
    OutboxBackend b;
    b.sync = sync_;
    if (sync_ == link::SyncPolicy::kNever) {
      b.log = [thing]() -> Result<std::unique_ptr<AppendLog>> {
        return std::unique_ptr<AppendLog>(std::make_unique<SimAppendLog>("memory:" + thing + "/outbox"));
      };
    } else if (!stores_.empty()) {
      SharedLogStore* store = stores_[WorkerOf(device, static_cast<int>(stores_.size()))].get();
      b.log = [store, thing] { return store->OpenTenant(thing); };
      b.sync = link::SyncPolicy::kNever;  // the worker's SyncAll is the group commit
    }
    return b;
  }
  /// Worker w's group commit (on its thread; the store's mutex makes the
  /// fleet thread's final SyncAll safe too).
  void Commit(int w) {
    if (static_cast<size_t>(w) < stores_.size()) (void)stores_[static_cast<size_t>(w)]->SyncAll();
  }
  void CommitAll() {
    for (size_t w = 0; w < stores_.size(); ++w) Commit(static_cast<int>(w));
  }
  bool any() const { return !stores_.empty(); }

 private:
  link::SyncPolicy sync_ = link::SyncPolicy::kBatch;
  std::vector<std::unique_ptr<SharedLogStore>> stores_;
};

void LogDeviceFailures(const std::vector<std::unique_ptr<VirtualDevice>>& devices, std::ostream& log) {
  int logged = 0;
  for (const auto& d : devices) {
    if (logged >= kFailuresLogged) break;
    if (!d->start_error.empty()) {
      log << "start failed: " << d->thing << ": " << d->start_error << "\n";
      ++logged;
    } else if (d->started && !d->connected() && d->link != nullptr) {
      const std::string error = d->link->stats().last_error;
      log << "connect failed: " << d->thing << ": "
          << (error.empty() ? "no CONNACK yet when the run ended (connect still in progress)" : error) << "\n";
      ++logged;
    }
  }
  int never_started = 0;
  for (const auto& d : devices) never_started += d->started ? 0 : 1;
  if (never_started > 0) {
    log << never_started << " devices never started: the run ended before their connect ramp slot\n";
  }
}

}  // namespace

Status ValidateFleetOptions(const FleetOptions& o) {
  if (o.devices < 1 || o.devices > 100000) return InvalidArgument("--devices must be 1..100000");
  if (o.duration.count() < 1) return InvalidArgument("--duration must be positive");
  if (o.interval.count() != 0 && o.interval.count() < 100) {
    return InvalidArgument("--interval must be at least 100 ms (or 0: each board's report_ms)");
  }
  if (!(o.time_scale > 0 && o.time_scale <= 10000)) return InvalidArgument("--time-scale must be in (0, 10000]");
  if (o.groups.empty() && o.boards.empty()) return InvalidArgument("--board: at least one board");
  if (o.workers < 0 || o.workers > 1024) return InvalidArgument("--workers must be 1..1024 (omit it: one per core)");
  if (!(o.connect_rate >= 1 && o.connect_rate <= 100000)) {
    return InvalidArgument("--connect-rate must be 1..100000 CONNECTs per second");
  }
  if (o.connect_window.count() < 0) return InvalidArgument("--connect-window must not be negative");
  if (o.shard.count < 1 || o.shard.count > 1024 || o.shard.index < 0 || o.shard.index >= o.shard.count) {
    return InvalidArgument("--shard must be i/N with N in 1..1024 and i in 0..N-1");
  }
  if (o.issue_identities && o.broker_uri.empty()) {
    return InvalidArgument("--issue-identities goes with --broker (the embedded broker's PKI is made as needed)");
  }
  if (o.shard.count > o.devices) {
    return InvalidArgument("--shard " + std::to_string(o.shard.index) + "/" + std::to_string(o.shard.count) + ": " +
                           std::to_string(o.devices) + " devices leave some shards without one");
  }
  EF_RETURN_IF_ERROR(topic::ValidateLevel(o.app, "--app"));
  EF_RETURN_IF_ERROR(topic::ValidateLevel(o.site, "--site"));
  if (o.groups.empty()) {
    EF_RETURN_IF_ERROR(certs::ValidateThingName(certs::DeviceName(o.prefix, o.devices)).WithContext("--prefix"));
  }
  if (o.work_dir.empty()) return InvalidArgument("--work must not be empty");
  return ValidateGroups(o);
}

Result<FleetReport> RunFleet(const FleetOptions& o, std::ostream& log) {
  const auto t0 = SteadyClock::now();
  EF_RETURN_IF_ERROR(ValidateFleetOptions(o));
  auto provisioned = Provision(o, log);
  if (!provisioned.ok()) return provisioned.status();
  const Provisioned& p = *provisioned;
  EF_RETURN_IF_ERROR(ValidateFaults(o.faults, p, o.broker_uri.empty(), o.duration));
  std::vector<Rollout> rollout_specs = o.rollouts;
  for (Rollout& r : StageRollouts(o.stages)) rollout_specs.push_back(std::move(r));
  EF_RETURN_IF_ERROR(ValidateRollouts(rollout_specs, p, o.broker_uri.empty(), o.duration));
  EF_RETURN_IF_ERROR(RaiseFileLimit(FileDescriptorsNeeded(o), log));

  // Declared in the order they must outlive each other: the broker outlives
  // the verifier and the devices (their sessions disconnect first), the
  // verifier outlives the devices (their publish hook calls it).
  std::unique_ptr<LocalBroker> broker;
  std::string broker_uri = o.broker_uri;
  if (broker_uri.empty()) {
    auto started = StartBroker(o, p, log);
    if (!started.ok()) return started.status();
    broker = std::move(*started);
    broker_uri = broker->uri();
  }
  // IoT Core answers the shadow topics; so does the local broker's service.
  std::unique_ptr<shadow::ShadowService> shadows;
  if (broker) {
    auto s = shadow::StartBesideBroker(broker_uri, p.pki_dir, o.work_dir + "/broker", nullptr);
    if (!s.ok()) return s.status();
    shadows = std::move(*s);
    log << "shadow: service running as " << kShadowServiceIdentity << " (documents "
        << shadow::StorePathIn(o.work_dir + "/broker") << ")\n";
  }
  std::unique_ptr<FleetVerifier> verifier;
  if (o.verify) {
    // A shard's verifier judges its own devices: the other shards' messages
    // reach it too through a shared broker.
    std::shared_ptr<const std::set<std::string>> only;
    if (o.shard.sharded()) only = std::make_shared<const std::set<std::string>>(p.things.begin(), p.things.end());
    auto v = FleetVerifier::Start(broker_uri, p.pki_dir, o.app, only);
    if (!v.ok()) return v.status();
    verifier = std::move(*v);
  }
  std::unique_ptr<RolloutEngine> rollouts;
  if (!rollout_specs.empty()) {
    RolloutEngine::Options ro;
    ro.broker_uri = broker_uri;
    ro.pki_dir = p.pki_dir;
    ro.seed = o.seed;
    if (FleetVerifier* fv = verifier.get(); fv != nullptr) {
      ro.alarms_of = [fv](const std::string& thing) { return fv->AlarmsOf(thing); };
    }
    auto started = RolloutEngine::Start(rollout_specs, p, std::move(ro));
    if (!started.ok()) return started.status();
    rollouts = std::move(*started);
  }
  const int workers = ResolveWorkers(o.workers, p.things.size());
  // One event loop per worker (sim/transport/event_loop.h): its devices'
  // sessions are made from it and its thread runs it. Declared before the
  // devices, so every session is destroyed before its loop.
  std::vector<std::unique_ptr<transport::EventLoop>> loops;
  for (int w = 0; w < workers; ++w) {
    auto loop = transport::EventLoop::Create({p.pki_dir + "/ca.crt"});
    if (!loop.ok()) return loop.status().WithContext("event loop of worker " + std::to_string(w));
    loops.push_back(std::move(*loop));
  }
  LogQueue notes;
  OutboxStores stores;  // outlives the devices: their outbox logs are its tenants
  EF_RETURN_IF_ERROR(stores.Open(o, workers, notes));
  notes.Flush(log);
  std::vector<std::unique_ptr<VirtualDevice>> devices;
  devices.reserve(p.things.size());
  FleetVerifier* v = verifier.get();
  PublishHook hook;
  if (v != nullptr) hook = [v](const std::string& thing, uint64_t seq) { v->Sent(thing, seq); };
  const auto session_of = [&loops, workers](size_t i) -> app::SessionFactory {
    transport::EventLoop* loop = loops[WorkerOf(i, workers)].get();
    return [loop](const link::SessionConfig& c) { return loop->MakeSession(c); };
  };
  for (size_t i = 0; i < p.things.size(); ++i) {
    auto d = BuildDevice(o, p, broker_uri, i, session_of(i), stores.For(i, p.things[i]), hook);
    if (!d.ok()) return d.status();
    devices.push_back(std::move(*d));
  }
  std::unique_ptr<FaultEngine> faults;
  if (!o.faults.empty()) {
    FaultEngine::Hooks h;
    h.network = [&loops, &devices, workers](size_t i, const transport::NetworkFault& f) {
      (void)loops[WorkerOf(i, workers)]->SetNetworkFault(devices[i]->stack->session(), f);
    };
    h.power_on = [&, hook](size_t i) -> Status {
      VirtualDevice& d = *devices[i];
      EF_RETURN_IF_ERROR(BuildStack(d, o, p, broker_uri, session_of(i), stores.For(i, d.thing), hook));
      return d.device->Start();
    };
    h.clone_session = [&loops, &devices, workers](size_t i) -> Result<std::unique_ptr<link::Session>> {
      VirtualDevice& d = *devices[i];
      if (!d.stack) return FailedPrecondition("no power: no identity to clone");
      return loops[WorkerOf(i, workers)]->MakeSession(d.stack->session_config());
    };
    if (broker) {
      LocalBroker* b = broker.get();
      h.broker = [b](bool down) { return down ? b->Kill() : b->Restart(); };
    }
    faults = std::make_unique<FaultEngine>(o.faults, p, o.seed, devices, workers, std::move(h));
  }

  SchedulerOptions s;
  s.workers = workers;
  s.wait = [&loops](int w, Millis max_wait) { (void)loops[static_cast<size_t>(w)]->RunOnce(max_wait); };
  if (stores.any()) s.group_commit = [&stores](int w) { stores.Commit(w); };
  s.connect_rate = o.connect_rate;
  s.connect_window = o.connect_window.count() > 0
                         ? o.connect_window
                         : DefaultConnectWindow(static_cast<int>(p.things.size()), o.connect_rate);
  s.duration = o.duration;
  s.stop_requested = o.stop_requested;
  s.flush_log = [v, &notes](std::ostream& out) {
    notes.Flush(out);
    if (v != nullptr) v->FlushLog(out);
  };
  s.live_line = o.live_progress;
  s.line_width = o.terminal_columns;
  s.scheduled_rate = ScheduledMessageRate(o, p);
  if (v != nullptr) s.verified = [v] { return v->verified(); };
  if (faults) {
    FaultEngine* f = faults.get();
    s.worker_tick = [f, &notes](int w, Micros now, Micros up) {
      f->WorkerTick(w, now, up, [&notes](std::string line) { notes.Push(std::move(line)); });
    };
  }
  if (faults || rollouts) {
    s.fleet_tick = [f = faults.get(), ro = rollouts.get()](Micros now, Micros up, std::ostream& out) {
      if (f != nullptr) f->FleetTick(now, up, out);
      if (ro != nullptr) ro->Tick(now, up, out);
    };
  }
  Scheduler scheduler(devices, s, log);
  // The verifier times sends on its own clock; fault windows are in fleet time.
  const Micros verifier_clock_offset = SystemClock().Monotonic() - scheduler.Elapsed();
  std::unique_ptr<MetricsServer> metrics;
  if (!o.prometheus_addr.empty()) {
    const double scheduled = ScheduledMessageRate(o, p);
    auto started = MetricsServer::Start(o.prometheus_addr, [&scheduler, scheduled, v] {
      if (v == nullptr) return RenderFleetMetrics(scheduler.Snapshot(), scheduled, nullptr);
      const LatencyHistogram latency = v->Latency();
      return RenderFleetMetrics(scheduler.Snapshot(), scheduled, &latency);
    });
    if (!started.ok()) return started.status();
    metrics = std::move(*started);
    log << "prometheus: serving " << metrics->url() << " (port " << metrics->port() << ")\n";
  }
  const ScheduleOutcome run = scheduler.Run();
  if (faults) faults->Finish(log);
  if (rollouts) rollouts->Finish(run.end, log);
  LogDeviceFailures(devices, log);

  // Publish everything still queued, then let the verifier see every
  // delivered message (telemetry and alarms built and not dropped; shadow
  // reports are delivered too, but the verifier does not subscribe to $aws/).
  scheduler.Drain(std::chrono::seconds(15));
  if (v != nullptr) {
    uint64_t expected = 0;
    for (const auto& d : devices) {
      const auto c = d->Counters();
      expected += c.sampled > c.dropped + c.refused ? c.sampled - c.dropped - c.refused : 0;
    }
    v->Settle(expected, devices);
  }
  // Also persists the seq of devices that never connected; what could not be
  // sent stays in each device's outbox for its next run (one SyncAll per
  // store first, so the devices' own syncs find nothing left to do).
  stores.CommitAll();
  for (auto& d : devices) {
    if (d->started && d->powered) (void)d->device->Stop(Millis(0));
  }

  notes.Flush(log);
  FleetReport r;
  r.devices = static_cast<int>(p.things.size());
  r.shard_index = o.shard.index;
  r.shard_count = o.shard.count;
  r.broker = broker_uri;
  r.local_broker = broker != nullptr;
  Count(devices, p, run, r);
  if (v != nullptr) {
    (void)v->Stop();
    v->FlushLog(log);
    r.elapsed_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    v->Fill(r, devices, p.group_of, verifier_clock_offset);
  }
  WindowEvidence evidence;
  if (v != nullptr && (faults || !o.stages.empty())) {
    evidence.verified = true;
    for (Micros t : v->UnreceivedSendTimes()) {
      evidence.unreceived_s.push_back(std::chrono::duration<double>(t - verifier_clock_offset).count());
    }
    for (const FleetVerifier::Oddity& odd : v->Oddities()) {
      const double at = std::chrono::duration<double>(odd.at - verifier_clock_offset).count();
      (odd.verdict == Verdict::kDuplicate  ? evidence.duplicates_s
       : odd.verdict == Verdict::kConflict ? evidence.conflicts_s
                                           : evidence.invalid_s)
          .push_back(at);
    }
  }
  if (faults) {
    r.faults = faults->Windows();
    FillFaultWindows(r.faults, r.series, evidence);
  }
  r.stages = StageWindows(o.stages, r.up_s);
  FillFaultWindows(r.stages, r.series, evidence);
  if (rollouts) r.rollouts = rollouts->Reports();
  r.elapsed_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  r.failures = FleetFailureReasons(r, o.duration, p.ShortestWindow());
  if (shadows) (void)shadows->Stop();
  if (broker) (void)broker->Stop();
  return r;
}

}  // namespace edgeforge::sim
