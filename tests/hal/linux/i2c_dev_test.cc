// i2c-dev backend: the I2C_RDWR marshalling checked field by field against
// Documentation/i2c/dev-interface.rst and include/uapi/linux/i2c.h, plus the
// syscall paths this machine allows (no /dev/i2c-* needed).
#include "hal/linux/i2c_dev.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <limits>
#include <string>

#include "hal/linux/fs.h"
#include "tests/hal/linux/linux_test_support.h"

namespace edgeforge {
namespace {

using testing_support::ExpectMissingNodeIsNotFound;
using testing_support::ExpectOpenRefusedAsNobody;
using testing_support::ExpectRegularFileRefusedWithoutFdLeak;

Status OpenBus(const std::string& path) { return LinuxI2cBus::Open(path).status(); }

TEST(I2cMessagesTest, WriteThenReadIsTwoMessagesWithRepeatedStart) {
  const uint8_t reg[] = {0xD0};
  uint8_t id[6] = {};
  i2c_msg msgs[2];
  ASSERT_EQ(BuildI2cMessages(0x76, reg, id, msgs), 2u);
  // dev-interface.rst: "the messages are sent in order, separated by repeated starts".
  EXPECT_EQ(msgs[0].addr, 0x76);
  EXPECT_EQ(msgs[0].flags, 0);  // write
  EXPECT_EQ(msgs[0].len, 1);
  EXPECT_EQ(msgs[0].buf, reg);
  EXPECT_EQ(msgs[1].addr, 0x76);
  EXPECT_EQ(msgs[1].flags, I2C_M_RD);
  EXPECT_EQ(msgs[1].flags, 0x0001) << "linux/i2c.h: I2C_M_RD is guaranteed to be 0x0001";
  EXPECT_EQ(msgs[1].len, 6);
  EXPECT_EQ(msgs[1].buf, id);
}

TEST(I2cMessagesTest, WriteOnlyIsOneWriteMessage) {
  const uint8_t cmd[] = {0xE0, 0xB6};
  i2c_msg msgs[2];
  ASSERT_EQ(BuildI2cMessages(0x77, cmd, MutBytes(), msgs), 1u);
  EXPECT_EQ(msgs[0].addr, 0x77);
  EXPECT_EQ(msgs[0].flags, 0);
  EXPECT_EQ(msgs[0].len, 2);
  EXPECT_EQ(msgs[0].buf, cmd);
}

TEST(I2cMessagesTest, ReadOnlyIsOneReadMessage) {
  uint8_t rx[3] = {};
  i2c_msg msgs[2];
  ASSERT_EQ(BuildI2cMessages(0x48, ConstBytes(), rx, msgs), 1u);
  EXPECT_EQ(msgs[0].addr, 0x48);
  EXPECT_EQ(msgs[0].flags, I2C_M_RD);
  EXPECT_EQ(msgs[0].len, 3);
  EXPECT_EQ(msgs[0].buf, rx);
}

TEST(I2cMessagesTest, EmptyTransferIsAZeroLengthWriteProbe) {
  i2c_msg msgs[2];
  ASSERT_EQ(BuildI2cMessages(0x50, ConstBytes(), MutBytes(), msgs), 1u);
  EXPECT_EQ(msgs[0].addr, 0x50);
  EXPECT_EQ(msgs[0].flags, 0);
  EXPECT_EQ(msgs[0].len, 0);
}

TEST(I2cMessagesTest, RejectsTenBitAddressesAndOversizedMessages) {
  EXPECT_TRUE(CheckI2cTransfer(0x7f, 1, 1).ok());
  Status wide = CheckI2cTransfer(0x80, 1, 1);
  EXPECT_EQ(wide.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wide.message().find("0x80"), std::string::npos) << wide.message();
  // drivers/i2c/i2c-dev.c i2cdev_ioctl_rdwr: "if (msgs[i].len > 8192) res = -EINVAL".
  EXPECT_TRUE(CheckI2cTransfer(0x10, 8192, 8192).ok());
  EXPECT_EQ(CheckI2cTransfer(0x10, 8193, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckI2cTransfer(0x10, 0, 8193).code(), StatusCode::kInvalidArgument);
}

TEST(I2cTimeoutTest, UnitsOfTenMillisecondsRoundedUpNeverZero) {
  // i2c-dev.c I2C_TIMEOUT: adapter->timeout = msecs_to_jiffies(arg * 10).
  EXPECT_EQ(I2cTimeoutUnits(Millis(0)), 1u);
  EXPECT_EQ(I2cTimeoutUnits(Millis(1)), 1u);
  EXPECT_EQ(I2cTimeoutUnits(Millis(10)), 1u);
  EXPECT_EQ(I2cTimeoutUnits(Millis(11)), 2u);
  EXPECT_EQ(I2cTimeoutUnits(Millis(25)), 3u);
  EXPECT_EQ(I2cTimeoutUnits(Millis(1000)), 100u);
  // arg > INT_MAX is EINVAL.
  EXPECT_EQ(I2cTimeoutUnits(Millis(std::numeric_limits<Millis::rep>::max())), static_cast<unsigned long>(INT_MAX));
}

TEST(LinuxI2cBusTest, MissingNodeIsNotFoundNamingThePath) {
  ExpectMissingNodeIsNotFound(OpenBus, "/dev/i2c-edgeforge-missing");
}

TEST(LinuxI2cBusTest, RegularFileIsNotAnAdapterAndLeaksNoFd) {
  ExpectRegularFileRefusedWithoutFdLeak(OpenBus, "not an i2c-dev node");
}

// The kernel answers an ioctl a file does not implement with ENOTTY;
// qemu-user answers ENOSYS for one it does not translate (the arm64 and
// armhf unit tests run under it): both are the wrong kind of file for the
// HAL, and the second says that an emulator may be why.
TEST(LinuxFsTest, EnottyAndEnosysAreTheWrongKindOfFile) {
  EXPECT_TRUE(fs::IsWrongKindOfFile(ENOTTY));
  EXPECT_TRUE(fs::IsWrongKindOfFile(ENOSYS));
  EXPECT_FALSE(fs::IsWrongKindOfFile(EIO));
  const Status tty = fs::WrongKindOfFile(ENOTTY, "/dev/x: not an i2c-dev node (I2C_FUNCS)");
  EXPECT_EQ(tty.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(tty.message(), "/dev/x: not an i2c-dev node (I2C_FUNCS): Inappropriate ioctl for device");
  const Status sys = fs::WrongKindOfFile(ENOSYS, "/dev/x: not an i2c-dev node (I2C_FUNCS)");
  EXPECT_EQ(sys.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sys.message(),
            "/dev/x: not an i2c-dev node (I2C_FUNCS): Function not implemented (as under qemu-user, which does not "
            "pass this ioctl on)");
}

TEST(LinuxI2cBusTest, DirectoryIsAClearError) {
  auto bus = LinuxI2cBus::Open(testing::TempDir());
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kFailedPrecondition);  // EISDIR
  EXPECT_NE(bus.status().message().find(testing::TempDir()), std::string::npos);
}

TEST(LinuxI2cBusTest, UnreadableNodeIsPermissionDeniedNamingThePath) { ExpectOpenRefusedAsNobody(OpenBus); }

}  // namespace
}  // namespace edgeforge
