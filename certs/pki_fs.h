// File-system helpers private to certs/: errno -> Status, key files that are
// never world-readable, atomic replacement of public files, and a lock that
// serialises PKI writers (simulator shards may share one PKI directory).
#pragma once

#include <string>

#include "hal/status.h"

namespace edgeforge::certs::internal {

/// Maps errno to a Status code (ENOENT -> NOT_FOUND, EACCES/EPERM/EROFS ->
/// PERMISSION_DENIED, ENOTDIR -> FAILED_PRECONDITION, ENOSPC -> RESOURCE_EXHAUSTED)
/// with "<what>: <strerror>".
Status ErrnoStatus(int err, const std::string& what);

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

/// Writes `path`.tmp then renames it over `path`, so readers see the old file
/// or the whole new one, never a prefix.
Status WriteFileAtomically(const std::string& path, const std::string& content, unsigned int mode);

/// unlink(2) that treats "does not exist" as success.
Status RemoveIfExists(const std::string& path);

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

}  // namespace edgeforge::certs::internal
