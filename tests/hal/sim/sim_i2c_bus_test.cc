#include "hal/sim/sim_i2c_bus.h"

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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::CountedFault;
using testing_support::RandomFault;

// Records what it was sent and answers with a fixed byte.
class Recorder final : public I2cPeripheral {
 public:
  explicit Recorder(uint8_t answer) : answer_(answer) {}
  std::vector<uint8_t> written;
  int transfers = 0;

 private:
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override {
    ++transfers;
    written.assign(tx.begin(), tx.end());
    for (uint8_t& b : rx) b = answer_;
    return Status::Ok();
  }
  uint8_t answer_;
};

TEST(SimI2cBus, RoutesByAddress) {
  SimI2cBus bus;
  Recorder a(0xAA), b(0xBB);
  ASSERT_TRUE(bus.Attach(0x76, a).ok());
  ASSERT_TRUE(bus.Attach(0x77, b).ok());

  const uint8_t tx[] = {0xD0};
  uint8_t rx[2] = {};
  ASSERT_TRUE(bus.WriteRead(0x77, tx, rx, Millis(10)).ok());
  EXPECT_THAT(rx, ElementsAre(0xBB, 0xBB));
  EXPECT_THAT(b.written, ElementsAre(0xD0));
  EXPECT_EQ(a.transfers, 0);

  const uint8_t w[] = {0xF4, 0x25};
  ASSERT_TRUE(bus.Write(0x76, w, Millis(10)).ok());
  EXPECT_THAT(a.written, ElementsAre(0xF4, 0x25));
  EXPECT_EQ(b.transfers, 1);
}

TEST(SimI2cBus, EmptyAddressIsNack) {
  SimI2cBus bus;
  uint8_t rx[1] = {};
  Status s = bus.WriteRead(0x76, ConstBytes(), rx, Millis(10));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no ACK from 0x76"));
}

TEST(SimI2cBus, DetachMakesAddressNack) {
  SimI2cBus bus;
  Recorder a(0x01);
  ASSERT_TRUE(bus.Attach(0x40, a).ok());
  bus.Detach(0x40);
  EXPECT_EQ(bus.Write(0x40, ConstBytes(), Millis(1)).code(), StatusCode::kUnavailable);
  bus.Detach(0x41);                       // nothing there: no-op
  EXPECT_TRUE(bus.Attach(0x40, a).ok());  // free again
}

TEST(SimI2cBus, DuplicateAddressRejected) {
  SimI2cBus bus;
  Recorder a(0x01), b(0x02);
  ASSERT_TRUE(bus.Attach(0x48, a).ok());
  Status s = bus.Attach(0x48, b);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("0x48"));
  uint8_t rx[1] = {};
  ASSERT_TRUE(bus.WriteRead(0x48, ConstBytes(), rx, Millis(1)).ok());
  EXPECT_EQ(rx[0], 0x01);  // the first one stays
}

TEST(SimI2cBus, ReservedAndOutOfRangeAddressesRejected) {
  SimI2cBus bus;
  Recorder a(0x01);
  for (uint8_t address : std::initializer_list<uint8_t>{0x00, 0x07, 0x78, 0x7F, 0x80, 0xFF}) {
    Status s = bus.Attach(address, a);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << int{address};
  }
  EXPECT_TRUE(bus.Attach(0x08, a).ok());
  EXPECT_TRUE(bus.Attach(0x77, a).ok());  // one model may answer at two addresses
}

TEST(SimI2cBus, NonSevenBitTransferAddressIsInvalid) {
  SimI2cBus bus;
  EXPECT_EQ(bus.Write(0x80, ConstBytes(), Millis(1)).code(), StatusCode::kInvalidArgument);
}

TEST(SimI2cBus, PeripheralErrorPropagates) {
  class Failing final : public I2cPeripheral {
    Status OnWriteRead(ConstBytes, MutBytes) override { return DataLoss("crc"); }
  } failing;
  SimI2cBus bus;
  ASSERT_TRUE(bus.Attach(0x10, failing).ok());
  EXPECT_EQ(bus.Write(0x10, ConstBytes(), Millis(1)).code(), StatusCode::kDataLoss);
}

// A register file whose every read answers a fresh value (a free-running
// counter), so a frozen answer is visible. Writes are recorded.
class Counter final : public I2cPeripheral {
 public:
  std::vector<std::vector<uint8_t>> writes;
  int transfers = 0;

 private:
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override {
    ++transfers;
    if (rx.empty()) writes.emplace_back(tx.begin(), tx.end());
    for (uint8_t& b : rx) b = next_++;
    return Status::Ok();
  }
  uint8_t next_ = 1;
};

uint8_t ReadReg(SimI2cBus& bus, uint8_t address, uint8_t reg, Status* status = nullptr) {
  const uint8_t tx[] = {reg};
  uint8_t rx[1] = {0};
  Status s = bus.WriteRead(address, tx, rx, Millis(5));
  if (status != nullptr) *status = s;
  return rx[0];
}

TEST(SimI2cBusFault, NackLooksLikeAMissingDeviceAndSparesTheModel) {
  SimI2cBus bus;
  Recorder a(0xAA), b(0xBB);
  ASSERT_TRUE(bus.Attach(0x76, a).ok());
  ASSERT_TRUE(bus.Attach(0x77, b).ok());
  bus.InjectFault(0x76, {FaultKind::kNack});

  uint8_t rx[1] = {};
  Status s = bus.WriteRead(0x76, ConstBytes(), rx, Millis(5));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no ACK from 0x76"));
  EXPECT_EQ(a.transfers, 0);
  EXPECT_EQ(bus.faults_hit(0x76), 1u);

  ASSERT_TRUE(bus.WriteRead(0x77, ConstBytes(), rx, Millis(5)).ok());  // the neighbour is healthy
  EXPECT_EQ(rx[0], 0xBB);
  EXPECT_EQ(bus.faults_hit(0x77), 0u);
}

TEST(SimI2cBusFault, FaultAtAnEmptyAddress) {
  SimI2cBus bus;
  bus.InjectFault(0x50, {FaultKind::kNack});
  EXPECT_EQ(bus.Write(0x50, ConstBytes(), Millis(1)).code(), StatusCode::kUnavailable);
  bus.InjectFault(0x50, {FaultKind::kTimeout});
  EXPECT_EQ(bus.Write(0x50, ConstBytes(), Millis(1)).code(), StatusCode::kDeadlineExceeded);
  bus.InjectFault(0x50, {FaultKind::kStuck});
  EXPECT_EQ(bus.Write(0x50, ConstBytes(), Millis(1)).code(), StatusCode::kUnavailable);
}

TEST(SimI2cBusFault, DisconnectIsNoAck) {
  SimI2cBus bus;
  Recorder a(0x11);
  ASSERT_TRUE(bus.Attach(0x20, a).ok());
  bus.InjectFault(0x20, {FaultKind::kDisconnect});
  const uint8_t w[] = {0x01, 0x02};
  Status s = bus.Write(0x20, w, Millis(1));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("0x20"));
  EXPECT_EQ(a.transfers, 0);
}

TEST(SimI2cBusFault, TimeoutIsDeadlineExceededAndTheModelSeesNothing) {
  SimI2cBus bus;
  Recorder a(0x11);
  ASSERT_TRUE(bus.Attach(0x20, a).ok());
  bus.InjectFault(0x20, {FaultKind::kTimeout});
  const uint8_t w[] = {0x01};
  Status s = bus.Write(0x20, w, Millis(25));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("0x20"));
  EXPECT_THAT(s.message(), HasSubstr("25 ms"));
  EXPECT_EQ(a.transfers, 0);
}

TEST(SimI2cBusFault, LimitedTransactionsThenHealthy) {
  SimI2cBus bus;
  Recorder a(0x42);
  ASSERT_TRUE(bus.Attach(0x30, a).ok());
  bus.InjectFault(0x30, CountedFault(FaultKind::kTimeout, 2));
  Status s;
  ReadReg(bus, 0x30, 0x00, &s);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  ReadReg(bus, 0x30, 0x00, &s);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ReadReg(bus, 0x30, 0x00, &s), 0x42);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(bus.faults_hit(0x30), 2u);
  EXPECT_EQ(a.transfers, 1);
}

TEST(SimI2cBusFault, StuckFreezesEachRequestsFirstAnswerButWritesLand) {
  SimI2cBus bus;
  Counter c;
  ASSERT_TRUE(bus.Attach(0x40, c).ok());
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 1);  // healthy: fresh values
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 2);

  bus.InjectFault(0x40, {FaultKind::kStuck});
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 3);  // first answer under the fault is live...
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 3);  // ...and then frozen
  EXPECT_EQ(ReadReg(bus, 0x40, 0x11), 5);  // another register: its own first answer
  EXPECT_EQ(ReadReg(bus, 0x40, 0x11), 5);
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 3);
  const uint8_t w[] = {0xF4, 0x01};
  ASSERT_TRUE(bus.Write(0x40, w, Millis(1)).ok());
  ASSERT_EQ(c.writes.size(), 1u);
  EXPECT_THAT(c.writes[0], ElementsAre(0xF4, 0x01));
  EXPECT_EQ(c.transfers, 8);  // the chip kept answering

  bus.ClearFault(0x40);
  EXPECT_EQ(ReadReg(bus, 0x40, 0x10), 8);
}

TEST(SimI2cBusFault, StuckKeysOnTheReadLengthToo) {
  SimI2cBus bus;
  Counter c;
  ASSERT_TRUE(bus.Attach(0x40, c).ok());
  bus.InjectFault(0x40, {FaultKind::kStuck});
  const uint8_t tx[] = {0x20};
  uint8_t one[1] = {}, two[2] = {};
  ASSERT_TRUE(bus.WriteRead(0x40, tx, one, Millis(1)).ok());
  ASSERT_TRUE(bus.WriteRead(0x40, tx, two, Millis(1)).ok());
  ASSERT_TRUE(bus.WriteRead(0x40, tx, two, Millis(1)).ok());
  EXPECT_EQ(one[0], 1);
  EXPECT_THAT(two, ElementsAre(2, 3));
}

TEST(SimI2cBusFault, NoiseFlipsBitsAtRoughlyTheConfiguredRate) {
  SimI2cBus bus;
  Recorder zero(0x00);
  ASSERT_TRUE(bus.Attach(0x48, zero).ok());
  bus.InjectFault(0x48, RandomFault(FaultKind::kNoise, 0.1, 7));
  std::vector<uint8_t> rx(1000);
  ASSERT_TRUE(bus.WriteRead(0x48, ConstBytes(), rx, Millis(1)).ok());
  size_t flipped = 0;
  for (uint8_t b : rx) flipped += std::bitset<8>(b).count();
  EXPECT_GE(flipped, 500u);  // expected 800 of 8000 bits
  EXPECT_LE(flipped, 1100u);
  EXPECT_EQ(bus.faults_hit(0x48), 1u);

  bus.ClearFault(0x48);
  ASSERT_TRUE(bus.WriteRead(0x48, ConstBytes(), rx, Millis(1)).ok());
  EXPECT_EQ(std::count(rx.begin(), rx.end(), 0), 1000);
}

std::vector<uint8_t> NoisyRead(uint64_t seed) {
  SimI2cBus bus;
  Recorder zero(0x00);
  EXPECT_TRUE(bus.Attach(0x48, zero).ok());
  bus.InjectFault(0x48, RandomFault(FaultKind::kNoise, 0.05, seed));
  std::vector<uint8_t> rx(64);
  EXPECT_TRUE(bus.WriteRead(0x48, ConstBytes(), rx, Millis(1)).ok());
  return rx;
}

TEST(SimI2cBusFault, NoiseIsDeterministicPerSeed) {
  EXPECT_EQ(NoisyRead(3), NoisyRead(3));
  EXPECT_NE(NoisyRead(3), NoisyRead(4));
}

std::vector<bool> NackPattern(uint64_t seed) {
  SimI2cBus bus;
  Recorder a(0x01);
  EXPECT_TRUE(bus.Attach(0x10, a).ok());
  bus.InjectFault(0x10, RandomFault(FaultKind::kNack, 0.5, seed));
  std::vector<bool> failed;
  for (int i = 0; i < 64; ++i) failed.push_back(!bus.Write(0x10, ConstBytes(), Millis(1)).ok());
  EXPECT_EQ(bus.faults_hit(0x10), static_cast<uint64_t>(std::count(failed.begin(), failed.end(), true)));
  return failed;
}

TEST(SimI2cBusFault, ProbabilityWithASeedIsDeterministic) {
  const std::vector<bool> first = NackPattern(42);
  EXPECT_EQ(first, NackPattern(42));
  EXPECT_NE(first, NackPattern(43));
  const auto hits = std::count(first.begin(), first.end(), true);
  EXPECT_GT(hits, 10);  // about half of 64
  EXPECT_LT(hits, 54);
}

TEST(SimI2cBusFault, ClearRestoresAndReinjectResetsTheCount) {
  SimI2cBus bus;
  Recorder a(0x5A);
  ASSERT_TRUE(bus.Attach(0x60, a).ok());
  bus.InjectFault(0x60, {FaultKind::kNack});
  EXPECT_FALSE(bus.Write(0x60, ConstBytes(), Millis(1)).ok());
  bus.ClearFault(0x60);
  EXPECT_EQ(ReadReg(bus, 0x60, 0x00), 0x5A);
  EXPECT_EQ(bus.faults_hit(0x60), 1u);  // kept after clearing
  bus.ClearFault(0x61);                 // nothing there: no-op

  bus.InjectFault(0x60, {FaultKind::kTimeout});
  EXPECT_EQ(bus.faults_hit(0x60), 0u);
  EXPECT_EQ(bus.Write(0x60, ConstBytes(), Millis(1)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(bus.faults_hit(0x60), 1u);
}

}  // namespace
}  // namespace edgeforge
