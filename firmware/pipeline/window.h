// Per-channel statistics over one report window (docs/telemetry.md, "Windows").
// Pure: no clock, no I/O; the Pipeline decides when a window closes.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "firmware/telemetry/telemetry.h"

namespace edgeforge::pipeline {

/// What WindowAggregator::Add did with a reading.
enum class Folded : uint8_t {
  kSample,    // a valid sample: in the statistics (and fit for alarm evaluation)
  kFault,     // counted in the channel's `faults`, excluded from the statistics
  kRejected,  // no channel name: not attributable; the caller reports it
};

/// Folds samples into per-channel window statistics:
///   kMean: n, min, max, mean (value = mean);
///   kRms:  n, min, max, mean, rms = sqrt(mean of the squared samples) (value = rms).
///          When each sample is itself an RMS over an equal sub-window (a
///          vibration source's sample period), this is exactly the RMS of the
///          underlying signal over the whole window: the mean of the squares
///          of equal-length parts is the mean square of the whole;
///   kSum:  n (samples), sum (value = sum).
/// A channel takes its unit and aggregation from its first valid sample (a
/// faulted reading may carry default metadata: it only sets them provisionally);
/// a later sample that disagrees is a programming error counted as a fault,
/// not a crash. Faulted samples (non-empty `fault`, or a non-finite value) are
/// counted with the last fault text. A channel once seen appears in every
/// later window, with n = 0 when it had no valid sample: channels never
/// silently disappear. Order: first appearance.
class WindowAggregator {
 public:
  Folded Add(const telemetry::Reading& r);
  /// The window's statistics; starts the next window with the same channels.
  std::vector<telemetry::ChannelWindow> Close();
  size_t channel_count() const { return channels_.size(); }

 private:
  struct Channel {
    telemetry::ChannelWindow out;  // name, unit, agg fixed; the rest per window
    double mean_sq = 0;            // running mean of squares (kRms)
    bool typed = false;            // unit and agg set by a valid sample
  };
  static void Fault(Channel& c, std::string why);
  static void Reset(Channel& c);

  std::vector<Channel> channels_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace edgeforge::pipeline
