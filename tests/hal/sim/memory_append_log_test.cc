#include "hal/sim/memory_append_log.h"

#include <gtest/gtest.h>

#include "hal/sim/sim_append_log.h"

namespace edgeforge {
namespace {

TEST(MemoryAppendLogTest, FollowsTheAppendLogContract) {
  MemoryAppendLog log("mem:dev1");
  EXPECT_EQ(log.name(), "mem:dev1");
  ASSERT_TRUE(log.ReadAll().ok());
  EXPECT_EQ(*log.ReadAll(), "");
  ASSERT_TRUE(log.Append("ab").ok());
  ASSERT_TRUE(log.Append("cd").ok());
  ASSERT_TRUE(log.Sync().ok());
  EXPECT_EQ(*log.ReadAll(), "abcd");
  EXPECT_EQ(log.Size(), 4u);
  ASSERT_TRUE(log.Replace("x").ok());
  EXPECT_EQ(*log.ReadAll(), "x");
  EXPECT_EQ(log.Size(), 1u);

  EXPECT_EQ(log.ReadRecord("outbox.floor").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(log.ReplaceRecord("outbox.floor", "f").ok());
  EXPECT_EQ(*log.ReadRecord("outbox.floor"), "f");

  auto first = log.WriteSideFile("quarantine", "bad1");
  auto second = log.WriteSideFile("quarantine", "bad2");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, "mem:dev1:quarantine-1.bin");
  EXPECT_EQ(*second, "mem:dev1:quarantine-2.bin");
  EXPECT_EQ(log.side_files().at("quarantine-2.bin"), "bad2");
}

// The reason it exists (memory_append_log.h): far leaner than SimAppendLog.
TEST(MemoryAppendLogTest, IsSmallerThanSimAppendLog) { EXPECT_LT(sizeof(MemoryAppendLog) * 4, sizeof(SimAppendLog)); }

}  // namespace
}  // namespace edgeforge
