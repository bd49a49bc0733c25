// GPIO chardev v2 backend: line requests and event conversion checked field
// by field against include/uapi/linux/gpio.h and
// Documentation/userspace-api/gpio/chardev.rst, plus the syscall paths this
// machine allows (no /dev/gpiochip* needed).
#include "hal/linux/gpio_cdev.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/hal/linux/linux_test_support.h"

namespace edgeforge {
namespace {

using testing_support::ExpectMissingNodeIsNotFound;
using testing_support::ExpectOpenRefusedAsNobody;
using testing_support::ExpectRegularFileRefusedWithoutFdLeak;

Status OpenInput(const std::string& chip) {
  return LinuxGpioLine::OpenInput(chip, 0, "t", false, GpioBias::kAsIs).status();
}
Status OpenOutput(const std::string& chip) { return LinuxGpioLine::OpenOutput(chip, 0, "t", false, false).status(); }

bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

constexpr uint64_t kBiasMask =
    GPIO_V2_LINE_FLAG_BIAS_PULL_UP | GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN | GPIO_V2_LINE_FLAG_BIAS_DISABLED;

TEST(GpioRequestTest, InputRequestsBothEdgesOnTheMonotonicClock) {
  auto req = BuildInputRequest(17, "edgeforge-loop", false, GpioBias::kAsIs, 0);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->num_lines, 1u);
  EXPECT_EQ(req->offsets[0], 17u);
  EXPECT_TRUE(AllZero(&req->offsets[1], sizeof req->offsets - sizeof req->offsets[0]));
  EXPECT_STREQ(req->consumer, "edgeforge-loop");
  EXPECT_EQ(req->config.flags,
            GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING);
  // No EVENT_CLOCK_REALTIME / HTE: chardev.rst, timestamps default to CLOCK_MONOTONIC.
  EXPECT_EQ(req->config.flags & (GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME | GPIO_V2_LINE_FLAG_EVENT_CLOCK_HTE), 0u);
  EXPECT_EQ(req->config.num_attrs, 0u);
  EXPECT_EQ(req->event_buffer_size, 0u) << "0 = kernel default, 16 events per line";
  // gpio.h: padding "reserved for future use and must be zero filled".
  EXPECT_TRUE(AllZero(req->config.padding, sizeof req->config.padding));
  EXPECT_TRUE(AllZero(req->padding, sizeof req->padding));
  EXPECT_TRUE(AllZero(req->config.attrs, sizeof req->config.attrs));
  EXPECT_EQ(req->fd, 0);
}

TEST(GpioRequestTest, ActiveLowBiasAndBufferSize) {
  auto req = BuildInputRequest(3, "door", true, GpioBias::kPullUp, 64);
  ASSERT_TRUE(req.ok());
  EXPECT_NE(req->config.flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW, 0u);
  EXPECT_EQ(req->config.flags & kBiasMask, GPIO_V2_LINE_FLAG_BIAS_PULL_UP);
  EXPECT_EQ(req->event_buffer_size, 64u);

  auto down = BuildInputRequest(3, "door", false, GpioBias::kPullDown, 0);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->config.flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW, 0u);
  EXPECT_EQ(down->config.flags & kBiasMask, GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN);

  auto floating = BuildInputRequest(3, "door", false, GpioBias::kDisabled, 0);
  ASSERT_TRUE(floating.ok());
  EXPECT_EQ(floating->config.flags & kBiasMask, GPIO_V2_LINE_FLAG_BIAS_DISABLED);

  auto as_is = BuildInputRequest(3, "door", false, GpioBias::kAsIs, 0);
  ASSERT_TRUE(as_is.ok());
  EXPECT_EQ(as_is->config.flags & kBiasMask, 0u);
}

TEST(GpioRequestTest, OutputCarriesItsInitialValueInTheRequest) {
  for (bool initial : {false, true}) {
    auto req = BuildOutputRequest(22, "relay", true, initial);
    ASSERT_TRUE(req.ok());
    EXPECT_EQ(req->offsets[0], 22u);
    EXPECT_EQ(req->num_lines, 1u);
    EXPECT_EQ(req->config.flags, GPIO_V2_LINE_FLAG_OUTPUT | GPIO_V2_LINE_FLAG_ACTIVE_LOW);
    ASSERT_EQ(req->config.num_attrs, 1u);
    const gpio_v2_line_config_attribute& attr = req->config.attrs[0];
    EXPECT_EQ(attr.attr.id, static_cast<uint32_t>(GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES));
    EXPECT_EQ(attr.attr.padding, 0u);
    EXPECT_EQ(attr.attr.values, initial ? 1u : 0u);  // bit 0 = offsets[0]
    EXPECT_EQ(attr.mask, 1u);
    EXPECT_TRUE(AllZero(&req->config.attrs[1], sizeof req->config.attrs - sizeof req->config.attrs[0]));
    EXPECT_EQ(req->event_buffer_size, 0u);
  }
}

TEST(GpioRequestTest, ConsumerLabelMustFitWithItsNul) {
  const std::string longest(GPIO_MAX_NAME_SIZE - 1, 'c');
  auto fits = BuildInputRequest(0, longest, false, GpioBias::kAsIs, 0);
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(std::string(fits->consumer), longest);
  EXPECT_EQ(fits->consumer[GPIO_MAX_NAME_SIZE - 1], '\0');

  auto too_long = BuildOutputRequest(0, longest + "c", false, false);
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("longer than 31"), std::string::npos) << too_long.status().message();
}

TEST(GpioEventTest, ConvertsEdgesTimestampsAndSequenceNumbers) {
  gpio_v2_line_event rising{};
  rising.timestamp_ns = 1'234'567'891'999ull;
  rising.id = GPIO_V2_LINE_EVENT_RISING_EDGE;
  rising.offset = 17;
  rising.seqno = 40;
  rising.line_seqno = 7;
  auto r = ConvertEvent(rising);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->edge, GpioEdge::kRising);
  EXPECT_EQ(r->timestamp, Micros(1'234'567'891));
  EXPECT_EQ(r->line_seqno, 7u) << "per-line number, not the per-request seqno";

  gpio_v2_line_event falling = rising;
  falling.id = GPIO_V2_LINE_EVENT_FALLING_EDGE;
  falling.line_seqno = 0xFFFFFFFFu;
  auto f = ConvertEvent(falling);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->edge, GpioEdge::kFalling);
  EXPECT_EQ(f->line_seqno, 0xFFFFFFFFu);

  gpio_v2_line_event bogus = rising;
  bogus.id = 3;
  EXPECT_EQ(ConvertEvent(bogus).status().code(), StatusCode::kDataLoss);
}

TEST(LinuxGpioLineTest, MissingChipIsNotFoundNamingThePath) {
  ExpectMissingNodeIsNotFound(OpenInput, "/dev/gpiochip-edgeforge-missing");
  EXPECT_EQ(OpenOutput("/dev/gpiochip-edgeforge-missing").code(), StatusCode::kNotFound);
}

TEST(LinuxGpioLineTest, BadConsumerIsRejectedBeforeTheChipIsOpened) {
  auto in =
      LinuxGpioLine::OpenInput("/dev/gpiochip-edgeforge-missing", 4, std::string(40, 'x'), false, GpioBias::kAsIs);
  EXPECT_EQ(in.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(in.status().message().find("/dev/gpiochip-edgeforge-missing line 4"), std::string::npos)
      << in.status().message();
}

TEST(LinuxGpioLineTest, RegularFileIsNotAGpioChipAndLeaksNoFd) {
  // The output open is refused too; the fd count spans both opens.
  ExpectRegularFileRefusedWithoutFdLeak(
      [](const std::string& path) {
        const Status in = OpenInput(path);
        const Status out = OpenOutput(path);
        EXPECT_EQ(out.code(), StatusCode::kFailedPrecondition) << out.ToString();
        return in;
      },
      "not a GPIO character device");
}

TEST(LinuxGpioLineTest, UnreadableChipIsPermissionDeniedNamingThePath) { ExpectOpenRefusedAsNobody(OpenInput); }

}  // namespace
}  // namespace edgeforge
