#include "hal/sim/sim_uart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "tests/hal/sim/sim_test_support.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using testing_support::CountedFault;
using testing_support::RandomFault;

class Sink final : public UartPeripheral {
 public:
  std::string received;

 private:
  void OnHostWrite(ConstBytes data) override { received.append(data.begin(), data.end()); }
};

std::string ReadUpTo(SimUart& uart, size_t max) {
  std::vector<uint8_t> buf(max);
  Result<size_t> n = uart.Read(buf, Millis(0));
  EXPECT_TRUE(n.ok());
  return n.ok() ? std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n)) : std::string();
}

TEST(SimUart, BytesArriveOnlyOnceTheClockReachesThem) {
  ManualClock clock;
  SimUart uart(clock);
  ASSERT_TRUE(uart.Feed(AsBytes("abc"), Micros(100)).ok());
  EXPECT_EQ(ReadUpTo(uart, 16), "");
  clock.AdvanceTo(Micros(99));
  EXPECT_EQ(ReadUpTo(uart, 16), "");
  clock.AdvanceTo(Micros(100));
  EXPECT_EQ(ReadUpTo(uart, 16), "abc");
  EXPECT_EQ(ReadUpTo(uart, 16), "");
}

TEST(SimUart, PartialReadsKeepTheRestInOrder) {
  ManualClock clock;
  SimUart uart(clock);
  ASSERT_TRUE(uart.Feed(AsBytes("hello"), Micros(0)).ok());
  ASSERT_TRUE(uart.Feed(AsBytes("!"), Micros(10)).ok());
  EXPECT_EQ(ReadUpTo(uart, 2), "he");
  EXPECT_EQ(ReadUpTo(uart, 16), "llo");  // "!" is not due yet
  clock.AdvanceTo(Micros(10));
  EXPECT_EQ(ReadUpTo(uart, 16), "!");
}

TEST(SimUart, FullBufferCountsOverrun) {
  ManualClock clock;
  SimUart uart(clock, /*rx_buffer=*/4);
  ASSERT_TRUE(uart.Feed(AsBytes("abcdef"), Micros(0)).ok());
  EXPECT_EQ(ReadUpTo(uart, 16), "abcd");
  EXPECT_EQ(uart.overrun_bytes(), 2u);
}

TEST(SimUart, OutOfOrderFeedIsRejected) {
  ManualClock clock;
  SimUart uart(clock);
  ASSERT_TRUE(uart.Feed(AsBytes("a"), Micros(20)).ok());
  Status s = uart.Feed(AsBytes("b"), Micros(10));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("10 us"));
}

TEST(SimUart, HostWritesReachTheAttachedPeripheral) {
  ManualClock clock;
  SimUart uart(clock);
  EXPECT_TRUE(uart.Write(AsBytes("lost"), Millis(1)).ok());  // open line: no error
  Sink sink;
  uart.Attach(&sink);
  ASSERT_TRUE(uart.Write(AsBytes("$PMTK"), Millis(1)).ok());
  ASSERT_TRUE(uart.Write(AsBytes("220*2C\r\n"), Millis(1)).ok());
  EXPECT_EQ(sink.received, "$PMTK220*2C\r\n");
}

TEST(SimUartFault, DisconnectLosesBothDirectionsButKeepsWhatAlreadyArrived) {
  for (FaultKind kind : {FaultKind::kDisconnect, FaultKind::kNack}) {
    ManualClock clock;
    SimUart uart(clock);
    Sink sink;
    uart.Attach(&sink);
    ASSERT_TRUE(uart.Feed(AsBytes("old"), Micros(0)).ok());
    ASSERT_TRUE(uart.Feed(AsBytes("cut"), Micros(10)).ok());
    uart.InjectFault({kind});
    clock.AdvanceTo(Micros(10));
    EXPECT_EQ(ReadUpTo(uart, 16), "old") << FaultKindName(kind);  // in the tty buffer before the cut
    EXPECT_TRUE(uart.Write(AsBytes("cmd"), Millis(1)).ok());
    EXPECT_EQ(sink.received, "");
    EXPECT_EQ(uart.faults_hit(), 2u);

    uart.ClearFault();
    EXPECT_EQ(ReadUpTo(uart, 16), "");  // "cut" never arrived
    ASSERT_TRUE(uart.Feed(AsBytes("new"), Micros(20)).ok());
    clock.AdvanceTo(Micros(20));
    EXPECT_EQ(ReadUpTo(uart, 16), "new");
    ASSERT_TRUE(uart.Write(AsBytes("cmd"), Millis(1)).ok());
    EXPECT_EQ(sink.received, "cmd");
  }
}

TEST(SimUartFault, TimeoutStallsReadsAndFailsWrites) {
  ManualClock clock;
  SimUart uart(clock);
  Sink sink;
  uart.Attach(&sink);
  uart.InjectFault({FaultKind::kTimeout});
  ASSERT_TRUE(uart.Feed(AsBytes("held"), Micros(5)).ok());
  clock.AdvanceTo(Micros(5));
  EXPECT_EQ(ReadUpTo(uart, 16), "");
  Status s = uart.Write(AsBytes("cmd"), Millis(30));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("30 ms"));
  EXPECT_EQ(sink.received, "");
  uart.ClearFault();
  EXPECT_EQ(ReadUpTo(uart, 16), "held");  // delivered once the stall ends
}

TEST(SimUartFault, LimitedTransactionsThenHealthy) {
  ManualClock clock;
  SimUart uart(clock);
  uart.InjectFault(CountedFault(FaultKind::kTimeout, 2));
  ASSERT_TRUE(uart.Feed(AsBytes("x"), Micros(0)).ok());
  EXPECT_EQ(ReadUpTo(uart, 4), "");
  EXPECT_EQ(uart.Write(AsBytes("y"), Millis(1)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ReadUpTo(uart, 4), "x");
  EXPECT_TRUE(uart.Write(AsBytes("y"), Millis(1)).ok());
  EXPECT_EQ(uart.faults_hit(), 2u);
}

TEST(SimUartFault, StuckRepeatsTheFirstChunkAndLosesNewBytes) {
  ManualClock clock;
  SimUart uart(clock);
  Sink sink;
  uart.Attach(&sink);
  uart.InjectFault({FaultKind::kStuck});
  EXPECT_EQ(ReadUpTo(uart, 16), "");  // nothing yet: nothing to freeze
  ASSERT_TRUE(uart.Feed(AsBytes("T=21.5\n"), Micros(10)).ok());
  ASSERT_TRUE(uart.Feed(AsBytes("T=22.0\n"), Micros(20)).ok());
  clock.AdvanceTo(Micros(10));
  EXPECT_EQ(ReadUpTo(uart, 16), "T=21.5\n");
  clock.AdvanceTo(Micros(20));
  EXPECT_EQ(ReadUpTo(uart, 16), "T=21.5\n");
  EXPECT_EQ(ReadUpTo(uart, 3), "T=2");
  ASSERT_TRUE(uart.Write(AsBytes("R"), Millis(1)).ok());
  EXPECT_EQ(sink.received, "R");
  uart.ClearFault();
  EXPECT_EQ(ReadUpTo(uart, 16), "");  // T=22.0 arrived while stuck: gone
}

std::vector<uint8_t> NoisyBytes(uint64_t seed) {
  ManualClock clock;
  SimUart uart(clock);
  uart.InjectFault(RandomFault(FaultKind::kNoise, 0.1, seed));
  std::vector<uint8_t> zeros(1000, 0);
  EXPECT_TRUE(uart.Feed(zeros, Micros(0)).ok());
  std::vector<uint8_t> rx(1000);
  Result<size_t> n = uart.Read(rx, Millis(0));
  EXPECT_TRUE(n.ok() && *n == 1000);
  return rx;
}

TEST(SimUartFault, NoiseFlipsReceivedBitsAtRoughlyTheRate) {
  const std::vector<uint8_t> rx = NoisyBytes(21);
  size_t flipped = 0;
  for (uint8_t b : rx) flipped += std::bitset<8>(b).count();
  EXPECT_GE(flipped, 500u);
  EXPECT_LE(flipped, 1100u);
  EXPECT_EQ(rx, NoisyBytes(21));
  EXPECT_NE(rx, NoisyBytes(22));
}

TEST(SimUartFault, NoiseLeavesWritesClean) {
  ManualClock clock;
  SimUart uart(clock);
  Sink sink;
  uart.Attach(&sink);
  uart.InjectFault({FaultKind::kNoise});  // p = 1: every received bit would flip
  ASSERT_TRUE(uart.Write(AsBytes("ok"), Millis(1)).ok());
  EXPECT_EQ(sink.received, "ok");
  const uint8_t low_nibble[] = {0x0F};
  ASSERT_TRUE(uart.Feed(low_nibble, Micros(0)).ok());
  uint8_t b[1] = {};
  ASSERT_TRUE(uart.Read(b, Millis(0)).ok());
  EXPECT_EQ(b[0], 0xF0);
}

std::string LossyLine(uint64_t seed) {
  ManualClock clock;
  SimUart uart(clock);
  uart.InjectFault(RandomFault(FaultKind::kDisconnect, 0.5, seed));
  std::string got;
  for (int i = 0; i < 48; ++i) {
    const uint8_t byte[] = {static_cast<uint8_t>('a' + i % 26)};
    EXPECT_TRUE(uart.Feed(byte, Micros(i)).ok());
    clock.AdvanceTo(Micros(i));
    got += ReadUpTo(uart, 4);
  }
  return got;
}

TEST(SimUartFault, ProbabilityPatternRepeatsWithTheSeed) {
  const std::string first = LossyLine(77);
  EXPECT_EQ(first, LossyLine(77));
  EXPECT_NE(first, LossyLine(78));
  EXPECT_GT(first.size(), 8u);
  EXPECT_LT(first.size(), 40u);
}

}  // namespace
}  // namespace edgeforge
