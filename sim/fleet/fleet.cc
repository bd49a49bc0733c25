#include "sim/fleet/fleet.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <memory>
#include <mutex>
#include <queue>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "firmware/app/device.h"
#include "firmware/app/node.h"
#include "firmware/board/builtin.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/link/paho_session.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/topic.h"
#include "hal/linux/fs.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/storage.h"
#include "sim/broker/local_broker.h"
#include "sim/node/sim_buses.h"
#include "sim/node/sim_world.h"
#include "sim/verify/live_ingest.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// Publish and receive instants per (thing, seq), for publish-to-receive latency.
class LatencyRecorder {
 public:
  void Sent(const std::string& thing, uint64_t seq, Micros at) {
    std::lock_guard<std::mutex> lock(mu_);
    sent_[thing][seq] = at;
  }
  void Received(const std::string& thing, uint64_t seq, Micros at) {
    std::lock_guard<std::mutex> lock(mu_);
    auto d = sent_.find(thing);
    if (d == sent_.end()) return;
    auto s = d->second.find(seq);
    if (s == d->second.end()) return;
    samples_us_.push_back(static_cast<double>((at - s->second).count()));
    d->second.erase(s);
  }
  /// p in [0,1]; milliseconds.
  double Percentile(double p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (samples_us_.empty()) return 0;
    std::vector<double> v = samples_us_;
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k] / 1000.0;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unordered_map<uint64_t, Micros>> sent_;
  std::vector<double> samples_us_;
};

/// One simulated node: the real firmware core, built from a board file, on
/// simulated buses whose register models a physical model drives. Each node
/// has its own clock: it follows the fleet's real time, and a driver that
/// waits (a conversion, a FIFO) advances it without blocking the fleet.
struct VirtualDevice {
  std::string thing;
  const board::Board* board;
  ManualClock clock;
  SimBuses buses;
  std::unique_ptr<SimWorld> world;
  std::unique_ptr<app::Node> node;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  FileStorage storage;
  SeededEntropy entropy;  // backoff jitter, reproducible per seed
  std::unique_ptr<jws::Signer> signer;
  std::unique_ptr<link::Outbox> outbox;
  std::unique_ptr<link::Link> link;
  std::unique_ptr<app::Device> device;
  // Last: destroyed first, so no PUBACK or connection callback reaches a dead
  // link, outbox or device.
  std::unique_ptr<link::Session> session;
  Micros report{0};  // its report window
  bool any_published = false;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::set<uint64_t> published;  // telemetry and alarm seqs (fleet thread)
  std::mutex acked_mu;
  std::set<uint64_t> acked;  // of any message, PUBACKed (transport threads; guarded by acked_mu)

  VirtualDevice(std::string name, const board::Board& b, int64_t wall_start_ms, std::string state_dir, uint64_t seed)
      : thing(std::move(name)),
        board(&b),
        clock(wall_start_ms),
        buses(clock),
        storage(std::move(state_dir)),
        entropy(seed) {}
  bool connected() const { return link && link->stats().connects > 0; }
};

class FleetRun {
 public:
  FleetRun(const FleetOptions& o, std::ostream& log) : o_(o), log_(log) {}
  Result<FleetReport> Run();

 private:
  Status Prepare();
  Status CheckIdentities();
  Status LoadBoards();
  Status BuildNode(VirtualDevice& d, size_t index);
  Status StartBroker();
  Status StartVerifier();
  Status BuildDevices();
  void ConnectAll();
  Micros Elapsed() const;
  void Drive();
  void Drain();
  FleetReport Collect();

  /// Splits what the verifier never got into device side (never PUBACKed)
  /// and broker side (PUBACKed, never received).
  void Attribute(FleetReport& r);
  std::chrono::milliseconds ShortestWindow() const;

  const FleetOptions& o_;
  std::ostream& log_;
  /// The ingest's connection events arrive on its own thread: queued here and
  /// written by the fleet thread (FlushIngestLog), so `log_` has one writer.
  void FlushIngestLog();
  std::mutex ingest_log_mu_;
  std::vector<std::string> ingest_log_;  // guarded by ingest_log_mu_
  SystemClock clock_;
  std::vector<board::Board> boards_;
  double start_seconds_ = 0;  // physics time at t0: seconds since midnight UTC
  int64_t wall_start_ms_ = 0;
  std::string pki_dir_;
  std::vector<std::string> things_;
  std::unique_ptr<LocalBroker> broker_;
  std::string broker_uri_;
  std::unique_ptr<TelemetryVerifier> verifier_;
  LatencyRecorder latency_;
  SteadyClock::time_point t0_;
  // Sessions call back into the verifier, the recorder and the devices from
  // Paho's threads: declared last, so they are destroyed (disconnected) first.
  std::vector<std::unique_ptr<VirtualDevice>> devices_;
  std::unique_ptr<LiveIngest> ingest_;
};

/// With an external broker the PKI is the broker's: it must exist already.
/// Creating a CA here would give devices identities that broker cannot know.
Status CheckProvisioned(const std::string& pki, const std::vector<std::string>& things, const FleetOptions& o) {
  const std::string provision =
      "provision it with 'edgeforge certs init --dir " + pki + "' and 'edgeforge certs devices --dir " + pki +
      " --count " + std::to_string(o.devices) + " --prefix " + o.prefix + "' (and give the broker its ca.crt)";
  std::vector<std::string> files = {pki + "/ca.crt"};
  if (o.verify) {
    for (const char* f : {"/jwks.json", "/ingest.crt", "/ingest.key"}) files.push_back(pki + f);
  }
  for (const std::string& thing : things) {
    const certs::DevicePaths p = certs::PathsFor(pki, thing);
    files.insert(files.end(), {p.cert, p.tls_key, p.sign_key});
  }
  for (const std::string& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      return NotFound(f + " missing: --broker " + o.broker_uri + " needs an existing PKI in --certs; " + provision);
    }
    if (!S_ISREG(st.st_mode)) return InvalidArgument(f + " is not a regular file");
  }
  return Status::Ok();
}

Status FleetRun::Prepare() {
  pki_dir_ = o_.pki_dir.empty() ? o_.work_dir + "/pki" : o_.pki_dir;
  things_ = certs::FleetDeviceNames(o_.prefix, o_.devices);
  if (!o_.broker_uri.empty()) {
    EF_RETURN_IF_ERROR(CheckProvisioned(pki_dir_, things_, o_));
    EF_RETURN_IF_ERROR(fs::MakeDirs(o_.work_dir, 0755));
    EF_RETURN_IF_ERROR(CheckIdentities());
    log_ << "pki: " << pki_dir_ << " (provisioned; external broker)\n";
    return Status::Ok();
  }
  EF_RETURN_IF_ERROR(fs::MakeDirs(o_.work_dir, 0755));
  const auto t = SteadyClock::now();
  EF_RETURN_IF_ERROR(certs::EnsurePki(pki_dir_, things_));
  EF_RETURN_IF_ERROR(CheckIdentities());
  const double s = std::chrono::duration<double>(SteadyClock::now() - t).count();
  log_ << "pki: " << pki_dir_ << " ready for " << things_.size() << " devices (" << std::fixed << std::setprecision(2)
       << s << " s)\n";
  return Status::Ok();
}

// Every identity checked locally before any connects (issue 8): key
// permissions, parse, key/cert match, validity, CN = thing. kFast (~80 us per
// device, bench/identity_check_bench.cc) skips the signature checks that the
// broker's TLS handshake makes anyway.
Status FleetRun::CheckIdentities() {
  return certs::CheckFleetIdentities(pki_dir_, things_, clock_.WallMillis() / 1000).WithContext("--certs " + pki_dir_);
}

Status FleetRun::LoadBoards() {
  for (const std::string& spec : o_.boards) {
    auto b = board::LoadBoardSpec(spec);
    if (!b.ok()) return b.status().WithContext("--board");
    // --interval replaces the board's report window (the config defaults,
    // and so the shadow's starting point, come from the board).
    if (o_.interval.count() > 0) b->report_ms = static_cast<uint32_t>(o_.interval.count());
    boards_.push_back(std::move(*b));
  }
  for (const board::Board& b : boards_) {
    if (std::chrono::milliseconds(b.report_ms) > o_.duration) {
      log_ << "note: " << b.source << " reports every " << b.report_ms / 1000.0 << " s, longer than --duration "
           << static_cast<double>(o_.duration.count()) / 1000.0
           << " s: its devices publish nothing (use --interval or a longer --duration)\n";
    }
  }
  wall_start_ms_ = clock_.WallMillis();
  start_seconds_ = static_cast<double>(wall_start_ms_ % 86'400'000) / 1000.0;
  return Status::Ok();
}

Status FleetRun::BuildNode(VirtualDevice& d, size_t index) {
  WorldOptions w;
  w.seed = o_.seed * 1000003u + index;
  w.start_seconds = start_seconds_;
  w.time_scale = o_.time_scale;
  auto world = SimWorld::Create(*d.board, d.buses, d.clock, w);
  if (!world.ok()) return world.status();
  d.world = std::move(*world);
  auto node = app::BuildNode(*d.board, d.buses, d.clock);
  if (!node.ok()) return node.status();
  d.node = std::move(*node);
  const Micros report = d.node->report_period();
  d.report = report;
  d.pipeline = std::make_unique<pipeline::Pipeline>(d.node->Slots(), report, d.node->alarm_rules());
  return Status::Ok();
}

Status FleetRun::StartBroker() {
  if (!o_.broker_uri.empty()) {
    broker_uri_ = o_.broker_uri;
    return Status::Ok();
  }
  BrokerOptions b;
  b.pki_dir = pki_dir_;
  b.work_dir = o_.work_dir + "/broker";
  b.persistence = o_.broker_persistence;
  auto started = LocalBroker::Start(b);
  if (!started.ok()) return started.status();
  broker_ = std::move(*started);
  broker_uri_ = broker_->uri();
  log_ << "broker: local mosquitto pid " << broker_->pid() << " at " << broker_uri_ << " (log " << broker_->log_path()
       << ")\n";
  return Status::Ok();
}

Status FleetRun::StartVerifier() {
  if (!o_.verify) return Status::Ok();
  auto jwks_text = fs::ReadFileToString(pki_dir_ + "/jwks.json");
  if (!jwks_text.ok()) return jwks_text.status();
  auto keys = jws::JwkSetFromJson(*jwks_text);
  if (!keys.ok()) return keys.status().WithContext(pki_dir_ + "/jwks.json");
  verifier_ = std::make_unique<TelemetryVerifier>(std::move(*keys), jws::Backend::kOpenSsl);
  LiveIngestOptions c;
  c.broker_uri = broker_uri_;
  c.pki_dir = pki_dir_;
  c.client_id = std::string(kIngestIdentity) + "-" + std::to_string(::getpid());
  c.filter = "dt/" + o_.app + "/+/+/+";
  c.log = [this](const std::string& line) {
    std::lock_guard<std::mutex> lock(ingest_log_mu_);
    ingest_log_.push_back(line);
  };
  auto ingest = LiveIngest::Start(
      c,
      [this](const link::IncomingMessage& m) {
        const Micros now = clock_.Monotonic();
        const auto checked = verifier_->Check(m.topic, m.payload, m.UserProperty("jws"));
        if (checked.verdict == Verdict::kVerified) latency_.Received(checked.dev, checked.seq, now);
      },
      *verifier_);
  if (!ingest.ok()) return ingest.status().WithContext("verifier (ingest identity; --no-verify skips it)");
  ingest_ = std::move(*ingest);
  return Status::Ok();
}

Status FleetRun::BuildDevices() {
  for (size_t i = 0; i < things_.size(); ++i) {
    const std::string& thing = things_[i];
    const std::string state = o_.work_dir + "/devices/" + thing;
    EF_RETURN_IF_ERROR(fs::MakeDirs(state, 0700));
    const board::Board& b = boards_[i % boards_.size()];
    auto d = std::make_unique<VirtualDevice>(thing, b, wall_start_ms_, state, o_.seed * 1000003u + i);
    EF_RETURN_IF_ERROR(BuildNode(*d, i).WithContext(thing));
    const certs::DevicePaths paths = certs::PathsFor(pki_dir_, thing);
    auto key = fs::ReadFileToString(paths.sign_key);
    if (!key.ok()) return key.status();
    auto signer = jws::MakeSigner(o_.signer, *key);
    if (!signer.ok()) return signer.status().WithContext(paths.sign_key);
    d->signer = std::move(*signer);
    link::SessionConfig c;
    c.server_uri = broker_uri_;
    c.client_id = thing;
    c.tls = {pki_dir_ + "/ca.crt", paths.cert, paths.tls_key};
    auto session = link::MakePahoSession(c);
    if (!session.ok()) return session.status().WithContext(thing);
    d->session = std::move(*session);
    app::DeviceOptions opts;
    opts.thing = thing;
    opts.kind = b.kind;
    opts.board = d->board;
    opts.node = d->node.get();
    opts.app = o_.app;
    opts.site = o_.site;
    link::OutboxOptions q;
    q.dir = state + "/outbox";
    q.max_bytes = o_.queue_bytes;
    q.sync = o_.sync;
    auto outbox = link::Outbox::Open(q, d->clock);
    if (!outbox.ok()) return outbox.status().WithContext(thing);
    d->outbox = std::move(*outbox);
    auto lnk = link::Link::Create(*d->session, *d->outbox, d->clock, d->entropy, link::LinkOptions{});
    if (!lnk.ok()) return lnk.status().WithContext(thing);
    d->link = std::move(*lnk);
    d->device = std::make_unique<app::Device>(opts, d->clock, d->storage, *d->signer, *d->link, *d->pipeline);
    VirtualDevice* raw = d.get();
    d->link->set_delivery_observer([raw](uint64_t seq, const Status& result) {
      if (!result.ok()) return;
      std::lock_guard<std::mutex> lock(raw->acked_mu);
      raw->acked.insert(seq);
    });
    d->device->set_publish_observer([this, raw](uint64_t seq, Micros) {
      if (!raw->any_published) raw->first_seq = seq;
      raw->any_published = true;
      raw->last_seq = seq;
      raw->published.insert(seq);
      latency_.Sent(raw->thing, seq, clock_.Monotonic());  // the verifier's time base, not the device's
    });
    devices_.push_back(std::move(d));
  }
  return Status::Ok();
}

void FleetRun::ConnectAll() {
  // Every device starts its link at once (connects are asynchronous); then
  // the links are polled until each has connected or the deadline passes.
  int failures_logged = 0;
  for (auto& dp : devices_) {
    VirtualDevice& d = *dp;
    d.clock.AdvanceTo(Elapsed());
    d.world->Advance(d.clock.Monotonic());
    if (Status s = d.device->Start(); !s.ok() && failures_logged++ < 5)
      log_ << "start failed: " << s.ToString() << "\n";
  }
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  for (;;) {
    size_t connected = 0;
    for (auto& dp : devices_) {
      dp->clock.AdvanceTo(Elapsed());
      (void)dp->link->Poll();
      connected += dp->connected() ? 1 : 0;
    }
    if (connected == devices_.size() || SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(Millis(10));
  }
  for (auto& dp : devices_) {
    if (!dp->connected() && failures_logged++ < 5) {
      log_ << "connect failed: " << dp->thing << ": " << dp->link->stats().last_error << "\n";
    }
  }
}

Micros FleetRun::Elapsed() const { return std::chrono::duration_cast<Micros>(SteadyClock::now() - t0_); }

void FleetRun::Drive() {
  // Each device runs when its pipeline is next due (a sample or a report), on
  // its own clock brought up to the fleet's elapsed time. First steps are
  // staggered across each device's report window, so reports reach the
  // broker at a steady rate instead of in one burst per window.
  using Due = std::pair<Micros, size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due;
  const Micros start = Elapsed();
  const Micros end = start + std::chrono::duration_cast<Micros>(o_.duration);
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (!devices_[i]->connected()) continue;
    due.push({start + devices_[i]->report * static_cast<long>(i) / static_cast<long>(devices_.size()), i});
  }
  Micros next_progress = start + Micros(5'000'000);
  while (!due.empty() && due.top().first < end) {
    if (o_.stop_requested && o_.stop_requested()) {
      log_ << "stop requested: draining\n";
      break;
    }
    FlushIngestLog();
    auto [when, i] = due.top();
    due.pop();
    std::this_thread::sleep_until(t0_ + when);
    VirtualDevice& d = *devices_[i];
    d.clock.AdvanceTo(Elapsed());
    d.world->Advance(d.clock.Monotonic());
    const Micros next = d.device->Step();
    due.push({std::max(next, when + Micros(1000)), i});
    if (Elapsed() >= next_progress) {
      next_progress += Micros(5'000'000);
      uint64_t delivered = 0;
      uint64_t alarms = 0;
      for (auto& v : devices_) {
        const auto c = v->device->counters();
        delivered += c.delivered;
        alarms += c.alarms;
      }
      log_ << "  t=" << std::lround(std::chrono::duration<double>(Elapsed() - start).count())
           << "s delivered=" << delivered << " alarms=" << alarms;
      if (verifier_) log_ << " verified=" << verifier_->verified();
      log_ << "\n" << std::flush;
    }
  }
}

void FleetRun::Drain() {
  // Publish everything still queued (the links keep polling), then wait for
  // the verifier to have seen every delivered message (bounded: a loss must
  // not hang the run).
  auto deadline = SteadyClock::now() + std::chrono::seconds(15);
  for (;;) {
    uint64_t queued = 0;
    for (auto& d : devices_) {
      d->clock.AdvanceTo(Elapsed());
      (void)d->link->Poll();
      queued += d->device->queued();
    }
    if (queued == 0 || SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(Millis(10));
  }
  if (verifier_) {
    // Telemetry and alarms built and not dropped (shadow reports are
    // delivered too, but the verifier does not subscribe to $aws/).
    uint64_t expected = 0;
    for (auto& d : devices_) {
      const auto c = d->device->counters();
      expected += c.sampled > c.dropped + c.refused ? c.sampled - c.dropped - c.refused : 0;
    }
    deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (verifier_->verified() < expected && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(Millis(20));
    }
    for (auto& d : devices_) {
      if (d->any_published) verifier_->Expect(d->thing, d->device->boot(), d->first_seq, d->last_seq);
    }
  }
  // Also persists the seq of devices that never connected; what could not be
  // sent stays in each device's outbox for its next run.
  for (auto& d : devices_) (void)d->device->Stop(Millis(0));
  if (ingest_) (void)ingest_->Stop(Millis(2000));
}

void FleetRun::Attribute(FleetReport& r) {
  size_t examples = 0;
  for (auto& d : devices_) {
    std::set<uint64_t> acked;
    {
      std::lock_guard<std::mutex> lock(d->acked_mu);
      acked = d->acked;
    }
    const uint64_t boot = d->device->boot();
    uint64_t unacked = 0;
    uint64_t after_ack = 0;
    for (uint64_t seq : d->published) {
      if (verifier_->Seen(d->thing, boot, seq)) continue;
      if (acked.count(seq) != 0) {
        ++after_ack;
        if (examples++ < 10) {
          r.verify.examples.push_back(d->thing + " seq " + std::to_string(seq) +
                                      ": PUBACKed by the broker, never received by the verifier (broker side)");
        }
      } else {
        ++unacked;
      }
    }
    r.lost_unacked += unacked;
    r.lost_after_ack += after_ack;
  }
}

std::chrono::milliseconds FleetRun::ShortestWindow() const {
  std::chrono::milliseconds w{0};
  for (const board::Board& b : boards_) {
    const std::chrono::milliseconds m(b.report_ms);
    if (w.count() == 0 || m < w) w = m;
  }
  return w;
}

void FleetRun::FlushIngestLog() {
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(ingest_log_mu_);
    lines.swap(ingest_log_);
  }
  for (const std::string& l : lines) log_ << l << "\n" << std::flush;
}

FleetReport FleetRun::Collect() {
  FlushIngestLog();
  FleetReport r;
  r.devices = o_.devices;
  r.broker = broker_uri_;
  r.local_broker = broker_ != nullptr;
  for (auto& d : devices_) {
    if (d->connected()) ++r.connected;
    const auto c = d->device->counters();
    r.sampled += c.sampled;
    r.reports += c.reports;
    r.alarms += c.alarms;
    r.shadow_reports += c.shadow_reports;
    r.sensor_faults += c.sensor_faults;
    r.delivered += c.delivered;
    r.dropped += c.dropped + c.refused;  // refused is apart from dropped in DeviceCounters (issue 8)
  }
  if (verifier_) {
    r.verified_run = true;
    r.verify = verifier_->Report();
    Attribute(r);
  }
  r.latency_p50_ms = latency_.Percentile(0.50);
  r.latency_p99_ms = latency_.Percentile(0.99);
  r.latency_max_ms = latency_.Percentile(1.0);
  r.elapsed_s = std::chrono::duration<double>(SteadyClock::now() - t0_).count();
  r.failures = FleetFailureReasons(r, o_.duration, ShortestWindow());
  return r;
}

Result<FleetReport> FleetRun::Run() {
  t0_ = SteadyClock::now();
  EF_RETURN_IF_ERROR(ValidateFleetOptions(o_));
  EF_RETURN_IF_ERROR(LoadBoards());
  EF_RETURN_IF_ERROR(Prepare());
  EF_RETURN_IF_ERROR(StartBroker());
  EF_RETURN_IF_ERROR(StartVerifier());
  EF_RETURN_IF_ERROR(BuildDevices());
  ConnectAll();
  int connected = 0;
  for (auto& d : devices_) connected += d->connected() ? 1 : 0;
  log_ << "devices: " << connected << "/" << devices_.size() << " connected in " << std::fixed << std::setprecision(2)
       << std::chrono::duration<double>(SteadyClock::now() - t0_).count() << " s since start; running for "
       << static_cast<double>(o_.duration.count()) / 1000.0 << " s\n";
  Drive();
  Drain();
  FleetReport r = Collect();
  if (broker_) (void)broker_->Stop();
  return r;
}

}  // namespace

Status ValidateFleetOptions(const FleetOptions& o) {
  if (o.devices < 1 || o.devices > 100000) return InvalidArgument("--devices must be 1..100000");
  if (o.duration.count() < 1) return InvalidArgument("--duration must be positive");
  if (o.interval.count() != 0 && o.interval.count() < 100) {
    return InvalidArgument("--interval must be at least 100 ms (or 0: each board's report_ms)");
  }
  if (!(o.time_scale > 0 && o.time_scale <= 10000)) return InvalidArgument("--time-scale must be in (0, 10000]");
  if (o.boards.empty()) return InvalidArgument("--board: at least one board");
  EF_RETURN_IF_ERROR(topic::ValidateLevel(o.app, "--app"));
  EF_RETURN_IF_ERROR(topic::ValidateLevel(o.site, "--site"));
  EF_RETURN_IF_ERROR(certs::ValidateThingName(certs::DeviceName(o.prefix, o.devices)).WithContext("--prefix"));
  if (o.work_dir.empty()) return InvalidArgument("--work must not be empty");
  return Status::Ok();
}

std::vector<std::string> FleetFailureReasons(const FleetReport& r, std::chrono::milliseconds duration,
                                             std::chrono::milliseconds shortest_window) {
  std::vector<std::string> why;
  auto secs = [](std::chrono::milliseconds d) {
    std::ostringstream s;
    s << static_cast<double>(d.count()) / 1000.0 << " s";
    return s.str();
  };
  if (r.connected == 0) {
    why.push_back("no device connected to " + r.broker + " (see the 'connect failed' lines)");
  } else if (r.connected < r.devices) {
    why.push_back(std::to_string(r.devices - r.connected) + " of " + std::to_string(r.devices) +
                  " devices did not connect");
  }
  if (r.connected > 0 && r.sampled == 0) {
    if (shortest_window.count() > 0 && duration < shortest_window) {
      why.push_back("nothing was published: the run (" + secs(duration) +
                    ") is shorter than the first report window (" + secs(shortest_window) +
                    "); use a longer --duration or a shorter --interval");
    } else {
      why.push_back("nothing was published");
    }
  } else if (r.connected > 0 && r.delivered == 0) {
    why.push_back("nothing was delivered: " + std::to_string(r.sampled) + " published, none PUBACKed");
  }
  if (!r.verified_run) {
    if (r.dropped > 0) why.push_back(std::to_string(r.dropped) + " dropped by the devices");
    return why;
  }
  // Nothing published is already said above; "nothing arrived" adds nothing then.
  for (const std::string& w : r.verify.FailureReasons()) {
    if (r.sampled == 0 && w.rfind("nothing arrived", 0) == 0) continue;
    why.push_back(w);
  }
  if (r.lost_unacked > 0) {
    why.push_back(std::to_string(r.lost_unacked) +
                  " published but never acknowledged by the broker (device side: still queued or dropped)");
  }
  if (r.lost_after_ack > 0) {
    why.push_back(std::to_string(r.lost_after_ack) + " acknowledged by the broker but never received (broker side)");
  }
  return why;
}

Result<FleetReport> RunFleet(const FleetOptions& options, std::ostream& log) {
  FleetRun run(options, log);
  return run.Run();
}

void PrintReport(const FleetReport& r, std::ostream& out) {
  out << std::fixed << std::setprecision(2);
  out << "summary (" << r.elapsed_s << " s, broker " << r.broker << (r.local_broker ? ", local mosquitto" : "")
      << ")\n";
  out << "  connected    " << r.connected << "/" << r.devices << "\n";
  out << "  published    " << r.sampled << " (telemetry " << r.reports << ", alarms " << r.alarms << ") + "
      << r.shadow_reports << " shadow updates; delivered " << r.delivered << ", dropped " << r.dropped << "\n";
  out << "  sensor faults " << r.sensor_faults << " (reported in telemetry)\n";
  if (r.verified_run) {
    const auto& v = r.verify;
    out << "  received     " << v.received << "\n";
    out << "  verified     " << v.verified << " (devices " << v.devices << "; alarms " << v.alarm_messages << ")\n";
    for (const auto& [what, n] : v.alarms) out << "    alarm: " << what << " x" << n << "\n";
    out << "  lost         " << v.lost;
    if (v.lost > 0 || r.lost_unacked > 0 || r.lost_after_ack > 0) {
      out << " (never acknowledged " << r.lost_unacked << ", acknowledged but not received " << r.lost_after_ack
          << ", tail " << v.tail_lost << ")";
    }
    out << "\n";
    if (v.device_reported_lost > 0) out << "  device-reported lost " << v.device_reported_lost << "\n";
    if (v.disconnects > 0) {
      out << "  verifier     disconnected " << v.disconnects << " time(s), " << v.disconnected_s
          << " s in total (reconnected with its persistent session)\n";
    }
    out << "  duplicated   " << v.duplicates << "\n";
    out << "  invalid      " << v.invalid << "\n";
    out << "  conflicts    " << v.conflicts << "\n";
    for (const auto& [reason, n] : v.invalid_reasons) out << "    invalid: " << reason << " x" << n << "\n";
    for (const auto& e : v.examples) out << "    " << e << "\n";
    out << "  latency      p50 " << r.latency_p50_ms << " ms, p99 " << r.latency_p99_ms << " ms, max "
        << r.latency_max_ms << " ms (device publish -> verifier receive)\n";
  } else {
    out << "  verification off (--no-verify): lost/invalid not checked\n";
  }
  for (const auto& w : r.failures) out << "  FAIL: " << w << "\n";
  out << "result: " << (r.Passed() ? "PASS" : "FAIL") << "\n";
}

}  // namespace edgeforge::sim
