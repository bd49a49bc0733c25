// Message sequence numbers that are never reused, not even after a crash.
//
// The counter persists a high-water mark ahead of use (a lease of `block`
// numbers), so only one durable write is needed per `block` messages. After a
// crash the device resumes at the persisted mark: the unused rest of the lease
// is skipped (a gap within the old boot's numbers that were never issued), and
// no number is issued twice. A clean Close() persists the exact next number.
#pragma once

#include <cstdint>
#include <string>

#include "hal/status.h"
#include "hal/storage.h"

namespace edgeforge::telemetry {

class SequenceCounter {
 public:
  static constexpr const char* kRecord = "counters.json";

  SequenceCounter(Storage& storage, uint64_t block = 1000) : storage_(storage), block_(block) {}

  /// Loads the record (a missing record starts at seq 0, boot 1), increments
  /// the boot counter and persists it. DATA_LOSS naming the record if it is
  /// corrupt: refusing to start beats reusing sequence numbers.
  Status Open();
  /// The next sequence number; persists a new lease when the old one is used up.
  Result<uint64_t> Next();
  /// Persists the exact next number (clean shutdown: no gap on the next boot).
  Status Close();

  uint64_t boot() const { return boot_; }
  uint64_t peek_next() const { return next_; }

 private:
  Status Persist(uint64_t limit);

  Storage& storage_;
  uint64_t block_;
  uint64_t next_ = 0;
  uint64_t limit_ = 0;  // numbers below limit_ are leased (persisted mark)
  uint64_t boot_ = 0;
  bool open_ = false;
};

}  // namespace edgeforge::telemetry
