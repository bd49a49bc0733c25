// The fleet scheduler's pure parts (sim/fleet/scheduler.h): how devices are
// dealt to workers and how the connect ramp paces CONNECTs, on a ManualClock.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "hal/clock.h"
#include "sim/fleet/scheduler.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

TEST(PartitionDevicesTest, EveryDeviceOnExactlyOneWorkerInTurn) {
  const auto parts = PartitionDevices(10, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], (std::vector<size_t>{0, 3, 6, 9}));
  EXPECT_EQ(parts[1], (std::vector<size_t>{1, 4, 7}));
  EXPECT_EQ(parts[2], (std::vector<size_t>{2, 5, 8}));
  std::set<size_t> seen;
  for (const auto& p : parts) seen.insert(p.begin(), p.end());
  EXPECT_EQ(seen.size(), 10u);
  for (size_t w = 0; w < parts.size(); ++w) {
    for (size_t i : parts[w]) EXPECT_EQ(WorkerOf(i, 3), w) << "the outbox store of device " << i;
  }
}

TEST(PartitionDevicesTest, SharesDifferByAtMostOne) {
  const auto parts = PartitionDevices(1001, 4);
  for (const auto& p : parts) {
    EXPECT_GE(p.size(), 250u);
    EXPECT_LE(p.size(), 251u);
  }
}

TEST(ResolveWorkersTest, DefaultIsTheCoresNeverMoreThanDevices) {
  EXPECT_GE(ResolveWorkers(0, 1000), 1);
  EXPECT_EQ(ResolveWorkers(0, 1000), std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_EQ(ResolveWorkers(8, 3), 3);
  EXPECT_EQ(ResolveWorkers(2, 1000), 2);
  EXPECT_EQ(ResolveWorkers(0, 1), 1);
}

TEST(ConnectRampTest, PacesConnectsAtTheRateOnAManualClock) {
  ManualClock clock(0);
  const ConnectRamp ramp(50, clock.Monotonic());  // 50 CONNECTs/s: one every 20 ms
  EXPECT_EQ(ramp.DueBy(clock.Monotonic()), 1u) << "device 0 at once";
  clock.Advance(Micros(19'999));
  EXPECT_EQ(ramp.DueBy(clock.Monotonic()), 1u);
  clock.Advance(Micros(1));
  EXPECT_EQ(ramp.DueBy(clock.Monotonic()), 2u);
  // Stepping the clock in 7 ms ticks, the way a worker wakes: never more
  // started than the rate allows over the elapsed time.
  size_t started = 2;
  for (int tick = 0; tick < 1000; ++tick) {
    clock.Advance(Micros(7'000));
    const size_t due = ramp.DueBy(clock.Monotonic());
    EXPECT_GE(due, started);
    started = due;
    // In whole microseconds: started <= elapsed * 50/s + 1 (device 0 at 0).
    const int64_t elapsed_us = clock.Monotonic().count();
    const int64_t n = static_cast<int64_t>(started);
    EXPECT_LE(n * 1'000'000, elapsed_us * 50 + 1'000'000) << "tick " << tick;
    EXPECT_GT(n * 1'000'000, elapsed_us * 50) << "tick " << tick;
  }
  EXPECT_EQ(ramp.SlotOf(300), Micros(6'000'000)) << "300 devices at 50/s: the last starts after 6 s";
}

TEST(ConnectRampTest, SlotsAndDueByAgreeAtEveryEdge) {
  const ConnectRamp ramp(3, Micros(1'000));  // 333,333.3 us apart: rounding at every slot
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(ramp.DueBy(ramp.SlotOf(i)), i + 1) << i;
    EXPECT_EQ(ramp.DueBy(ramp.SlotOf(i) - Micros(1)), i) << i;
  }
  EXPECT_EQ(ramp.DueBy(Micros(0)), 0u) << "before the ramp starts";
}

TEST(ConnectRampTest, DefaultWindowIsTheRampPlus30Seconds) {
  EXPECT_EQ(DefaultConnectWindow(5000, 500), 40s);
  EXPECT_EQ(DefaultConnectWindow(1, 500), 30002ms);
}

// The progress line (live on a terminal, every 5 s otherwise): connected of
// target, the rate achieved over the last interval against the schedule, the
// counters, and errors by kind (only the kinds that happened).
TEST(ProgressLineTest, SaysRateAgainstScheduleAndErrorsByKind) {
  FleetSnapshot before;
  before.elapsed_s = 10;
  before.published = 1000;
  FleetSnapshot now = before;
  now.devices = 2000;
  now.connected = 2000;
  now.online = 1998;
  now.up = true;
  now.elapsed_s = 15;
  now.published = 10950;
  now.delivered = 11000;
  now.queued = 12;
  now.verified = 10900;
  EXPECT_EQ(ProgressLine(now, before, 5, 2000),
            "t=15s connected 2000/2000 (1998 online) | 1990 msg/s of 2000 | published 10950, acked 11000, "
            "verified 10900, queued 12 | errors: none");
  now.connections_lost = 2;
  now.refused = 1;
  now.verified = -1;  // no verifier
  now.up = false;
  EXPECT_EQ(ProgressLine(now, before, 5, 7.5),
            "t=15s connected 2000/2000 (1998 online) | 1990 msg/s of 7.5 (connecting) | published 10950, acked 11000, "
            "queued 12 | errors: 1 refused, 2 connections lost");
}

}  // namespace
}  // namespace edgeforge::sim
