#include "firmware/pipeline/schedule.h"

#include <gtest/gtest.h>

namespace edgeforge::pipeline {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ScheduleTest, FiresOncePerPeriod) {
  Periodic p(seconds(1));
  p.Start(seconds(0));
  auto t = p.Poll(seconds(0));
  EXPECT_TRUE(t.due);
  EXPECT_EQ(t.skipped, 0u);
  EXPECT_EQ(p.next_due(), seconds(1));
  EXPECT_FALSE(p.Poll(milliseconds(999)).due);
  EXPECT_TRUE(p.Poll(seconds(1)).due);
  EXPECT_FALSE(p.Poll(seconds(1)).due) << "fires once per deadline";
  EXPECT_EQ(p.next_due(), seconds(2));
}

TEST(ScheduleTest, SlightlyLatePollKeepsThePhase) {
  Periodic p(milliseconds(250));
  p.Start(seconds(10));
  EXPECT_FALSE(p.Poll(seconds(9)).due);
  auto t = p.Poll(milliseconds(10'040));
  EXPECT_TRUE(t.due);
  EXPECT_EQ(t.skipped, 0u);
  EXPECT_EQ(p.next_due(), milliseconds(10'250)) << "no drift by the 40 ms of lateness";
}

TEST(ScheduleTest, LatePollFiresOnceAndCountsTheSkippedDeadlines) {
  Periodic p(seconds(1));
  p.Start(seconds(0));
  (void)p.Poll(seconds(0));
  (void)p.Poll(seconds(1));
  // Busy from 1 s to 4.5 s: the deadlines at 2, 3 and 4 s have passed.
  auto t = p.Poll(milliseconds(4'500));
  EXPECT_TRUE(t.due);
  EXPECT_EQ(t.skipped, 2u);  // one of the three is served now
  EXPECT_EQ(p.next_due(), seconds(5));
  EXPECT_FALSE(p.Poll(milliseconds(4'600)).due) << "no burst of catch-up samples";
}

}  // namespace
}  // namespace edgeforge::pipeline
