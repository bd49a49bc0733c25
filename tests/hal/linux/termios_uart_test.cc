// termios UART backend, exercised for real on a pseudo-terminal pair
// (posix_openpt): the UART opens the pty's slave side like a /dev/ttyS*
// node, the test plays the far end through the master side.
#include "hal/linux/termios_uart.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/hal/linux/linux_test_support.h"

namespace edgeforge {
namespace {

using testing_support::ExpectMissingNodeIsNotFound;
using testing_support::ExpectOpenRefusedAsNobody;
using testing_support::ExpectRegularFileRefusedWithoutFdLeak;

using Bytes = std::vector<uint8_t>;

Status OpenUart(const std::string& path) { return LinuxUart::Open(path, 9600).status(); }

// The descriptor this process holds on `path`, or -1.
int FindFdFor(const std::string& path) {
  DIR* d = ::opendir("/proc/self/fd");
  int found = -1;
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    char target[256];
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == path) found = std::atoi(e->d_name);
  }
  if (d != nullptr) ::closedir(d);
  return found;
}

class PtyUartTest : public testing::Test {
 protected:
  void SetUp() override {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT_GE(master_, 0);
    ASSERT_EQ(::grantpt(master_), 0);
    ASSERT_EQ(::unlockpt(master_), 0);
    char name[128];
    ASSERT_EQ(::ptsname_r(master_, name, sizeof name), 0);
    slave_path_ = name;
  }
  void TearDown() override { CloseMaster(); }

  void CloseMaster() {
    if (master_ >= 0) ::close(master_);
    master_ = -1;
  }
  void WriteMaster(const Bytes& data) {
    ASSERT_EQ(::write(master_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  // Reads from the far end until `n` bytes came or 2 s passed without any.
  Bytes ReadMaster(size_t n) {
    Bytes out;
    while (out.size() < n) {
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, 2000) != 1) break;
      uint8_t buf[256];
      const ssize_t got = ::read(master_, buf, sizeof buf);
      if (got <= 0) break;
      out.insert(out.end(), buf, buf + got);
    }
    return out;
  }

  int master_ = -1;
  std::string slave_path_;
};

// Bytes a cooked tty would eat or rewrite: CR, NL, NUL, 0xFF, ^C (VINTR),
// ^D (VEOF), ^Q/^S (XON/XOFF), DEL (VERASE), ^U (VKILL).
const Bytes kAwkwardBytes = {'h', 'i', '\r', '\n', 0x00, 0xFF, 0x03, 0x04, 0x11, 0x13, 0x7F, 0x15, 'x'};

TEST(BaudToSpeedTest, StandardRatesMapToTheirConstants) {
  const std::pair<int, speed_t> table[] = {
      {1200, B1200},     {1800, B1800},     {2400, B2400},     {4800, B4800},     {9600, B9600},
      {19200, B19200},   {38400, B38400},   {57600, B57600},   {115200, B115200}, {230400, B230400},
      {460800, B460800}, {500000, B500000}, {576000, B576000}, {921600, B921600},
  };
  for (const auto& [baud, speed] : table) {
    auto s = BaudToSpeed(baud);
    ASSERT_TRUE(s.ok()) << baud;
    EXPECT_EQ(*s, speed) << baud;
  }
}

TEST(BaudToSpeedTest, OtherRatesAreInvalidNamingTheRate) {
  for (int baud : {0, -9600, 300, 1199, 14400, 250000, 1000000, 3000000}) {
    auto s = BaudToSpeed(baud);
    ASSERT_FALSE(s.ok()) << baud;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("baud rate " + std::to_string(baud) + " "), std::string::npos)
        << s.status().message();
  }
}

TEST(MakeRaw8N1Test, ClearsEveryCookedSetting) {
  termios t{};
  // Start from a typical cooked console setting plus flow control and parity.
  t.c_iflag = ICRNL | IXON | IXOFF | IXANY | BRKINT | ISTRIP | INLCR | IGNCR;
  t.c_oflag = OPOST | ONLCR;
  t.c_cflag = CS7 | PARENB | PARODD | CSTOPB | CRTSCTS | HUPCL;
  t.c_lflag = ICANON | ECHO | ECHOE | ISIG | IEXTEN;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 5;
  MakeRaw8N1(t, B57600);
  EXPECT_EQ(t.c_cflag & CSIZE, static_cast<tcflag_t>(CS8));
  EXPECT_EQ(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0u);
  EXPECT_EQ(t.c_cflag & (CLOCAL | CREAD), static_cast<tcflag_t>(CLOCAL | CREAD));
  EXPECT_EQ(t.c_iflag & (ICRNL | IXON | IXOFF | IXANY | BRKINT | ISTRIP | INLCR | IGNCR), 0u);
  EXPECT_EQ(t.c_oflag & OPOST, 0u);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0u);
  EXPECT_EQ(t.c_cc[VMIN], 0);
  EXPECT_EQ(t.c_cc[VTIME], 0);
  EXPECT_EQ(cfgetispeed(&t), static_cast<speed_t>(B57600));
  EXPECT_EQ(cfgetospeed(&t), static_cast<speed_t>(B57600));
}

TEST_F(PtyUartTest, OpenLeavesThePortRaw8N1AtTheBaud) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok()) << uart.status().ToString();
  const int probe = ::open(slave_path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  termios t{};
  ASSERT_EQ(::tcgetattr(probe, &t), 0);
  ::close(probe);
  EXPECT_EQ(cfgetospeed(&t), static_cast<speed_t>(B115200));
  EXPECT_EQ(cfgetispeed(&t), static_cast<speed_t>(B115200));
  EXPECT_EQ(t.c_cflag & CSIZE, static_cast<tcflag_t>(CS8));
  EXPECT_EQ(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0u);
  EXPECT_EQ(t.c_lflag & (ICANON | ECHO | ISIG), 0u);
  EXPECT_EQ(t.c_iflag & (IXON | IXOFF | ICRNL), 0u);
  EXPECT_EQ(t.c_oflag & OPOST, 0u);
}

TEST_F(PtyUartTest, BytesCrossBothWaysUnchanged) {
  auto uart = LinuxUart::Open(slave_path_, 9600);
  ASSERT_TRUE(uart.ok()) << uart.status().ToString();
  ASSERT_TRUE((*uart)->Write(kAwkwardBytes, Millis::max()).ok());  // "forever" must not overflow
  EXPECT_EQ(ReadMaster(kAwkwardBytes.size()), kAwkwardBytes);

  WriteMaster(kAwkwardBytes);
  Bytes got;
  while (got.size() < kAwkwardBytes.size()) {
    uint8_t buf[64];
    auto n = (*uart)->Read(buf, Millis(2000));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_GT(*n, 0u) << "bytes written by the far end did not arrive";
    got.insert(got.end(), buf, buf + *n);
  }
  EXPECT_EQ(got, kAwkwardBytes);
}

TEST_F(PtyUartTest, ReadWithNothingPendingReturnsZeroAfterTheTimeout) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  uint8_t buf[8];
  auto n = (*uart)->Read(buf, Millis(20));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
  auto empty = (*uart)->Read(MutBytes(), Millis(20));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, 0u);
}

TEST_F(PtyUartTest, ReadsNeverOverrunTheCallerBuffer) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  const Bytes sent = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  WriteMaster(sent);
  Bytes got;
  int reads = 0;
  while (got.size() < sent.size()) {
    uint8_t buf[6] = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
    auto n = (*uart)->Read(MutBytes(buf, 4), Millis(2000));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_GT(*n, 0u);
    ASSERT_LE(*n, 4u);
    EXPECT_EQ(buf[4], 0xEE) << "wrote past the span";
    got.insert(got.end(), buf, buf + *n);
    ++reads;
  }
  EXPECT_EQ(got, sent);
  EXPECT_GE(reads, 3);
}

TEST_F(PtyUartTest, InputReceivedBeforeOpenIsDiscarded) {
  // Keep the slave open so the bytes land in its buffer, then open the UART.
  const int early = ::open(slave_path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(early, 0);
  termios raw{};
  ASSERT_EQ(::tcgetattr(early, &raw), 0);
  cfmakeraw(&raw);  // canonical mode would hold the bytes back until a newline
  ASSERT_EQ(::tcsetattr(early, TCSANOW, &raw), 0);
  WriteMaster({'s', 't', 'a', 'l', 'e'});
  pollfd p{early, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "stale bytes never reached the slave";
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  uint8_t buf[8];
  auto n = (*uart)->Read(buf, Millis(20));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  ::close(early);
}

TEST_F(PtyUartTest, HangupIsUnavailableForReadAndWrite) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  CloseMaster();
  // Observed (Linux 6.x): the slave gets POLLIN|POLLERR|POLLHUP and read()
  // returns 0 at once, so the first Read is UNAVAILABLE, not a 0 after the timeout.
  uint8_t buf[8];
  auto n = (*uart)->Read(buf, Millis(5000));
  EXPECT_EQ(n.status().code(), StatusCode::kUnavailable) << n.status().ToString();
  EXPECT_NE(n.status().message().find(slave_path_), std::string::npos) << n.status().message();
  Status w = (*uart)->Write(kAwkwardBytes, Millis(100));
  EXPECT_EQ(w.code(), StatusCode::kUnavailable) << w.ToString();  // write(2): EIO
}

TEST_F(PtyUartTest, BytesUnreadAtHangupEndInUnavailable) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  const Bytes sent = {'l', 'a', 's', 't'};
  WriteMaster(sent);
  CloseMaster();
  // Observed (Linux 6.x): the hang-up discards them and the first Read is
  // UNAVAILABLE. Either way a caller must end on UNAVAILABLE, having seen at
  // most a prefix of what was sent, never a silent 0.
  Bytes got;
  Result<size_t> n = size_t{0};
  for (int i = 0; i < 8; ++i) {
    uint8_t buf[8];
    n = (*uart)->Read(buf, Millis(5000));
    if (!n.ok()) break;
    ASSERT_GT(*n, 0u) << "a hung-up port read as 'nothing in time'";
    got.insert(got.end(), buf, buf + *n);
  }
  EXPECT_EQ(n.status().code(), StatusCode::kUnavailable);
  ASSERT_LE(got.size(), sent.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), sent.begin()));
}

TEST_F(PtyUartTest, WriteIntoAFullBufferExceedsTheDeadline) {
  auto uart = LinuxUart::Open(slave_path_, 115200);
  ASSERT_TRUE(uart.ok());
  const Bytes big(1 << 20, 0x55);  // the far end never reads: the pty buffer fills
  Status st = (*uart)->Write(big, Millis(50));
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find(" of 1048576 bytes"), std::string::npos) << st.message();
}

TEST_F(PtyUartTest, UnsupportedBaudIsInvalidArgument) {
  auto uart = LinuxUart::Open(slave_path_, 250000);
  ASSERT_FALSE(uart.ok());
  EXPECT_EQ(uart.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(uart.status().message().find("250000"), std::string::npos) << uart.status().message();
  EXPECT_NE(uart.status().message().find(slave_path_), std::string::npos) << uart.status().message();
}

TEST_F(PtyUartTest, FdIsCloseOnExecAndClosedWithTheObject) {
  ASSERT_EQ(FindFdFor(slave_path_), -1);
  {
    auto uart = LinuxUart::Open(slave_path_, 115200);
    ASSERT_TRUE(uart.ok());
    const int fd = FindFdFor(slave_path_);
    ASSERT_GE(fd, 0);
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  }
  EXPECT_EQ(FindFdFor(slave_path_), -1);
}

TEST(LinuxUartTest, MissingNodeIsNotFoundNamingThePath) {
  ExpectMissingNodeIsNotFound(OpenUart, "/dev/ttyEDGEFORGE-missing");
}

TEST(LinuxUartTest, RegularFileIsNotATtyAndLeaksNoFd) { ExpectRegularFileRefusedWithoutFdLeak(OpenUart, "not a tty"); }

TEST(LinuxUartTest, UnreadableNodeIsPermissionDeniedNamingThePath) { ExpectOpenRefusedAsNobody(OpenUart); }

}  // namespace
}  // namespace edgeforge
