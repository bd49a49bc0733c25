#include "firmware/link/outbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <map>
#include <thread>

#include "firmware/linux/file_outbox.h"
#include "hal/linux/fs.h"
#include "hal/sim/sim_append_log.h"

namespace edgeforge::link {
namespace {

using outbox_log::ScanLog;

std::string TempDir() {
  std::string t = testing::TempDir() + "outboxXXXXXX";
  return mkdtemp(t.data());
}

OutgoingMessage Msg(const std::string& topic, const std::string& payload, UserProperties props = {}) {
  OutgoingMessage m;
  m.topic = topic;
  m.payload = payload;
  m.user_properties = std::move(props);
  return m;
}

// 10 + 90 = 100 bytes against max_bytes.
OutgoingMessage Hundred(int n) {
  std::string topic = "dt/t/" + std::to_string(100000 + n);  // 11 bytes
  topic.resize(10);
  return Msg(topic, std::string(90, static_cast<char>('a' + n % 26)));
}

OutboxOptions Options(const std::string& dir, SyncPolicy sync = SyncPolicy::kNever) {
  OutboxOptions o;
  o.dir = dir;
  o.sync = sync;
  return o;
}

std::unique_ptr<Outbox> MustOpen(const OutboxOptions& o, const Clock& clock) {
  auto box = OpenFileOutbox(o, clock);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  return box.ok() ? std::move(box).value() : nullptr;
}

uint64_t MustAppend(Outbox& box, Priority p, uint64_t seq, const OutgoingMessage& m) {
  auto id = box.Append(p, seq, m);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : 0;
}

std::vector<uint64_t> Ids(const std::vector<QueuedMessage>& v) {
  std::vector<uint64_t> out;
  for (const auto& q : v) out.push_back(q.id);
  return out;
}

// Takes everything (marking it in flight), then puts it back.
std::vector<QueuedMessage> PeekAll(Outbox& box) {
  std::vector<QueuedMessage> all = box.TakeForSend(SIZE_MAX);
  box.RequeueInFlight();
  return all;
}

std::string ReadLog(const std::string& dir) {
  auto s = fs::ReadFileToString(dir + "/" + Outbox::kLogName);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : std::string();
}

void WriteLog(const std::string& dir, const std::string& bytes) {
  ASSERT_TRUE(fs::WriteFileAtomically(dir + "/" + Outbox::kLogName, bytes, 0600).ok());
}

// --- codec ----------------------------------------------------------------

TEST(OutboxFormatTest, Crc32cCheckValueAndChaining) {
  // RFC 3720 appendix B.4 / the CRC catalogue's CRC-32/ISCSI check value.
  EXPECT_EQ(outbox_log::Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(outbox_log::Crc32c(outbox_log::Crc32c(0, "1234"), "56789"), 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(outbox_log::Crc32c(0, std::string(32, '\0')), 0x8A9136AAu);
}

TEST(OutboxFormatTest, RecordsRoundTripAndPartitionTheLog) {
  QueuedMessage m{7, Priority::kState, 42, Msg("dt/a/b/c/telemetry", "{\"x\":1}", {{"jws", "h..s"}, {"k", ""}})};
  m.message.qos = 1;
  std::string log;
  outbox_log::AppendHead(log, 5);
  outbox_log::AppendData(log, m);
  EXPECT_EQ(log.size(), outbox_log::kHeaderBytes + 8 + outbox_log::DataRecordBytes(m.message));
  outbox_log::AppendAck(log, 7);
  outbox_log::AppendDrop(log, 9);
  const auto scan = ScanLog(log);
  ASSERT_EQ(scan.records.size(), 4u);
  EXPECT_TRUE(scan.bad.empty());
  const auto& d = scan.records[1];
  EXPECT_EQ(d.type, outbox_log::RecordType::kData);
  EXPECT_EQ(d.message.id, 7u);
  EXPECT_EQ(d.message.seq, 42u);
  EXPECT_EQ(d.message.priority, Priority::kState);
  EXPECT_EQ(d.message.message.topic, m.message.topic);
  EXPECT_EQ(d.message.message.payload, m.message.payload);
  EXPECT_EQ(d.message.message.user_properties, m.message.user_properties);
  EXPECT_EQ(scan.records[3].offset + scan.records[3].size, log.size());
  const auto replay = outbox_log::ReplayLog(scan);
  EXPECT_TRUE(replay.live.empty());  // acked
  EXPECT_EQ(replay.next_id, 10u);    // above the drop record's id
}

TEST(OutboxFormatTest, EmptyLogIsNothing) {
  const auto scan = ScanLog("");
  EXPECT_TRUE(scan.records.empty());
  EXPECT_TRUE(scan.bad.empty());
}

// --- ordering ---------------------------------------------------------------

TEST(OutboxTest, PriorityOrderThenFifoWithinAClass) {
  ManualClock clock;
  auto box = MustOpen(Options(TempDir()), clock);
  ASSERT_NE(box, nullptr);
  const uint64_t b1 = MustAppend(*box, Priority::kBulk, 100, Msg("t/b1", "b1"));
  const uint64_t s1 = MustAppend(*box, Priority::kState, 101, Msg("t/s1", "s1"));
  const uint64_t a1 = MustAppend(*box, Priority::kAlarm, 102, Msg("t/a1", "a1", {{"jws", "sig"}}));
  const uint64_t b2 = MustAppend(*box, Priority::kBulk, 103, Msg("t/b2", "b2"));
  const uint64_t a2 = MustAppend(*box, Priority::kAlarm, 104, Msg("t/a2", "a2"));
  EXPECT_EQ(box->depth(), 5u);

  const auto first = box->TakeForSend(2);
  EXPECT_EQ(Ids(first), (std::vector<uint64_t>{a1, a2}));
  EXPECT_EQ(first[0].seq, 102u);
  EXPECT_EQ(first[0].message.payload, "a1");
  EXPECT_EQ(first[0].message.user_properties, (UserProperties{{"jws", "sig"}}));
  // In-flight messages are skipped by the next take.
  EXPECT_EQ(Ids(box->TakeForSend(10)), (std::vector<uint64_t>{s1, b1, b2}));
  EXPECT_TRUE(box->TakeForSend(10).empty());
  EXPECT_EQ(box->stats().in_flight, 5u);

  ASSERT_TRUE(box->Ack(a1).ok());
  ASSERT_TRUE(box->Ack(b1).ok());
  EXPECT_EQ(box->depth(), 3u);
  EXPECT_EQ(box->Ack(a1).code(), StatusCode::kNotFound);
}

TEST(OutboxTest, NackAndRequeueRestoreTheOriginalPlace) {
  ManualClock clock;
  auto box = MustOpen(Options(TempDir()), clock);
  ASSERT_NE(box, nullptr);
  std::vector<uint64_t> bulk;
  for (int i = 0; i < 4; ++i) bulk.push_back(MustAppend(*box, Priority::kBulk, i, Msg("t", "b")));
  const auto taken = box->TakeForSend(3);  // bulk 0, 1, 2 in flight
  ASSERT_EQ(Ids(taken), (std::vector<uint64_t>{bulk[0], bulk[1], bulk[2]}));
  box->Nack(bulk[1]);
  EXPECT_EQ(box->stats().in_flight, 2u);
  // bulk[1] is ahead of bulk[3] again.
  EXPECT_EQ(Ids(box->TakeForSend(1)), (std::vector<uint64_t>{bulk[1]}));

  // An alarm queued while bulk is in flight still goes first after a requeue.
  const uint64_t alarm = MustAppend(*box, Priority::kAlarm, 9, Msg("t", "a"));
  box->RequeueInFlight();
  EXPECT_EQ(Ids(box->TakeForSend(10)), (std::vector<uint64_t>{alarm, bulk[0], bulk[1], bulk[2], bulk[3]}));
  box->Nack(12345);  // unknown: ignored
  // A PUBACK racing a requeue still removes the message.
  box->RequeueInFlight();
  ASSERT_TRUE(box->Ack(bulk[0]).ok());
  EXPECT_EQ(Ids(box->TakeForSend(10)), (std::vector<uint64_t>{alarm, bulk[1], bulk[2], bulk[3]}));
  // Nacked, then acked before it was sent again: gone from the queue too.
  box->Nack(alarm);
  ASSERT_TRUE(box->Ack(alarm).ok());
  box->RequeueInFlight();
  EXPECT_EQ(Ids(box->TakeForSend(10)), (std::vector<uint64_t>{bulk[1], bulk[2], bulk[3]}));
  EXPECT_EQ(box->stats().bytes, 3u * 2u);
}

// --- durability -------------------------------------------------------------

TEST(OutboxTest, ReopenRestoresExactlyTheUnackedMessagesInOrder) {
  ManualClock clock;
  const std::string dir = TempDir();
  std::vector<QueuedMessage> before;
  uint64_t highest = 0;
  {
    auto box = MustOpen(Options(dir, SyncPolicy::kAlways), clock);
    ASSERT_NE(box, nullptr);
    const uint64_t b1 = MustAppend(*box, Priority::kBulk, 10, Msg("t/b", "b1", {{"jws", "x"}}));
    const uint64_t a1 = MustAppend(*box, Priority::kAlarm, 11, Msg("t/a", "a1"));
    MustAppend(*box, Priority::kBulk, 12, Msg("t/b", "b2"));
    MustAppend(*box, Priority::kState, 13, Msg("t/s", "s1"));
    highest = MustAppend(*box, Priority::kAlarm, 14, Msg("t/a", "a2"));
    (void)box->TakeForSend(2);  // in flight at close: must come back as queued
    ASSERT_TRUE(box->Ack(a1).ok());
    ASSERT_TRUE(box->Ack(b1).ok());
    box->RequeueInFlight();
    before = PeekAll(*box);
    ASSERT_EQ(box->TakeForSend(1).size(), 1u);  // a2 in flight at close
    ASSERT_TRUE(box->Sync().ok());
  }
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  const OutboxStats st = box->stats();
  EXPECT_EQ(st.recovered, 3u);
  EXPECT_EQ(st.quarantined_records, 0u);
  const auto after = box->TakeForSend(10);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].seq, before[i].seq);
    EXPECT_EQ(after[i].priority, before[i].priority);
    EXPECT_EQ(after[i].message.topic, before[i].message.topic);
    EXPECT_EQ(after[i].message.payload, before[i].message.payload);
    EXPECT_EQ(after[i].message.user_properties, before[i].message.user_properties);
  }
  EXPECT_EQ(std::vector<uint64_t>({after[0].seq, after[1].seq, after[2].seq}), (std::vector<uint64_t>{14, 13, 12}));
  EXPECT_GT(MustAppend(*box, Priority::kBulk, 15, Msg("t", "x")), highest);
}

TEST(OutboxTest, IdsAreNotReusedAfterCompactionEmptiedTheLog) {
  ManualClock clock;
  const std::string dir = TempDir();
  {
    auto box = MustOpen(Options(dir), clock);
    ASSERT_NE(box, nullptr);
    for (int i = 0; i < 3; ++i) MustAppend(*box, Priority::kBulk, i, Msg("t", "p"));
    for (uint64_t id : Ids(box->TakeForSend(3))) ASSERT_TRUE(box->Ack(id).ok());
    ASSERT_TRUE(box->Compact().ok());
  }
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->depth(), 0u);
  EXPECT_EQ(MustAppend(*box, Priority::kBulk, 3, Msg("t", "p")), 4u);
}

// The child appends with no fsync at all and exits without any destructor or
// Sync: what reaches the page cache is what kill -9 leaves behind.
TEST(OutboxTest, ExitWithoutCloseKeepsEveryAppend) {
  ManualClock clock;
  const std::string dir = TempDir();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto box = OpenFileOutbox(Options(dir, SyncPolicy::kNever), clock);
    if (!box.ok()) _exit(2);
    for (int i = 0; i < 50; ++i) {
      if (!(*box)->Append(i % 2 == 0 ? Priority::kBulk : Priority::kAlarm, 1000 + i, Hundred(i)).ok()) _exit(3);
    }
    (void)(*box)->TakeForSend(5);
    if (!(*box)->Ack(1).ok()) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->stats().recovered, 49u);
  EXPECT_EQ(box->stats().quarantined_records, 0u);
  const auto all = box->TakeForSend(100);
  ASSERT_EQ(all.size(), 49u);
  EXPECT_EQ(all[0].seq, 1001u);  // alarms (odd i) first, in order
  EXPECT_EQ(all[24].seq, 1049u);
  EXPECT_EQ(all[25].seq, 1002u);  // then bulk, seq 1000 (id 1) acked
}

// A real SIGKILL at an arbitrary point of a stream of appends and acks: every
// operation the child reported as done is reflected after recovery.
TEST(OutboxTest, KillNineMidStreamKeepsEveryReportedAppendAndAck) {
  ManualClock clock;
  const std::string dir = TempDir();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto box = OpenFileOutbox(Options(dir, SyncPolicy::kNever), clock);
    if (!box.ok()) _exit(2);
    for (uint64_t i = 0; i < 1000000; ++i) {
      auto id = (*box)->Append(Priority::kBulk, i, Hundred(static_cast<int>(i)));
      if (!id.ok()) _exit(3);
      if (*id % 3 == 0 && !(*box)->Ack(*id).ok()) _exit(4);
      if (::write(fds[1], &*id, sizeof(uint64_t)) != sizeof(uint64_t)) _exit(5);
    }
    _exit(0);
  }
  ::close(fds[1]);
  std::vector<uint64_t> reported;
  uint64_t id = 0;
  while (reported.size() < 500 && ::read(fds[0], &id, sizeof id) == sizeof id) reported.push_back(id);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(reported.size(), 500u);

  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  std::map<uint64_t, uint64_t> seq_by_id;
  for (const auto& q : box->TakeForSend(SIZE_MAX)) seq_by_id[q.id] = q.seq;
  for (uint64_t r : reported) {
    if (r % 3 == 0) {
      EXPECT_EQ(seq_by_id.count(r), 0u) << "acked id " << r << " came back";
    } else {
      ASSERT_EQ(seq_by_id.count(r), 1u) << "appended id " << r << " lost";
      EXPECT_EQ(seq_by_id[r], r - 1);
    }
  }
  // A record torn by the kill, if any, is the only bad range.
  EXPECT_LE(box->stats().quarantined_records, 1u);
}

// --- drop policy ------------------------------------------------------------

TEST(OutboxTest, DropPolicyDropsOldestBulkThenStateAndAlarmsLast) {
  ManualClock clock;
  const std::string dir = TempDir();
  OutboxOptions o = Options(dir);
  o.max_bytes = 1000;  // ten 100-byte messages
  auto box = MustOpen(o, clock);
  ASSERT_NE(box, nullptr);
  std::vector<uint64_t> bulk;
  for (int i = 0; i < 8; ++i) bulk.push_back(MustAppend(*box, Priority::kBulk, i, Hundred(i)));
  const uint64_t s1 = MustAppend(*box, Priority::kState, 8, Hundred(8));
  const uint64_t s2 = MustAppend(*box, Priority::kState, 9, Hundred(9));
  EXPECT_EQ(box->stats().bytes, 1000u);

  // Alarms push out the oldest bulk, one each.
  std::vector<uint64_t> alarms;
  for (int i = 0; i < 3; ++i) alarms.push_back(MustAppend(*box, Priority::kAlarm, 20 + i, Hundred(20 + i)));
  // A new bulk message drops the oldest bulk too (same class).
  const uint64_t b_new = MustAppend(*box, Priority::kBulk, 30, Hundred(30));
  // bulk[0..3] gone, bulk[4..7] + b_new left.
  // A state message drops bulk before any state.
  const uint64_t s3 = MustAppend(*box, Priority::kState, 31, Hundred(31));
  OutboxStats st = box->stats();
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kBulk)], 5u);
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kState)], 0u);
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kAlarm)], 0u);
  EXPECT_EQ(st.bytes, 1000u);

  // Seven more alarms: the 4 remaining bulk go, then the 3 oldest state.
  for (int i = 0; i < 7; ++i) alarms.push_back(MustAppend(*box, Priority::kAlarm, 40 + i, Hundred(40 + i)));
  st = box->stats();
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kBulk)], 9u);
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kState)], 3u);
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kAlarm)], 0u);
  (void)s1;
  (void)s2;
  (void)s3;
  (void)b_new;

  // Only alarms now: a bulk or state message is refused (and counted), nothing is dropped for it.
  auto refused = box->Append(Priority::kBulk, 50, Hundred(50));
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("bulk message of 100 bytes refused"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(box->Append(Priority::kState, 51, Hundred(51)).status().code(), StatusCode::kResourceExhausted);
  st = box->stats();
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kBulk)], 10u);
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kState)], 4u);
  EXPECT_EQ(box->depth(), 10u);

  // A new alarm drops the oldest alarm that is not in flight.
  ASSERT_EQ(Ids(box->TakeForSend(1)), (std::vector<uint64_t>{alarms[0]}));
  const uint64_t a_new = MustAppend(*box, Priority::kAlarm, 60, Hundred(60));
  st = box->stats();
  EXPECT_EQ(st.dropped[static_cast<size_t>(Priority::kAlarm)], 1u);
  std::vector<uint64_t> expect = alarms;
  expect.erase(expect.begin() + 1);  // alarms[1] dropped, alarms[0] kept (in flight)
  expect.push_back(a_new);
  box->RequeueInFlight();
  EXPECT_EQ(Ids(PeekAll(*box)), expect);

  // A message bigger than the whole bound is refused and counted.
  EXPECT_EQ(box->Append(Priority::kAlarm, 70, Msg("t", std::string(1000, 'x'))).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(box->stats().dropped[static_cast<size_t>(Priority::kAlarm)], 2u);

  // Drops are durable: the same ten alarms come back.
  box.reset();
  auto reopened = MustOpen(o, clock);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Ids(PeekAll(*reopened)), expect);
  EXPECT_EQ(reopened->stats().bytes, 1000u);
}

TEST(OutboxTest, InFlightMessagesAreNeverDropped) {
  ManualClock clock;
  OutboxOptions o = Options(TempDir());
  o.max_bytes = 300;
  auto box = MustOpen(o, clock);
  ASSERT_NE(box, nullptr);
  for (int i = 0; i < 3; ++i) MustAppend(*box, Priority::kBulk, i, Hundred(i));
  ASSERT_EQ(box->TakeForSend(3).size(), 3u);
  // All bulk in flight: nothing may make room, even for an alarm.
  EXPECT_EQ(box->Append(Priority::kAlarm, 9, Hundred(9)).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(box->stats().dropped[static_cast<size_t>(Priority::kAlarm)], 1u);
  EXPECT_EQ(box->stats().dropped[static_cast<size_t>(Priority::kBulk)], 0u);
  box->Nack(2);
  MustAppend(*box, Priority::kAlarm, 10, Hundred(10));
  EXPECT_EQ(box->stats().dropped[static_cast<size_t>(Priority::kBulk)], 1u);
  EXPECT_EQ(box->depth(), 3u);
}

// --- recovery ---------------------------------------------------------------

// Three bulk messages, synced and closed; returns the log bytes.
std::string ThreeMessageLog(const std::string& dir, const Clock& clock) {
  auto box = MustOpen(Options(dir), clock);
  for (int i = 0; i < 3; ++i) MustAppend(*box, Priority::kBulk, 500 + i, Hundred(i));
  EXPECT_TRUE(box->Sync().ok());
  box.reset();
  return ReadLog(dir);
}

TEST(OutboxRecoveryTest, TruncatedMidRecordKeepsTheGoodOnesAndQuarantinesTheTail) {
  ManualClock clock;
  const std::string dir = TempDir();
  const std::string log = ThreeMessageLog(dir, clock);
  const auto scan = ScanLog(log);
  ASSERT_EQ(scan.records.size(), 4u);  // head + 3 data
  const auto& last = scan.records.back();
  WriteLog(dir, log.substr(0, last.offset + last.size / 2));
  {
    auto box = MustOpen(Options(dir), clock);
    ASSERT_NE(box, nullptr);
    const OutboxStats st = box->stats();
    EXPECT_EQ(st.recovered, 2u);
    EXPECT_EQ(st.quarantined_records, 1u);
    EXPECT_EQ(st.quarantined_bytes, last.size / 2);
    auto q = fs::ReadFileToString(dir + "/quarantine-1.bin");
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    std::string expect_q;
    for (uint64_t v : {static_cast<uint64_t>(last.offset), static_cast<uint64_t>(last.size / 2)}) {
      for (int i = 0; i < 8; ++i) expect_q.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
    expect_q += log.substr(last.offset, last.size / 2);
    EXPECT_EQ(*q, expect_q);
    // Still a working queue.
    const auto all = box->TakeForSend(10);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].seq, 500u);
    EXPECT_EQ(all[1].seq, 501u);
    ASSERT_TRUE(box->Ack(all[0].id).ok());
    const uint64_t fresh = MustAppend(*box, Priority::kBulk, 503, Hundred(3));
    EXPECT_GT(fresh, all[1].id);
  }
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->stats().quarantined_records, 0u);  // the rewrite left a clean log
  const auto all = box->TakeForSend(10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 501u);
  EXPECT_EQ(all[1].seq, 503u);
}

TEST(OutboxRecoveryTest, BitFlipInTheMiddleRecordQuarantinesOnlyThatRecord) {
  ManualClock clock;
  const std::string dir = TempDir();
  std::string log = ThreeMessageLog(dir, clock);
  const auto scan = ScanLog(log);
  ASSERT_EQ(scan.records.size(), 4u);
  const auto& middle = scan.records[2];
  log[middle.offset + middle.size - 5] ^= 0x10;  // in the payload
  WriteLog(dir, log);
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  const OutboxStats st = box->stats();
  EXPECT_EQ(st.recovered, 2u);
  EXPECT_EQ(st.quarantined_records, 1u);
  EXPECT_EQ(st.quarantined_bytes, middle.size);
  const auto all = box->TakeForSend(10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 500u);
  EXPECT_EQ(all[1].seq, 502u);
}

TEST(OutboxRecoveryTest, FlippedMarkerAndLengthBytesAreResyncedPast) {
  ManualClock clock;
  const std::string dir = TempDir();
  std::string log = ThreeMessageLog(dir, clock);
  const auto scan = ScanLog(log);
  log[scan.records[1].offset] ^= 0x01;       // first data record's marker
  log[scan.records[3].offset + 10] ^= 0x40;  // last record's length: claims 4 MiB more
  WriteLog(dir, log);
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->stats().recovered, 1u);
  EXPECT_EQ(box->stats().quarantined_records, 2u);
  EXPECT_EQ(box->stats().quarantined_bytes, scan.records[1].size + scan.records[3].size);
  EXPECT_EQ(box->TakeForSend(10).at(0).seq, 501u);
}

TEST(OutboxRecoveryTest, GarbageFileOpensEmptyWithEverythingQuarantined) {
  ManualClock clock;
  const std::string dir = TempDir();
  std::string junk(10000, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (char& c : junk) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  // Sprinkle sync markers so the scan has false starts to reject.
  for (size_t at = 100; at + 4 < junk.size(); at += 997) {
    for (size_t i = 0; i < 4; ++i) junk[at + i] = static_cast<char>(outbox_log::kMarker[i]);
  }
  WriteLog(dir, junk);
  {
    auto box = MustOpen(Options(dir), clock);
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->depth(), 0u);
    EXPECT_EQ(box->stats().quarantined_records, 1u);
    EXPECT_EQ(box->stats().quarantined_bytes, junk.size());
    MustAppend(*box, Priority::kAlarm, 1, Msg("t", "after garbage"));
  }
  auto box = MustOpen(Options(dir), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->stats().quarantined_records, 0u);
  EXPECT_EQ(box->TakeForSend(1).at(0).message.payload, "after garbage");
  EXPECT_TRUE(fs::IsRegularFile(dir + "/quarantine-1.bin"));
  EXPECT_FALSE(fs::IsRegularFile(dir + "/quarantine-2.bin"));
}

TEST(OutboxRecoveryTest, EachRecoveryGetsItsOwnQuarantineFile) {
  ManualClock clock;
  const std::string dir = TempDir();
  for (int round = 0; round < 2; ++round) {
    std::string log = ThreeMessageLog(dir, clock);
    WriteLog(dir, log + "torn");
    auto box = MustOpen(Options(dir), clock);
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->stats().quarantined_bytes, 4u);
  }
  EXPECT_TRUE(fs::IsRegularFile(dir + "/quarantine-1.bin"));
  EXPECT_TRUE(fs::IsRegularFile(dir + "/quarantine-2.bin"));
}

// --- compaction -------------------------------------------------------------

TEST(OutboxTest, CompactionKeepsOrderAndSurvivesReopen) {
  ManualClock clock;
  const std::string dir = TempDir();
  OutboxOptions o = Options(dir);
  o.compact_min_bytes = 2048;
  std::vector<uint64_t> expect;
  {
    auto box = MustOpen(o, clock);
    ASSERT_NE(box, nullptr);
    // 200 messages, three of every four acked right away; the rest stay.
    std::vector<uint64_t> alarms, bulk;
    for (int i = 0; i < 200; ++i) {
      const Priority p = i % 8 == 0 ? Priority::kAlarm : Priority::kBulk;
      const uint64_t id = MustAppend(*box, p, 7000 + i, Hundred(i));
      if (i % 4 != 0) {
        box->Nack(id);
        ASSERT_TRUE(box->Ack(id).ok());
      } else {
        (p == Priority::kAlarm ? alarms : bulk).push_back(id);
      }
    }
    const OutboxStats st = box->stats();
    EXPECT_GT(st.compactions, 2u);
    // The log stays within 2x the live records (at most 51 during the last
    // Append's check) plus the acks written since.
    const size_t record = outbox_log::DataRecordBytes(Hundred(0));
    EXPECT_LE(st.file_bytes, 2 * size_t{51} * record + outbox_log::kHeaderBytes + 8);
    expect = alarms;
    expect.insert(expect.end(), bulk.begin(), bulk.end());
    EXPECT_EQ(Ids(PeekAll(*box)), expect);
  }
  auto box = MustOpen(o, clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->stats().quarantined_records, 0u);
  const auto all = PeekAll(*box);
  EXPECT_EQ(Ids(all), expect);
  EXPECT_EQ(all.front().seq, 7000u);
  EXPECT_EQ(all.back().seq, 7196u);
}

// --- sync policies ----------------------------------------------------------

TEST(OutboxTest, SyncPoliciesSyncWhenTheirGuaranteeSays) {
  ManualClock clock;
  {
    auto box = MustOpen(Options(TempDir(), SyncPolicy::kAlways), clock);
    ASSERT_NE(box, nullptr);
    for (int i = 0; i < 3; ++i) MustAppend(*box, Priority::kBulk, i, Hundred(i));
    EXPECT_EQ(box->stats().syncs, 3u);
    ASSERT_TRUE(box->Ack(1).ok());  // written, not synced on its own
    EXPECT_EQ(box->stats().syncs, 3u);
    ASSERT_TRUE(box->SyncIfDue().ok());
    EXPECT_EQ(box->stats().syncs, 3u);
    clock.Advance(Millis(200));
    ASSERT_TRUE(box->SyncIfDue().ok());
    EXPECT_EQ(box->stats().syncs, 4u);
  }
  {
    OutboxOptions o = Options(TempDir(), SyncPolicy::kBatch);
    o.batch_interval = Millis(100);
    auto box = MustOpen(o, clock);
    ASSERT_NE(box, nullptr);
    MustAppend(*box, Priority::kBulk, 0, Hundred(0));
    clock.Advance(Millis(60));
    MustAppend(*box, Priority::kBulk, 1, Hundred(1));
    EXPECT_EQ(box->stats().syncs, 0u);
    clock.Advance(Millis(40));  // the first write is 100 ms old: this append commits both
    MustAppend(*box, Priority::kBulk, 2, Hundred(2));
    EXPECT_EQ(box->stats().syncs, 1u);
    ASSERT_TRUE(box->Ack(1).ok());  // unsynced again from now on
    clock.Advance(Millis(99));
    ASSERT_TRUE(box->SyncIfDue().ok());
    EXPECT_EQ(box->stats().syncs, 1u);
    clock.Advance(Millis(1));  // no Append needed: the device loop's SyncIfDue commits it
    ASSERT_TRUE(box->SyncIfDue().ok());
    EXPECT_EQ(box->stats().syncs, 2u);
    ASSERT_TRUE(box->Sync().ok());  // nothing unsynced
    EXPECT_EQ(box->stats().syncs, 2u);
  }
  {
    auto box = MustOpen(Options(TempDir(), SyncPolicy::kNever), clock);
    ASSERT_NE(box, nullptr);
    MustAppend(*box, Priority::kBulk, 0, Hundred(0));
    clock.Advance(Millis(10000));
    ASSERT_TRUE(box->SyncIfDue().ok());
    EXPECT_EQ(box->stats().syncs, 0u);
    ASSERT_TRUE(box->Sync().ok());
    EXPECT_EQ(box->stats().syncs, 1u);
  }
}

// --- errors -----------------------------------------------------------------

TEST(OutboxTest, UnusableDirectoryIsAClearErrorNamingThePath) {
  ManualClock clock;
  const std::string dir = TempDir();
  const std::string file = dir + "/not-a-dir";
  ASSERT_TRUE(fs::WriteFileAtomically(file, "x", 0600).ok());
  auto box = OpenFileOutbox(Options(file + "/outbox"), clock);
  ASSERT_FALSE(box.ok());
  EXPECT_NE(box.status().message().find(file), std::string::npos) << box.status().ToString();

  // The log's name taken by a directory.
  const std::string other = TempDir();
  ASSERT_TRUE(fs::MakeDirs(other + "/" + Outbox::kLogName, 0700).ok());
  auto box2 = OpenFileOutbox(Options(other), clock);
  ASSERT_FALSE(box2.ok());
  EXPECT_NE(box2.status().message().find(other + "/" + Outbox::kLogName), std::string::npos)
      << box2.status().ToString();
}

TEST(OutboxTest, SecondOutboxOnTheSameDirectoryIsRefused) {
  ManualClock clock;
  const std::string dir = TempDir();
  auto first = MustOpen(Options(dir), clock);
  ASSERT_NE(first, nullptr);
  auto second = OpenFileOutbox(Options(dir), clock);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(dir), std::string::npos);
  first.reset();
  EXPECT_TRUE(OpenFileOutbox(Options(dir), clock).ok());
}

TEST(OutboxTest, BadArgumentsAreRefusedWithoutCounting) {
  ManualClock clock;
  auto box = MustOpen(Options(TempDir()), clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->Append(static_cast<Priority>(3), 0, Msg("t", "p")).status().code(), StatusCode::kInvalidArgument);
  OutgoingMessage m = Msg("t", "p");
  m.qos = 3;
  EXPECT_EQ(box->Append(Priority::kBulk, 0, m).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(box->stats().dropped, (std::array<uint64_t, kPriorityCount>{0, 0, 0}));
  EXPECT_EQ(OpenFileOutbox(Options(""), clock).status().code(), StatusCode::kInvalidArgument);
}

// --- storage failures on the simulated log (issue 8, Found item 1) -----------

// An outbox on a SimAppendLog; `lines` collects what it logs.
struct SimBox {
  SimAppendLog* log = nullptr;  // owned by box
  std::unique_ptr<Outbox> box;
  std::vector<std::string> lines;
};

std::unique_ptr<SimBox> OpenSim(ManualClock& clock, SyncPolicy sync, const std::string& preload = "") {
  auto sb = std::make_unique<SimBox>();
  auto log = std::make_unique<SimAppendLog>("sim:node/outbox.log");
  log->Preload(preload);
  sb->log = log.get();
  OutboxOptions o;
  o.sync = sync;
  SimBox* raw = sb.get();
  o.log = [raw](const std::string& line) { raw->lines.push_back(line); };
  auto box = Outbox::Open(std::move(log), o, clock);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  if (box.ok()) sb->box = std::move(*box);
  return sb;
}

LogFaultSpec UntilCleared(LogOp op, LogFault kind) {
  LogFaultSpec f;
  f.op = op;
  f.kind = kind;
  return f;
}

struct WriteFaultCase {
  LogFault kind;
  StatusCode code;
  const char* errno_text;
};

class OutboxWriteFaultTest : public testing::TestWithParam<WriteFaultCase> {};

TEST_P(OutboxWriteFaultTest, EveryFailedAppendIsDroppedInItsClassLoggedOnceAndTheOutboxRecovers) {
  const WriteFaultCase& c = GetParam();
  ManualClock clock;
  auto sb = OpenSim(clock, SyncPolicy::kNever);
  ASSERT_NE(sb->box, nullptr);
  Outbox& box = *sb->box;
  MustAppend(box, Priority::kBulk, 1, Hundred(1));
  MustAppend(box, Priority::kAlarm, 2, Hundred(2));

  sb->log->Inject(UntilCleared(LogOp::kAppend, c.kind));
  for (uint64_t seq : {3, 4, 5}) {
    auto id = box.Append(Priority::kBulk, seq, Hundred(static_cast<int>(seq)));
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), c.code) << id.status().ToString();
    EXPECT_NE(id.status().message().find("counted as dropped"), std::string::npos) << id.status().ToString();
  }
  ASSERT_FALSE(box.Append(Priority::kAlarm, 6, Hundred(6)).ok());
  OutboxStats st = box.stats();
  EXPECT_EQ(st.dropped, (std::array<uint64_t, kPriorityCount>{1, 0, 3}));
  EXPECT_EQ(st.storage_errors, 4u);
  EXPECT_EQ(st.depth, 2u);
  ASSERT_EQ(sb->lines.size(), 1u) << "one line per episode";
  EXPECT_NE(sb->lines[0].find("sim:node/outbox.log"), std::string::npos) << sb->lines[0];
  EXPECT_NE(sb->lines[0].find(c.errno_text), std::string::npos) << sb->lines[0];

  sb->log->ClearFaults();  // space returns
  MustAppend(box, Priority::kBulk, 7, Hundred(7));
  ASSERT_EQ(sb->lines.size(), 2u);
  EXPECT_NE(sb->lines[1].find("after 4 failed operations; 4 messages dropped meanwhile"), std::string::npos)
      << sb->lines[1];
  ASSERT_TRUE(box.Sync().ok());  // a torn write left bytes: this rewrites them away
  st = box.stats();
  EXPECT_EQ(st.depth, 3u);
  EXPECT_EQ(st.storage_errors, 4u);

  // What the disk holds is exactly the messages that were accepted.
  const std::string durable = sb->log->durable();
  sb.reset();
  auto again = OpenSim(clock, SyncPolicy::kNever, durable);
  ASSERT_NE(again->box, nullptr);
  std::vector<uint64_t> seqs;
  for (const auto& q : PeekAll(*again->box)) seqs.push_back(q.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 1, 7}));  // alarm first, then bulk FIFO
  EXPECT_EQ(again->box->stats().quarantined_records, 0u);
  EXPECT_EQ(again->box->recovered_seqs(), (std::vector<uint64_t>{1, 2, 7}));
}

INSTANTIATE_TEST_SUITE_P(
    EveryErrno, OutboxWriteFaultTest,
    testing::Values(WriteFaultCase{LogFault::kNoSpace, StatusCode::kResourceExhausted, "No space left on device"},
                    WriteFaultCase{LogFault::kIoError, StatusCode::kUnknown, "Input/output error"},
                    WriteFaultCase{LogFault::kShortWrite, StatusCode::kResourceExhausted, "No space left on device"},
                    WriteFaultCase{LogFault::kTornWrite, StatusCode::kDataLoss, "bytes of the torn write stay"}),
    [](const testing::TestParamInfo<WriteFaultCase>& p) { return std::string(LogFaultName(p.param.kind)); });

TEST(OutboxStorageTest, FailingSyncKeepsTheMessageQueuedCountsAStorageErrorAndRewritesTheLog) {
  ManualClock clock;
  auto sb = OpenSim(clock, SyncPolicy::kAlways);
  ASSERT_NE(sb->box, nullptr);
  Outbox& box = *sb->box;
  const uint64_t compactions = box.stats().compactions;
  LogFaultSpec f = UntilCleared(LogOp::kSync, LogFault::kIoError);
  f.calls = 1;
  sb->log->Inject(f);
  auto id = box.Append(Priority::kBulk, 1, Hundred(1));
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("queued and will be sent"), std::string::npos) << id.status().ToString();
  EXPECT_EQ(box.stats().dropped, (std::array<uint64_t, kPriorityCount>{0, 0, 0})) << "not a drop";
  EXPECT_EQ(box.stats().storage_errors, 1u);
  EXPECT_EQ(box.depth(), 1u);
  ASSERT_EQ(sb->lines.size(), 1u);
  EXPECT_NE(sb->lines[0].find("Input/output error"), std::string::npos) << sb->lines[0];
  // fsyncgate: the next sync must not trust fdatasync; it rewrites the log.
  MustAppend(box, Priority::kBulk, 2, Hundred(2));
  EXPECT_EQ(box.stats().compactions, compactions + 1);
  EXPECT_EQ(sb->log->calls(LogOp::kSync), 1u) << "no fdatasync after the failed one: a Replace instead";
  ASSERT_EQ(sb->lines.size(), 2u);
  EXPECT_NE(sb->lines[1].find("after 1 failed operations; 0 messages dropped"), std::string::npos) << sb->lines[1];
  // Both are durable after the rewrite (the failed fdatasync lost the first one's pages).
  const std::string durable = sb->log->durable();
  sb.reset();
  auto again = OpenSim(clock, SyncPolicy::kAlways, durable);
  EXPECT_EQ(again->box->recovered_seqs(), (std::vector<uint64_t>{1, 2}));
}

TEST(OutboxStorageTest, FailingCompactionIsCountedAndRetriedWhenSpaceReturns) {
  ManualClock clock;
  auto sb = OpenSim(clock, SyncPolicy::kNever);
  ASSERT_NE(sb->box, nullptr);
  Outbox& box = *sb->box;
  for (int i = 0; i < 4; ++i) MustAppend(box, Priority::kBulk, static_cast<uint64_t>(i), Hundred(i));
  sb->log->Inject(UntilCleared(LogOp::kReplace, LogFault::kNoSpace));
  const Status st = box.Compact();
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("compaction"), std::string::npos) << st.ToString();
  EXPECT_EQ(box.stats().compaction_failures, 1u);
  EXPECT_EQ(box.stats().storage_errors, 1u);
  EXPECT_EQ(box.depth(), 4u);
  MustAppend(box, Priority::kBulk, 9, Hundred(9));  // appends continue on the old log
  sb->log->ClearFaults();
  ASSERT_TRUE(box.Compact().ok());
  EXPECT_EQ(box.stats().storage_errors, 1u);
  ASSERT_EQ(sb->lines.size(), 2u);
  const std::string durable = sb->log->durable();
  sb.reset();
  auto again = OpenSim(clock, SyncPolicy::kNever, durable);
  EXPECT_EQ(again->box->recovered_seqs(), (std::vector<uint64_t>{0, 1, 2, 3, 9}));
}

TEST(OutboxStorageTest, FailedAckWriteIsAStorageErrorNotADrop) {
  ManualClock clock;
  auto sb = OpenSim(clock, SyncPolicy::kNever);
  ASSERT_NE(sb->box, nullptr);
  const uint64_t id = MustAppend(*sb->box, Priority::kBulk, 1, Hundred(1));
  sb->log->Inject(UntilCleared(LogOp::kAppend, LogFault::kIoError));
  EXPECT_FALSE(sb->box->Ack(id).ok());
  EXPECT_EQ(sb->box->depth(), 0u);
  EXPECT_EQ(sb->box->stats().storage_errors, 1u);
  EXPECT_EQ(sb->box->stats().dropped, (std::array<uint64_t, kPriorityCount>{0, 0, 0}));
}

TEST(OutboxStorageTest, QuarantineCopyThatFailsAtOpenKeepsTheBadBytesAndIsRetried) {
  ManualClock clock;
  std::string log;
  outbox_log::AppendHead(log, 1);
  outbox_log::AppendData(log, QueuedMessage{1, Priority::kBulk, 11, Hundred(1)});
  log += "garbage!";
  auto sim = std::make_unique<SimAppendLog>("sim:q");
  SimAppendLog* raw = sim.get();
  sim->Preload(log);
  LogFaultSpec f = UntilCleared(LogOp::kSideFile, LogFault::kNoSpace);
  f.calls = 1;
  sim->Inject(f);
  auto box = Outbox::Open(std::move(sim), OutboxOptions{}, clock);
  ASSERT_TRUE(box.ok()) << "a full disk at boot must not stop the device: " << box.status().ToString();
  EXPECT_EQ((*box)->stats().storage_errors, 1u);
  EXPECT_EQ((*box)->stats().quarantined_records, 1u);
  EXPECT_EQ((*box)->depth(), 1u);
  EXPECT_NE(raw->content().find("garbage!"), std::string::npos) << "not copied out yet: must stay";
  ASSERT_TRUE((*box)->Compact().ok());
  ASSERT_EQ(raw->side_files().count("quarantine-1.bin"), 1u);
  EXPECT_NE(raw->side_files().at("quarantine-1.bin").find("garbage!"), std::string::npos);
  EXPECT_EQ(raw->content().find("garbage!"), std::string::npos);
}

// --- threads ----------------------------------------------------------------

// Device thread appends while a "transport" thread takes and acks.
TEST(OutboxTest, AppendAndAckFromTwoThreads) {
  ManualClock clock;
  const std::string dir = TempDir();
  OutboxOptions o = Options(dir);
  o.compact_min_bytes = 8192;
  constexpr int kCount = 2000;
  {
    auto box = MustOpen(o, clock);
    ASSERT_NE(box, nullptr);
    std::atomic<int> acked{0};
    std::thread transport([&] {
      while (acked.load() < kCount) {
        for (const auto& q : box->TakeForSend(8)) {
          if (box->Ack(q.id).ok()) acked.fetch_add(1);
        }
      }
    });
    for (int i = 0; i < kCount; ++i) MustAppend(*box, i % 5 == 0 ? Priority::kAlarm : Priority::kBulk, i, Hundred(i));
    transport.join();
    EXPECT_EQ(box->depth(), 0u);
  }
  auto box = MustOpen(o, clock);
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(box->depth(), 0u);
  EXPECT_EQ(box->stats().quarantined_records, 0u);
}

}  // namespace
}  // namespace edgeforge::link
