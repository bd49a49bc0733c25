// Durable outbox (firmware/link/outbox.h): cost per message of Append + Ack,
// one 300-byte QoS 1 telemetry message at a time (an empty queue, the device's
// steady state when the link keeps up), for each sync policy, side by side with
// peers in the same run and on the same file system:
//   file_per_message  what a naive file persistence does once it adds fsync
//                     (Paho's file persistence writes one file per message,
//                     without fsync): create, write, fsync the file, fsync
//                     the directory (else the new name itself may be lost);
//                     the ack unlinks it, unsynced;
//   sqlite_wal_full   (built when libsqlite3-dev is found) SQLite, journal_mode=WAL, synchronous=FULL: INSERT and
//                     DELETE, each its own transaction (both synced);
//   sqlite_wal_full_insert
//                     the same with synchronous=NORMAL around the DELETE, so
//                     only the insert is synced (the guarantee of our kAlways).
// `outbox_always_synced_ack` adds a Sync() after each Ack: two syncs per
// message, the guarantee sqlite_wal_full gives.
//
// Rates are wall-clock (UseRealTime): fsync waits for the disk, not the CPU.
// The directory is $OUTBOX_BENCH_DIR, else $TMPDIR, else /tmp; it must be on the
// file system the device uses (tmpfs makes fsync free and the figures moot).
//
//   cmake --build build/dev --target edgeforge_outbox_bench &&
//   build/dev/bench/edgeforge_outbox_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"

#ifdef EDGEFORGE_BENCH_SQLITE
#include <sqlite3.h>
#endif

namespace {

using edgeforge::link::Outbox;
using edgeforge::link::OutboxOptions;
using edgeforge::link::OutgoingMessage;
using edgeforge::link::Priority;
using edgeforge::link::SyncPolicy;

// 300 bytes, shaped like the device telemetry (same as jws_bench).
const std::string kPayload = R"({"dev":"thing-000123","seq":1048576,"boot":17,"ts":1718000000123,"fw":"0.1.0",)"
                             R"("env":{"t":21.37,"rh":48.21,"p":101325.42},"pwr":{"v":3.297,"ma":12.4,"soc":87},)"
                             R"("net":{"rssi":-61,"rtt_ms":18,"retx":0},"acc":{"x":0.012,"y":-0.004,"z":0.998},)"
                             R"("flags":["ok"],"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})";

OutgoingMessage Message() {
  OutgoingMessage m;
  m.topic = "dt/factory/site-1/thing-000123/telemetry";
  m.payload = kPayload;
  return m;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "outbox_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string FreshDir(const char* tag) {
  const char* base = std::getenv("OUTBOX_BENCH_DIR");
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string t = std::string(base != nullptr ? base : "/tmp") + "/outbox_bench_" + tag + "_XXXXXX";
  if (::mkdtemp(t.data()) == nullptr) Die("cannot create a directory from " + t);
  return t;
}

void RemoveTree(const std::string& dir) {
  const std::string cmd = "rm -rf '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "outbox_bench: cannot remove %s\n", dir.c_str());
}

void OutboxAppendAck(benchmark::State& state, SyncPolicy policy, bool sync_ack) {
  const std::string dir = FreshDir(edgeforge::link::SyncPolicyName(policy));
  edgeforge::SystemClock clock;
  {
    OutboxOptions o;
    o.dir = dir;
    o.sync = policy;
    auto box = OpenFileOutbox(o, clock);
    if (!box.ok()) Die(box.status().ToString());
    const OutgoingMessage m = Message();
    uint64_t seq = 0;
    for (auto _ : state) {
      auto id = (*box)->Append(Priority::kBulk, seq++, m);
      if (!id.ok()) Die(id.status().ToString());
      auto taken = (*box)->TakeForSend(1);
      edgeforge::Status st = (*box)->Ack(taken.at(0).id);
      if (st.ok() && sync_ack) st = (*box)->Sync();
      if (st.ok()) st = (*box)->SyncIfDue();  // the device loop's call
      if (!st.ok()) Die(st.ToString());
    }
    state.counters["syncs_per_msg"] =
        static_cast<double>((*box)->stats().syncs) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  }
  state.SetItemsProcessed(state.iterations());
  RemoveTree(dir);
}

void FsyncOrDie(int fd, const std::string& what) {
  if (::fsync(fd) != 0) Die("fsync " + what);
}

void FilePerMessage(benchmark::State& state) {
  const std::string dir = FreshDir("files");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) Die("open " + dir);
  const OutgoingMessage m = Message();
  uint64_t seq = 0;
  for (auto _ : state) {
    const std::string path = dir + "/" + std::to_string(seq++) + ".msg";
    const std::string content = m.topic + '\n' + m.payload;
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) Die(path);
    FsyncOrDie(fd, path);
    ::close(fd);
    FsyncOrDie(dfd, dir);
    if (::unlink(path.c_str()) != 0) Die("unlink " + path);  // the PUBACK
  }
  ::close(dfd);
  state.SetItemsProcessed(state.iterations());
  RemoveTree(dir);
}

#ifdef EDGEFORGE_BENCH_SQLITE
class Sqlite {
 public:
  explicit Sqlite(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die("sqlite3_open " + path);
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA synchronous=FULL");
    Exec("CREATE TABLE outbox(id INTEGER PRIMARY KEY, priority INTEGER, seq INTEGER, topic TEXT, payload BLOB)");
  }
  ~Sqlite() { sqlite3_close(db_); }
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) Die(std::string(sql) + ": " + err);
  }
  // Not for PRAGMA synchronous: SQLite applies that setting while preparing
  // the statement, not when it is stepped.
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) Die(std::string(sql) + ": " + sqlite3_errmsg(db_));
    return s;
  }
  void StepOnce(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) Die(std::string("sqlite3_step: ") + sqlite3_errmsg(db_));
    sqlite3_reset(s);
  }
  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

void SqliteAppendAck(benchmark::State& state, bool sync_delete) {
  const std::string dir = FreshDir("sqlite");
  {
    Sqlite db(dir + "/outbox.db");
    sqlite3_stmt* ins = db.Prepare("INSERT INTO outbox(priority, seq, topic, payload) VALUES(?, ?, ?, ?)");
    sqlite3_stmt* del = db.Prepare("DELETE FROM outbox WHERE id = ?");
    const OutgoingMessage m = Message();
    int64_t seq = 0;
    for (auto _ : state) {
      sqlite3_bind_int(ins, 1, static_cast<int>(Priority::kBulk));
      sqlite3_bind_int64(ins, 2, seq++);
      sqlite3_bind_text(ins, 3, m.topic.data(), static_cast<int>(m.topic.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 4, m.payload.data(), static_cast<int>(m.payload.size()), SQLITE_STATIC);
      db.StepOnce(ins);
      if (!sync_delete) db.Exec("PRAGMA synchronous=NORMAL");
      sqlite3_bind_int64(del, 1, sqlite3_last_insert_rowid(db.db()));
      db.StepOnce(del);
      if (!sync_delete) db.Exec("PRAGMA synchronous=FULL");
    }
    for (sqlite3_stmt* s : {ins, del}) sqlite3_finalize(s);
  }
  state.SetItemsProcessed(state.iterations());
  RemoveTree(dir);
}
#endif  // EDGEFORGE_BENCH_SQLITE

/// Console output as usual, plus items/s per benchmark for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (run.error_occurred || it == run.counters.end()) continue;
      // With --benchmark_repetitions the median (reported last) wins.
      if (run.run_type == Run::RT_Iteration || run.aggregate_name == "median") {
        rates_[run.run_name.function_name] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatio(const std::string& ours, const std::string& peer) const {
    auto o = rates_.find("AppendAck/" + ours);
    auto p = rates_.find("AppendAck/" + peer);
    if (o == rates_.end() || p == rates_.end() || p->second <= 0) return;
    std::printf("%-26s %9.0f/s  vs %-24s %9.0f/s  ratio %6.2fx\n", ours.c_str(), o->second, peer.c_str(), p->second,
                o->second / p->second);
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  struct Variant {
    const char* name;
    SyncPolicy policy;
    bool sync_ack;
  };
  for (const Variant& v :
       {Variant{"outbox_always", SyncPolicy::kAlways, false},
        Variant{"outbox_always_synced_ack", SyncPolicy::kAlways, true},
        Variant{"outbox_batch", SyncPolicy::kBatch, false}, Variant{"outbox_never", SyncPolicy::kNever, false}}) {
    benchmark::RegisterBenchmark((std::string("AppendAck/") + v.name).c_str(), OutboxAppendAck, v.policy, v.sync_ack)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("AppendAck/file_per_message", FilePerMessage)->UseRealTime();
#ifdef EDGEFORGE_BENCH_SQLITE
  benchmark::RegisterBenchmark("AppendAck/sqlite_wal_full", SqliteAppendAck, true)->UseRealTime();
  benchmark::RegisterBenchmark("AppendAck/sqlite_wal_full_insert", SqliteAppendAck, false)->UseRealTime();
#endif

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nAppend+Ack, %zu-byte payload, wall-clock messages/s (higher is better):\n", kPayload.size());
  reporter.PrintRatio("outbox_always", "file_per_message");
  reporter.PrintRatio("outbox_always", "sqlite_wal_full_insert");
  reporter.PrintRatio("outbox_always_synced_ack", "sqlite_wal_full");
  reporter.PrintRatio("outbox_batch", "sqlite_wal_full_insert");
  reporter.PrintRatio("outbox_never", "sqlite_wal_full_insert");
  reporter.PrintRatio("outbox_never", "file_per_message");
  benchmark::Shutdown();
  return 0;
}
