#include "firmware/link/outbox.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <utility>

#include "hal/linux/fs.h"

namespace edgeforge::link {

const char* SyncPolicyName(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kAlways:
      return "always";
    case SyncPolicy::kBatch:
      return "batch";
    case SyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

namespace {

size_t Index(Priority p) { return static_cast<size_t>(p); }

// flock(2) without blocking: a second outbox on the same directory would
// interleave two logs' records, so it is refused instead of waited for.
Result<int> LockDir(const std::string& dir, const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fs::ErrnoStatus(errno, "outbox: cannot open lock file '" + path + "'");
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string msg = "outbox '" + dir;
      msg.append("': in use by another outbox (lock '").append(path).append("' is held)");
      return FailedPrecondition(std::move(msg));
    }
    return fs::ErrnoStatus(err, "outbox: cannot lock '" + path + "'");
  }
  return fd;
}

// A missing or corrupt floor file is not fatal: floor 0 counts every seq
// without a record as lost (over-reporting, the safe side) and says why.
Status ReadFloor(const std::string& path, crash_loss::Recovered& out) {
  auto content = fs::ReadFileToString(path);
  if (!content.ok() && content.status().code() != StatusCode::kNotFound) return content.status().WithContext("outbox");
  if (!content.ok()) {
    out.floor_problem = "'" + path + "' missing";
    return Status::Ok();
  }
  auto floor = crash_loss::DecodeFloor(*content);
  if (!floor.ok()) {
    out.floor_problem = "'" + path + "' unusable: " + floor.status().message();
    out.floor_corrupt = true;
    return Status::Ok();
  }
  out.floor = *floor;
  return Status::Ok();
}

// The first unused DIR/quarantine-<n>.bin; the directory lock rules out a race.
std::string QuarantinePath(const std::string& dir) {
  for (uint64_t n = 1;; ++n) {
    std::string path = dir + "/quarantine-" + std::to_string(n) + ".bin";
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return path;
  }
}

}  // namespace

Outbox::Outbox(const OutboxOptions& options, const Clock& clock)
    : options_(options), clock_(clock), log_path_(options.dir + "/" + kLogName) {}

Outbox::~Outbox() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<Outbox>> Outbox::Open(const OutboxOptions& options, const Clock& clock) {
  if (options.dir.empty()) return InvalidArgument("outbox: empty directory path");
  if (options.max_bytes == 0) return InvalidArgument("outbox '" + options.dir + "': max_bytes must be > 0");
  EF_RETURN_IF_ERROR(fs::MakeDirs(options.dir, 0700).WithContext("outbox"));
  std::unique_ptr<Outbox> box(new Outbox(options, clock));
  auto lock = LockDir(options.dir, options.dir + "/" + kLockName);
  if (!lock.ok()) return lock.status();
  box->lock_fd_ = *lock;
  std::lock_guard<std::mutex> guard(box->mu_);
  EF_RETURN_IF_ERROR(box->Recover());
  return box;
}

Status Outbox::Recover() {
  auto content = fs::ReadFileToString(log_path_);
  if (!content.ok() && content.status().code() != StatusCode::kNotFound) {
    return content.status().WithContext("outbox");
  }
  const std::string log = content.ok() ? std::move(*content) : std::string();
  const outbox_log::Scan scan = outbox_log::ScanLog(log);
  EF_RETURN_IF_ERROR(ReadFloor(options_.dir + "/" + kFloorName, recovered_));
  recovered_.surviving = crash_loss::SurvivingSeqs(scan);
  appended_below_ = recovered_.floor.below;
  if (!recovered_.floor_corrupt) disk_floor_ = recovered_.floor;
  outbox_log::Replay replay = outbox_log::ReplayLog(scan);
  for (QueuedMessage& m : replay.live) Insert(std::move(m));
  next_id_ = replay.next_id;
  stats_.recovered = replay.live.size();
  stats_.quarantined_records = scan.bad.size();
  for (const auto& r : scan.bad) stats_.quarantined_bytes += r.size;
  if (!scan.bad.empty()) {
    // The bad bytes are copied out durably before the rewrite drops them.
    const std::string qpath = QuarantinePath(options_.dir);
    EF_RETURN_IF_ERROR(
        fs::WriteFileAtomically(qpath, outbox_log::EncodeQuarantine(log, scan.bad), 0600, fs::Durability::kSynced)
            .WithContext(Name() + ": quarantine"));
  }
  if (!scan.bad.empty() || scan.records.empty()) return CompactLocked();
  file_bytes_ = log.size();
  return OpenLogForAppend();
}

Status Outbox::OpenLogForAppend() {
  fd_ = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return fs::ErrnoStatus(errno, "outbox: cannot open '" + log_path_ + "'");
  return Status::Ok();
}

Status Outbox::WriteLocked(const std::string& records) {
  if (fd_ < 0) EF_RETURN_IF_ERROR(OpenLogForAppend());
  size_t done = 0;
  while (done < records.size()) {
    const ssize_t n = ::write(fd_, records.data() + done, records.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      // Best effort: cut a torn record off now rather than quarantine it at the next Open.
      if (done > 0) (void)::ftruncate(fd_, static_cast<off_t>(file_bytes_));
      return fs::ErrnoStatus(err, "outbox: cannot write '" + log_path_ + "'");
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += records.size();
  if (!dirty_) {
    dirty_ = true;
    dirty_since_ = clock_.Monotonic();
  }
  return Status::Ok();
}

Status Outbox::SyncLocked() {
  // After a failed fdatasync the kernel may have dropped the dirty pages and a
  // later fdatasync can succeed without them (PostgreSQL's "fsyncgate", 2018):
  // only a rewrite of the whole log is trustworthy then.
  if (rewrite_needed_) return CompactLocked();
  if (!dirty_) return Status::Ok();
  // fdatasync(2) also flushes the file size, which is what an append changes.
  if (::fdatasync(fd_) != 0) {
    rewrite_needed_ = true;
    return fs::ErrnoStatus(errno, "outbox: cannot fdatasync '" + log_path_ + "'");
  }
  dirty_ = false;
  ++stats_.syncs;
  return Status::Ok();
}

Status Outbox::SyncIfDueLocked() {
  if (options_.sync == SyncPolicy::kNever || !dirty_) return rewrite_needed_ ? CompactLocked() : Status::Ok();
  if (clock_.Monotonic() - dirty_since_ < options_.batch_interval) return Status::Ok();
  return SyncLocked();
}

Status Outbox::CompactLocked() {
  std::string content;
  content.reserve(outbox_log::kHeaderBytes + 8 + live_record_bytes_);
  outbox_log::AppendHead(content, next_id_);
  for (const auto& [id, e] : live_) outbox_log::AppendData(content, e.msg);
  // The floor first: a crash between the two leaves the old log, a superset
  // of the records the new floor expects.
  Status st = WriteFloorLocked(FloorToWrite());
  if (st.ok()) st = fs::WriteFileAtomically(log_path_, content, 0600, fs::Durability::kSynced);
  if (!st.ok()) {
    ++stats_.compaction_failures;
    compact_at_ = file_bytes_ * 2;  // back off instead of rewriting on every Append
    return st.WithContext(Name() + ": compaction");
  }
  // The old descriptor still points at the replaced, now unlinked, file.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  file_bytes_ = content.size();
  dirty_ = false;
  rewrite_needed_ = false;
  compact_at_ = 0;
  ++stats_.compactions;
  return OpenLogForAppend();
}

crash_loss::Floor Outbox::FloorToWrite() const {
  std::vector<uint64_t> live;
  for (const auto& [id, e] : live_) {
    if (e.msg.priority != Priority::kState) live.push_back(e.msg.seq);
  }
  crash_loss::Floor f;
  f.live = crash_loss::ToRanges(std::move(live));
  if (loss_resolved_) {
    f.below = appended_below_;
  } else {
    // Not yet accounted: keep what recovery found, so a second crash counts it again.
    f.below = recovered_.floor.below;
    f.live = crash_loss::Union(std::move(f.live), recovered_.floor.live);
  }
  f.live = crash_loss::Bound(std::move(f.live), crash_loss::kMaxFloorRanges);
  return f;
}

Status Outbox::ResolveCrashLoss(uint64_t below) {
  std::lock_guard<std::mutex> guard(mu_);
  loss_resolved_ = true;
  appended_below_ = std::max(appended_below_, below);
  if (!recovered_.surviving.empty()) appended_below_ = std::max(appended_below_, recovered_.surviving.back() + 1);
  return WriteFloorLocked(FloorToWrite()).WithContext(Name());
}

Status Outbox::WriteFloorLocked(const crash_loss::Floor& f) {
  if (disk_floor_ && *disk_floor_ == f) return Status::Ok();  // a device start with nothing new: no fsync
  disk_floor_.reset();
  EF_RETURN_IF_ERROR(fs::WriteFileAtomically(options_.dir + "/" + kFloorName, crash_loss::EncodeFloor(f), 0600,
                                             fs::Durability::kSynced));
  disk_floor_ = f;
  return Status::Ok();
}

Status Outbox::MaybeCompactLocked() {
  const size_t threshold = std::max({options_.compact_min_bytes, 2 * live_record_bytes_, compact_at_});
  if (file_bytes_ <= threshold) return Status::Ok();
  return CompactLocked();
}

bool Outbox::PlanEviction(Priority priority, size_t bytes, std::vector<uint64_t>& victims) const {
  if (bytes > options_.max_bytes) return false;
  if (live_bytes_ + bytes <= options_.max_bytes) return true;
  const size_t need = live_bytes_ + bytes - options_.max_bytes;
  size_t available = 0;
  for (size_t c = Index(priority); c < kPriorityCount; ++c) available += queued_bytes_[c];
  if (available < need) return false;
  size_t freed = 0;
  for (size_t c = kPriorityCount; c-- > Index(priority);) {
    for (uint64_t id : queued_[c]) {
      victims.push_back(id);
      freed += live_.at(id).bytes;
      if (freed >= need) return true;
    }
  }
  return true;
}

Result<uint64_t> Outbox::Append(Priority priority, uint64_t seq, const OutgoingMessage& m) {
  if (Index(priority) >= kPriorityCount) {
    return InvalidArgument(Name() + ": priority " + std::to_string(Index(priority)) + " is not alarm/state/bulk");
  }
  if (m.qos < 0 || m.qos > 2) return InvalidArgument(Name() + ": qos " + std::to_string(m.qos) + " is not 0..2");
  if (outbox_log::DataRecordBytes(m) - outbox_log::kHeaderBytes > outbox_log::kMaxBodyBytes) {
    return InvalidArgument(Name() + ": message of " + std::to_string(MessageBytes(m)) +
                           " bytes is over the record limit of " + std::to_string(outbox_log::kMaxBodyBytes));
  }
  std::lock_guard<std::mutex> guard(mu_);
  if (next_id_ == std::numeric_limits<uint64_t>::max()) {
    return DataLoss(Name() + ": message ids exhausted (a corrupt log named id 2^64-1)");
  }
  const size_t bytes = MessageBytes(m);
  std::vector<uint64_t> victims;
  if (!PlanEviction(priority, bytes, victims)) {
    ++stats_.dropped[Index(priority)];
    size_t evictable = 0;
    for (size_t c = Index(priority); c < kPriorityCount; ++c) evictable += queued_bytes_[c];
    return ResourceExhausted(Name() + ": " + PriorityName(priority) + " message of " + std::to_string(bytes) +
                             " bytes refused and counted as dropped: max_bytes " + std::to_string(options_.max_bytes) +
                             ", live " + std::to_string(live_bytes_) + ", of which " + std::to_string(evictable) +
                             " may be dropped for it (queued, not in flight, same class or less important)");
  }
  QueuedMessage q{next_id_, priority, seq, m};
  std::string records;
  for (uint64_t v : victims) outbox_log::AppendDrop(records, v);
  outbox_log::AppendData(records, q);
  EF_RETURN_IF_ERROR(WriteLocked(records));
  ++next_id_;
  for (uint64_t v : victims) {
    ++stats_.dropped[Index(live_.at(v).msg.priority)];
    Remove(v);
  }
  const uint64_t id = q.id;
  if (priority != Priority::kState) appended_below_ = std::max(appended_below_, seq + 1);
  Insert(std::move(q));
  if (options_.sync == SyncPolicy::kAlways) EF_RETURN_IF_ERROR(SyncLocked());
  if (options_.sync == SyncPolicy::kBatch) EF_RETURN_IF_ERROR(SyncIfDueLocked());
  (void)MaybeCompactLocked();  // failures are counted and retried later; the message is queued either way
  return id;
}

std::vector<QueuedMessage> Outbox::TakeForSend(size_t n) {
  std::lock_guard<std::mutex> guard(mu_);
  std::vector<QueuedMessage> out;
  for (size_t c = 0; c < kPriorityCount && out.size() < n; ++c) {
    while (out.size() < n && !queued_[c].empty()) {
      const uint64_t id = *queued_[c].begin();
      queued_[c].erase(queued_[c].begin());
      Entry& e = live_.at(id);
      e.in_flight = true;
      queued_bytes_[c] -= e.bytes;
      out.push_back(e.msg);
    }
  }
  return out;
}

Status Outbox::Ack(uint64_t id) {
  std::lock_guard<std::mutex> guard(mu_);
  if (live_.count(id) == 0) return NotFound(Name() + ": ack for unknown message id " + std::to_string(id));
  std::string record;
  outbox_log::AppendAck(record, id);
  Status st = WriteLocked(record);
  Remove(id);  // it was delivered: never send it again from this process
  return st;
}

void Outbox::Nack(uint64_t id) {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = live_.find(id);
  if (it == live_.end() || !it->second.in_flight) return;
  Entry& e = it->second;
  e.in_flight = false;
  queued_[Index(e.msg.priority)].insert(id);
  queued_bytes_[Index(e.msg.priority)] += e.bytes;
}

void Outbox::RequeueInFlight() {
  std::lock_guard<std::mutex> guard(mu_);
  for (auto& [id, e] : live_) {
    if (!e.in_flight) continue;
    e.in_flight = false;
    queued_[Index(e.msg.priority)].insert(id);
    queued_bytes_[Index(e.msg.priority)] += e.bytes;
  }
}

Status Outbox::SyncIfDue() {
  std::lock_guard<std::mutex> guard(mu_);
  EF_RETURN_IF_ERROR(SyncIfDueLocked());
  (void)MaybeCompactLocked();  // counted in stats().compaction_failures
  return Status::Ok();
}

Status Outbox::Sync() {
  std::lock_guard<std::mutex> guard(mu_);
  return SyncLocked();
}

Status Outbox::Compact() {
  std::lock_guard<std::mutex> guard(mu_);
  return CompactLocked();
}

OutboxStats Outbox::stats() const {
  std::lock_guard<std::mutex> guard(mu_);
  OutboxStats s = stats_;
  s.depth = live_.size();
  size_t queued = 0;
  for (const auto& q : queued_) queued += q.size();
  s.in_flight = live_.size() - queued;
  s.bytes = live_bytes_;
  s.file_bytes = file_bytes_;
  return s;
}

size_t Outbox::depth() const {
  std::lock_guard<std::mutex> guard(mu_);
  return live_.size();
}

void Outbox::Insert(QueuedMessage m) {
  const uint64_t id = m.id;
  const size_t c = Index(m.priority);
  const size_t bytes = MessageBytes(m.message);
  const size_t record_bytes = outbox_log::DataRecordBytes(m.message);
  queued_[c].insert(id);
  queued_bytes_[c] += bytes;
  live_bytes_ += bytes;
  live_record_bytes_ += record_bytes;
  live_.emplace(id, Entry{std::move(m), bytes, record_bytes, false});
}

void Outbox::Remove(uint64_t id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  const Entry& e = it->second;
  const size_t c = Index(e.msg.priority);
  if (!e.in_flight) {
    queued_[c].erase(id);
    queued_bytes_[c] -= e.bytes;
  }
  live_bytes_ -= e.bytes;
  live_record_bytes_ -= e.record_bytes;
  live_.erase(it);
}

std::string Outbox::Name() const { return "outbox '" + options_.dir + "'"; }

}  // namespace edgeforge::link
