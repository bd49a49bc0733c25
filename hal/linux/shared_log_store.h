// One append-only file holding many tenants' logs (issue 9): a fleet worker
// runs thousands of simulated devices, and a FileAppendLog per device costs
// two fds and one fdatasync per device per group commit (10,000 devices:
// 20,000 fds, 50,000 fdatasync/s). A SharedLogStore gives every device an
// AppendLog (hal/append_log.h) with the same contract, backed by frames in
// one file, and makes all of them durable with one fdatasync.
//
// File format (little-endian), a sequence of frames:
//   off size
//   0   4    magic "EFS1"
//   4   1    kind: 1 append, 2 replace (the tenant's whole content), 3 record
//   5   1    0
//   6   2    tenant name length T (1..255)
//   8   2    record name length R (record frames: 1..255; else 0)
//   10  2    0
//   12  4    body length B
//   16  4    CRC-32C of bytes 0..15 then the T + R + B bytes that follow
//   20  T+R+B tenant name, record name, body
// Every frame is written with one write(2). A replace frame stands for the
// tenant's whole log, so after a crash a tenant has its old content or the
// new one (the CRC rejects a torn replace frame).
//
// Threading: a store and its tenants are meant for one fleet worker thread;
// an internal mutex still makes calls from another thread (a timer calling
// SyncAll) safe, at the cost of one uncontended lock per call.
// Lifetime: the store must outlive every AppendLog it handed out.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hal/append_log.h"
#include "hal/status.h"

namespace edgeforge {

struct StoreOptions {
  /// Compaction runs (from SyncAll or Compact) when dead bytes exceed live
  /// bytes and this many bytes.
  uint64_t compact_min_dead_bytes = 8u << 20;
  /// Recovery and compaction report here what they cut, skipped or
  /// quarantined (never silently); null: nothing is logged, stats still count.
  std::function<void(const std::string&)> log;
};

struct StoreStats {
  uint64_t fdatasyncs = 0;          // fdatasync(2) calls on the store file (compaction's tmp file included)
  uint64_t writes = 0;              // write(2) calls of frames
  uint64_t frames_recovered = 0;    // valid frames read at Open
  uint64_t torn_tail_bytes = 0;     // bytes cut off the end at Open (a torn last write)
  uint64_t corrupt_regions = 0;     // bad regions in the middle skipped at Open (quarantined)
  uint64_t corrupt_bytes = 0;       // their bytes
  uint64_t compactions = 0;         // completed rewrites
  uint64_t file_bytes = 0;          // size of the store file
  uint64_t live_bytes = 0;          // bytes of frames a compacted file would still hold
  uint64_t tenants = 0;             // tenants with content or records
};

/// What the recovery scan found in a store image (pure; the fuzz target and
/// Open use it). `frames` are the valid frames in file order.
struct StoreScan {
  struct Frame {
    uint8_t kind = 0;
    uint64_t offset = 0;      // of the frame header
    uint64_t size = 0;        // header + names + body
    std::string tenant;
    std::string record;       // record frames only
    uint64_t body_offset = 0; // absolute offset of the body
    uint64_t body_size = 0;
  };
  std::vector<Frame> frames;
  /// [offset, size) of corrupt regions between valid frames.
  std::vector<std::pair<uint64_t, uint64_t>> corrupt;
  /// Where the valid data ends: bytes from here on are a torn tail.
  uint64_t valid_end = 0;
};
StoreScan ScanStoreImage(std::string_view image);

class SharedLogStore {
 public:
  /// `dir_or_path`: an existing directory (the store is <dir>/store.log) or a
  /// file path (its directory is created 0700). Takes a non-blocking flock on
  /// <store>.lock (a lock on the store file itself would not survive
  /// compaction's rename): a second opener gets FAILED_PRECONDITION naming
  /// the path. Then scans the file (recovery, see StoreStats). Errors name the path.
  static Result<std::unique_ptr<SharedLogStore>> Open(const std::string& dir_or_path, StoreOptions options = {});
  ~SharedLogStore();
  SharedLogStore(const SharedLogStore&) = delete;
  SharedLogStore& operator=(const SharedLogStore&) = delete;

  /// The tenant's log. `name`: 1..255 bytes, no '/', no NUL (INVALID_ARGUMENT
  /// naming it). A tenant open twice at once: FAILED_PRECONDITION.
  Result<std::unique_ptr<AppendLog>> OpenTenant(const std::string& name);

  /// The group commit: one fdatasync when anything was appended since the
  /// last one, then compaction if due. After OK every tenant's appends so far
  /// are durable, and a tenant's own Sync() costs nothing until it appends again.
  Status SyncAll();
  /// Rewrites the file with each tenant's live state now (tmp file,
  /// fdatasync, rename, fsync of the directory).
  Status Compact();

  StoreStats stats() const;
  const std::string& path() const { return path_; }

 private:
  class Tenant;
  struct Extent {
    uint64_t offset;
    uint64_t size;
  };
  struct TenantState {
    std::vector<Extent> extents;  // body ranges of the live frames, in order
    uint64_t size = 0;            // sum of extents
    uint64_t frame_bytes = 0;     // live frames' full sizes (content frames)
    std::map<std::string, std::string> records;
    std::map<std::string, uint64_t> record_frame_bytes;
    uint64_t last_append_seq = 0;  // write sequence of its latest append
    bool open = false;
  };

  SharedLogStore(std::string dir, std::string path, StoreOptions options)
      : dir_(std::move(dir)), path_(std::move(path)), options_(std::move(options)) {}
  Status Recover();
  void Log(const std::string& message) const;
  /// Writes one frame at the end with one write(2); on a failure cuts it off
  /// again. Returns the frame's offset.
  Result<uint64_t> WriteFrame(uint8_t kind, const std::string& tenant, std::string_view record, std::string_view body);
  Status SyncLocked();
  Status CompactLocked();
  bool CompactionDueLocked() const;
  uint64_t LiveBytesLocked() const;
  Result<std::string> ReadTenantLocked(const TenantState& state) const;

  // Tenant operations (called by Tenant under mu_).
  Result<std::string> TenantReadAll(const std::string& name);
  Status TenantAppend(const std::string& name, std::string_view bytes);
  Status TenantSync(const std::string& name);
  Status TenantReplace(const std::string& name, std::string_view content);
  uint64_t TenantSize(const std::string& name) const;
  Result<std::string> TenantSideFile(const std::string& name, std::string_view prefix, std::string_view content);
  Status TenantReplaceRecord(const std::string& name, std::string_view record, std::string_view content);
  Result<std::string> TenantReadRecord(const std::string& name, std::string_view record);
  void TenantClosed(const std::string& name);

  const std::string dir_;
  const std::string path_;
  const StoreOptions options_;
  mutable std::mutex mu_;
  int fd_ = -1;
  int lock_fd_ = -1;
  uint64_t end_ = 0;        // file size (valid frames end)
  uint64_t write_seq_ = 0;  // frames written
  uint64_t synced_seq_ = 0; // write_seq_ at the last successful fdatasync
  std::map<std::string, TenantState> tenants_;
  StoreStats stats_;
};

}  // namespace edgeforge
