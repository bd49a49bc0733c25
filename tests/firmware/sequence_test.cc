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
  }  // destroyed without Close(): a power cut
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

}  // namespace
}  // namespace edgeforge::telemetry
