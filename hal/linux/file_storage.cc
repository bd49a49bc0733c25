#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "hal/storage.h"

namespace edgeforge {
namespace {

Status ErrnoStatus(const std::string& what, int err) {
  std::string m = what + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(m);
  if (err == EACCES || err == EPERM || err == EROFS) return PermissionDenied(m);
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(m);
  return Unavailable(m);
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write " + path, errno);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> FileStorage::DoRead(const std::string& name) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  const std::string path = dir_ + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("open " + path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status FileStorage::DoWriteAtomic(const std::string& name, const std::string& data) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  const std::string path = dir_ + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open " + tmp, errno);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("fsync " + tmp, errno);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename " + tmp, errno);
  // The rename is durable only once the directory entry is on disk.
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoStatus("open " + dir_, errno);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return ErrnoStatus("fsync " + dir_, err);
  return Status::Ok();
}

Result<std::string> MemoryStorage::DoRead(const std::string& name) {
  auto it = files_.find(name);
  if (it == files_.end()) return NotFound(name);
  return it->second;
}

Status MemoryStorage::DoWriteAtomic(const std::string& name, const std::string& data) {
  files_[name] = data;
  return Status::Ok();
}

}  // namespace edgeforge
