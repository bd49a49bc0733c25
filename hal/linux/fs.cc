#include "hal/linux/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace edgeforge::fs {
namespace {

StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return StatusCode::kNotFound;
    case EEXIST:
      return StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return StatusCode::kPermissionDenied;
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
      return StatusCode::kFailedPrecondition;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
      return StatusCode::kResourceExhausted;
    // Device nodes (i2c-dev, spidev, gpio chardev, ttys).
    case ENODEV:
      return StatusCode::kNotFound;  // node exists, its adapter/driver is gone
    case ENOTTY:
      return StatusCode::kFailedPrecondition;  // ioctl on the wrong kind of file
    case EINVAL:
      return StatusCode::kInvalidArgument;
    case EOPNOTSUPP:
    case ENOSYS:
      return StatusCode::kUnimplemented;
    case ETIMEDOUT:
      return StatusCode::kDeadlineExceeded;
    // Documentation/i2c/fault-codes.rst: ENXIO = address NACK, EREMOTEIO = data
    // NACK, EAGAIN = arbitration lost; EBUSY = bus or GPIO line held. A retry may pass.
    case ENXIO:
    case EREMOTEIO:
    case EAGAIN:
    case EBUSY:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kUnknown;
  }
}

Status WriteAll(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "cannot write '" + path + "'");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Writes and closes `fd`; on any failure unlinks `path` so no partial file stays.
Status FillAndClose(int fd, const std::string& path, const std::string& content) {
  Status st = WriteAll(fd, content, path);
  if (::close(fd) != 0 && st.ok()) st = ErrnoStatus(errno, "cannot close '" + path + "'");
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

}  // namespace

Status ErrnoStatus(int err, const std::string& what) {
  return Status(CodeForErrno(err), what + ": " + std::generic_category().message(err));
}

bool IsWrongKindOfFile(int err) { return err == ENOTTY || err == ENOSYS; }

Status WrongKindOfFile(int err, const std::string& what) {
  return FailedPrecondition(what + ": " + std::generic_category().message(err) +
                            (err == ENOSYS ? " (as under qemu-user, which does not pass this ioctl on)" : ""));
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status MakeDirs(const std::string& path, unsigned int mode) {
  if (path.empty()) return InvalidArgument("empty directory path");
  // Leaf first: usually only the last component is missing (one mkdir per device).
  int err = ::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0 ? 0 : errno;
  if (err == ENOENT) {
    const size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && slash != 0) {
      EF_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), mode));
      err = ::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0 ? 0 : errno;
    }
  }
  if (err == 0) return Status::Ok();
  struct stat st {};
  if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
  if (err == EEXIST || err == ENOTDIR) {
    return FailedPrecondition("cannot create directory '" + path + "': it or a parent exists and is not a directory");
  }
  return ErrnoStatus(err, "cannot create directory '" + path + "'");
}

Status CheckWritableDir(const std::string& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) == 0) return Status::Ok();
  return ErrnoStatus(errno, "directory '" + dir + "' is not writable");
}

Result<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open '" + path + "'");
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status st = ErrnoStatus(errno, "cannot read '" + path + "'");
      ::close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WritePrivateFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists("'" + path + "' already exists; refusing to overwrite a key");
    return ErrnoStatus(errno, "cannot create key file '" + path + "'");
  }
  return FillAndClose(fd, path, content);
}

Status WriteFileAtomically(const std::string& path, const std::string& content, unsigned int mode,
                           Durability durability) {
  const std::string tmp = path + ".tmp";
  EF_RETURN_IF_ERROR(RemoveIfExists(tmp));  // left by an interrupted run
  int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, static_cast<mode_t>(mode));
  if (fd < 0) return ErrnoStatus(errno, "cannot create '" + tmp + "'");
  // The umask may have narrowed `mode`; certs and key sets are meant to be public.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    Status st = ErrnoStatus(errno, "cannot chmod '" + tmp + "'");
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  Status written = WriteAll(fd, content, tmp);
  if (written.ok() && durability == Durability::kSynced && ::fsync(fd) != 0) {
    written = ErrnoStatus(errno, "cannot fsync '" + tmp + "'");
  }
  if (::close(fd) != 0 && written.ok()) written = ErrnoStatus(errno, "cannot close '" + tmp + "'");
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = ErrnoStatus(errno, "cannot rename '" + tmp + "' to '" + path + "'");
    ::unlink(tmp.c_str());
    return st;
  }
  return durability == Durability::kSynced ? SyncParentDir(path) : Status::Ok();
}

Status SyncParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoStatus(errno, "cannot open directory '" + dir + "'");
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  return rc == 0 ? Status::Ok() : ErrnoStatus(err, "cannot fsync directory '" + dir + "'");
}

Status RemoveIfExists(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  return ErrnoStatus(errno, "cannot remove '" + path + "'");
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

Status DirLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return ErrnoStatus(errno, "cannot open lock file '" + path + "'");
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "cannot lock '" + path + "'");
  }
  return Status::Ok();
}

size_t OpenDescriptorCount() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  size_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace edgeforge::fs
