// i2c-dev backend: the I2C_RDWR marshalling checked field by field against
// Documentation/i2c/dev-interface.rst and include/uapi/linux/i2c.h, plus the
// syscall paths this machine allows (no /dev/i2c-* needed).
#include "hal/linux/i2c_dev.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <limits>
#include <string>

namespace edgeforge {
namespace {

std::string MakeRegularFile(mode_t mode) {
  std::string path = testing::TempDir() + "i2c_dev_testXXXXXX";
  const int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, "not an adapter", 14), 14);
  ::close(fd);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

size_t OpenFdCount() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (d != nullptr && ::readdir(d) != nullptr) ++n;
  if (d != nullptr) ::closedir(d);
  return n;
}

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
  auto bus = LinuxI2cBus::Open("/dev/i2c-edgeforge-missing");
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bus.status().message(), "/dev/i2c-edgeforge-missing: No such file or directory");
}

TEST(LinuxI2cBusTest, RegularFileIsNotAnAdapterAndLeaksNoFd) {
  const std::string path = MakeRegularFile(0600);
  const size_t fds = OpenFdCount();
  auto bus = LinuxI2cBus::Open(path);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kFailedPrecondition) << bus.status().ToString();
  EXPECT_NE(bus.status().message().find(path + ": not an i2c-dev node"), std::string::npos) << bus.status().message();
  EXPECT_EQ(OpenFdCount(), fds);
  ::unlink(path.c_str());
}

TEST(LinuxI2cBusTest, DirectoryIsAClearError) {
  auto bus = LinuxI2cBus::Open(testing::TempDir());
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kFailedPrecondition);  // EISDIR
  EXPECT_NE(bus.status().message().find(testing::TempDir()), std::string::npos);
}

TEST(LinuxI2cBusTest, UnreadableNodeIsPermissionDeniedNamingThePath) {
  const std::string path = MakeRegularFile(0600);
  // Root bypasses file modes, so the open runs in a child that has dropped to nobody.
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
          std::fprintf(stderr, "cannot drop root\n");
          std::_Exit(2);
        }
        auto bus = LinuxI2cBus::Open(path);
        std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
        std::_Exit(!bus.ok() && bus.status().code() == StatusCode::kPermissionDenied &&
                           bus.status().message().find(path) != std::string::npos
                       ? 0
                       : 1);
      },
      testing::ExitedWithCode(0), "PERMISSION_DENIED");
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace edgeforge
