#include "hal/linux/shared_log_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "hal/linux/fs.h"

namespace edgeforge {
namespace {

constexpr uint32_t kMagic = 0x31534645;  // "EFS1" little-endian
constexpr size_t kHeader = 20;
constexpr uint8_t kAppend = 1;
constexpr uint8_t kReplace = 2;
constexpr uint8_t kRecord = 3;
constexpr size_t kMaxName = 255;

// CRC-32C (Castagnoli, reflected 0x82F63B78). hal/ cannot use firmware's copy
// (outbox_format.h); same polynomial so one check value serves both.
uint32_t Crc32c(uint32_t crc, std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (char ch : data) crc = table[(crc ^ static_cast<uint8_t>(ch)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t Get(std::string_view in, size_t at, size_t bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

std::string EncodeFrame(uint8_t kind, std::string_view tenant, std::string_view record, std::string_view body) {
  std::string f;
  f.reserve(kHeader + tenant.size() + record.size() + body.size());
  Put32(f, kMagic);
  f.push_back(static_cast<char>(kind));
  f.push_back(0);
  Put16(f, static_cast<uint16_t>(tenant.size()));
  Put16(f, static_cast<uint16_t>(record.size()));
  Put16(f, 0);
  Put32(f, static_cast<uint32_t>(body.size()));
  uint32_t crc = Crc32c(0, f);
  crc = Crc32c(crc, tenant);
  crc = Crc32c(crc, record);
  crc = Crc32c(crc, body);
  Put32(f, crc);
  f.append(tenant).append(record).append(body);
  return f;
}

// A valid frame at `at`, or false. Lengths are checked against what the
// image holds before anything is read, so garbage cannot ask for gigabytes.
bool ParseFrame(std::string_view image, uint64_t at, StoreScan::Frame& out) {
  if (image.size() - at < kHeader) return false;
  const size_t p = static_cast<size_t>(at);
  if (Get(image, p, 4) != kMagic) return false;
  const auto kind = static_cast<uint8_t>(image[p + 4]);
  const uint32_t t = Get(image, p + 6, 2);
  const uint32_t r = Get(image, p + 8, 2);
  const uint32_t b = Get(image, p + 12, 4);
  if (kind < kAppend || kind > kRecord || image[p + 5] != 0 || Get(image, p + 10, 2) != 0) return false;
  if (t == 0 || t > kMaxName || r > kMaxName || (kind == kRecord) != (r != 0)) return false;
  const uint64_t size = kHeader + uint64_t{t} + r + b;
  if (size > image.size() - at) return false;
  uint32_t crc = Crc32c(0, image.substr(p, 16));
  crc = Crc32c(crc, image.substr(p + kHeader, static_cast<size_t>(size - kHeader)));
  if (crc != Get(image, p + 16, 4)) return false;
  out.kind = kind;
  out.offset = at;
  out.size = size;
  out.tenant.assign(image.substr(p + kHeader, t));
  out.record.assign(image.substr(p + kHeader + t, r));
  out.body_offset = at + kHeader + t + r;
  out.body_size = b;
  return true;
}

Status CheckName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxName || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " '" + std::string(name) + "': must be 1..255 bytes without '/' or NUL");
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs::ErrnoStatus(errno, "cannot write '" + path + "'");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

StoreScan ScanStoreImage(std::string_view image) {
  StoreScan scan;
  uint64_t at = 0;
  while (at < image.size()) {
    StoreScan::Frame f;
    if (ParseFrame(image, at, f)) {
      at += f.size;
      scan.valid_end = at;
      scan.frames.push_back(std::move(f));
      continue;
    }
    // Not a frame here: look for the next valid one. None: the rest is a torn tail.
    uint64_t next = at + 1;
    bool found = false;
    for (; next + kHeader <= image.size(); ++next) {
      const size_t m = image.find("EFS1", static_cast<size_t>(next));
      if (m == std::string_view::npos) break;
      next = m;
      if (ParseFrame(image, next, f)) {
        found = true;
        break;
      }
    }
    if (!found) break;
    scan.corrupt.emplace_back(at, next - at);
    at = next;
  }
  return scan;
}

// The AppendLog a tenant sees; everything goes through the store.
class SharedLogStore::Tenant final : public AppendLog {
 public:
  Tenant(SharedLogStore& store, std::string name)
      : store_(store), name_(std::move(name)), display_(store.path() + "#" + name_) {}
  ~Tenant() override { store_.TenantClosed(name_); }

 private:
  const std::string& DoName() const override { return display_; }
  Result<std::string> DoReadAll() override { return store_.TenantReadAll(name_); }
  Status DoAppend(std::string_view bytes) override { return store_.TenantAppend(name_, bytes); }
  Status DoSync() override { return store_.TenantSync(name_); }
  Status DoReplace(std::string_view content) override { return store_.TenantReplace(name_, content); }
  uint64_t DoSize() const override { return store_.TenantSize(name_); }
  Result<std::string> DoWriteSideFile(std::string_view prefix, std::string_view content) override {
    return store_.TenantSideFile(name_, prefix, content);
  }
  Status DoReplaceRecord(std::string_view name, std::string_view content) override {
    return store_.TenantReplaceRecord(name_, name, content);
  }
  Result<std::string> DoReadRecord(std::string_view name) override { return store_.TenantReadRecord(name_, name); }

  SharedLogStore& store_;
  const std::string name_;
  const std::string display_;
};

Result<std::unique_ptr<SharedLogStore>> SharedLogStore::Open(const std::string& dir_or_path, StoreOptions options) {
  if (dir_or_path.empty()) return InvalidArgument("log store: empty path (give a directory or a file path)");
  std::string dir;
  std::string path;
  struct stat st {};
  if (::stat(dir_or_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    dir = dir_or_path;
    path = dir_or_path + "/store.log";
  } else {
    path = dir_or_path;
    const size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    EF_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  }
  std::unique_ptr<SharedLogStore> store(new SharedLogStore(dir, path, std::move(options)));
  const std::string lock = path + ".lock";
  store->lock_fd_ = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (store->lock_fd_ < 0) return fs::ErrnoStatus(errno, "cannot open lock file '" + lock + "'");
  while (::flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return FailedPrecondition("log store '" + path + "': in use by another process (lock '" + lock +
                                "' is held); give each fleet worker its own store path");
    }
    return fs::ErrnoStatus(errno, "cannot lock '" + lock + "'");
  }
  EF_RETURN_IF_ERROR(store->Recover());
  return store;
}

SharedLogStore::~SharedLogStore() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void SharedLogStore::Log(const std::string& message) const {
  if (options_.log) options_.log(message);
}

Status SharedLogStore::Recover() {
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return fs::ErrnoStatus(errno, "cannot open '" + path_ + "'");
  auto image = fs::ReadFileToString(path_);
  if (!image.ok()) return image.status();
  const StoreScan scan = ScanStoreImage(*image);
  for (const auto& [offset, size] : scan.corrupt) {
    // Kept in the file (dead bytes until the next compaction) and copied aside.
    std::string side = path_ + ".corrupt-" + std::to_string(offset) + ".bin";
    // Offsets into the image, which is in memory: they fit size_t (32-bit too).
    Status st = fs::WriteFileAtomically(side, image->substr(static_cast<size_t>(offset), static_cast<size_t>(size)),
                                        0600, fs::Durability::kSynced);
    Log("log store '" + path_ + "': " + std::to_string(size) + " corrupt bytes at offset " + std::to_string(offset) +
        " skipped; " + (st.ok() ? "copied to '" + side + "'" : "copy failed: " + st.message()));
    ++stats_.corrupt_regions;
    stats_.corrupt_bytes += size;
  }
  if (scan.valid_end < image->size()) {
    const uint64_t torn = image->size() - scan.valid_end;
    // Copied aside first: a torn write is the usual cause, but a bad sector
    // in the last frames would look the same.
    std::string side = path_ + ".torn-" + std::to_string(scan.valid_end) + ".bin";
    Status copied = fs::WriteFileAtomically(side, image->substr(static_cast<size_t>(scan.valid_end)), 0600,
                                            fs::Durability::kSynced);
    if (::ftruncate(fd_, static_cast<off_t>(scan.valid_end)) != 0) {
      return fs::ErrnoStatus(errno, "cannot cut the torn tail of '" + path_ + "'");
    }
    if (::fdatasync(fd_) != 0) return fs::ErrnoStatus(errno, "cannot fdatasync '" + path_ + "'");
    ++stats_.fdatasyncs;
    stats_.torn_tail_bytes = torn;
    Log("log store '" + path_ + "': cut a torn tail of " + std::to_string(torn) + " bytes at offset " +
        std::to_string(scan.valid_end) + "; " +
        (copied.ok() ? "copied to '" + side + "'" : "copy failed: " + copied.message()));
  }
  end_ = scan.valid_end;
  for (const auto& f : scan.frames) {
    TenantState& t = tenants_[f.tenant];
    if (f.kind == kRecord) {
      t.records[f.record] = image->substr(static_cast<size_t>(f.body_offset), static_cast<size_t>(f.body_size));
      t.record_frame_bytes[f.record] = f.size;
      continue;
    }
    if (f.kind == kReplace) {
      t.extents.clear();
      t.size = 0;
      t.frame_bytes = 0;
    }
    if (f.body_size > 0) t.extents.push_back({f.body_offset, f.body_size});
    t.size += f.body_size;
    t.frame_bytes += f.size;
  }
  stats_.frames_recovered = scan.frames.size();
  return Status::Ok();
}

Result<uint64_t> SharedLogStore::WriteFrame(uint8_t kind, const std::string& tenant, std::string_view record,
                                            std::string_view body) {
  if (body.size() > UINT32_MAX) return InvalidArgument("log store '" + path_ + "': a frame body over 4 GiB");
  if (fd_ < 0) return Unavailable("log store '" + path_ + "': not open (a compaction could not reopen it)");
  const std::string frame = EncodeFrame(kind, tenant, record, body);
  ++stats_.writes;
  // One write(2) per frame; a short write is followed by a retry of the rest,
  // and an error cuts the partial frame off again so the file ends on a frame.
  Status st = WriteAll(fd_, frame, path_);
  if (!st.ok()) {
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
      // The torn frame stays; its CRC makes recovery skip it, and the
      // tenant's view is unchanged. Later frames follow it.
      struct stat s {};
      if (::fstat(fd_, &s) == 0) end_ = static_cast<uint64_t>(s.st_size);
    }
    return st;
  }
  const uint64_t at = end_;
  end_ += frame.size();
  ++write_seq_;
  return at;
}

Status SharedLogStore::SyncLocked() {
  if (fd_ < 0) return Unavailable("log store '" + path_ + "': not open (a compaction could not reopen it)");
  const uint64_t seq = write_seq_;
  ++stats_.fdatasyncs;
  if (::fdatasync(fd_) != 0) return fs::ErrnoStatus(errno, "cannot fdatasync '" + path_ + "'");
  synced_seq_ = seq;
  return Status::Ok();
}

Status SharedLogStore::SyncOrUndoLocked(uint64_t frame_at) {
  Status st = SyncLocked();
  if (st.ok()) return st;
  // The contract of Replace and ReplaceRecord: on failure the old state stays.
  // The frame is the last one (we hold mu_), so cutting it off restores it;
  // if the cut fails too, a restart would see the new state: say so.
  if (::ftruncate(fd_, static_cast<off_t>(frame_at)) == 0) {
    end_ = frame_at;
    return st;
  }
  return DataLoss(st.message() + "; the unsynced new state at offset " + std::to_string(frame_at) +
                  " could not be cut off and may win at the next Open");
}

Status SharedLogStore::SyncAll() {
  std::lock_guard<std::mutex> lock(mu_);
  if (synced_seq_ != write_seq_) EF_RETURN_IF_ERROR(SyncLocked());
  if (CompactionDueLocked()) return CompactLocked();
  return Status::Ok();
}

Status SharedLogStore::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  return CompactLocked();
}

uint64_t SharedLogStore::LiveBytesLocked() const {
  uint64_t live = 0;
  for (const auto& [name, t] : tenants_) {
    live += t.frame_bytes;
    for (const auto& [record, bytes] : t.record_frame_bytes) live += bytes;
  }
  return live;
}

bool SharedLogStore::CompactionDueLocked() const {
  const uint64_t live = LiveBytesLocked();
  if (live >= end_) return false;
  const uint64_t dead = end_ - live;
  return dead > live && dead > options_.compact_min_dead_bytes;
}

Result<std::string> SharedLogStore::ReadTenantLocked(const TenantState& state) const {
  std::string out;
  out.resize(static_cast<size_t>(state.size));
  size_t at = 0;
  for (const Extent& e : state.extents) {
    size_t done = 0;
    while (done < e.size) {
      const ssize_t n =
          ::pread(fd_, &out[at + done], static_cast<size_t>(e.size) - done, static_cast<off_t>(e.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fs::ErrnoStatus(errno, "cannot read '" + path_ + "'");
      if (n == 0) return DataLoss("log store '" + path_ + "': ends before offset " + std::to_string(e.offset + e.size));
      done += static_cast<size_t>(n);
    }
    at += done;
  }
  return out;
}

Status SharedLogStore::CompactLocked() {
  if (fd_ < 0) return Unavailable("log store '" + path_ + "': not open");
  // Each tenant's content as one replace frame, then its records: the same
  // state in the fewest bytes. Built in memory tenant by tenant.
  std::string image;
  std::map<std::string, TenantState> next;
  for (const auto& [name, t] : tenants_) {
    if (t.size == 0 && t.records.empty() && !t.open) continue;
    auto content = ReadTenantLocked(t);
    if (!content.ok()) return content.status();
    TenantState& n = next[name];
    n.open = t.open;
    const std::string frame = EncodeFrame(kReplace, name, {}, *content);
    if (!content->empty()) n.extents.push_back({image.size() + frame.size() - content->size(), content->size()});
    n.size = content->size();
    n.frame_bytes = frame.size();
    image += frame;
    for (const auto& [record, body] : t.records) {
      const std::string rf = EncodeFrame(kRecord, name, record, body);
      n.records[record] = body;
      n.record_frame_bytes[record] = rf.size();
      image += rf;
    }
  }
  const std::string tmp = path_ + ".compact";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fs::ErrnoStatus(errno, "cannot create '" + tmp + "'");
  Status st = WriteAll(fd, image, tmp);
  if (st.ok()) {
    ++stats_.fdatasyncs;
    if (::fdatasync(fd) != 0) st = fs::ErrnoStatus(errno, "cannot fdatasync '" + tmp + "'");
  }
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) st = fs::ErrnoStatus(errno, "cannot rename '" + tmp + "'");
  if (!st.ok()) {
    (void)fs::RemoveIfExists(tmp);
    return st;  // the old file is untouched and still appended to
  }
  Status dir_st = fs::SyncParentDir(path_);
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  tenants_ = std::move(next);
  end_ = image.size();
  synced_seq_ = write_seq_;
  ++stats_.compactions;
  Log("log store '" + path_ + "': compacted to " + std::to_string(end_) + " bytes");
  if (fd_ < 0) return fs::ErrnoStatus(errno, "cannot reopen '" + path_ + "' after compaction");
  return dir_st;
}

StoreStats SharedLogStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStats s = stats_;
  s.file_bytes = end_;
  s.live_bytes = LiveBytesLocked();
  s.tenants = 0;
  for (const auto& [name, t] : tenants_) s.tenants += (t.size > 0 || !t.records.empty()) ? 1 : 0;
  return s;
}

Result<std::unique_ptr<AppendLog>> SharedLogStore::OpenTenant(const std::string& name) {
  EF_RETURN_IF_ERROR(CheckName("log store tenant", name));
  std::lock_guard<std::mutex> lock(mu_);
  TenantState& t = tenants_[name];
  if (t.open) return FailedPrecondition("log store '" + path_ + "': tenant '" + name + "' is already open");
  t.open = true;
  return std::unique_ptr<AppendLog>(new Tenant(*this, name));
}

void SharedLogStore::TenantClosed(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tenants_.find(name);
  if (it != tenants_.end()) it->second.open = false;
}

Result<std::string> SharedLogStore::TenantReadAll(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadTenantLocked(tenants_[name]);
}

Status SharedLogStore::TenantAppend(const std::string& name, std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes.empty()) return Status::Ok();
  auto at = WriteFrame(kAppend, name, {}, bytes);
  if (!at.ok()) return at.status();
  TenantState& t = tenants_[name];
  const uint64_t body = *at + kHeader + name.size();
  // Adjacent appends of one tenant are not merged: frames of others sit between.
  t.extents.push_back({body, bytes.size()});
  t.size += bytes.size();
  t.frame_bytes += kHeader + name.size() + bytes.size();
  t.last_append_seq = write_seq_;
  return Status::Ok();
}

Status SharedLogStore::TenantSync(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  // Durable already when a store-wide sync came after this tenant's last append.
  if (tenants_[name].last_append_seq <= synced_seq_) return Status::Ok();
  return SyncLocked();
}

Status SharedLogStore::TenantReplace(const std::string& name, std::string_view content) {
  std::lock_guard<std::mutex> lock(mu_);
  auto at = WriteFrame(kReplace, name, {}, content);
  if (!at.ok()) return at.status();
  // Durable on OK (the contract); also makes every earlier frame durable.
  EF_RETURN_IF_ERROR(SyncOrUndoLocked(*at));
  TenantState& t = tenants_[name];
  t.extents.clear();
  if (!content.empty()) t.extents.push_back({*at + kHeader + name.size(), content.size()});
  t.size = content.size();
  t.frame_bytes = kHeader + name.size() + content.size();
  return Status::Ok();
}

uint64_t SharedLogStore::TenantSize(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tenants_.find(name);
  return it == tenants_.end() ? 0 : it->second.size;
}

Result<std::string> SharedLogStore::TenantSideFile(const std::string& name, std::string_view prefix,
                                                   std::string_view content) {
  EF_RETURN_IF_ERROR(CheckName("side file prefix", prefix));
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t n = 1;; ++n) {
    std::string path = dir_ + "/" + name + "-" + std::string(prefix) + "-" + std::to_string(n) + ".bin";
    if (::access(path.c_str(), F_OK) == 0) continue;
    if (errno != ENOENT) return fs::ErrnoStatus(errno, "cannot check '" + path + "'");
    EF_RETURN_IF_ERROR(fs::WriteFileAtomically(path, std::string(content), 0600, fs::Durability::kSynced));
    return path;
  }
}

Status SharedLogStore::TenantReplaceRecord(const std::string& name, std::string_view record, std::string_view content) {
  EF_RETURN_IF_ERROR(CheckName("record name", record));
  std::lock_guard<std::mutex> lock(mu_);
  auto at = WriteFrame(kRecord, name, record, content);
  if (!at.ok()) return at.status();
  EF_RETURN_IF_ERROR(SyncOrUndoLocked(*at));
  TenantState& t = tenants_[name];
  const std::string key(record);
  t.records[key] = std::string(content);
  t.record_frame_bytes[key] = kHeader + name.size() + record.size() + content.size();
  return Status::Ok();
}

Result<std::string> SharedLogStore::TenantReadRecord(const std::string& name, std::string_view record) {
  std::lock_guard<std::mutex> lock(mu_);
  const TenantState& t = tenants_[name];
  auto it = t.records.find(std::string(record));
  if (it == t.records.end()) {
    return NotFound("log store '" + path_ + "': tenant '" + name + "' has no record '" + std::string(record) + "'");
  }
  return it->second;
}

}  // namespace edgeforge
