// AppendLog in memory (hal/append_log.h) for deterministic storage tests:
// the "page cache" view (what ReadAll returns) is kept apart from the
// "durable image" (what a Sync or Replace made durable), so a test can cut
// the power at any point and recover from what a disk would really hold.
//
// Faults, per operation kind (FaultInjector's counting and seeded
// probability, hal/sim/fault.h), each as the Linux backend reports it:
//   kNoSpace     ENOSPC -> RESOURCE_EXHAUSTED; nothing changes.
//   kIoError     EIO -> UNKNOWN "Input/output error"; nothing changes, except
//                on Sync: the bytes written since the last Sync are lost to
//                the disk for good (fsyncgate: the kernel dropped the dirty
//                pages and marked them clean); a later successful Sync makes
//                the file durable with zeros in their place. Only a Replace
//                repairs that.
//   kShortWrite  Append: a seeded prefix is written, then ENOSPC; the backend
//                cuts it off again (as FileAppendLog's ftruncate does): the
//                log is unchanged, RESOURCE_EXHAUSTED. Other ops: as kNoSpace.
//   kTornWrite   Append: as kShortWrite but the cut-off fails too: the prefix
//                stays in the log, DATA_LOSS naming its size. Other ops: as
//                kIoError.
// A failing Replace leaves the old log untouched; a failing side file is not created.
//
// Power loss: PowerCut(seed) turns the page cache into what the disk holds:
// with n writes appended since the last Sync, a seeded k in 0..n keeps the
// first k-1 of them whole and the k-th torn at a seeded byte (k = 0: every
// unsynced byte vanishes; the torn write may also survive whole). Replace and
// side files are durable when they return OK. ArmPowerCut(n, seed) cuts the
// power during the n-th mutating call from now instead: an Append is torn or
// kept per the same rule, a Sync happens or not, a Replace leaves the old or
// the new log (seeded); that call and every later one fail with UNAVAILABLE
// until PowerOn().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hal/append_log.h"
#include "hal/sim/fault.h"

namespace edgeforge {

enum class LogOp : uint8_t {
  kAppend,    // Append
  kSync,      // Sync
  kReplace,   // Replace
  kSideFile,  // WriteSideFile
  kRead,      // ReadAll
};
inline constexpr size_t kLogOpCount = 5;

enum class LogFault : uint8_t {
  kNone,        // healthy
  kNoSpace,     // ENOSPC (see the file comment for each kind)
  kIoError,     // EIO
  kShortWrite,  // a partial write, cut off again
  kTornWrite,   // a partial write that stays
};
/// "none", "nospace", "eio", "short", "torn".
const char* LogFaultName(LogFault kind);

struct LogFaultSpec {
  LogOp op = LogOp::kAppend;
  LogFault kind = LogFault::kNone;
  uint32_t skip = 0;         // calls of `op` that go through first: the fault starts at call skip + 1
  uint32_t calls = 0;        // 0: until cleared; N: the next N calls (after `skip`), then healthy
  double probability = 1.0;  // per call, seeded
  uint64_t seed = 1;         // also where a short/torn write is cut
};

class SimAppendLog final : public AppendLog {
 public:
  explicit SimAppendLog(std::string name = "sim:outbox.log") : name_(std::move(name)) {}

  /// Replaces any fault on spec.op.
  void Inject(const LogFaultSpec& spec);
  void ClearFault(LogOp op);
  void ClearFaults();
  /// Calls of `op` the fault changed since its Inject.
  uint64_t faults_hit(LogOp op) const { return faults_[Index(op)].injector.hits(); }
  /// Calls of `op` since construction (failed ones included).
  uint64_t calls(LogOp op) const { return calls_[Index(op)]; }

  /// The disk image a power cut now would leave, seeded (file comment); the
  /// page cache becomes that image.
  void PowerCut(uint64_t seed);
  /// Cuts the power during the `n`-th mutating call (Append, Sync, Replace,
  /// side file) from now; n >= 1.
  void ArmPowerCut(uint64_t n, uint64_t seed);
  /// Power back: calls work again (faults stay injected).
  void PowerOn() { powered_off_ = false; }
  bool powered_off() const { return powered_off_; }

  /// The page-cache view and the durable image.
  const std::string& content() const { return content_; }
  const std::string& durable() const { return durable_; }
  /// Sets both views, as a file found on disk at boot.
  void Preload(std::string bytes);
  const std::map<std::string, std::string>& side_files() const { return side_files_; }

 private:
  struct OpFault {
    LogFault kind = LogFault::kNone;
    uint32_t skip = 0;
    uint64_t seed = 1;       // where a torn write is cut
    FaultInjector injector;  // counting, probability
  };
  static size_t Index(LogOp op) { return static_cast<size_t>(op); }
  /// The fault that applies to this call of `op` (kNone when healthy).
  LogFault Next(LogOp op);
  /// True when the power is off, or goes off during this call (then applies the cut).
  bool PowerFails(LogOp op, std::string_view append, std::string_view replace);
  Status ErrnoError(int err, const char* what) const;
  /// What a power cut leaves: the durable image plus a seeded prefix of the unsynced writes.
  std::string CutImage(uint64_t seed) const;
  /// The durable image extended with content_ up to `end`, lost ranges as zeros.
  std::string Materialize(size_t end) const;
  /// Disk and page cache both become `image`; nothing is pending.
  void SetDurable(std::string image);
  uint64_t Random(uint64_t& state) const;

  const std::string& DoName() const override { return name_; }
  Result<std::string> DoReadAll() override;
  Status DoAppend(std::string_view bytes) override;
  Status DoSync() override;
  Status DoReplace(std::string_view content) override;
  uint64_t DoSize() const override { return content_.size(); }
  Result<std::string> DoWriteSideFile(std::string_view prefix, std::string_view content) override;
  Status DoReplaceRecord(std::string_view name, std::string_view content) override;
  Result<std::string> DoReadRecord(std::string_view name) override;

  const std::string name_;
  std::string content_;  // page cache
  std::string durable_;  // disk
  // Unsynced writes, end offsets in content_, in order; they start at pending_start_.
  std::vector<size_t> pending_ends_;
  size_t pending_start_ = 0;
  // [offset, size) ranges of content_ that a failed Sync lost: zeros on disk.
  std::vector<std::pair<size_t, size_t>> lost_;
  std::map<std::string, std::string> side_files_;
  std::map<std::string, std::string> records_;  // ReplaceRecord: durable on OK
  std::array<OpFault, kLogOpCount> faults_{};
  std::array<uint64_t, kLogOpCount> calls_{};
  uint64_t cut_in_ = 0;  // mutating calls until the armed power cut; 0: none armed
  uint64_t cut_seed_ = 0;
  bool powered_off_ = false;
};

}  // namespace edgeforge
