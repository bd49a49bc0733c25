// Crash-loss accounting for the outbox (issue 8): after a kill -9, a power cut
// or a damaged log, which sequence numbers can the device no longer deliver?
// Pure functions over the scanned log, the floor file and the previous boot's
// issued high-water mark, so they are tested on crafted inputs directly.
//
// The floor: every compaction first writes DIR/outbox.floor (atomically,
// fsync'd) with `below` B and the seqs of the data records it keeps (`live`).
// Invariant: every seq < B is resolved (acknowledged, counted as dropped, or
// reported lost by an earlier recovery) unless it is in `live`, in which case
// its data record is in the log. The file outlives an emptied or zeroed log.
//
// Recovery, given H (every seq the previous boots issued is below H):
//   lost = ([B, H) ∪ live) minus the seqs that still have a good data record.
// It never under-reports. It over-reports, by design, seqs whose records a
// truncation cut off although they were acknowledged (the verifier sees them
// arrive), seqs dropped before the outbox since the last compaction (already
// counted in `dropped`), after a power cut the unissued rest of the seq lease
// (H is then the lease limit), and, past kMaxFloorRanges live ranges, the
// resolved seqs between merged ranges.
//
// State messages (shadow reports, Priority::kState) carry no seq of their own
// (0) and are left out of all of this.
//
// DIR/outbox.floor, text, one item per line:
//   edgeforge-outbox-floor v1
//   below <B>
//   live <a>-<b>        (zero or more, ascending, disjoint, a <= b)
//   crc <CRC-32C of every byte before this line, 8 lowercase hex digits>
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/link/outbox_format.h"
#include "hal/status.h"

namespace edgeforge::link::crash_loss {

struct SeqRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  bool operator==(const SeqRange& o) const { return first == o.first && last == o.last; }
};
using SeqRanges = std::vector<SeqRange>;

/// Sorted, merged ranges of `seqs` (any order, repeats allowed).
SeqRanges ToRanges(std::vector<uint64_t> seqs);
/// Sorted, merged union of two range lists (each in any order).
SeqRanges Union(SeqRanges a, const SeqRanges& b);
/// At most `max` ranges (>= 1): merges across the smallest gaps, so the result
/// covers every input seq (and the merged gaps: the safe side for a floor).
SeqRanges Bound(SeqRanges ranges, size_t max);
/// Number of seqs covered (saturates at 2^64-1).
uint64_t Count(const SeqRanges& ranges);
/// "12-18, 20, 25-30" (at most `max_shown` ranges, then ", ... (N more ranges)").
std::string Format(const SeqRanges& ranges, size_t max_shown = 16);

inline constexpr size_t kMaxFloorRanges = 1024;

struct Floor {
  uint64_t below = 0;  // every seq below it is resolved unless in `live`
  SeqRanges live;      // kept by the compaction that wrote the floor: their data records must be in the log
  bool operator==(const Floor& o) const { return below == o.below && live == o.live; }
};
std::string EncodeFloor(const Floor& floor);
/// DATA_LOSS saying what is wrong (torn, bad crc, bad line N).
Result<Floor> DecodeFloor(std::string_view content);

/// Seqs of the good data records in `scan`, state messages left out.
std::vector<uint64_t> SurvivingSeqs(const outbox_log::Scan& scan);

/// What Outbox::Open found, for the accounting once the previous boot's H is known.
struct Recovered {
  Floor floor;
  std::string floor_problem;        // empty, or why the floor file was not used (then floor.below is 0)
  bool floor_corrupt = false;       // the file exists but is unusable (floor_problem says why)
  std::vector<uint64_t> surviving;  // SurvivingSeqs of the log as found
};

struct Loss {
  SeqRanges lost;
  uint64_t count = 0;  // Count(lost)
};
/// The seqs below `issued_below` that can no longer be delivered (file comment).
Loss ComputeLoss(const Floor& floor, const std::vector<uint64_t>& surviving, uint64_t issued_below);

}  // namespace edgeforge::link::crash_loss
