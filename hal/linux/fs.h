// Host file-system helpers (Linux/POSIX): errno -> Status, mkdir -p, key files
// that are never world-readable, atomic replacement, and a directory lock that
// serialises writers (simulator shards may share one PKI directory).
#pragma once

#include <cstddef>
#include <string>

#include "hal/status.h"

namespace edgeforge::fs {

/// Maps errno to a Status code (ENOENT/ENODEV -> NOT_FOUND, EACCES/EPERM/EROFS ->
/// PERMISSION_DENIED, ENOTDIR/ENOTTY -> FAILED_PRECONDITION, ENOSPC -> RESOURCE_EXHAUSTED,
/// EINVAL -> INVALID_ARGUMENT, ETIMEDOUT -> DEADLINE_EXCEEDED, ENXIO/EREMOTEIO/EAGAIN/EBUSY
/// -> UNAVAILABLE, EOPNOTSUPP/ENOSYS -> UNIMPLEMENTED) with "<what>: <strerror>".
Status ErrnoStatus(int err, const std::string& what);

/// Whether a device node's first ioctl failed because the file is not that
/// kind of device: ENOTTY from the kernel, or ENOSYS from qemu-user, which
/// answers so for an ioctl it does not translate (measured with qemu 7.2 on
/// I2C_FUNCS, SPI_IOC_WR_MODE and GPIO_V2_GET_LINE_IOCTL): under emulation
/// the node is as unusable as a file of the wrong kind.
bool IsWrongKindOfFile(int err);
/// FAILED_PRECONDITION "<what>: <strerror>", saying for ENOSYS that an
/// emulator may be the cause.
Status WrongKindOfFile(int err, const std::string& what);

/// True when `path` names an existing regular file (symlinks followed).
bool IsRegularFile(const std::string& path);

/// mkdir -p with `mode`; a component that exists but is not a directory fails
/// with FAILED_PRECONDITION naming that component.
Status MakeDirs(const std::string& path, unsigned int mode);

/// PERMISSION_DENIED naming `dir` when the process cannot create files in it.
Status CheckWritableDir(const std::string& dir);

Result<std::string> ReadFileToString(const std::string& path);

/// Creates `path` with open(O_CREAT|O_EXCL|O_WRONLY, 0600): the key is never
/// readable by others, not even between create and chmod. ALREADY_EXISTS if
/// the file exists. A partial file is unlinked on failure.
Status WritePrivateFile(const std::string& path, const std::string& content);

enum class Durability {
  kAtomicOnly,  // readers see old or new, but a power cut may lose the new file
  kSynced,      // also fsync the file before and the directory after the rename
};

/// Writes `path`.tmp then renames it over `path`, so readers see the old file
/// or the whole new one, never a prefix. kSynced makes it durable on return.
Status WriteFileAtomically(const std::string& path, const std::string& content, unsigned int mode,
                           Durability durability = Durability::kAtomicOnly);

/// fsync(2) of the directory holding `path` (makes a rename or create durable).
Status SyncParentDir(const std::string& path);

/// unlink(2) that treats "does not exist" as success.
Status RemoveIfExists(const std::string& path);

/// Descriptors this process holds now (entries of /proc/self/fd, the one
/// used to read it included); 0 if /proc is not readable.
size_t OpenDescriptorCount();

/// flock(2) on DIR/.lock for the lifetime of the object.
class DirLock {
 public:
  DirLock() = default;
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  /// Blocks until the exclusive lock on `dir`/.lock is held.
  Status Acquire(const std::string& dir);

 private:
  int fd_ = -1;
};

}  // namespace edgeforge::fs
