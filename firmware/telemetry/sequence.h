// Message sequence numbers that are never reused, not even after a crash.
//
// The counter persists a high-water mark ahead of use (a lease of `block`
// numbers), so only one durable write is needed per `block` messages. After a
// crash the device resumes at the persisted mark: the unused rest of the lease
// is skipped (a gap within the old boot's numbers that were never issued), and
// no number is issued twice. A clean Close() persists the exact next number.
//
// So that the next boot knows exactly which numbers the crashed one issued
// (crash-loss accounting, issue 8), every Next() also overwrites the record
// kIssuedRecord in place, without fsync (Storage::Overwrite): survives kill -9,
// not a power cut. Its content is one fixed-width line
//   "edgeforge-seq v1 boot=<20 digits> next=<20 digits> exact=<0|1> sum=<16 hex>\n"
// where sum is FNV-1a 64 of the bytes before " sum=". On Open the previous
// boot's issued high-water is that `next` when the record is exact
// (Storage::ReadOverwritten: no machine restart since), well-formed, of the
// previous boot and inside its lease; otherwise the lease limit, an upper
// bound (previous_boot()->exact false). If writing the mark fails, the lease
// record says so ("issued_mark":false, fsync'd) before any number is issued
// past it, so a stale mark is never trusted. Close() records the figure in the
// lease record itself ("closed":true, "issued_below", "issued_exact"), which
// also survives a power cut. `next` is one above the last seq issued, by this
// boot or, if it issued none, by an earlier one: never the lease limit of a
// boot that did not use it, so a boot's tail is never padded with numbers that
// nobody issued.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hal/status.h"
#include "hal/storage.h"

namespace edgeforge::telemetry {

/// What the boot before this one left behind.
struct PreviousBoot {
  uint64_t boot = 0;          // its boot number
  uint64_t issued_below = 0;  // one above the last seq issued before this boot (0: none ever)
  bool exact = false;         // true: the issued mark; false: the lease limit (after a power cut: an upper bound)
};

/// The issued mark: after boot `boot`'s last Next(), or at its Open.
struct IssuedMark {
  uint64_t boot = 0;
  uint64_t next = 0;  // one above the last seq issued (by `boot` or an earlier boot)
  bool exact = true;  // false: inherited from an Open whose previous boot was not exact
};
/// One line; DecodeIssuedMark gives nullopt if torn, garbage or its sum does not match.
std::string EncodeIssuedMark(const IssuedMark& m);
std::optional<IssuedMark> DecodeIssuedMark(const std::string& line);

class SequenceCounter {
 public:
  static constexpr const char* kRecord = "counters.json";
  static constexpr const char* kIssuedRecord = "seq.issued";

  SequenceCounter(Storage& storage, uint64_t block = 1000) : storage_(storage), block_(block) {}

  /// Loads the record (a missing record starts at seq 0, boot 1), increments
  /// the boot counter and persists it. DATA_LOSS naming the record if it is
  /// corrupt: refusing to start beats reusing sequence numbers.
  Status Open();
  /// The next sequence number; persists a new lease when the old one is used
  /// up, and records it in the issued mark before returning it.
  Result<uint64_t> Next();
  /// Persists the exact next number (clean shutdown: no gap on the next boot).
  Status Close();

  uint64_t boot() const { return boot_; }
  uint64_t peek_next() const { return next_; }
  /// After Open: the previous boot, or nullopt on the first boot.
  const std::optional<PreviousBoot>& previous_boot() const { return previous_; }

 private:
  enum class Mark : uint8_t {
    kOn,       // the issued mark is written on every Next()
    kFailing,  // a mark write failed: the lease record must say so before the next issue
    kOff,      // the lease record says the mark is not to be trusted
  };
  Status Persist(uint64_t limit, bool closed = false);
  std::optional<IssuedMark> ReadIssuedMark(uint64_t prev_boot, uint64_t prev_limit);
  /// The previous boot from its lease record (valid JSON), the issued mark or the lease limit.
  PreviousBoot PreviousFrom(const std::string& record, uint64_t boot, uint64_t limit);

  Storage& storage_;
  uint64_t block_;
  uint64_t next_ = 0;
  uint64_t limit_ = 0;  // numbers below limit_ are leased (persisted mark)
  uint64_t boot_ = 0;
  bool open_ = false;
  Mark mark_ = Mark::kOn;
  uint64_t issued_below_ = 0;  // one above the last seq issued before now (this boot or an earlier one)
  bool issued_exact_ = true;
  std::optional<PreviousBoot> previous_;
};

}  // namespace edgeforge::telemetry
