// The fleet's checking side: an ingest identity subscribed to every device's
// topics feeds the TelemetryVerifier (signature, seq, loss), the latency
// recorder times publish -> receive, and what the verifier never got is
// attributed to the device side (never PUBACKed) or the broker side.
#pragma once

#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "hal/clock.h"
#include "hal/status.h"
#include "sim/fleet/devices.h"
#include "sim/fleet/latency_histogram.h"
#include "sim/fleet/report.h"
#include "sim/verify/live_ingest.h"
#include "sim/verify/verifier.h"

namespace edgeforge::sim {

/// Publish and receive instants per (thing, seq), for publish-to-receive
/// latency. Thread-safe: workers record sends, the ingest thread receipts.
class LatencyRecorder {
 public:
  void Sent(const std::string& thing, uint64_t seq, Micros at);
  void Received(const std::string& thing, uint64_t seq, Micros at);
  /// Percentiles per interval of receive time (the verifier's clock, less
  /// `offset`: fleet time), intervals of `interval`.
  std::vector<LatencyPoint> Series(Micros offset, Micros interval) const;
  /// Send instants of what was sent and not (yet) received.
  std::vector<Micros> Unreceived() const;
  /// p in [0,1]; milliseconds.
  double Percentile(double p);
  /// The same samples as a mergeable histogram (any thread).
  LatencyHistogram Histogram() const;

 private:
  mutable std::mutex mu_;
  LatencyHistogram histogram_;
  std::unordered_map<std::string, std::unordered_map<uint64_t, Micros>> sent_;
  std::vector<double> samples_us_;
  std::vector<std::pair<Micros, double>> received_;  // (receive instant, latency us), for Series
};

class FleetVerifier {
 public:
  /// Connects the ingest identity from `pki_dir` to `broker_uri` and
  /// subscribes to dt/<app>/+/+/+.
  /// `only`: judge only these things' messages and ignore the rest (a
  /// shard's verifier on a broker the other shards share); null: all.
  static Result<std::unique_ptr<FleetVerifier>> Start(const std::string& broker_uri, const std::string& pki_dir,
                                                      const std::string& app,
                                                      std::shared_ptr<const std::set<std::string>> only = nullptr);
  ~FleetVerifier();

  /// A device is handing `seq` to its link now (any thread).
  void Sent(const std::string& thing, uint64_t seq) { latency_.Sent(thing, seq, clock_.Monotonic()); }
  uint64_t verified() const { return verifier_->verified(); }
  /// Verified alarm messages of `thing` so far (any thread): what a canary
  /// rollout watches.
  uint64_t AlarmsOf(const std::string& thing) const;
  /// A message that was not a new authentic one: when (this verifier's
  /// clock), on whose topic, and what it was.
  struct Oddity {
    Micros at{0};
    std::string thing;  // the verified dev, or for an invalid message the thing its topic names
    Verdict verdict = Verdict::kInvalid;
  };
  std::vector<Oddity> Oddities() const;
  /// Publish-to-receive latency so far (any thread).
  LatencyHistogram Latency() const { return latency_.Histogram(); }
  /// When each message still unreceived was sent (this verifier's clock,
  /// SystemClock::Monotonic): loss per fault window.
  std::vector<Micros> UnreceivedSendTimes() const { return latency_.Unreceived(); }
  /// Writes the ingest's connection events queued since the last call; from
  /// the fleet thread only, so the log has one writer.
  void FlushLog(std::ostream& log);
  /// Waits (bounded) for `expected` verified messages, then tells the
  /// verifier each device's published seq range. After the workers joined.
  void Settle(uint64_t expected, const std::vector<std::unique_ptr<VirtualDevice>>& devices);
  Status Stop();
  /// Fills r.verify, the latency and the loss attribution.
  /// `clock_offset`: the verifier's clock minus fleet time (latency over time).
  /// `group_of`: device index -> index into r.groups (their loss per group).
  void Fill(FleetReport& r, const std::vector<std::unique_ptr<VirtualDevice>>& devices,
            const std::vector<uint32_t>& group_of, Micros clock_offset);

 private:
  FleetVerifier() = default;
  SystemClock clock_;
  LatencyRecorder latency_;
  std::unique_ptr<TelemetryVerifier> verifier_;
  mutable std::mutex oddities_mu_;
  std::vector<Oddity> oddities_;  // guarded by oddities_mu_
  mutable std::mutex alarms_mu_;
  std::unordered_map<std::string, uint64_t> alarms_;  // by thing, guarded by alarms_mu_
  std::mutex log_mu_;
  std::vector<std::string> log_;  // guarded by log_mu_
  // Last: its thread calls into everything above, so it is stopped first.
  std::unique_ptr<LiveIngest> ingest_;
};

}  // namespace edgeforge::sim
