#include "hal/sim/seeded_entropy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace edgeforge {
namespace {

using ::testing::ElementsAre;

std::vector<uint8_t> Bytes(Entropy& e, size_t n) {
  std::vector<uint8_t> out(n);
  EXPECT_TRUE(e.Fill(out).ok());
  return out;
}

// xoshiro256** from state {1, 2, 3, 4}: the reference implementation's
// first outputs (xoshiro256starstar.c, Blackman and Vigna).
TEST(SeededEntropy, MatchesXoshiro256StarStarReference) {
  SeededEntropy e = SeededEntropy::FromState({1, 2, 3, 4});
  EXPECT_EQ(e.Next(), 11520u);
  EXPECT_EQ(e.Next(), 0u);
  EXPECT_EQ(e.Next(), 1509978240u);
  EXPECT_EQ(e.Next(), 1215971899390074240u);
}

// splitmix64 from 0 gives 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4,
// 0x06c45d188009454f, 0xf88bb8a8724c81ec (splitmix64.c, Vigna): seed 0
// must start from exactly that state.
TEST(SeededEntropy, SeedsTheStateWithSplitmix64) {
  SeededEntropy seeded(0);
  SeededEntropy raw = SeededEntropy::FromState(
      {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full, 0xf88bb8a8724c81ecull});
  for (int i = 0; i < 8; ++i) EXPECT_EQ(seeded.Next(), raw.Next()) << i;
}

TEST(SeededEntropy, FillIsLittleEndianOutputs) {
  SeededEntropy e = SeededEntropy::FromState({1, 2, 3, 4});
  // 11520 = 0x2d00, then an all-zero output.
  EXPECT_THAT(Bytes(e, 12), ElementsAre(0x00, 0x2d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
}

TEST(SeededEntropy, SameSeedSameBytesDifferentSeedDifferentBytes) {
  SeededEntropy a(1234), b(1234), c(1235);
  const std::vector<uint8_t> first = Bytes(a, 64);
  EXPECT_EQ(first, Bytes(b, 64));
  EXPECT_NE(first, Bytes(c, 64));
  EXPECT_NE(first, Bytes(a, 64));  // the stream moves on
}

TEST(SeededEntropy, ChunkingDoesNotChangeTheStream) {
  SeededEntropy whole(7), pieces(7);
  const std::vector<uint8_t> all = Bytes(whole, 21);
  std::vector<uint8_t> joined;
  for (size_t n : {3u, 0u, 5u, 8u, 5u}) {
    const std::vector<uint8_t> part = Bytes(pieces, n);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  EXPECT_EQ(all, joined);
}

TEST(SeededEntropy, BytesAreNotDegenerate) {
  SeededEntropy e(42);
  const std::vector<uint8_t> bytes = Bytes(e, 4096);
  std::array<int, 256> histogram{};
  for (uint8_t b : bytes) ++histogram[b];
  int seen = 0;
  for (int count : histogram) seen += count > 0 ? 1 : 0;
  EXPECT_GT(seen, 240);  // 4096 draws leave ~0 of 256 values unseen
}

}  // namespace
}  // namespace edgeforge
