#include "sim/verify/capture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <vector>

#include "firmware/board/strict_json.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
namespace {

using Json = nlohmann::json;

constexpr size_t kReadChunk = 64 * 1024;
// A capture line is a flat object: anything deeper is not one.
constexpr int kMaxCaptureNesting = 4;

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Status ForEachCaptureLine(const std::string& path,
                          const std::function<Status(size_t line_number, std::string_view line)>& each) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fs::ErrnoStatus(errno, "cannot read capture " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fs::ErrnoStatus(err, "capture " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("capture " + path + (S_ISDIR(st.st_mode) ? " is a directory" : " is not a regular file"));
  }
  std::vector<char> buf(kReadChunk);
  std::string line;
  size_t line_number = 1;
  Status result = Status::Ok();
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = fs::ErrnoStatus(errno, "reading capture " + path);
      break;
    }
    if (n == 0) {
      if (!line.empty()) result = each(line_number, line);  // a last line without newline
      break;
    }
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n) && result.ok(); ++i) {
      if (buf[i] != '\n') continue;
      line.append(buf.data() + start, i - start);
      start = i + 1;
      if (line.size() > kMaxCaptureLineBytes) break;
      result = each(line_number++, line);
      line.clear();
    }
    if (!result.ok()) break;
    if (start < static_cast<size_t>(n)) line.append(buf.data() + start, static_cast<size_t>(n) - start);
    if (line.size() > kMaxCaptureLineBytes) {
      result = OutOfRange(path + ":" + std::to_string(line_number) + ": line longer than " +
                          std::to_string(kMaxCaptureLineBytes) + " bytes (AWS IoT Core payloads are at most " +
                          std::to_string(kMaxCapturePayloadBytes / 1024) + " KiB)");
      break;
    }
  }
  ::close(fd);
  return result;
}

Result<CaptureRecord> ParseCaptureLine(std::string_view line) {
  constexpr const char* kWant = "want {\"topic\":string,\"payload\":string[,\"jws\":string]}";
  if (board::MaxNesting(line) > kMaxCaptureNesting) return InvalidArgument(std::string("nested too deep; ") + kWant);
  board::RepeatedKeyFinder repeats;
  Json::parser_callback_t callback = [&repeats](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    return repeats.OnEvent(event, parsed);
  };
  Json j = Json::parse(line.begin(), line.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(std::string("not valid JSON; ") + kWant);
  if (repeats.found()) {
    return InvalidArgument(repeats.first_repeat() + ": key appears twice (JSON would keep only one)");
  }
  if (!j.is_object() || !j.contains("topic") || !j["topic"].is_string() || !j.contains("payload") ||
      !j["payload"].is_string() || (j.contains("jws") && !j["jws"].is_string())) {
    return InvalidArgument(kWant);
  }
  CaptureRecord r;
  r.topic = j["topic"].get<std::string>();
  r.payload = j["payload"].get<std::string>();
  if (j.contains("jws")) r.jws = j["jws"].get<std::string>();
  return r;
}

std::string CaptureLine(const std::string& topic, const std::string& payload, const std::string* jws) {
  Json j = {{"topic", topic}, {"payload", payload}};
  if (jws != nullptr) j["jws"] = *jws;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return InvalidArgument("--save " + path + " is a directory; name a file in it");
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("--save " + path + ": directory " + ParentDir(path) + " does not exist");
    if (err == EISDIR) return InvalidArgument("--save " + path + " is a directory; name a file in it");
    if (err == ENOTDIR) return NotFound("--save " + path + ": " + ParentDir(path) + " is not a directory");
    return fs::ErrnoStatus(err, "--save " + path + ": cannot write");
  }
  return std::unique_ptr<CaptureWriter>(new CaptureWriter(fd, path));
}

CaptureWriter::~CaptureWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status CaptureWriter::Append(std::string_view line) {
  // One write for the whole line: a signal between lines leaves only whole
  // lines. A regular file takes it all at once unless the disk is full.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs::ErrnoStatus(errno, "--save " + path_);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace edgeforge::sim
