// Simulated power loss under the outbox (issue 8, "Power loss, simulated"):
// 1,000 seeded cut points per sync policy, spread over every storage call a
// workload of appends, syncs, acks and compactions makes; then recovery from
// the durable image only, checked against each policy's guarantee
// (firmware/link/outbox.h, docs/reliability.md):
//   kAlways  every Append that returned OK and was not acked is recovered;
//   kBatch   every message appended before the last successful sync (an
//            fdatasync or a compaction, both durable) is recovered or was acked;
//   kNever   the same, where only explicit Sync() and compactions sync;
// for all: no recovered message that was never appended (bytes compared), no
// id reused after recovery, and recovery always opens. The messages a policy
// may lose are counted and printed per policy.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "firmware/link/outbox.h"
#include "hal/sim/sim_append_log.h"

namespace edgeforge::link {
namespace {

constexpr int kTrials = 1000;
constexpr int kSteps = 40;

uint64_t Mix(uint64_t& s) {  // splitmix64: the workload's own choices
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

OutgoingMessage MessageFor(uint64_t seq) {
  OutgoingMessage m;
  m.topic = "dt/t/s/dev/" + std::to_string(seq);
  m.payload = std::string(static_cast<size_t>(20 + seq * 37 % 100), static_cast<char>('a' + seq % 26));
  m.user_properties = {{"jws", "sig-" + std::to_string(seq)}};
  return m;
}

OutboxOptions OptionsFor(SyncPolicy policy) {
  OutboxOptions o;
  o.sync = policy;
  o.batch_interval = Millis(200);
  o.compact_min_bytes = 1500;  // compactions happen every few dozen messages
  return o;
}

uint64_t MutatingCalls(const SimAppendLog& log) {
  return log.calls(LogOp::kAppend) + log.calls(LogOp::kSync) + log.calls(LogOp::kReplace) + log.calls(LogOp::kSideFile);
}

// What one run did before the power went (or to the end).
struct CutRun {
  std::set<uint64_t> attempted;  // Append called
  std::set<uint64_t> ok;         // Append returned OK
  std::set<uint64_t> acked;      // Ack called
  std::set<uint64_t> covered;    // appended OK before the last successful sync/compaction
  uint64_t max_ok_id = 0;
  LogOp cut_in = LogOp::kRead;  // kRead: no cut happened
  std::string durable;
  uint64_t total_calls = 0;  // mutating storage calls after Open
};

// The workload, deterministic in `seed`; with cut_at > 0 the power fails
// during that mutating storage call.
CutRun Workload(SyncPolicy policy, uint64_t seed, uint64_t cut_at) {
  CutRun run;
  ManualClock clock;
  auto sim = std::make_unique<SimAppendLog>("sim:outbox.log");
  SimAppendLog* log = sim.get();
  auto opened = Outbox::Open(std::move(sim), OptionsFor(policy), clock);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return run;
  std::unique_ptr<Outbox> box = std::move(*opened);
  const uint64_t calls_at_open = MutatingCalls(*log);
  if (cut_at > 0) log->ArmPowerCut(cut_at, seed * 7919 + 1);
  uint64_t rng = seed;
  uint64_t next_seq = 1;
  std::map<uint64_t, uint64_t> seq_of_id;
  auto durable_points = [&] { return box->stats().syncs + box->stats().compactions; };
  for (int step = 0; step < kSteps && !log->powered_off(); ++step) {
    std::array<uint64_t, kLogOpCount> before{};
    for (size_t i = 0; i < kLogOpCount; ++i) before[i] = log->calls(static_cast<LogOp>(i));
    const uint64_t points = durable_points();
    const uint64_t choice = Mix(rng) % 10;
    Status st;
    if (choice < 6) {
      const uint64_t seq = next_seq++;
      run.attempted.insert(seq);
      auto id = box->Append(static_cast<Priority>(Mix(rng) % 3), seq, MessageFor(seq));
      if (id.ok()) {
        run.ok.insert(seq);
        seq_of_id[*id] = seq;
        run.max_ok_id = std::max(run.max_ok_id, *id);
      }
    } else if (choice < 8) {
      for (const QueuedMessage& q : box->TakeForSend(static_cast<size_t>(1 + Mix(rng) % 3))) {
        run.acked.insert(q.seq);  // a PUBACK came: delivered, whatever the log says
        st = box->Ack(q.id);
        if (log->powered_off()) break;
      }
    } else if (choice == 8) {
      st = box->Sync();
    } else {
      st = Mix(rng) % 4 == 0 ? box->Compact() : Status::Ok();
    }
    clock.Advance(Millis(50));
    if (!log->powered_off()) st = box->SyncIfDue();
    if (log->powered_off()) {
      for (size_t i = 0; i < kLogOpCount; ++i) {
        if (log->calls(static_cast<LogOp>(i)) > before[i]) run.cut_in = static_cast<LogOp>(i);
      }
    } else if (durable_points() > points) {
      // A sync or compaction completed: everything written before it is durable.
      run.covered = run.ok;
    }
  }
  run.total_calls = MutatingCalls(*log) - calls_at_open;
  run.durable = log->durable();
  return run;
}

const char* OpName(LogOp op) {
  switch (op) {
    case LogOp::kAppend:
      return "append/ack write";
    case LogOp::kSync:
      return "fdatasync";
    case LogOp::kReplace:
      return "compaction";
    case LogOp::kSideFile:
      return "quarantine";
    case LogOp::kRead:
      return "none";
  }
  return "?";
}

class OutboxPowerCutTest : public testing::TestWithParam<SyncPolicy> {};

TEST_P(OutboxPowerCutTest, RecoveryKeepsWhatThePolicyPromisesAtEveryCutPoint) {
  const SyncPolicy policy = GetParam();
  std::map<LogOp, int> cuts;
  uint64_t lost = 0, max_lost = 0, duplicates = 0, recovered_total = 0, quarantined = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const uint64_t seed = static_cast<uint64_t>(trial) * 1000003u + static_cast<uint64_t>(policy);
    const CutRun dry = Workload(policy, seed, 0);
    ASSERT_GT(dry.total_calls, 0u);
    uint64_t pick = seed ^ 0xC0FFEE;
    const uint64_t cut_at = 1 + Mix(pick) % dry.total_calls;
    const CutRun run = Workload(policy, seed, cut_at);
    SCOPED_TRACE("policy " + std::string(SyncPolicyName(policy)) + ", trial " + std::to_string(trial) +
                 ", cut at call " + std::to_string(cut_at) + " (" + OpName(run.cut_in) + ")");
    ASSERT_NE(run.cut_in, LogOp::kRead) << "the armed cut never happened";
    ++cuts[run.cut_in];

    // Power back: a new outbox on what the disk held.
    ManualClock clock;
    auto disk = std::make_unique<SimAppendLog>("sim:outbox.log");
    disk->Preload(run.durable);
    auto box = Outbox::Open(std::move(disk), OptionsFor(policy), clock);
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    std::set<uint64_t> recovered;
    for (const QueuedMessage& q : (*box)->TakeForSend(SIZE_MAX)) {
      ASSERT_EQ(run.attempted.count(q.seq), 1u) << "recovered seq " << q.seq << " was never appended";
      const OutgoingMessage want = MessageFor(q.seq);
      ASSERT_EQ(q.message.topic, want.topic);
      ASSERT_EQ(q.message.payload, want.payload) << "seq " << q.seq;
      ASSERT_EQ(q.message.user_properties, want.user_properties);
      ASSERT_TRUE(recovered.insert(q.seq).second) << "seq " << q.seq << " recovered twice";
    }
    (*box)->RequeueInFlight();
    recovered_total += recovered.size();
    quarantined += (*box)->stats().quarantined_records;

    for (uint64_t seq : run.ok) {
      if (policy == SyncPolicy::kAlways && run.acked.count(seq) == 0) {
        EXPECT_EQ(recovered.count(seq), 1u) << "kAlways: seq " << seq << " returned OK and was lost";
      }
    }
    for (uint64_t seq : run.covered) {
      if (run.acked.count(seq) == 0) {
        EXPECT_EQ(recovered.count(seq), 1u) << "seq " << seq << " was synced and lost";
      }
    }
    uint64_t lost_here = 0;
    for (uint64_t seq : run.ok) {
      if (run.acked.count(seq) == 0 && recovered.count(seq) == 0) ++lost_here;
      if (run.acked.count(seq) != 0 && recovered.count(seq) != 0) ++duplicates;
    }
    lost += lost_here;
    max_lost = std::max(max_lost, lost_here);

    // Ids: never one the recovered log knows of; under kAlways never one
    // that an Append returned OK for.
    auto fresh = (*box)->Append(Priority::kBulk, 999999, MessageFor(999999));
    ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    const outbox_log::Replay replay = outbox_log::ReplayLog(outbox_log::ScanLog(run.durable));
    EXPECT_GE(*fresh, replay.next_id);
    if (policy == SyncPolicy::kAlways) {
      EXPECT_GT(*fresh, run.max_ok_id);
    }
    if (HasFailure()) return;
  }
  std::printf(
      "[power cut] policy %-6s: %d cuts (append/ack write %d, fdatasync %d, compaction %d); "
      "recovered %llu; lost %llu messages appended OK and not acked (max %llu in one cut); "
      "%llu acked messages recovered again (duplicates); %llu torn ranges quarantined\n",
      SyncPolicyName(policy), kTrials, cuts[LogOp::kAppend], cuts[LogOp::kSync], cuts[LogOp::kReplace],
      static_cast<unsigned long long>(recovered_total), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(max_lost), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(quarantined));
  RecordProperty("lost", static_cast<int>(lost));
  if (policy == SyncPolicy::kAlways) {
    EXPECT_EQ(lost, 0u);
  }
  EXPECT_GT(cuts[LogOp::kAppend], 0);
  EXPECT_GT(cuts[LogOp::kReplace], 0);
  if (policy != SyncPolicy::kNever) {
    EXPECT_GT(cuts[LogOp::kSync], 0);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, OutboxPowerCutTest,
                         testing::Values(SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNever),
                         [](const testing::TestParamInfo<SyncPolicy>& p) {
                           return std::string(SyncPolicyName(p.param));
                         });

}  // namespace
}  // namespace edgeforge::link
