#include "hal/sim/sim_append_log.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace edgeforge {
namespace {

LogFaultSpec Fault(LogOp op, LogFault kind, uint32_t calls = 0, uint32_t skip = 0, uint64_t seed = 1) {
  LogFaultSpec s;
  s.op = op;
  s.kind = kind;
  s.calls = calls;
  s.skip = skip;
  s.seed = seed;
  return s;
}

TEST(SimAppendLogTest, AppendsReachThePageCacheAndSyncMakesThemDurable) {
  SimAppendLog log("sim:box");
  EXPECT_EQ(log.name(), "sim:box");
  ASSERT_TRUE(log.Append("abc").ok());
  ASSERT_TRUE(log.Append("de").ok());
  EXPECT_EQ(log.Size(), 5u);
  EXPECT_EQ(*log.ReadAll(), "abcde");
  EXPECT_EQ(log.durable(), "");
  ASSERT_TRUE(log.Sync().ok());
  EXPECT_EQ(log.durable(), "abcde");
  ASSERT_TRUE(log.Replace("xy").ok());
  EXPECT_EQ(log.durable(), "xy");  // durable on return
  EXPECT_EQ(*log.ReadAll(), "xy");
}

TEST(SimAppendLogTest, PowerCutKeepsTheDurableImageAndASeededPrefixOfTheUnsyncedWrites) {
  std::set<std::string> images;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SimAppendLog log;
    ASSERT_TRUE(log.Append("synced|").ok());
    ASSERT_TRUE(log.Sync().ok());
    ASSERT_TRUE(log.Append("one|").ok());
    ASSERT_TRUE(log.Append("two|").ok());
    log.PowerCut(seed);
    const std::string image = *log.ReadAll();
    EXPECT_EQ(image, log.durable());
    EXPECT_EQ(image.rfind("synced|", 0), 0u) << "a synced byte vanished: " << image;
    EXPECT_EQ(std::string("synced|one|two|").rfind(image, 0), 0u) << "not a prefix: " << image;
    images.insert(image);
    // Deterministic: the same seed cuts at the same byte.
    SimAppendLog again;
    ASSERT_TRUE(again.Append("synced|").ok());
    ASSERT_TRUE(again.Sync().ok());
    ASSERT_TRUE(again.Append("one|").ok());
    ASSERT_TRUE(again.Append("two|").ok());
    again.PowerCut(seed);
    EXPECT_EQ(again.durable(), image);
  }
  EXPECT_TRUE(images.count("synced|")) << "unsynced bytes never vanished";
  EXPECT_TRUE(images.count("synced|one|two|")) << "the last write never survived whole";
  EXPECT_GT(images.size(), 5u) << "too few distinct tear points";
}

TEST(SimAppendLogTest, NoSpaceAndEioChangeNothingAndNameTheLog) {
  SimAppendLog log("sim:full");
  ASSERT_TRUE(log.Append("keep").ok());
  log.Inject(Fault(LogOp::kAppend, LogFault::kNoSpace, 2));
  Status st = log.Append("lost");
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("sim:full"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.ToString();
  EXPECT_EQ(log.Append("lost").code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(log.Append("!").ok()) << "the fault was for 2 calls";
  EXPECT_EQ(*log.ReadAll(), "keep!");
  EXPECT_EQ(log.faults_hit(LogOp::kAppend), 2u);

  log.Inject(Fault(LogOp::kAppend, LogFault::kIoError));
  st = log.Append("x");
  EXPECT_EQ(st.code(), StatusCode::kUnknown);
  EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.ToString();
  EXPECT_FALSE(log.Append("x").ok()) << "until cleared";
  log.ClearFaults();
  EXPECT_TRUE(log.Append("x").ok());
  EXPECT_EQ(*log.ReadAll(), "keep!x");
}

TEST(SimAppendLogTest, FaultStartsAfterSkipCalls) {
  SimAppendLog log;
  log.Inject(Fault(LogOp::kAppend, LogFault::kNoSpace, 1, 2));
  EXPECT_TRUE(log.Append("1").ok());
  EXPECT_TRUE(log.Append("2").ok());
  EXPECT_FALSE(log.Append("3").ok());
  EXPECT_TRUE(log.Append("4").ok());
  EXPECT_EQ(*log.ReadAll(), "124");
  EXPECT_EQ(log.calls(LogOp::kAppend), 4u);
}

TEST(SimAppendLogTest, ShortWriteIsCutOffAgainButATornWriteStaysAndSaysSo) {
  SimAppendLog log;
  ASSERT_TRUE(log.Append("head").ok());
  log.Inject(Fault(LogOp::kAppend, LogFault::kShortWrite, 1));
  EXPECT_EQ(log.Append("0123456789").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(log.Size(), 4u);

  log.Inject(Fault(LogOp::kAppend, LogFault::kTornWrite, 1, 0, 7));
  const Status st = log.Append("0123456789");
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_GT(log.Size(), 4u);
  EXPECT_LT(log.Size(), 14u);
  const std::string kept = std::to_string(log.Size() - 4) + " bytes of the torn write stay at offset 4";
  EXPECT_NE(st.message().find(kept), std::string::npos) << st.ToString();
  EXPECT_EQ(*log.ReadAll(), "head" + std::string("0123456789").substr(0, static_cast<size_t>(log.Size() - 4)));
}

TEST(SimAppendLogTest, FailedSyncLosesTheDirtyBytesForGoodUntilAReplace) {
  SimAppendLog log;
  ASSERT_TRUE(log.Append("ok|").ok());
  ASSERT_TRUE(log.Sync().ok());
  ASSERT_TRUE(log.Append("dirty").ok());
  log.Inject(Fault(LogOp::kSync, LogFault::kIoError, 1));
  EXPECT_EQ(log.Sync().code(), StatusCode::kUnknown);
  EXPECT_EQ(log.durable(), "ok|");
  ASSERT_TRUE(log.Append("|after").ok());
  ASSERT_TRUE(log.Sync().ok()) << "a later fdatasync succeeds...";
  EXPECT_EQ(*log.ReadAll(), "ok|dirty|after");
  EXPECT_EQ(log.durable(), std::string("ok|") + std::string(5, '\0') + "|after") << "...without the dropped pages";
  ASSERT_TRUE(log.Replace("ok|dirty|after").ok());
  EXPECT_EQ(log.durable(), "ok|dirty|after");
}

TEST(SimAppendLogTest, FailingReplaceAndSideFileChangeNothing) {
  SimAppendLog log;
  ASSERT_TRUE(log.Append("old").ok());
  log.Inject(Fault(LogOp::kReplace, LogFault::kNoSpace, 1));
  EXPECT_EQ(log.Replace("new").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*log.ReadAll(), "old");
  ASSERT_TRUE(log.Append("+").ok()) << "appends continue on the old log";
  log.Inject(Fault(LogOp::kSideFile, LogFault::kIoError, 1));
  EXPECT_FALSE(log.WriteSideFile("quarantine", "bad").ok());
  EXPECT_TRUE(log.side_files().empty());
  EXPECT_EQ(*log.WriteSideFile("quarantine", "bad"), "quarantine-1.bin");
  EXPECT_EQ(*log.WriteSideFile("quarantine", "bad2"), "quarantine-2.bin");
  EXPECT_EQ(log.side_files().at("quarantine-2.bin"), "bad2");
}

TEST(SimAppendLogTest, ArmedPowerCutDuringReplaceLeavesOldOrNewAndStopsEveryCall) {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SimAppendLog log;
    ASSERT_TRUE(log.Append("old").ok());
    ASSERT_TRUE(log.Sync().ok());
    log.ArmPowerCut(2, seed);
    ASSERT_TRUE(log.Append("+x").ok());  // call 1
    EXPECT_EQ(log.Replace("new").code(), StatusCode::kUnavailable);
    EXPECT_TRUE(log.powered_off());
    EXPECT_EQ(log.Append("y").code(), StatusCode::kUnavailable);
    EXPECT_EQ(log.ReadAll().status().code(), StatusCode::kUnavailable);
    const std::string image = log.durable();
    EXPECT_TRUE(image == "new" || std::string("old+x").rfind(image, 0) == 0) << image;
    seen.insert(image == "new" ? "new" : "old");
    log.PowerOn();
    EXPECT_EQ(*log.ReadAll(), image);
    EXPECT_TRUE(log.Append("z").ok());
  }
  EXPECT_EQ(seen.size(), 2u) << "a cut during Replace never left one of old / new";
}

TEST(SimAppendLogTest, ArmedPowerCutDuringAppendMayTearIt) {
  std::set<size_t> sizes;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    SimAppendLog log;
    log.Preload("disk");
    log.ArmPowerCut(1, seed);
    EXPECT_EQ(log.Append("0123456789").code(), StatusCode::kUnavailable);
    const std::string image = log.durable();
    EXPECT_EQ(std::string("disk0123456789").rfind(image, 0), 0u) << image;
    sizes.insert(image.size());
  }
  EXPECT_TRUE(sizes.count(4)) << "the write never vanished";
  EXPECT_GT(sizes.size(), 3u) << "the write was never torn";
}

TEST(SimAppendLogTest, NamesOfFaultKinds) {
  EXPECT_STREQ(LogFaultName(LogFault::kNoSpace), "nospace");
  EXPECT_STREQ(LogFaultName(LogFault::kTornWrite), "torn");
}

}  // namespace
}  // namespace edgeforge
