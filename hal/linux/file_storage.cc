#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "hal/linux/fs.h"
#include "hal/storage.h"

namespace edgeforge {
namespace {

bool ValidName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

// A kernel without it (or a sandbox hiding /proc) gives "", and then no
// overwritten record is ever trusted as exact: the safe side.
std::string HostBootId() {
  auto id = fs::ReadFileToString("/proc/sys/kernel/random/boot_id");
  if (!id.ok() || id->size() < 16 || id->size() > 64 || id->back() != '\n') return "";
  return *id;
}

}  // namespace

Result<std::string> FileStorage::DoRead(const std::string& name) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  return fs::ReadFileToString(dir_ + "/" + name);
}

FileStorage::~FileStorage() {
  for (auto& [name, rec] : open_) {
    if (rec.fd >= 0) ::close(rec.fd);
  }
}

Status FileStorage::DoWriteAtomic(const std::string& name, const std::string& data) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  CloseRecord(name);  // the rename replaces the inode an open descriptor points at
  return fs::WriteFileAtomically(dir_ + "/" + name, data, 0600, fs::Durability::kSynced);
}

Status FileStorage::DoOverwrite(const std::string& name, const std::string& data) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  const std::string path = dir_ + "/" + name;
  auto it = open_.find(name);
  const bool known = it != open_.end();
  if (!known || it->second.fd < 0) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fs::ErrnoStatus(errno, "cannot open '" + path + "'");
    if (known) {
      it->second.fd = fd;
    } else {
      const off_t size = ::lseek(fd, 0, SEEK_END);
      it = open_.emplace(name, OpenRecord{fd, size > 0 ? static_cast<size_t>(size) : 0}).first;
    }
  }
  if (!host_boot_read_) {
    host_boot_ = HostBootId();
    host_boot_read_ = true;
  }
  OpenRecord& rec = it->second;
  Status st = WriteRecord(rec, path, host_boot_ + data);
  if (fds_ == RecordFds::kReopen) {
    ::close(rec.fd);
    rec.fd = -1;
  }
  return st;
}

Status FileStorage::WriteRecord(OpenRecord& rec, const std::string& path, const std::string& framed) {
  size_t done = 0;
  while (done < framed.size()) {
    const ssize_t n = ::pwrite(rec.fd, framed.data() + done, framed.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs::ErrnoStatus(errno, "cannot write '" + path + "'");
    done += static_cast<size_t>(n);
  }
  // Same-length writes (the intended use) skip this second syscall.
  if (framed.size() < rec.size && ::ftruncate(rec.fd, static_cast<off_t>(framed.size())) != 0) {
    return fs::ErrnoStatus(errno, "cannot truncate '" + path + "'");
  }
  rec.size = framed.size();
  return Status::Ok();
}

Result<std::string> FileStorage::DoReadOverwritten(const std::string& name) {
  auto content = DoRead(name);
  if (!content.ok()) return content.status();
  if (!host_boot_read_) {
    host_boot_ = HostBootId();
    host_boot_read_ = true;
  }
  const size_t eol = content->find('\n');
  if (host_boot_.empty() || eol == std::string::npos || content->compare(0, eol + 1, host_boot_) != 0) {
    return FailedPrecondition(dir_ + "/" + name + ": written before the machine restarted (or unreadable boot id)");
  }
  return content->substr(eol + 1);
}

void FileStorage::CloseRecord(const std::string& name) {
  auto it = open_.find(name);
  if (it == open_.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  open_.erase(it);
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

Status MemoryStorage::DoOverwrite(const std::string& name, const std::string& data) {
  files_[name] = data;
  return Status::Ok();
}

Result<std::string> MemoryStorage::DoReadOverwritten(const std::string& name) { return DoRead(name); }

}  // namespace edgeforge
