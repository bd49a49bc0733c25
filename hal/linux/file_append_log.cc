#include "hal/linux/file_append_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "hal/linux/fs.h"

namespace edgeforge {
namespace {

// flock(2) without blocking: a second writer would interleave two logs'
// records, so it is refused instead of waited for.
Result<int> LockDir(const std::string& dir, const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fs::ErrnoStatus(errno, "cannot open lock file '" + path + "'");
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string msg = "'" + dir;
      msg.append("': in use by another writer (lock '").append(path).append("' is held)");
      return FailedPrecondition(std::move(msg));
    }
    return fs::ErrnoStatus(err, "cannot lock '" + path + "'");
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<FileAppendLog>> FileAppendLog::Open(const std::string& dir, const std::string& log_name,
                                                           const std::string& lock_name) {
  if (dir.empty()) return InvalidArgument("append log: empty directory path");
  EF_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  std::unique_ptr<FileAppendLog> log(new FileAppendLog(dir, dir + "/" + log_name));
  auto lock = LockDir(dir, dir + "/" + lock_name);
  if (!lock.ok()) return lock.status();
  log->lock_fd_ = *lock;
  EF_RETURN_IF_ERROR(log->OpenForAppend());
  return log;
}

FileAppendLog::~FileAppendLog() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status FileAppendLog::OpenForAppend() {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fs::ErrnoStatus(errno, "cannot open '" + path_ + "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fs::ErrnoStatus(err, "cannot stat '" + path_ + "'");
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Result<std::string> FileAppendLog::DoReadAll() {
  auto content = fs::ReadFileToString(path_);
  if (!content.ok() && content.status().code() == StatusCode::kNotFound) return std::string();
  return content;
}

Status FileAppendLog::DoAppend(std::string_view bytes) {
  if (fd_ < 0) EF_RETURN_IF_ERROR(OpenForAppend());  // a Replace could not reopen it
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      Status st = fs::ErrnoStatus(err, "cannot write '" + path_ + "'");
      if (done == 0) return st;
      // A short write then an error (typically ENOSPC): cut the torn prefix
      // off now, so the log holds whole records only.
      if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) return st;
      const int terr = errno;
      size_ += done;
      return DataLoss(st.message() + "; " + std::to_string(done) + " bytes of the torn write stay at offset " +
                      std::to_string(size_ - done) + " (ftruncate: " + fs::ErrnoStatus(terr, "failed").message() + ")");
    }
    done += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return Status::Ok();
}

Status FileAppendLog::DoSync() {
  if (fd_ < 0) EF_RETURN_IF_ERROR(OpenForAppend());
  // fdatasync(2) also flushes the file size, which is what an append changes.
  if (::fdatasync(fd_) != 0) return fs::ErrnoStatus(errno, "cannot fdatasync '" + path_ + "'");
  return Status::Ok();
}

Status FileAppendLog::DoReplace(std::string_view content) {
  EF_RETURN_IF_ERROR(fs::WriteFileAtomically(path_, std::string(content), 0600, fs::Durability::kSynced));
  // The old descriptor still points at the replaced, now unlinked, file.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = content.size();
  // A failed reopen is retried by the next Append or Sync; the new log is durable already.
  (void)OpenForAppend();
  return Status::Ok();
}

Result<std::string> FileAppendLog::DoWriteSideFile(std::string_view prefix, std::string_view content) {
  // The first unused number; the directory lock rules out a race.
  for (uint64_t n = 1;; ++n) {
    std::string path = dir_ + "/" + std::string(prefix) + "-" + std::to_string(n) + ".bin";
    if (::access(path.c_str(), F_OK) == 0) continue;
    if (errno != ENOENT) return fs::ErrnoStatus(errno, "cannot check '" + path + "'");
    EF_RETURN_IF_ERROR(fs::WriteFileAtomically(path, std::string(content), 0600, fs::Durability::kSynced));
    return path;
  }
}

Status FileAppendLog::DoReplaceRecord(std::string_view name, std::string_view content) {
  return fs::WriteFileAtomically(dir_ + "/" + std::string(name), std::string(content), 0600, fs::Durability::kSynced);
}

Result<std::string> FileAppendLog::DoReadRecord(std::string_view name) {
  return fs::ReadFileToString(dir_ + "/" + std::string(name));
}

}  // namespace edgeforge
