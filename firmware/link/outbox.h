// Durable store-and-forward outbox: every outgoing message is on disk before
// it is published and leaves only on PUBACK (issue 4, "Store-and-forward").
//
// Storage: one append-only log behind the HAL's AppendLog (hal/append_log.h;
// on Linux DIR/outbox.log, opened by OpenFileOutbox in
// firmware/linux/file_outbox.h; in tests an in-memory
// log with fault injection and power cuts, hal/sim/sim_append_log.h). Format
// and recovery: firmware/link/outbox_format.h. Append writes a data record,
// Ack an ack record; when the log holds more than twice the bytes of its live
// records (and at least `compact_min_bytes`), the live records replace the
// log (AppendLog::Replace: atomic and durable; on Linux a fsync'd temp file
// renamed over the log, then the directory fsync'd). On Linux DIR/outbox.lock
// (flock) keeps a second process off the same directory.
// Every compaction first writes the log's "outbox.floor" record
// (AppendLog::ReplaceRecord; crash-loss accounting: firmware/link/crash_loss.h),
// so that recovery knows which seqs a crash or a damaged log lost; the owner
// calls ResolveCrashLoss once it has accounted them.
//
// Guarantees by SyncPolicy (a "write" is write(2) to the log; it reaches the
// page cache before the call returns, so every policy survives kill -9):
//   kAlways  Append returns after fdatasync(2): an appended message survives
//            power loss. Ack records are written but synced with the next
//            Append / SyncIfDue / Sync: after a power cut, a message acked
//            since then may be sent again (a duplicate, de-duplicable by seq),
//            never lost.
//   kBatch   group commit: a write is fdatasync'd by the first Append or
//            SyncIfDue() that runs `batch_interval` or more after it. A power
//            cut loses at most the messages appended in the last
//            batch_interval + the caller's SyncIfDue period.
//   kNever   no fdatasync except Sync(), compaction and recovery: survives
//            kill -9, not power loss.
//
// Bound: `max_bytes` caps the live bytes, MessageBytes() summed over queued and
// in-flight messages (topic + payload + property names and values; no
// framing). The log itself stays below about 2x the live record bytes or
// compact_min_bytes, whichever is larger.
//
// Drop policy when an Append would exceed max_bytes: victims are the oldest
// messages that are not in flight, bulk first, then state, then alarm, and
// only from the new message's class or less important ones. If those cannot
// free enough bytes, nothing is dropped and the new message is refused
// (RESOURCE_EXHAUSTED). So an alarm is never dropped while a queued bulk or
// state message remains; a bulk message is refused when only alarms, state and
// in-flight messages fill the outbox. Every message lost to the bound, a
// victim or a refused one, is counted in stats().dropped[its priority], and a
// victim's removal is logged (drop record) in the same write as the new message.
// In-flight messages count toward the bound but are never victims (a PUBACK may
// arrive any moment); size max_bytes well above the in-flight window.
//
// Storage failures (issue 8): every storage operation that fails (write, sync,
// replace, quarantine copy) is counted in stats().storage_errors, and every
// Append that fails after its arguments were validated (bound refusal,
// ENOSPC, EIO, a short or torn write) is counted in stats().dropped[its
// class]: nothing is lost uncounted. A failed fdatasync is NOT a drop: the
// message is in the log and in memory and will be sent; what failed is its
// durability against power loss, and after a failed fdatasync the kernel may
// have dropped the dirty pages ("fsyncgate"), so the next sync rewrites the
// whole log (Replace) instead of trusting a later fdatasync. The first
// failure of an episode is logged (OutboxOptions::log) with the path and the
// errno text; the first success after it logs how many operations failed and
// how many messages were dropped meanwhile. Nothing else is logged: a full
// disk does not flood the log. The outbox keeps working when space returns.
//
// Threads: every method takes one mutex, but since the non-blocking Session
// (issue 9) all of them run on the device thread: PUBACKs reach Ack and Nack
// through Session::Dispatch() from Link::Poll, never from a transport thread,
// so an fdatasync no longer holds up a transport. The mutex stays for
// owners that read stats() from another thread (a fleet's progress line).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "firmware/link/crash_loss.h"
#include "firmware/link/outbox_format.h"
#include "firmware/link/session.h"
#include "hal/append_log.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::link {

enum class SyncPolicy : uint8_t {
  kAlways,  // fdatasync before Append returns: appended messages survive power loss
  kBatch,   // fdatasync at most every batch_interval (group commit): a power cut loses at most that window
  kNever,   // page cache only: survives kill -9, not power loss
};
const char* SyncPolicyName(SyncPolicy p);

struct OutboxOptions {
  std::string dir;                     // created (0700) if missing; OpenFileOutbox only (firmware/linux)
  size_t max_bytes = size_t{8} << 20;  // bound on live MessageBytes()
  SyncPolicy sync = SyncPolicy::kAlways;
  Millis batch_interval{200};                   // kBatch window; also how stale an unsynced ack may get
  size_t compact_min_bytes = size_t{64} << 10;  // no compaction below this log size
  /// One line per storage-failure episode (first failure, then recovery).
  /// Runs under the outbox's mutex: it must not call back into the outbox.
  std::function<void(const std::string&)> log;
};

struct OutboxStats {
  size_t depth = 0;                                // live messages: queued + in flight
  size_t in_flight = 0;                            // taken by TakeForSend, not yet acked or nacked
  size_t bytes = 0;                                // live MessageBytes(), the figure bounded by max_bytes
  size_t file_bytes = 0;                           // current log size
  std::array<uint64_t, kPriorityCount> dropped{};  // since Open, indexed by Priority
  uint64_t quarantined_records = 0;                // bad ranges found at Open (each a run of bad bytes)
  uint64_t quarantined_bytes = 0;
  uint64_t recovered = 0;            // messages restored at Open
  uint64_t syncs = 0;                // fdatasync calls on the log since Open
  uint64_t compactions = 0;          // log rewrites since Open (recovery's rewrite included)
  uint64_t compaction_failures = 0;  // automatic rewrites that failed (retried once the log doubles)
  uint64_t storage_errors = 0;       // failed storage operations: write, sync, replace, quarantine copy
};

class Outbox {
 public:
  static constexpr const char* kLogName = "outbox.log";
  static constexpr const char* kLockName = "outbox.lock";
  static constexpr const char* kFloorName = "outbox.floor";

  /// Recovers `log` (options.dir is not used): good records are kept, bad
  /// ranges are copied to a side file quarantine-<n>.bin (durable) and
  /// counted, then the log is rewritten without them. If the copy or the
  /// rewrite fails (a full disk at boot), the outbox still opens: the failure
  /// is counted in storage_errors and retried by the next compaction, and
  /// the bad bytes stay in the log until they are copied. Errors (a log that
  /// cannot be read) name the path.
  static Result<std::unique_ptr<Outbox>> Open(std::unique_ptr<AppendLog> log, const OutboxOptions& options,
                                              const Clock& clock);
  /// Closes the log without syncing (the same state a kill -9 leaves); call
  /// Sync() first on a clean stop.
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Queues `m` and returns its id, durable per the sync policy on return.
  /// Applies the drop policy (file comment) when full.
  ///   INVALID_ARGUMENT  a bad priority or qos, or a message over
  ///                     kMaxBodyBytes: not queued, NOT counted (the caller's).
  ///   RESOURCE_EXHAUSTED refused by the bound: not queued, counted in dropped.
  ///   a storage error   (the AppendLog's code: RESOURCE_EXHAUSTED for ENOSPC,
  ///                     UNKNOWN for EIO, DATA_LOSS for a torn write...) from
  ///                     the write: not queued, the outbox unchanged, counted
  ///                     in dropped and storage_errors; from the fdatasync
  ///                     after the write: the message IS queued and will be
  ///                     sent, but is not durable yet; counted in
  ///                     storage_errors only (not a drop).
  /// So every failure but INVALID_ARGUMENT is already counted by the outbox.
  Result<uint64_t> Append(Priority priority, uint64_t seq, const OutgoingMessage& m);

  /// Up to `n` messages to send next: priority order, FIFO within a priority,
  /// skipping in-flight ones; marks them in flight.
  std::vector<QueuedMessage> TakeForSend(size_t n);

  /// PUBACK for `id` (in flight or not): removes it for good by logging an ack
  /// record. NOT_FOUND for an unknown id. On a write error the message is
  /// still removed from memory; after a restart it would be sent again.
  Status Ack(uint64_t id);
  /// Publish failed: `id` goes back to its original place (unknown ids are ignored).
  void Nack(uint64_t id);
  /// Connection lost: every in-flight message goes back to its original place.
  void RequeueInFlight();

  /// fdatasync if a write is older than batch_interval (kBatch and kAlways's
  /// acks), then compaction if due. Call it from the device loop.
  Status SyncIfDue();
  /// fdatasync now if anything is unsynced (clean stop, any policy).
  Status Sync();
  /// Rewrites the log with the live records only (normally automatic).
  Status Compact();

  /// What Open found for crash-loss accounting (crash_loss::ComputeLoss);
  /// fixed after Open.
  const crash_loss::Recovered& recovered() const { return recovered_; }
  /// The owner has accounted (reported) every seq below `below` that the log
  /// lost: the floor may rise to it. Until this is called, compactions keep
  /// the floor found at Open, so a second crash recounts rather than forgets.
  /// Writes the floor file now (durably; the log is not rewritten: its live
  /// records are all still in it), unless it would not change.
  Status ResolveCrashLoss(uint64_t below);

  OutboxStats stats() const;
  size_t depth() const;
  /// The log's name (its path on Linux).
  const std::string& log_path() const { return log_->name(); }
  /// The seqs of the messages restored at Open, in id order (for crash-loss
  /// accounting: a seq leased but neither here nor acknowledged was lost).
  const std::vector<uint64_t>& recovered_seqs() const { return recovered_seqs_; }

 private:
  struct Entry {
    QueuedMessage msg;
    size_t bytes = 0;         // MessageBytes
    size_t record_bytes = 0;  // DataRecordBytes
    bool in_flight = false;
  };

  Outbox(std::unique_ptr<AppendLog> log, const OutboxOptions& options, const Clock& clock);
  Status Recover();
  /// Copies the bad ranges found at Open to a side file, if not done yet.
  Status QuarantineLocked();
  /// Counts a failed storage operation; logs the first of an episode.
  void StorageFailed(const Status& st);
  /// Ends a failure episode (logged) when one is running.
  void StorageOk();
  void CountDrop(Priority priority);
  void Log(const std::string& line) const;
  Status WriteLocked(const std::string& records);
  Status SyncLocked();
  Status SyncIfDueLocked();
  Status CompactLocked();
  Status MaybeCompactLocked();
  /// Oldest not-in-flight ids whose removal fits a message of `bytes` at
  /// `priority`, or false when the policy refuses it.
  bool PlanEviction(Priority priority, size_t bytes, std::vector<uint64_t>& victims) const;
  /// The floor the next compaction writes (crash_loss.h invariant).
  crash_loss::Floor FloorToWrite() const;
  /// Writes DIR/outbox.floor atomically and durably, unless it already holds `f`.
  Status WriteFloorLocked(const crash_loss::Floor& f);
  void Insert(QueuedMessage m);
  void Remove(uint64_t id);
  std::string Name() const;

  const OutboxOptions options_;
  const Clock& clock_;
  const std::unique_ptr<AppendLog> log_;
  std::vector<uint64_t> recovered_seqs_;

  mutable std::mutex mu_;
  std::map<uint64_t, Entry> live_;                         // by id = append order
  std::array<std::set<uint64_t>, kPriorityCount> queued_;  // not in flight, by id
  std::array<size_t, kPriorityCount> queued_bytes_{};
  size_t live_bytes_ = 0;
  size_t live_record_bytes_ = 0;
  size_t file_bytes_ = 0;
  size_t compact_at_ = 0;  // the log size that triggers the next compaction check
  uint64_t next_id_ = 1;
  bool dirty_ = false;           // written since the last fdatasync
  bool rewrite_needed_ = false;  // an fdatasync failed: only a full rewrite is trustworthy
  Micros dirty_since_{0};
  std::string quarantine_;  // bad ranges found at Open, not yet copied out (encoded); empty: none
  bool failing_ = false;    // in a storage-failure episode
  uint64_t episode_failures_ = 0;
  uint64_t episode_drops_ = 0;
  OutboxStats stats_;
  crash_loss::Recovered recovered_;
  uint64_t appended_below_ = 0;  // above every seq appended (state messages aside) and the resolved floor
  bool loss_resolved_ = false;   // ResolveCrashLoss was called
  // What outbox.floor means now (a missing file means the same as floor 0,
  // nothing live); unknown after a corrupt file or a failed write.
  std::optional<crash_loss::Floor> disk_floor_;
};

}  // namespace edgeforge::link
