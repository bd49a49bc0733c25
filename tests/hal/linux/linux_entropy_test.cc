// getrandom(2) backend. Randomness cannot be asserted exactly; the checks
// below fail only with probability far below 2^-100 for a working source.
#include "hal/linux/linux_entropy.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace edgeforge {
namespace {

TEST(LinuxEntropyTest, EmptyFillSucceeds) {
  LinuxEntropy entropy;
  EXPECT_TRUE(entropy.Fill(MutBytes()).ok());
}

TEST(LinuxEntropyTest, OneByteFillsVary) {
  LinuxEntropy entropy;
  std::array<int, 256> seen{};
  for (int i = 0; i < 64; ++i) {
    uint8_t b = 0;
    ASSERT_TRUE(entropy.Fill(MutBytes(&b, 1)).ok());
    ++seen[b];
  }
  int distinct = 0;
  for (int count : seen) distinct += count > 0 ? 1 : 0;
  EXPECT_GT(distinct, 8) << "64 random bytes should take many values";
}

TEST(LinuxEntropyTest, FillsEveryByteOf300AndTwoFillsDiffer) {
  LinuxEntropy entropy;
  std::vector<uint8_t> a(300, 0xAA), b(300, 0xAA);
  ASSERT_TRUE(entropy.Fill(a).ok());
  ASSERT_TRUE(entropy.Fill(b).ok());
  EXPECT_NE(a, b);
  // Bytes past 256 matter: getrandom may return short above 256 bytes.
  int equal = 0, untouched_tail = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    equal += a[i] == b[i] ? 1 : 0;
    if (i >= 256) untouched_tail += (a[i] == 0xAA && b[i] == 0xAA) ? 1 : 0;
  }
  EXPECT_LT(equal, 20) << "two independent fills agree in ~300/256 positions";
  EXPECT_LT(untouched_tail, 5);
}

TEST(LinuxEntropyTest, LargeFillCompletes) {
  LinuxEntropy entropy;
  std::vector<uint8_t> big(1 << 20, 0);
  ASSERT_TRUE(entropy.Fill(big).ok());
  size_t zeros = 0;
  for (uint8_t v : big) zeros += v == 0 ? 1 : 0;
  EXPECT_LT(zeros, big.size() / 128) << "expected ~1/256 zero bytes";
}

}  // namespace
}  // namespace edgeforge
