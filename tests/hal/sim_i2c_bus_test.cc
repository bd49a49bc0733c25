#include "hal/sim/sim_i2c_bus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace edgeforge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
  bus.Detach(0x41);  // nothing there: no-op
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

}  // namespace
}  // namespace edgeforge
