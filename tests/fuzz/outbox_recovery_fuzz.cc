// Fuzz target: outbox log recovery (firmware/link/outbox_format.h, outbox.h).
// The input is a whole outbox.log. Checks, on every input:
//  - ScanLog partitions the bytes exactly into good records and bad ranges
//    (in order, no gap, no overlap, no two bad ranges side by side), and every
//    good record re-encodes to exactly its bytes;
//  - ReplayLog yields live ids in increasing order, all below next_id;
//  - Outbox::Open on that file recovers the same messages and the same bad
//    bytes, accepts an Append afterwards, and a reopen finds a clean log.
// The Open part runs in a tmpfs directory (/dev/shm), where fsync costs
// nothing; without /dev/shm only the pure checks run.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "hal/linux/fs.h"

namespace {

using edgeforge::link::Outbox;
using edgeforge::link::OutboxOptions;
using edgeforge::link::Priority;
using edgeforge::link::SyncPolicy;
namespace olog = edgeforge::link::outbox_log;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string Reencode(const olog::Record& r) {
  std::string out;
  switch (r.type) {
    case olog::RecordType::kHead:
      olog::AppendHead(out, r.id);
      break;
    case olog::RecordType::kData:
      olog::AppendData(out, r.message);
      break;
    case olog::RecordType::kAck:
      olog::AppendAck(out, r.id);
      break;
    case olog::RecordType::kDrop:
      olog::AppendDrop(out, r.id);
      break;
  }
  return out;
}

void CheckScan(std::string_view in, const olog::Scan& scan) {
  size_t pos = 0;
  size_t ri = 0;
  size_t bi = 0;
  bool last_bad = false;
  while (ri < scan.records.size() || bi < scan.bad.size()) {
    if (ri < scan.records.size() && scan.records[ri].offset == pos) {
      const olog::Record& r = scan.records[ri++];
      Check(r.size >= olog::kHeaderBytes && Reencode(r) == in.substr(r.offset, r.size));
      pos += r.size;
      last_bad = false;
    } else {
      Check(bi < scan.bad.size() && scan.bad[bi].offset == pos && scan.bad[bi].size > 0 && !last_bad);
      pos += scan.bad[bi++].size;
      last_bad = true;
    }
  }
  Check(pos == in.size());
}

// One scratch directory per process, emptied before each input.
const std::string* ScratchDir() {
  static const std::string* dir = [] {
    struct stat st {};
    if (::stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode)) return static_cast<std::string*>(nullptr);
    std::string t = "/dev/shm/outbox_fuzz_XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) return static_cast<std::string*>(nullptr);
    return new std::string(t);
  }();
  return dir;
}

void EmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') (void)::unlink((dir + "/" + e->d_name).c_str());
  }
  ::closedir(d);
}

void CheckOpen(std::string_view in, const olog::Scan& scan, const olog::Replay& replay) {
  const std::string* dir = ScratchDir();
  if (dir == nullptr) return;
  EmptyDir(*dir);
  Check(edgeforge::fs::WriteFileAtomically(*dir + "/" + Outbox::kLogName, std::string(in), 0600).ok());
  edgeforge::ManualClock clock;
  OutboxOptions o;
  o.dir = *dir;
  o.sync = SyncPolicy::kNever;
  o.max_bytes = size_t{1} << 30;  // recovery never drops; the bound is not under test here
  size_t depth = 0;
  {
    auto box = OpenFileOutbox(o, clock);
    Check(box.ok());
    const auto st = (*box)->stats();
    uint64_t bad_bytes = 0;
    for (const auto& r : scan.bad) bad_bytes += r.size;
    Check(st.depth == replay.live.size() && st.recovered == replay.live.size());
    Check(st.quarantined_records == scan.bad.size() && st.quarantined_bytes == bad_bytes);
    if (replay.next_id != UINT64_MAX) {
      edgeforge::link::OutgoingMessage m;
      m.topic = "t";
      m.payload = "after recovery";
      Check((*box)->Append(Priority::kAlarm, 0, m).ok());
    }
    depth = (*box)->depth();
  }
  auto again = OpenFileOutbox(o, clock);
  Check(again.ok());
  Check((*again)->stats().quarantined_records == 0 && (*again)->depth() == depth);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const olog::Scan scan = olog::ScanLog(in);
  CheckScan(in, scan);
  const olog::Replay replay = olog::ReplayLog(scan);
  for (size_t i = 0; i < replay.live.size(); ++i) {
    Check(i == 0 || replay.live[i - 1].id < replay.live[i].id);
    Check(replay.live[i].id < replay.next_id || replay.next_id == UINT64_MAX);
  }
  CheckOpen(in, scan, replay);
  return 0;
}
