#include "hal/sim/sim_spi_bus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <initializer_list>
#include <vector>

#include "hal/sim/fault.h"
#include "tests/hal/sim/sim_test_support.h"

namespace edgeforge {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::CountedFault;
using testing_support::RandomFault;

// Shifts out a fresh counter value for every byte clocked, and records MOSI.
class Counter final : public SpiPeripheral {
 public:
  std::vector<std::vector<uint8_t>> mosi;

 private:
  Status OnTransfer(ConstBytes in, MutBytes out) override {
    mosi.emplace_back(in.begin(), in.end());
    for (uint8_t& b : out) b = next_++;
    return Status::Ok();
  }
  uint8_t next_ = 1;
};

// Answers every clocked byte with one fixed value.
class Constant final : public SpiPeripheral {
 public:
  explicit Constant(uint8_t value) : value_(value) {}
  int transfers = 0;

 private:
  Status OnTransfer(ConstBytes, MutBytes out) override {
    ++transfers;
    std::fill(out.begin(), out.end(), value_);
    return Status::Ok();
  }
  uint8_t value_;
};

SpiDevice& Dev(SimSpiBus& bus, uint8_t cs) {
  Result<SpiDevice*> d = bus.Device(cs);
  EXPECT_TRUE(d.ok());
  return **d;
}

TEST(SimSpiBus, RoutesByChipSelect) {
  SimSpiBus bus;
  Constant a(0xA0), b(0xB0);
  ASSERT_TRUE(bus.Attach(0, a).ok());
  ASSERT_TRUE(bus.Attach(2, b).ok());
  uint8_t rx[2] = {};
  ASSERT_TRUE(Dev(bus, 2).Transfer(ConstBytes(), rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(0xB0, 0xB0));
  EXPECT_EQ(a.transfers, 0);
  ASSERT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(0xA0, 0xA0));
}

TEST(SimSpiBus, UnattachedSelectReadsPulledUpMiso) {
  SimSpiBus bus;
  const uint8_t tx[] = {0x80};
  uint8_t rx[3] = {0, 0, 0};
  ASSERT_TRUE(Dev(bus, 1).Transfer(tx, rx, Millis(1)).ok());
  EXPECT_THAT(rx, Each(0xFF));
}

TEST(SimSpiBus, PadsMosiWithZerosAndDiscardsMisoPastRx) {
  SimSpiBus bus;
  Counter c;
  ASSERT_TRUE(bus.Attach(3, c).ok());
  const uint8_t tx[] = {0xF2};
  uint8_t rx[3] = {};
  ASSERT_TRUE(Dev(bus, 3).Transfer(tx, rx, Millis(1)).ok());
  EXPECT_THAT(c.mosi.back(), ElementsAre(0xF2, 0x00, 0x00));
  EXPECT_THAT(rx, ElementsAre(1, 2, 3));

  const uint8_t write[] = {0x2D, 0x08, 0x00, 0x00};
  uint8_t one[1] = {};
  ASSERT_TRUE(Dev(bus, 3).Transfer(write, one, Millis(1)).ok());
  EXPECT_THAT(c.mosi.back(), ElementsAre(0x2D, 0x08, 0x00, 0x00));  // all four clocked
  EXPECT_EQ(one[0], 4);
}

TEST(SimSpiBus, AttachErrors) {
  SimSpiBus bus;
  Constant a(1), b(2);
  Status s = bus.Attach(SimSpiBus::kChipSelects, a);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("chip select 4"));
  ASSERT_TRUE(bus.Attach(1, a).ok());
  s = bus.Attach(1, b);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("chip select 1"));
  EXPECT_EQ(bus.Device(9).status().code(), StatusCode::kInvalidArgument);

  bus.Detach(1);
  bus.Detach(200);  // out of range: no-op
  uint8_t rx[1] = {};
  ASSERT_TRUE(Dev(bus, 1).Transfer(ConstBytes(), rx, Millis(1)).ok());
  EXPECT_EQ(rx[0], 0xFF);
  EXPECT_TRUE(bus.Attach(1, b).ok());
}

TEST(SimSpiBus, PeripheralErrorPropagates) {
  class Failing final : public SpiPeripheral {
    Status OnTransfer(ConstBytes, MutBytes) override { return DataLoss("frame"); }
  } failing;
  SimSpiBus bus;
  ASSERT_TRUE(bus.Attach(0, failing).ok());
  uint8_t rx[1] = {};
  EXPECT_EQ(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).code(), StatusCode::kDataLoss);
}

TEST(SimSpiBusFault, NackAndDisconnectReadIdleMisoWithoutError) {
  for (FaultKind kind : {FaultKind::kNack, FaultKind::kDisconnect}) {
    SimSpiBus bus;
    Constant a(0x42);
    ASSERT_TRUE(bus.Attach(0, a).ok());
    bus.InjectFault(0, {kind});
    uint8_t rx[2] = {};
    ASSERT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok()) << FaultKindName(kind);
    EXPECT_THAT(rx, Each(0xFF));
    EXPECT_EQ(a.transfers, 0);  // the chip never saw its select
    EXPECT_EQ(bus.faults_hit(0), 1u);
  }
}

TEST(SimSpiBusFault, TimeoutIsDeadlineExceeded) {
  SimSpiBus bus;
  Constant a(0x42);
  ASSERT_TRUE(bus.Attach(1, a).ok());
  bus.InjectFault(1, {FaultKind::kTimeout});
  uint8_t rx[1] = {};
  Status s = Dev(bus, 1).Transfer(ConstBytes(), rx, Millis(7));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("chip select 1"));
  EXPECT_THAT(s.message(), HasSubstr("7 ms"));
  EXPECT_EQ(a.transfers, 0);
  // Also at a select with nothing attached.
  bus.InjectFault(3, {FaultKind::kTimeout});
  EXPECT_EQ(Dev(bus, 3).Transfer(ConstBytes(), rx, Millis(1)).code(), StatusCode::kDeadlineExceeded);
}

TEST(SimSpiBusFault, LimitedTransactionsThenHealthy) {
  SimSpiBus bus;
  Constant a(0x42);
  ASSERT_TRUE(bus.Attach(0, a).ok());
  bus.InjectFault(0, CountedFault(FaultKind::kDisconnect, 3));
  uint8_t rx[1] = {};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok());
    EXPECT_EQ(rx[0], 0xFF) << i;
  }
  ASSERT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok());
  EXPECT_EQ(rx[0], 0x42);
  EXPECT_EQ(bus.faults_hit(0), 3u);
}

TEST(SimSpiBusFault, StuckFreezesMisoPerMosiButTheChipStillListens) {
  SimSpiBus bus;
  Counter c;
  ASSERT_TRUE(bus.Attach(2, c).ok());
  bus.InjectFault(2, {FaultKind::kStuck});
  const uint8_t read_id[] = {0x80};
  const uint8_t read_x[] = {0xB2};
  uint8_t rx[2] = {};
  ASSERT_TRUE(Dev(bus, 2).Transfer(read_id, rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(1, 2));
  ASSERT_TRUE(Dev(bus, 2).Transfer(read_id, rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(1, 2));
  ASSERT_TRUE(Dev(bus, 2).Transfer(read_x, rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(5, 6));
  EXPECT_EQ(c.mosi.size(), 3u);  // every transfer reached the chip

  bus.ClearFault(2);
  ASSERT_TRUE(Dev(bus, 2).Transfer(read_id, rx, Millis(1)).ok());
  EXPECT_THAT(rx, ElementsAre(7, 8));
}

TEST(SimSpiBusFault, NoiseFlipsMisoBitsDeterministically) {
  auto run = [](uint64_t seed) {
    SimSpiBus bus;
    Constant zero(0x00);
    EXPECT_TRUE(bus.Attach(0, zero).ok());
    bus.InjectFault(0, RandomFault(FaultKind::kNoise, 0.1, seed));
    std::vector<uint8_t> rx(1000);
    EXPECT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok());
    return rx;
  };
  const std::vector<uint8_t> rx = run(11);
  size_t flipped = 0;
  for (uint8_t b : rx) flipped += std::bitset<8>(b).count();
  EXPECT_GE(flipped, 500u);
  EXPECT_LE(flipped, 1100u);
  EXPECT_EQ(rx, run(11));
  EXPECT_NE(rx, run(12));
}

TEST(SimSpiBusFault, ProbabilityPatternRepeatsWithTheSeed) {
  auto run = [](uint64_t seed) {
    SimSpiBus bus;
    Constant a(0x42);
    EXPECT_TRUE(bus.Attach(0, a).ok());
    bus.InjectFault(0, RandomFault(FaultKind::kDisconnect, 0.3, seed));
    std::vector<uint8_t> seen;
    for (int i = 0; i < 50; ++i) {
      uint8_t rx[1] = {};
      EXPECT_TRUE(Dev(bus, 0).Transfer(ConstBytes(), rx, Millis(1)).ok());
      seen.push_back(rx[0]);
    }
    EXPECT_EQ(bus.faults_hit(0), static_cast<uint64_t>(std::count(seen.begin(), seen.end(), 0xFF)));
    return seen;
  };
  const std::vector<uint8_t> first = run(5);
  EXPECT_EQ(first, run(5));
  EXPECT_NE(first, run(6));
  EXPECT_GT(std::count(first.begin(), first.end(), 0xFF), 3);
  EXPECT_GT(std::count(first.begin(), first.end(), 0x42), 20);
}

TEST(SimSpiBusFault, OutOfRangeSelectIsIgnored) {
  SimSpiBus bus;
  bus.InjectFault(SimSpiBus::kChipSelects, {FaultKind::kTimeout});
  bus.ClearFault(SimSpiBus::kChipSelects);
  EXPECT_EQ(bus.faults_hit(SimSpiBus::kChipSelects), 0u);
}

}  // namespace
}  // namespace edgeforge
