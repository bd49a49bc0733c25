#include "firmware/link/outbox.h"

#include <algorithm>
#include <limits>
#include <utility>

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

// A missing or corrupt floor record is not fatal: floor 0 counts every seq
// without a record as lost (over-reporting, the safe side) and says why.
Status ReadFloor(AppendLog& log, const std::string& name, crash_loss::Recovered& out) {
  auto content = log.ReadRecord(name);
  if (!content.ok() && content.status().code() != StatusCode::kNotFound) return content.status().WithContext("outbox");
  if (!content.ok()) {
    out.floor_problem = "'" + name + "' missing";
    return Status::Ok();
  }
  auto floor = crash_loss::DecodeFloor(*content);
  if (!floor.ok()) {
    out.floor_problem = "'" + name + "' unusable: " + floor.status().message();
    out.floor_corrupt = true;
    return Status::Ok();
  }
  out.floor = *floor;
  return Status::Ok();
}
}  // namespace

Outbox::Outbox(std::unique_ptr<AppendLog> log, const OutboxOptions& options, const Clock& clock)
    : options_(options), clock_(clock), log_(std::move(log)) {}

Outbox::~Outbox() = default;  // the log closes (and unlocks) without syncing

Result<std::unique_ptr<Outbox>> Outbox::Open(std::unique_ptr<AppendLog> log, const OutboxOptions& options,
                                             const Clock& clock) {
  if (log == nullptr) return InvalidArgument("outbox: no log");
  if (options.max_bytes == 0) return InvalidArgument("outbox '" + log->name() + "': max_bytes must be > 0");
  std::unique_ptr<Outbox> box(new Outbox(std::move(log), options, clock));
  std::lock_guard<std::mutex> guard(box->mu_);
  EF_RETURN_IF_ERROR(box->Recover());
  return box;
}

Status Outbox::Recover() {
  auto content = log_->ReadAll();
  if (!content.ok()) return content.status().WithContext("outbox");
  const std::string log = std::move(*content);
  const outbox_log::Scan scan = outbox_log::ScanLog(log);
  EF_RETURN_IF_ERROR(ReadFloor(*log_, kFloorName, recovered_));
  recovered_.surviving = crash_loss::SurvivingSeqs(scan);
  appended_below_ = recovered_.floor.below;
  if (!recovered_.floor_corrupt) disk_floor_ = recovered_.floor;
  outbox_log::Replay replay = outbox_log::ReplayLog(scan);
  for (QueuedMessage& m : replay.live) {
    recovered_seqs_.push_back(m.seq);
    Insert(std::move(m));
  }
  next_id_ = replay.next_id;
  stats_.recovered = replay.live.size();
  stats_.quarantined_records = scan.bad.size();
  for (const auto& r : scan.bad) stats_.quarantined_bytes += r.size;
  file_bytes_ = log.size();
  if (!scan.bad.empty()) quarantine_ = outbox_log::EncodeQuarantine(log, scan.bad);
  // A failed copy or rewrite is counted and retried by the next compaction;
  // a full disk at boot must not keep the device from running.
  if (!scan.bad.empty() || scan.records.empty()) (void)CompactLocked();
  return Status::Ok();
}

Status Outbox::QuarantineLocked() {
  if (quarantine_.empty()) return Status::Ok();
  // The bad bytes are copied out durably before the rewrite drops them.
  auto path = log_->WriteSideFile("quarantine", quarantine_);
  if (!path.ok()) {
    StorageFailed(path.status());
    return path.status().WithContext(Name() + ": quarantine");
  }
  quarantine_.clear();
  return Status::Ok();
}

void Outbox::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void Outbox::StorageFailed(const Status& st) {
  ++stats_.storage_errors;
  ++episode_failures_;
  if (failing_) return;
  failing_ = true;
  episode_failures_ = 1;
  episode_drops_ = 0;
  Log(Name() + ": storage failing: " + st.ToString() +
      " (messages that cannot be stored are counted as dropped; further failures are counted, not logged, "
      "until an operation succeeds)");
}

void Outbox::StorageOk() {
  if (!failing_) return;
  failing_ = false;
  Log(Name() + ": storage works again after " + std::to_string(episode_failures_) + " failed operations; " +
      std::to_string(episode_drops_) + " messages dropped meanwhile");
}

void Outbox::CountDrop(Priority priority) {
  ++stats_.dropped[Index(priority)];
  if (failing_) ++episode_drops_;
}

Status Outbox::WriteLocked(const std::string& records) {
  Status st = log_->Append(records);
  if (!st.ok()) {
    if (log_->Size() != file_bytes_) {
      // A torn write stayed (the backend could not cut it off): recovery
      // would quarantine it, a rewrite removes it now.
      // Bounded by max_bytes (a size_t) plus one compaction's slack: fits size_t on 32-bit too.
      file_bytes_ = static_cast<size_t>(log_->Size());
      rewrite_needed_ = true;
    }
    StorageFailed(st);
    // EINVAL from write(2) is not the caller's argument: INVALID_ARGUMENT is
    // kept for what Append refuses uncounted.
    if (st.code() == StatusCode::kInvalidArgument) return Status(StatusCode::kUnknown, "outbox: " + st.message());
    return st.WithContext("outbox");
  }
  StorageOk();
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
  Status st = log_->Sync();
  if (!st.ok()) {
    rewrite_needed_ = true;
    StorageFailed(st);
    if (st.code() == StatusCode::kInvalidArgument) return Status(StatusCode::kUnknown, "outbox: " + st.message());
    return st.WithContext("outbox");
  }
  StorageOk();
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
  Status quarantined = QuarantineLocked();
  if (!quarantined.ok()) {
    ++stats_.compaction_failures;
    compact_at_ = file_bytes_ * 2;  // back off instead of retrying on every Append
    return quarantined;
  }
  std::string content;
  content.reserve(outbox_log::kHeaderBytes + 8 + live_record_bytes_);
  outbox_log::AppendHead(content, next_id_);
  for (const auto& [id, e] : live_) outbox_log::AppendData(content, e.msg);
  // The floor first: a crash between the two leaves the old log, a superset
  // of the records the new floor expects.
  Status st = WriteFloorLocked(FloorToWrite());  // counts its own failure
  if (st.ok()) {
    st = log_->Replace(content);
    if (!st.ok()) StorageFailed(st);
  }
  if (!st.ok()) {
    ++stats_.compaction_failures;
    compact_at_ = file_bytes_ * 2;  // back off instead of rewriting on every Append
    return st.WithContext(Name() + ": compaction");
  }
  StorageOk();
  file_bytes_ = content.size();
  dirty_ = false;
  rewrite_needed_ = false;
  compact_at_ = 0;
  ++stats_.compactions;
  return Status::Ok();
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
  if (Status st = log_->ReplaceRecord(kFloorName, crash_loss::EncodeFloor(f)); !st.ok()) {
    StorageFailed(st);
    return st;
  }
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
    CountDrop(priority);
    return DataLoss(Name() + ": message ids exhausted (a corrupt log named id 2^64-1); message counted as dropped");
  }
  const size_t bytes = MessageBytes(m);
  std::vector<uint64_t> victims;
  if (!PlanEviction(priority, bytes, victims)) {
    CountDrop(priority);
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
  if (Status st = WriteLocked(records); !st.ok()) {
    CountDrop(priority);  // nothing changed: the victims stay queued
    return Status(st.code(), st.message() + " (" + PriorityName(priority) + " message seq " + std::to_string(seq) +
                                 " counted as dropped)");
  }
  ++next_id_;
  for (uint64_t v : victims) {
    CountDrop(live_.at(v).msg.priority);
    Remove(v);
  }
  const uint64_t id = q.id;
  if (priority != Priority::kState) appended_below_ = std::max(appended_below_, seq + 1);
  Insert(std::move(q));
  Status synced = Status::Ok();
  if (options_.sync == SyncPolicy::kAlways) synced = SyncLocked();
  if (options_.sync == SyncPolicy::kBatch) synced = SyncIfDueLocked();
  if (!synced.ok()) {
    // Queued (it will be sent) but not durable: counted in storage_errors, not a drop.
    return Status(synced.code(), synced.message() + " (message seq " + std::to_string(seq) +
                                     " is queued and will be sent, but is not durable yet)");
  }
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

std::string Outbox::Name() const { return "outbox '" + log_->name() + "'"; }

}  // namespace edgeforge::link
