#include "sim/fleet/fleet_verifier.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "firmware/telemetry/topic.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
namespace {

/// The <thing> of dt/<app>/<site>/<thing>/<type>, or "" for another shape
/// (which the verifier then counts as invalid, as without a filter).
std::string ThingOfTopic(const std::string& topic) {
  auto parts = topic::ParseTelemetryTopic(topic);
  return parts.ok() ? parts->thing : "";
}

}  // namespace

void LatencyRecorder::Sent(const std::string& thing, uint64_t seq, Micros at) {
  std::lock_guard<std::mutex> lock(mu_);
  sent_[thing][seq] = at;
}

void LatencyRecorder::Received(const std::string& thing, uint64_t seq, Micros at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = sent_.find(thing);
  if (d == sent_.end()) return;
  auto s = d->second.find(seq);
  if (s == d->second.end()) return;
  const double us = static_cast<double>((at - s->second).count());
  samples_us_.push_back(us);
  received_.emplace_back(at, us);
  histogram_.Add(us / 1e6);
  d->second.erase(s);
}

std::vector<LatencyPoint> LatencyRecorder::Series(Micros offset, Micros interval) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int64_t, std::vector<double>> by_interval;
  for (const auto& [at, us] : received_) by_interval[(at - offset).count() / interval.count()].push_back(us);
  std::vector<LatencyPoint> out;
  for (auto& [k, v] : by_interval) {
    std::sort(v.begin(), v.end());
    LatencyPoint p;
    p.t_s = std::chrono::duration<double>(interval * (k + 1)).count();
    p.p50_ms = v[std::min(v.size() - 1, v.size() / 2)] / 1000.0;
    p.p99_ms = v[std::min(v.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(v.size())))] / 1000.0;
    p.max_ms = v.back() / 1000.0;
    p.count = v.size();
    out.push_back(p);
  }
  return out;
}

std::vector<Micros> LatencyRecorder::Unreceived() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Micros> out;
  for (const auto& [thing, seqs] : sent_) {
    for (const auto& [seq, at] : seqs) out.push_back(at);
  }
  return out;
}

LatencyHistogram LatencyRecorder::Histogram() const {
  std::lock_guard<std::mutex> lock(mu_);
  return histogram_;
}

double LatencyRecorder::Percentile(double p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (samples_us_.empty()) return 0;
  std::vector<double> v = samples_us_;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

Result<std::unique_ptr<FleetVerifier>> FleetVerifier::Start(const std::string& broker_uri, const std::string& pki_dir,
                                                            const std::string& app,
                                                            std::shared_ptr<const std::set<std::string>> only) {
  std::unique_ptr<FleetVerifier> v(new FleetVerifier());
  auto jwks_text = fs::ReadFileToString(pki_dir + "/jwks.json");
  if (!jwks_text.ok()) return jwks_text.status();
  auto keys = jws::JwkSetFromJson(*jwks_text);
  if (!keys.ok()) return keys.status().WithContext(pki_dir + "/jwks.json");
  // A revocation list beside the JWK set (docs/telemetry.md "Revoked keys"):
  // kept apart from jwks.json, which provisioning rewrites from the keys.
  std::vector<jws::RevokedKey> revoked;
  const std::string revoked_path = pki_dir + "/revoked.json";
  if (fs::IsRegularFile(revoked_path)) {
    auto text = fs::ReadFileToString(revoked_path);
    if (!text.ok()) return text.status();
    auto list = jws::RevocationListFromJson(*text);
    if (!list.ok()) return list.status().WithContext(revoked_path);
    revoked = std::move(*list);
  }
  v->verifier_ = std::make_unique<TelemetryVerifier>(std::move(*keys), jws::Backend::kOpenSsl, std::move(revoked));
  LiveIngestOptions c;
  c.broker_uri = broker_uri;
  c.pki_dir = pki_dir;
  c.client_id = std::string(kIngestIdentity) + "-" + std::to_string(::getpid());
  c.filter = "dt/" + app + "/+/+/+";
  FleetVerifier* raw = v.get();
  c.log = [raw](const std::string& line) {
    std::lock_guard<std::mutex> lock(raw->log_mu_);
    raw->log_.push_back(line);
  };
  auto ingest = LiveIngest::Start(
      c,
      [raw, only](const link::IncomingMessage& m) {
        if (only) {
          const std::string thing = ThingOfTopic(m.topic);
          if (!thing.empty() && only->count(thing) == 0) return;  // another shard's device
        }
        const Micros now = raw->clock_.Monotonic();
        const auto checked = raw->verifier_->Check(m.topic, m.payload, m.UserProperty("jws"));
        if (checked.verdict == Verdict::kDuplicate || checked.verdict == Verdict::kConflict ||
            checked.verdict == Verdict::kInvalid) {
          std::lock_guard<std::mutex> lock(raw->oddities_mu_);
          raw->oddities_.push_back({now, checked.dev.empty() ? ThingOfTopic(m.topic) : checked.dev, checked.verdict});
        }
        if (checked.verdict != Verdict::kVerified) return;
        raw->latency_.Received(checked.dev, checked.seq, now);
        const std::string_view alarm = "/alarm";
        if (m.topic.size() > alarm.size() && m.topic.compare(m.topic.size() - alarm.size(), alarm.size(), alarm) == 0) {
          std::lock_guard<std::mutex> lock(raw->alarms_mu_);
          ++raw->alarms_[checked.dev];
        }
      },
      *v->verifier_);
  if (!ingest.ok()) return ingest.status().WithContext("verifier (ingest identity; --no-verify skips it)");
  v->ingest_ = std::move(*ingest);
  return v;
}

FleetVerifier::~FleetVerifier() { (void)Stop(); }

std::vector<FleetVerifier::Oddity> FleetVerifier::Oddities() const {
  std::lock_guard<std::mutex> lock(oddities_mu_);
  return oddities_;
}

uint64_t FleetVerifier::AlarmsOf(const std::string& thing) const {
  std::lock_guard<std::mutex> lock(alarms_mu_);
  auto it = alarms_.find(thing);
  return it == alarms_.end() ? 0 : it->second;
}

Status FleetVerifier::Stop() {
  if (!ingest_) return Status::Ok();
  Status s = ingest_->Stop(std::chrono::milliseconds(2000));
  ingest_.reset();
  return s;
}

void FleetVerifier::FlushLog(std::ostream& log) {
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    lines.swap(log_);
  }
  for (const std::string& l : lines) log << l << "\n" << std::flush;
}

void FleetVerifier::Settle(uint64_t expected, const std::vector<std::unique_ptr<VirtualDevice>>& devices) {
  // Bounded: a loss must not hang the run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (verifier_->verified() < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& d : devices) {
    for (const auto& [boot, range] : d->boots) verifier_->Expect(d->thing, boot, range.first, range.last);
  }
}

void FleetVerifier::Fill(FleetReport& r, const std::vector<std::unique_ptr<VirtualDevice>>& devices,
                         const std::vector<uint32_t>& group_of, Micros clock_offset) {
  r.verified_run = true;
  r.verify = verifier_->Report();
  // Splits what the verifier never got into device side (never PUBACKed)
  // and broker side (PUBACKed, never received).
  size_t examples = 0;
  for (const auto& d : devices) {
    std::set<uint64_t> acked;
    {
      std::lock_guard<std::mutex> lock(d->acked_mu);
      acked = d->acked;
    }
    GroupReport* group =
        d->index < group_of.size() && group_of[d->index] < r.groups.size() ? &r.groups[group_of[d->index]] : nullptr;
    for (uint64_t seq : d->published) {
      if (verifier_->Seen(d->thing, d->BootOf(seq), seq)) continue;
      if (group != nullptr) ++group->lost;
      if (acked.count(seq) != 0) {
        ++r.lost_after_ack;
        if (examples++ < 10) {
          r.verify.examples.push_back(d->thing + " seq " + std::to_string(seq) +
                                      ": PUBACKed by the broker, never received by the verifier (broker side)");
        }
      } else {
        ++r.lost_unacked;
      }
    }
  }
  std::map<std::string, GroupReport*> by_thing;
  for (GroupReport& g : r.groups) {
    for (const std::string& t : g.things) by_thing[t] = &g;
  }
  for (const Oddity& o : Oddities()) {
    auto it = by_thing.find(o.thing);
    if (it == by_thing.end()) continue;  // a topic naming no device of the run
    (o.verdict == Verdict::kDuplicate  ? it->second->duplicates
     : o.verdict == Verdict::kConflict ? it->second->conflicts
                                       : it->second->invalid)++;
  }
  r.latency_p50_ms = latency_.Percentile(0.50);
  r.latency_p99_ms = latency_.Percentile(0.99);
  r.latency_max_ms = latency_.Percentile(1.0);
  r.latency = latency_.Histogram();
  // About 300 points at most, whole seconds.
  const auto seconds = static_cast<int64_t>(r.elapsed_s > 0 ? r.elapsed_s : 1);
  r.latency_series = latency_.Series(clock_offset, Micros(1'000'000 * std::max<int64_t>(1, (seconds + 299) / 300)));
}

}  // namespace edgeforge::sim
