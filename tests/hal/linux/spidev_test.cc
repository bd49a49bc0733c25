// spidev backend: the spi_ioc_transfer marshalling and the padding contract of
// hal/spi.h checked against Documentation/spi/spidev.rst and
// include/uapi/linux/spi/spidev.h, plus the syscall paths this machine allows.
#include "hal/linux/spidev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "tests/hal/linux/linux_test_support.h"

namespace edgeforge {
namespace {

using testing_support::ExpectMissingNodeIsNotFound;
using testing_support::ExpectOpenRefusedAsNobody;
using testing_support::ExpectRegularFileRefusedWithoutFdLeak;

Status OpenDevice(const std::string& path) { return LinuxSpiDevice::Open(path, SpiConfig{}).status(); }

// What the controller does with a planned transfer when MISO is wired to
// MOSI (SPI_LOOP): byte i received is byte i sent, and a null tx_buf sends
// zeroes (spidev.h: "If no data is provided, zeroes are shifted out").
void Loopback(const SpiTransferPlan& plan) {
  for (size_t i = 0; i < plan.len; ++i) {
    const uint8_t sent = plan.tx != nullptr ? plan.tx[i] : 0x00;
    if (plan.rx != nullptr) plan.rx[i] = sent;
  }
}

TEST(SpiTransferTest, FieldsFollowSpidevHeaderAndUnusedFieldsAreZero) {
  const uint8_t tx[4] = {0x80 | 0x00, 0, 0, 0};
  uint8_t rx[4] = {};
  SpiConfig config{3, 5'000'000, 8};
  const spi_ioc_transfer t = BuildSpiTransfer(tx, rx, 4, config);
  EXPECT_EQ(t.tx_buf, reinterpret_cast<uintptr_t>(tx));
  EXPECT_EQ(t.rx_buf, reinterpret_cast<uintptr_t>(rx));
  EXPECT_EQ(t.len, 4u);
  EXPECT_EQ(t.speed_hz, 5'000'000u);
  EXPECT_EQ(t.bits_per_word, 8);
  // "Zero-initialize the structure, including currently unused fields".
  EXPECT_EQ(t.delay_usecs, 0);
  EXPECT_EQ(t.cs_change, 0) << "chip select must stay asserted for the whole transfer";
  EXPECT_EQ(t.tx_nbits, 0);
  EXPECT_EQ(t.rx_nbits, 0);
  EXPECT_EQ(t.word_delay_usecs, 0);
  EXPECT_EQ(t.pad, 0);
}

TEST(SpiTransferTest, NullBuffersMeanShiftZeroesAndDiscard) {
  const spi_ioc_transfer t = BuildSpiTransfer(nullptr, nullptr, 2, SpiConfig{});
  EXPECT_EQ(t.tx_buf, 0u);
  EXPECT_EQ(t.rx_buf, 0u);
  EXPECT_EQ(t.len, 2u);
}

TEST(SpiTransferTest, EqualLengthsUseCallerBuffersDirectly) {
  const uint8_t tx[3] = {1, 2, 3};
  uint8_t rx[3] = {};
  std::vector<uint8_t> tx_pad, rx_pad;
  const SpiTransferPlan plan = PlanSpiTransfer(tx, rx, tx_pad, rx_pad);
  EXPECT_EQ(plan.len, 3u);
  EXPECT_EQ(plan.tx, tx);
  EXPECT_EQ(plan.rx, rx);
  Loopback(plan);
  FinishSpiTransfer(plan, rx);
  EXPECT_EQ(std::vector<uint8_t>(rx, rx + 3), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(SpiTransferTest, ShortTxIsPaddedWithZeroes) {
  // A register read: address byte, then clock out 4 data bytes.
  const uint8_t tx[2] = {0xF2, 0x5A};
  uint8_t rx[5];
  std::fill(std::begin(rx), std::end(rx), 0xEE);
  std::vector<uint8_t> tx_pad, rx_pad;
  const SpiTransferPlan plan = PlanSpiTransfer(tx, rx, tx_pad, rx_pad);
  ASSERT_EQ(plan.len, 5u);
  EXPECT_EQ(std::vector<uint8_t>(plan.tx, plan.tx + 5), (std::vector<uint8_t>{0xF2, 0x5A, 0, 0, 0}));
  EXPECT_EQ(plan.rx, rx);
  Loopback(plan);
  FinishSpiTransfer(plan, rx);
  EXPECT_EQ(std::vector<uint8_t>(rx, rx + 5), (std::vector<uint8_t>{0xF2, 0x5A, 0, 0, 0}));
}

TEST(SpiTransferTest, ShortRxGetsOnlyItsOwnBytes) {
  const uint8_t tx[5] = {10, 20, 30, 40, 50};
  uint8_t rx[4] = {0xEE, 0xEE, 0xEE, 0xEE};
  std::vector<uint8_t> tx_pad, rx_pad;
  const SpiTransferPlan plan = PlanSpiTransfer(tx, MutBytes(rx, 2), tx_pad, rx_pad);
  ASSERT_EQ(plan.len, 5u);
  EXPECT_EQ(plan.tx, tx);
  ASSERT_NE(plan.rx, rx) << "5 bytes must not land in a 2-byte buffer";
  Loopback(plan);
  FinishSpiTransfer(plan, MutBytes(rx, 2));
  EXPECT_EQ(std::vector<uint8_t>(rx, rx + 4), (std::vector<uint8_t>{10, 20, 0xEE, 0xEE}));
}

TEST(SpiTransferTest, EmptySidesAreNull) {
  uint8_t rx[3] = {0xEE, 0xEE, 0xEE};
  std::vector<uint8_t> tx_pad, rx_pad;
  SpiTransferPlan read = PlanSpiTransfer(ConstBytes(), rx, tx_pad, rx_pad);
  EXPECT_EQ(read.len, 3u);
  EXPECT_EQ(read.tx, nullptr);
  Loopback(read);
  FinishSpiTransfer(read, rx);
  EXPECT_EQ(std::vector<uint8_t>(rx, rx + 3), (std::vector<uint8_t>{0, 0, 0}));

  const uint8_t tx[2] = {1, 2};
  SpiTransferPlan write = PlanSpiTransfer(tx, MutBytes(), tx_pad, rx_pad);
  EXPECT_EQ(write.len, 2u);
  EXPECT_EQ(write.tx, tx);
  EXPECT_EQ(write.rx, nullptr);
}

TEST(SpiConfigTest, RejectsImpossibleSettings) {
  EXPECT_TRUE(CheckSpiConfig(SpiConfig{}).ok());
  EXPECT_TRUE(CheckSpiConfig(SpiConfig{3, 10'000'000, 16}).ok());
  EXPECT_EQ(CheckSpiConfig(SpiConfig{4, 1'000'000, 8}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckSpiConfig(SpiConfig{0, 0, 8}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckSpiConfig(SpiConfig{0, 1'000'000, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckSpiConfig(SpiConfig{0, 1'000'000, 33}).code(), StatusCode::kInvalidArgument);
}

TEST(SpiConfigTest, WordsWiderThanAByteTakeTwoOrFourBytes) {
  // spidev.rst: word sizes are rounded up to a power of two bytes.
  EXPECT_EQ(SpiBytesPerWord(1), 1u);
  EXPECT_EQ(SpiBytesPerWord(8), 1u);
  EXPECT_EQ(SpiBytesPerWord(9), 2u);
  EXPECT_EQ(SpiBytesPerWord(16), 2u);
  EXPECT_EQ(SpiBytesPerWord(17), 4u);
  EXPECT_EQ(SpiBytesPerWord(32), 4u);
}

TEST(LinuxSpiDeviceTest, MissingNodeIsNotFoundNamingThePath) {
  ExpectMissingNodeIsNotFound(OpenDevice, "/dev/spidev-edgeforge-missing.0");
}

TEST(LinuxSpiDeviceTest, BadConfigIsRejectedBeforeTheNodeIsOpened) {
  auto dev = LinuxSpiDevice::Open("/dev/spidev-edgeforge-missing.0", SpiConfig{7, 1'000'000, 8});
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dev.status().message().find("spi mode 7"), std::string::npos) << dev.status().message();
}

TEST(LinuxSpiDeviceTest, RegularFileIsNotASpidevNodeAndLeaksNoFd) {
  ExpectRegularFileRefusedWithoutFdLeak(OpenDevice, "not a spidev node");
}

TEST(LinuxSpiDeviceTest, UnreadableNodeIsPermissionDeniedNamingThePath) { ExpectOpenRefusedAsNobody(OpenDevice); }

}  // namespace
}  // namespace edgeforge
