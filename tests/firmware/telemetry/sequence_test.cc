#include "firmware/telemetry/sequence.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace edgeforge::telemetry {
namespace {

std::string TempDir() {
  std::string t = testing::TempDir() + "seqXXXXXX";
  return mkdtemp(t.data());
}

TEST(SequenceTest, StartsAtZeroAndIsMonotonic) {
  FileStorage storage(TempDir());
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  EXPECT_EQ(c.boot(), 1u);
  for (uint64_t i = 0; i < 25; ++i) EXPECT_EQ(*c.Next(), i);
}

TEST(SequenceTest, CleanCloseContinuesWithoutGap) {
  FileStorage storage(TempDir());
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
    for (int i = 0; i < 3; ++i) (void)c.Next();
    ASSERT_TRUE(c.Close().ok());
  }
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  EXPECT_EQ(c.boot(), 2u);
  EXPECT_EQ(*c.Next(), 3u);
}

// A crash (no Close) must never reissue a number: the next boot resumes past the lease.
TEST(SequenceTest, CrashNeverReusesNumbers) {
  FileStorage storage(TempDir());
  uint64_t highest = 0;
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
    for (int i = 0; i < 13; ++i) highest = *c.Next();  // crosses one lease boundary
  }                                                    // destroyed without Close(): a power cut
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  const uint64_t next = *c.Next();
  EXPECT_GT(next, highest);
  EXPECT_EQ(next, 20u);  // the lease persisted before issuing 10..19
}

TEST(SequenceTest, CorruptRecordRefusesToStartNamingIt) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/" + SequenceCounter::kRecord) << "{\"seq_mark\": \"x\"";
  FileStorage storage(dir);
  SequenceCounter c(storage);
  Status s = c.Open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find(SequenceCounter::kRecord), std::string::npos);
}

TEST(SequenceTest, NextBeforeOpenFails) {
  MemoryStorage storage;
  SequenceCounter c(storage);
  EXPECT_EQ(c.Next().status().code(), StatusCode::kFailedPrecondition);
}

// ---- the issued mark: crash-loss accounting (issue 8) ----------------------------------

TEST(SequenceTest, FirstBootHasNoPreviousBoot) {
  MemoryStorage storage;
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  EXPECT_FALSE(c.previous_boot().has_value());
}

// kill -9 = the object dropped without Close(): the mark says exactly how far it got.
TEST(SequenceTest, Kill9LeavesTheExactLastIssuedSeq) {
  FileStorage storage(TempDir());
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
    for (int i = 0; i < 13; ++i) (void)c.Next();  // 0..12, lease up to 20
  }
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  ASSERT_TRUE(c.previous_boot().has_value());
  EXPECT_EQ(c.previous_boot()->boot, 1u);
  EXPECT_EQ(c.previous_boot()->issued_below, 13u);
  EXPECT_TRUE(c.previous_boot()->exact);
  EXPECT_EQ(*c.Next(), 20u);  // still never reuses: the lease
}

TEST(SequenceTest, CleanCloseIsExactAndABootWithoutSeqsKeepsTheEarlierMark) {
  MemoryStorage storage;
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
    for (int i = 0; i < 3; ++i) (void)c.Next();
    ASSERT_TRUE(c.Close().ok());
  }
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
  }  // boot 2 issues nothing, crashes
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  EXPECT_EQ(c.previous_boot()->boot, 2u);
  EXPECT_EQ(c.previous_boot()->issued_below, 3u);
  EXPECT_TRUE(c.previous_boot()->exact);
}

void Crash(Storage& storage, int issued) {
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  for (int i = 0; i < issued; ++i) (void)c.Next();
}

/// The previous boot as a fresh counter sees it.
PreviousBoot Reopen(Storage& storage) {
  SequenceCounter c(storage, 10);
  EXPECT_TRUE(c.Open().ok());
  return c.previous_boot().value_or(PreviousBoot{});
}

// A boot that issued nothing reports the last seq really issued, not the
// lease limit it started at (those numbers were never issued by anyone).
TEST(SequenceTest, ABootThatIssuedNothingCarriesTheEarlierLastSeqNotTheLeaseGap) {
  MemoryStorage storage;
  Crash(storage, 13);  // boot 1: 0..12, lease up to 20
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
  }                                  // boot 2: nothing, crash
  PreviousBoot p = Reopen(storage);  // boot 3: nothing, crash
  EXPECT_EQ(p.boot, 2u);
  EXPECT_EQ(p.issued_below, 13u);
  EXPECT_TRUE(p.exact);
  {
    SequenceCounter c(storage, 10);  // boot 4: nothing, clean stop
    ASSERT_TRUE(c.Open().ok());
    ASSERT_TRUE(c.Close().ok());
  }
  p = Reopen(storage);  // boot 5
  EXPECT_EQ(p.boot, 4u);
  EXPECT_EQ(p.issued_below, 13u);
  EXPECT_TRUE(p.exact);
}

// An upper bound stays an upper bound through boots that issue nothing.
TEST(SequenceTest, InexactFigureIsInheritedAsInexact) {
  const std::string dir = TempDir();
  {
    FileStorage storage(dir);
    Crash(storage, 13);
  }
  std::ofstream(dir + "/" + SequenceCounter::kIssuedRecord, std::ios::trunc) << "garbage";
  {
    FileStorage storage(dir);
    EXPECT_FALSE(Reopen(storage).exact);  // boot 2 opens (20, inexact) and crashes
  }
  FileStorage storage(dir);
  const PreviousBoot p = Reopen(storage);
  EXPECT_EQ(p.boot, 2u);
  EXPECT_EQ(p.issued_below, 20u);
  EXPECT_FALSE(p.exact);
}

TEST(SequenceTest, TornOrGarbageMarkFallsBackToTheLeaseNotExact) {
  const std::string dir = TempDir();
  FileStorage storage(dir);
  Crash(storage, 13);
  const std::string path = dir + "/" + SequenceCounter::kIssuedRecord;
  std::string file;
  {
    std::ifstream in(path);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(file.size(), 90u);
  std::string torn = file;
  torn[torn.size() - 35] = torn[torn.size() - 35] == '1' ? '2' : '1';  // a digit of `next`: the sum no longer matches
  std::ofstream(path, std::ios::trunc) << torn;
  FileStorage again(dir);
  const PreviousBoot p = Reopen(again);
  EXPECT_FALSE(p.exact);
  EXPECT_EQ(p.issued_below, 20u) << "the lease limit: an upper bound";

  std::ofstream(path, std::ios::trunc) << file.substr(0, file.size() - 40);  // torn short
  FileStorage third(dir);
  EXPECT_FALSE(Reopen(third).exact);
}

// A power cut can leave a stale but well-formed mark: one written before the
// machine restarted is never trusted.
TEST(SequenceTest, MarkFromBeforeAMachineRestartIsNotTrusted) {
  const std::string dir = TempDir();
  {
    FileStorage storage(dir);
    Crash(storage, 13);
  }
  const std::string path = dir + "/" + SequenceCounter::kIssuedRecord;
  std::string file;
  {
    std::ifstream in(path);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  file[0] = file[0] == '0' ? '1' : '0';  // another kernel boot id
  std::ofstream(path, std::ios::trunc) << file;
  FileStorage storage(dir);
  const PreviousBoot p = Reopen(storage);
  EXPECT_FALSE(p.exact);
  EXPECT_EQ(p.issued_below, 20u);
}

TEST(SequenceTest, MarkOfAnotherBootOrOutsideTheLeaseIsNotTrusted) {
  MemoryStorage storage;
  Crash(storage, 3);  // boot 1, lease 10
  ASSERT_TRUE(storage.Overwrite(SequenceCounter::kIssuedRecord, EncodeIssuedMark({1, 11})).ok());
  PreviousBoot p = Reopen(storage);  // boot 2 opens, crashes at once
  EXPECT_FALSE(p.exact);
  EXPECT_EQ(p.issued_below, 10u);
  ASSERT_TRUE(storage.Overwrite(SequenceCounter::kIssuedRecord, EncodeIssuedMark({1, 10})).ok());
  p = Reopen(storage);  // the mark names boot 1, the lease record boot 2
  EXPECT_FALSE(p.exact);
}

TEST(SequenceTest, IssuedMarkCodecRejectsAnythingButItsOwnBytes) {
  const std::string line = EncodeIssuedMark({7, 1234});
  EXPECT_EQ(line.size(), 98u);
  ASSERT_TRUE(DecodeIssuedMark(line).has_value());
  EXPECT_EQ(DecodeIssuedMark(line)->next, 1234u);
  EXPECT_FALSE(DecodeIssuedMark("").has_value());
  EXPECT_FALSE(DecodeIssuedMark(std::string(90, '\0')).has_value());
  std::string plus = line;
  plus[plus.find("boot=") + 5] = '+';
  EXPECT_FALSE(DecodeIssuedMark(plus).has_value());
}

/// MemoryStorage whose Overwrite fails (a full or failing disk under the mark).
class NoOverwriteStorage final : public Storage {
 public:
  MemoryStorage inner;

 private:
  Result<std::string> DoRead(const std::string& n) override { return inner.Read(n); }
  Status DoWriteAtomic(const std::string& n, const std::string& d) override { return inner.WriteAtomic(n, d); }
  Status DoOverwrite(const std::string&, const std::string&) override { return Unavailable("disk says no"); }
  Result<std::string> DoReadOverwritten(const std::string& n) override { return inner.ReadOverwritten(n); }
};

// If the mark cannot be written, the durable lease record says so before a
// seq is issued past it: a stale mark never makes the next boot under-count.
TEST(SequenceTest, FailingMarkIsDisownedDurablyAndTheLeaseIsUsed) {
  NoOverwriteStorage storage;
  ASSERT_TRUE(storage.inner.Overwrite(SequenceCounter::kIssuedRecord, EncodeIssuedMark({1, 2})).ok());
  {
    SequenceCounter c(storage, 10);
    ASSERT_TRUE(c.Open().ok());
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(c.Next().ok());
  }
  EXPECT_NE(storage.Read(SequenceCounter::kRecord)->find("\"issued_mark\":false"), std::string::npos);
  SequenceCounter c(storage, 10);
  ASSERT_TRUE(c.Open().ok());
  EXPECT_FALSE(c.previous_boot()->exact);
  EXPECT_EQ(c.previous_boot()->issued_below, 10u);
}

}  // namespace
}  // namespace edgeforge::telemetry
