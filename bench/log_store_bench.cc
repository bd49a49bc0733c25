// Fleet storage (issue 9): N simulated devices, each appending one
// 350-byte outbox record per simulated second with the batch sync policy
// (group commit every 200 ms), on two backends side by side in one run and
// on one file system:
//   per_device_files  a FileAppendLog per device (its own log + lock fds),
//                     fdatasync of each device that appended in the 200 ms tick;
//   shared_store      one SharedLogStore for all devices (one file, one
//                     lock), SharedLogStore::SyncAll once per tick.
// The simulated clock runs as fast as the machine goes, so the figures are
// costs per message: CPU (user+sys, getrusage), wall time, write(2) and
// fdatasync(2) calls (counted by the harness for the files, by the store's
// stats for the store) and descriptors held.
//
// The directory is $LOG_STORE_BENCH_DIR, else $TMPDIR, else /tmp; it must be
// a real disk (tmpfs makes fdatasync free).
//
//   cmake --build build/ci --target edgeforge_log_store_bench &&
//   build/ci/bench/edgeforge_log_store_bench [devices=2000] [seconds=5]
#include <dirent.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "hal/linux/file_append_log.h"
#include "hal/linux/shared_log_store.h"

namespace {

using edgeforge::AppendLog;

struct Figures {
  double cpu_s = 0;
  double wall_s = 0;
  uint64_t writes = 0;
  uint64_t syncs = 0;
  size_t fds = 0;
  uint64_t messages = 0;
};

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

size_t OpenFds() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

std::string MakeDir(const char* tag) {
  const char* base = std::getenv("LOG_STORE_BENCH_DIR");
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string t = std::string(base != nullptr ? base : "/tmp") + "/logstore_bench_" + tag + "_XXXXXX";
  if (mkdtemp(t.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return t;
}

// One simulated second = 5 ticks of 200 ms; in each tick a fifth of the
// devices append (so each device appends once a second), then the sync runs.
template <typename SyncTick>
Figures Run(std::vector<std::unique_ptr<AppendLog>>& logs, int seconds, SyncTick sync_tick) {
  const std::string record(350, 'r');
  Figures f;
  f.fds = OpenFds();
  const double cpu0 = CpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  std::vector<bool> dirty(logs.size());
  for (int tick = 0; tick < seconds * 5; ++tick) {
    for (size_t i = static_cast<size_t>(tick % 5); i < logs.size(); i += 5) {
      if (!logs[i]->Append(record).ok()) std::exit(2);
      dirty[i] = true;
      ++f.messages;
    }
    sync_tick(dirty, f);
  }
  f.cpu_s = CpuSeconds() - cpu0;
  f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return f;
}

void Print(const char* name, const Figures& f) {
  const auto m = static_cast<double>(f.messages);
  std::printf("%-18s msgs=%-7llu cpu/msg=%7.2f us  wall/msg=%8.2f us  write/msg=%.2f  fdatasync/msg=%.4f  fds=%zu\n",
              name, static_cast<unsigned long long>(f.messages), f.cpu_s / m * 1e6, f.wall_s / m * 1e6,
              static_cast<double>(f.writes) / m, static_cast<double>(f.syncs) / m, f.fds);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t devices = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (devices == 0 || seconds <= 0) {
    std::fprintf(stderr, "usage: %s [devices>0] [seconds>0]\n", argv[0]);
    return 1;
  }
  // Two descriptors per device for the per-device files.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  Figures files;
  {
    const std::string dir = MakeDir("files");
    std::vector<std::unique_ptr<AppendLog>> logs;
    for (size_t i = 0; i < devices; ++i) {
      auto log = edgeforge::FileAppendLog::Open(dir + "/dev" + std::to_string(i), "outbox.log", "outbox.lock");
      if (!log.ok()) {
        std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
        return 1;
      }
      logs.push_back(std::move(*log));
    }
    files = Run(logs, seconds, [&](std::vector<bool>& dirty, Figures& f) {
      for (size_t i = 0; i < logs.size(); ++i) {
        if (!dirty[i]) continue;
        if (!logs[i]->Sync().ok()) std::exit(3);
        dirty[i] = false;
        ++f.syncs;
      }
    });
    files.writes = files.messages;  // FileAppendLog: one write(2) per append
  }
  Figures shared;
  {
    auto store = edgeforge::SharedLogStore::Open(MakeDir("store"));
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    std::vector<std::unique_ptr<AppendLog>> logs;
    for (size_t i = 0; i < devices; ++i) {
      auto log = (*store)->OpenTenant("dev" + std::to_string(i));
      if (!log.ok()) return 1;
      logs.push_back(std::move(*log));
    }
    const auto before = (*store)->stats();
    shared = Run(logs, seconds, [&](std::vector<bool>&, Figures&) {
      if (!(*store)->SyncAll().ok()) std::exit(3);
    });
    shared.writes = (*store)->stats().writes - before.writes;
    shared.syncs = (*store)->stats().fdatasyncs - before.fdatasyncs;
  }
  std::printf("%zu devices, %d simulated s, 1 msg/s each, group commit every 200 ms\n", devices, seconds);
  Print("per_device_files", files);
  Print("shared_store", shared);
  std::printf("ratio files/store: cpu %.1fx  wall %.1fx  fdatasync %.0fx  fds %.0fx\n", files.cpu_s / shared.cpu_s,
              files.wall_s / shared.wall_s, static_cast<double>(files.syncs) / static_cast<double>(shared.syncs),
              static_cast<double>(files.fds) / static_cast<double>(shared.fds));
  return 0;
}
