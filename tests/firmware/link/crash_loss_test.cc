#include "firmware/link/crash_loss.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "hal/clock.h"
#include "hal/linux/fs.h"

namespace edgeforge::link::crash_loss {
namespace {

using outbox_log::ScanLog;

std::string TempDir() {
  std::string t = testing::TempDir() + "crashlossXXXXXX";
  return mkdtemp(t.data());
}

QueuedMessage Data(uint64_t id, uint64_t seq, Priority p = Priority::kBulk) {
  QueuedMessage m;
  m.id = id;
  m.seq = seq;
  m.priority = p;
  m.message.topic = "dt/a/s/dev/telemetry";
  m.message.payload = "{\"seq\":" + std::to_string(seq) + "}";
  m.message.qos = 1;
  return m;
}

/// A log as the outbox writes it: a head, then a data record per seq (id = seq + 1).
std::string LogOf(const std::vector<uint64_t>& seqs, std::vector<size_t>* record_starts = nullptr) {
  std::string log;
  outbox_log::AppendHead(log, 1);
  for (uint64_t s : seqs) {
    if (record_starts) record_starts->push_back(log.size());
    outbox_log::AppendData(log, Data(s + 1, s));
  }
  return log;
}

Loss LossOf(const Floor& floor, const std::string& log, uint64_t issued_below) {
  return ComputeLoss(floor, SurvivingSeqs(ScanLog(log)), issued_below);
}

TEST(CrashLossRangesTest, ToRangesMergesRunsAndRepeats) {
  EXPECT_EQ(ToRanges({5, 3, 4, 4, 9, 0}), (SeqRanges{{0, 0}, {3, 5}, {9, 9}}));
  EXPECT_TRUE(ToRanges({}).empty());
  EXPECT_EQ(Count(ToRanges({5, 3, 4, 4, 9, 0})), 5u);
  EXPECT_EQ(Format(SeqRanges{{12, 18}, {20, 20}}), "12-18, 20");
  EXPECT_EQ(Format(SeqRanges{{1, 1}, {3, 3}, {5, 5}}, 2), "1, 3, ... (1 more ranges)");
}

TEST(CrashLossRangesTest, UnionAndCountSaturate) {
  constexpr uint64_t kMax = ~uint64_t{0};
  EXPECT_EQ(Union({{0, 3}}, {{4, 6}, {10, 12}}), (SeqRanges{{0, 6}, {10, 12}}));
  EXPECT_EQ(Union({{kMax - 1, kMax}}, {{kMax, kMax}, {0, 0}}), (SeqRanges{{0, 0}, {kMax - 1, kMax}}));
  EXPECT_EQ(Count({{0, kMax}}), kMax);
}

// A bounded list covers every input seq: merging gaps over-reports, never under.
TEST(CrashLossRangesTest, BoundMergesTheSmallestGapsAndCoversEverything) {
  SeqRanges r{{0, 0}, {2, 2}, {10, 10}, {11 + 100, 11 + 100}, {300, 301}};
  const SeqRanges b = Bound(r, 3);
  EXPECT_EQ(b, (SeqRanges{{0, 10}, {111, 111}, {300, 301}}));
  std::vector<uint64_t> many;
  for (uint64_t i = 0; i < 5000; ++i) many.push_back(i * 3 + (i % 7));
  const SeqRanges big = Bound(ToRanges(many), kMaxFloorRanges);
  EXPECT_LE(big.size(), kMaxFloorRanges);
  size_t uncovered = 0;
  for (uint64_t s : many) {
    const auto it =
        std::find_if(big.begin(), big.end(), [s](const SeqRange& x) { return x.first <= s && s <= x.last; });
    uncovered += it == big.end() ? 1 : 0;
  }
  EXPECT_EQ(uncovered, 0u);
}

TEST(CrashLossFloorTest, RoundTripsAndRejectsDamageNamingIt) {
  const Floor f{42, {{3, 5}, {9, 9}}};
  const std::string text = EncodeFloor(f);
  EXPECT_EQ(text.rfind("edgeforge-outbox-floor v1\nbelow 42\nlive 3-5\nlive 9\ncrc ", 0), 0u) << text;
  auto back = DecodeFloor(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->below, 42u);
  EXPECT_EQ(back->live, f.live);

  EXPECT_EQ(DecodeFloor("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeFloor(text.substr(0, text.size() - 3)).status().code(), StatusCode::kDataLoss);  // torn
  std::string flipped = text;
  flipped[text.find("42")] = '4' ^ 1;  // still digits, the crc catches it
  auto bad = DecodeFloor(flipped);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("crc"), std::string::npos) << bad.status().message();
  // Well-formed crc over a bad body: the line is named.
  std::string body = "edgeforge-outbox-floor v1\nbelow 7\nlive 9-3\n";
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(outbox_log::Crc32c(0, body)));
  auto bad_line = DecodeFloor(body + "crc " + crc + "\n");
  EXPECT_EQ(bad_line.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad_line.status().message().find("line 3"), std::string::npos) << bad_line.status().message();
}

// Issue 8 item 3: 12 queued offline, kill -9, the log cut mid-record.
TEST(CrashLossTest, TruncatedMidRecordCountsEveryRecordCutOff) {
  std::vector<size_t> starts;
  std::vector<uint64_t> seqs;
  for (uint64_t s = 0; s < 12; ++s) seqs.push_back(s);
  const std::string log = LogOf(seqs, &starts);
  const std::string cut = log.substr(0, starts[7] + 20);  // records of seq 7.. gone, 7 torn
  const Loss loss = LossOf(Floor{0, {}}, cut, 12);
  EXPECT_EQ(loss.lost, (SeqRanges{{7, 11}}));
  EXPECT_EQ(loss.count, 5u);
  // Issued past the last append (killed between the mark and the append): counted too.
  EXPECT_EQ(LossOf(Floor{0, {}}, cut, 14).lost, (SeqRanges{{7, 13}}));
  // The old code's blind spot: an intact log and nothing lost.
  EXPECT_EQ(LossOf(Floor{0, {}}, log, 12).count, 0u);
}

TEST(CrashLossTest, EmptiedOrZeroedLogLosesEverythingAboveTheFloorAndTheLiveAtCompaction) {
  const Floor floor{100, {{95, 97}}};  // compaction kept 95..97; 100.. appended after it
  EXPECT_EQ(LossOf(floor, "", 112).lost, (SeqRanges{{95, 97}, {100, 111}}));
  EXPECT_EQ(LossOf(floor, std::string(4096, '\0'), 112).count, 15u);
}

TEST(CrashLossTest, BitFlipLosesExactlyTheRecordItHits) {
  std::vector<size_t> starts;
  const std::string log = LogOf({10, 11, 12, 13}, &starts);
  std::string flipped = log;
  flipped[starts[2] + outbox_log::kHeaderBytes + 3] ^= 0x10;  // inside seq 12's body
  EXPECT_EQ(LossOf(Floor{10, {}}, flipped, 14).lost, (SeqRanges{{12, 12}}));
}

TEST(CrashLossTest, CompactedThenTruncatedCountsTheLiveRecordsThatVanished) {
  // Compaction kept 3, 5, 6 (the rest acked) and wrote floor 8; 8 and 9 were appended after.
  std::vector<size_t> starts;
  const std::string log = LogOf({3, 5, 6, 8, 9}, &starts);
  const Floor floor{8, {{3, 3}, {5, 6}}};
  EXPECT_EQ(LossOf(floor, log, 10).count, 0u);
  EXPECT_EQ(LossOf(floor, log.substr(0, starts[2] + 5), 10).lost, (SeqRanges{{6, 6}, {8, 9}}));
}

TEST(CrashLossTest, AckedAndDroppedRecordsThatSurviveAreNotLostAndStateMessagesAreIgnored) {
  std::string log;
  outbox_log::AppendHead(log, 1);
  outbox_log::AppendData(log, Data(1, 0, Priority::kState));  // shadow report: no seq of its own
  outbox_log::AppendData(log, Data(2, 0));
  outbox_log::AppendData(log, Data(3, 1));
  outbox_log::AppendAck(log, 2);
  outbox_log::AppendDrop(log, 3);
  EXPECT_EQ(SurvivingSeqs(ScanLog(log)), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(LossOf(Floor{0, {}}, log, 3).lost, (SeqRanges{{2, 2}}));
  // A shadow record's seq 0 does not hide a lost telemetry seq 0.
  std::string state_only;
  outbox_log::AppendData(state_only, Data(1, 0, Priority::kState));
  EXPECT_EQ(LossOf(Floor{0, {}}, state_only, 1).lost, (SeqRanges{{0, 0}}));
}

TEST(CrashLossTest, AnAckedMessageWhoseDataRecordIsDamagedIsOverReportedNeverMissed) {
  std::string log;
  outbox_log::AppendHead(log, 1);
  const size_t data0 = log.size();
  outbox_log::AppendData(log, Data(1, 0));
  outbox_log::AppendData(log, Data(2, 1));
  outbox_log::AppendAck(log, 1);  // seq 0 was delivered
  log[data0 + outbox_log::kHeaderBytes + 2] ^= 0x01;
  // The verifier will see seq 0 arrive; the device cannot know, so it counts it.
  EXPECT_EQ(LossOf(Floor{0, {}}, log, 2).lost, (SeqRanges{{0, 0}}));
}

TEST(CrashLossTest, NothingIssuedSinceTheFloorIsNoLoss) {
  EXPECT_EQ(LossOf(Floor{50, {}}, "", 50).count, 0u);
  EXPECT_EQ(LossOf(Floor{50, {}}, "", 0).count, 0u);
}

// ---- through the real Outbox on disk -------------------------------------------------

OutgoingMessage Msg(uint64_t seq) {
  OutgoingMessage m;
  m.topic = "dt/a/s/dev/telemetry";
  m.payload = "{\"seq\":" + std::to_string(seq) + ",\"pad\":\"" + std::string(40, 'x') + "\"}";
  return m;
}

OutboxOptions Opts(const std::string& dir) {
  OutboxOptions o;
  o.dir = dir;
  o.sync = SyncPolicy::kNever;
  return o;
}

Loss Reopen(const std::string& dir, uint64_t issued_below, bool resolve_at = false, uint64_t resolve = 0) {
  SystemClock clock;
  auto box = OpenFileOutbox(Opts(dir), clock);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  if (!box.ok()) return {};
  const Recovered& r = (*box)->recovered();
  Loss l = ComputeLoss(r.floor, r.surviving, issued_below);
  if (resolve_at) {
    EXPECT_TRUE((*box)->ResolveCrashLoss(resolve).ok());
  }
  return l;
}

TEST(OutboxCrashLossTest, EmptiedLogAfterACompactionStillKnowsItsFloor) {
  const std::string dir = TempDir();
  SystemClock clock;
  {
    auto box = OpenFileOutbox(Opts(dir), clock);
    ASSERT_TRUE(box.ok());
    ASSERT_TRUE((*box)->ResolveCrashLoss(0).ok());
    std::vector<uint64_t> ids;
    for (uint64_t s = 0; s < 12; ++s) ids.push_back(*(*box)->Append(Priority::kBulk, s, Msg(s)));
    (void)(*box)->TakeForSend(4);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE((*box)->Ack(ids[i]).ok());  // 0..3 delivered
    ASSERT_TRUE((*box)->Compact().ok());                                // floor 12, live 4..11
    for (uint64_t s = 12; s < 15; ++s) (void)*(*box)->Append(Priority::kBulk, s, Msg(s));
  }  // kill -9: no Sync, no Close
  std::ofstream(dir + "/outbox.log", std::ios::trunc).close();
  const Loss l = Reopen(dir, 15);
  EXPECT_EQ(l.lost, (SeqRanges{{4, 14}})) << Format(l.lost);
}

TEST(OutboxCrashLossTest, ResolvedLossIsNotCountedAgainButAnUnresolvedOneIs) {
  const std::string dir = TempDir();
  SystemClock clock;
  {
    auto box = OpenFileOutbox(Opts(dir), clock);
    ASSERT_TRUE(box.ok());
    ASSERT_TRUE((*box)->ResolveCrashLoss(0).ok());
    for (uint64_t s = 0; s < 6; ++s) (void)*(*box)->Append(Priority::kBulk, s, Msg(s));
  }
  ASSERT_TRUE(fs::WriteFileAtomically(dir + "/outbox.log", "", 0600).ok());
  // Crash again before the loss was accounted: counted again (over, never under).
  EXPECT_EQ(Reopen(dir, 6).count, 6u);
  EXPECT_EQ(Reopen(dir, 6, /*resolve_at=*/true, 1000).count, 6u);
  // Accounted and resolved below 1000 (the next boot's first seq): nothing lost any more.
  EXPECT_EQ(Reopen(dir, 1000).count, 0u);
  const auto floor = DecodeFloor(*fs::ReadFileToString(dir + "/" + Outbox::kFloorName));
  ASSERT_TRUE(floor.ok());
  EXPECT_EQ(floor->below, 1000u);
}

TEST(OutboxCrashLossTest, MissingOrCorruptFloorFileCountsConservativelyAndSaysWhy) {
  const std::string dir = TempDir();
  SystemClock clock;
  {
    auto box = OpenFileOutbox(Opts(dir), clock);
    ASSERT_TRUE(box.ok());
    ASSERT_TRUE((*box)->ResolveCrashLoss(20).ok());
  }
  std::ofstream(dir + "/" + Outbox::kFloorName, std::ios::trunc) << "garbage";
  auto box = OpenFileOutbox(Opts(dir), clock);
  ASSERT_TRUE(box.ok());
  EXPECT_NE((*box)->recovered().floor_problem.find(Outbox::kFloorName), std::string::npos)
      << (*box)->recovered().floor_problem;
  EXPECT_EQ(ComputeLoss((*box)->recovered().floor, (*box)->recovered().surviving, 22).count, 22u);
}

}  // namespace
}  // namespace edgeforge::link::crash_loss
