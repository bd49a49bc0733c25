#include "hal/sim/sim_gpio.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "tests/hal/sim/sim_test_support.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using testing_support::CountedFault;
using testing_support::RandomFault;
using Direction = SimGpioLine::Direction;

std::vector<GpioEvent> ReadAll(SimGpioLine& line) {
  std::vector<GpioEvent> all;
  GpioEvent buf[4];
  for (;;) {
    Result<size_t> n = line.ReadEvents(buf, Millis(0));
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) return all;
    all.insert(all.end(), buf, buf + *n);
  }
}

bool Level(SimGpioLine& line) {
  Result<bool> level = line.Get();
  EXPECT_TRUE(level.ok());
  return level.ok() && *level;
}

std::vector<uint64_t> Seqnos(const std::vector<GpioEvent>& events) {
  std::vector<uint64_t> out;
  for (const GpioEvent& e : events) out.push_back(e.line_seqno);
  return out;
}

TEST(SimGpioLine, DriveIsVisibleOnlyOnceTheClockReachesIt) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  ASSERT_TRUE(line.Drive(true, Micros(100)).ok());
  EXPECT_FALSE(Level(line));
  EXPECT_TRUE(ReadAll(line).empty());
  clock.AdvanceTo(Micros(99));
  EXPECT_FALSE(Level(line));
  EXPECT_TRUE(ReadAll(line).empty());
  clock.AdvanceTo(Micros(100));
  EXPECT_TRUE(Level(line));
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].edge, GpioEdge::kRising);
  EXPECT_EQ(events[0].timestamp, Micros(100));
  EXPECT_EQ(events[0].line_seqno, 1u);
}

TEST(SimGpioLine, EdgesCarryTheirScheduledInstantsAndNumbers) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  ASSERT_TRUE(line.Drive(true, Micros(10)).ok());
  ASSERT_TRUE(line.Drive(false, Micros(20)).ok());
  ASSERT_TRUE(line.Drive(true, Micros(30)).ok());
  clock.AdvanceTo(Micros(1000));  // read late: the stamps stay the edge instants
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].edge, GpioEdge::kRising);
  EXPECT_EQ(events[1].edge, GpioEdge::kFalling);
  EXPECT_EQ(events[2].edge, GpioEdge::kRising);
  EXPECT_EQ(events[0].timestamp, Micros(10));
  EXPECT_EQ(events[1].timestamp, Micros(20));
  EXPECT_EQ(events[2].timestamp, Micros(30));
  EXPECT_EQ(Seqnos(events), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(SimGpioLine, ReadEventsCopiesAtMostTheBufferAndKeepsTheRest) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(line.Drive(i % 2 == 1, Micros(i)).ok());
  clock.AdvanceTo(Micros(5));
  GpioEvent two[2];
  Result<size_t> n = line.ReadEvents(two, Millis(0));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(two[1].line_seqno, 2u);
  EXPECT_EQ(Seqnos(ReadAll(line)), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(SimGpioLine, FullBufferDropsTheOldestAndLeavesASeqnoGap) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput, /*event_buffer=*/2);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(line.Drive(i % 2 == 1, Micros(i * 10)).ok());
  clock.AdvanceTo(Micros(50));
  std::vector<GpioEvent> events = ReadAll(line);
  // gpiolib-cdev keeps the newest events: the reader sees 1..3 missing.
  EXPECT_EQ(Seqnos(events), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(events[0].timestamp, Micros(40));
  EXPECT_EQ(line.dropped_events(), 3u);
  EXPECT_TRUE(Level(line));  // the level is not lost with the events
}

TEST(SimGpioLine, OutOfOrderDriveIsRejected) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  ASSERT_TRUE(line.Drive(true, Micros(50)).ok());
  Status s = line.Drive(false, Micros(40));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("40 us"));
  EXPECT_THAT(s.message(), HasSubstr("50 us"));
  EXPECT_TRUE(line.Drive(false, Micros(50)).ok());  // same instant is in order
}

TEST(SimGpioLine, DrivingTheSameLevelIsNoEdge) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  ASSERT_TRUE(line.Drive(false, Micros(5)).ok());  // already inactive
  ASSERT_TRUE(line.Drive(true, Micros(10)).ok());
  ASSERT_TRUE(line.Drive(true, Micros(20)).ok());
  clock.AdvanceTo(Micros(30));
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].timestamp, Micros(10));
}

TEST(SimGpioLine, DirectionIsEnforced) {
  ManualClock clock;
  SimGpioLine in(clock, Direction::kInput);
  SimGpioLine out(clock, Direction::kOutput);
  EXPECT_EQ(in.Set(true).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.Drive(true, Micros(1)).code(), StatusCode::kFailedPrecondition);
  GpioEvent buf[1];
  EXPECT_EQ(out.ReadEvents(buf, Millis(0)).status().code(), StatusCode::kFailedPrecondition);
}

TEST(SimGpioLine, OutputSetIsReadBackAndSeenByTheModel) {
  ManualClock clock;
  SimGpioLine out(clock, Direction::kOutput);
  EXPECT_FALSE(Level(out));
  ASSERT_TRUE(out.Set(true).ok());
  EXPECT_TRUE(Level(out));
  EXPECT_TRUE(out.output_level());
  ASSERT_TRUE(out.Set(false).ok());
  EXPECT_FALSE(out.output_level());
}

TEST(SimGpioLineFault, DisconnectReadsInactiveAndLosesEdgesUnnumbered) {
  for (FaultKind kind : {FaultKind::kDisconnect, FaultKind::kNack}) {
    ManualClock clock;
    SimGpioLine line(clock, Direction::kInput);
    ASSERT_TRUE(line.Drive(true, Micros(5)).ok());
    clock.AdvanceTo(Micros(5));
    line.InjectFault({kind});
    EXPECT_FALSE(Level(line)) << FaultKindName(kind);
    ASSERT_TRUE(line.Drive(false, Micros(10)).ok());
    ASSERT_TRUE(line.Drive(true, Micros(20)).ok());
    clock.AdvanceTo(Micros(25));
    std::vector<GpioEvent> events = ReadAll(line);
    ASSERT_EQ(events.size(), 1u);  // only the edge from before the cut
    EXPECT_EQ(events[0].timestamp, Micros(5));
    EXPECT_EQ(line.faults_hit(), 2u);

    line.ClearFault();
    EXPECT_TRUE(Level(line));
    ASSERT_TRUE(line.Drive(false, Micros(30)).ok());
    clock.AdvanceTo(Micros(30));
    events = ReadAll(line);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].line_seqno, 2u);  // the kernel never saw the lost ones
    EXPECT_EQ(line.dropped_events(), 0u);
  }
}

TEST(SimGpioLineFault, TimeoutLosesEdgesButTheLevelReads) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  line.InjectFault({FaultKind::kTimeout});
  ASSERT_TRUE(line.Drive(true, Micros(10)).ok());
  clock.AdvanceTo(Micros(10));
  EXPECT_TRUE(ReadAll(line).empty());
  EXPECT_TRUE(Level(line));
}

TEST(SimGpioLineFault, StuckFreezesTheLevelAtInjection) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  ASSERT_TRUE(line.Drive(true, Micros(10)).ok());
  ASSERT_TRUE(line.Drive(false, Micros(20)).ok());
  clock.AdvanceTo(Micros(10));
  line.InjectFault({FaultKind::kStuck});
  clock.AdvanceTo(Micros(30));
  EXPECT_TRUE(Level(line));  // frozen active though the pin fell at 20
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 1u);  // the rising edge at 10 happened before the fault
  EXPECT_EQ(events[0].edge, GpioEdge::kRising);
  line.ClearFault();
  EXPECT_FALSE(Level(line));
}

TEST(SimGpioLineFault, LimitedEdgesThenHealthy) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  line.InjectFault(CountedFault(FaultKind::kDisconnect, 2));
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(line.Drive(i % 2 == 1, Micros(i * 10)).ok());
  clock.AdvanceTo(Micros(40));
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].timestamp, Micros(30));
  EXPECT_EQ(events[0].edge, GpioEdge::kRising);
  EXPECT_EQ(Seqnos(events), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(Level(line));  // healthy again: the true (inactive) level
  EXPECT_EQ(line.faults_hit(), 2u);
}

TEST(SimGpioLineFault, NoiseBouncesEdgesAndFlipsReads) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput);
  FaultSpec spec;
  spec.kind = FaultKind::kNoise;
  spec.probability = 1.0;
  line.InjectFault(spec);
  ASSERT_TRUE(line.Drive(true, Micros(10)).ok());
  clock.AdvanceTo(Micros(10));
  std::vector<GpioEvent> events = ReadAll(line);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].edge, GpioEdge::kRising);
  EXPECT_EQ(events[1].edge, GpioEdge::kFalling);
  EXPECT_EQ(events[2].edge, GpioEdge::kRising);
  for (const GpioEvent& e : events) EXPECT_EQ(e.timestamp, Micros(10));
  EXPECT_EQ(Seqnos(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(Level(line));  // p = 1: every read inverted
  line.ClearFault();
  EXPECT_TRUE(Level(line));
}

std::vector<size_t> BouncePattern(uint64_t seed) {
  ManualClock clock;
  SimGpioLine line(clock, Direction::kInput, 1024);
  line.InjectFault(RandomFault(FaultKind::kNoise, 0.3, seed));
  std::vector<size_t> per_edge;
  for (int i = 1; i <= 40; ++i) {
    EXPECT_TRUE(line.Drive(i % 2 == 1, Micros(i)).ok());
    clock.AdvanceTo(Micros(i));
    per_edge.push_back(ReadAll(line).size());
  }
  return per_edge;
}

TEST(SimGpioLineFault, BouncesRepeatWithTheSeed) {
  const std::vector<size_t> first = BouncePattern(9);
  EXPECT_EQ(first, BouncePattern(9));
  EXPECT_NE(first, BouncePattern(10));
  const auto bounced = std::count(first.begin(), first.end(), 3u);
  EXPECT_GT(bounced, 2);
  EXPECT_LT(bounced, 30);
  EXPECT_EQ(std::count(first.begin(), first.end(), 1u) + bounced, 40);
}

TEST(SimGpioLineFault, OutputFaultsChangeWhatTheModelSees) {
  ManualClock clock;
  SimGpioLine out(clock, Direction::kOutput);
  ASSERT_TRUE(out.Set(true).ok());
  out.InjectFault({FaultKind::kDisconnect});
  EXPECT_FALSE(out.output_level());  // cut wire: pulled inactive
  ASSERT_TRUE(out.Set(true).ok());
  EXPECT_FALSE(out.output_level());
  EXPECT_TRUE(Level(out));  // the firmware reads back its own latch
  out.ClearFault();
  EXPECT_TRUE(out.output_level());

  out.InjectFault({FaultKind::kStuck});
  ASSERT_TRUE(out.Set(false).ok());
  EXPECT_TRUE(out.output_level());

  out.InjectFault(CountedFault(FaultKind::kTimeout, 1));
  ASSERT_TRUE(out.Set(false).ok());  // lost
  EXPECT_TRUE(out.output_level());
  ASSERT_TRUE(out.Set(false).ok());  // lands
  EXPECT_FALSE(out.output_level());
  EXPECT_EQ(out.faults_hit(), 1u);

  FaultSpec noise;
  noise.kind = FaultKind::kNoise;
  out.InjectFault(noise);
  ASSERT_TRUE(out.Set(true).ok());
  EXPECT_FALSE(out.output_level());
}

}  // namespace
}  // namespace edgeforge
