#include "hal/linux/fs.h"
#include "hal/storage.h"

namespace edgeforge {
namespace {

bool ValidName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

}  // namespace

Result<std::string> FileStorage::DoRead(const std::string& name) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  return fs::ReadFileToString(dir_ + "/" + name);
}

Status FileStorage::DoWriteAtomic(const std::string& name, const std::string& data) {
  if (!ValidName(name)) return InvalidArgument("bad storage record name '" + name + "'");
  return fs::WriteFileAtomically(dir_ + "/" + name, data, 0600, fs::Durability::kSynced);
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
