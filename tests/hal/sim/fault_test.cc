#include "hal/sim/fault.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bitset>
#include <initializer_list>
#include <vector>

#include "tests/hal/sim/sim_test_support.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;
using testing_support::CountedFault;
using testing_support::RandomFault;

TEST(FaultKind, NamesRoundTrip) {
  for (FaultKind kind : {FaultKind::kNone, FaultKind::kNack, FaultKind::kTimeout, FaultKind::kStuck, FaultKind::kNoise,
                         FaultKind::kDisconnect}) {
    Result<FaultKind> parsed = ParseFaultKind(FaultKindName(kind));
    ASSERT_TRUE(parsed.ok()) << FaultKindName(kind);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_STREQ(FaultKindName(FaultKind::kNack), "nack");
  EXPECT_STREQ(FaultKindName(FaultKind::kDisconnect), "disconnect");
}

TEST(FaultKind, ParseRejectsAndNamesAnUnknownValue) {
  Result<FaultKind> parsed = ParseFaultKind("brownout");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("\"brownout\""));
  EXPECT_FALSE(ParseFaultKind("NACK").ok());  // names are exact
  EXPECT_FALSE(ParseFaultKind("").ok());
}

TEST(FaultInjector, HealthyUntilInjected) {
  FaultInjector f;
  EXPECT_FALSE(f.armed());
  EXPECT_EQ(f.Next(), FaultKind::kNone);
  EXPECT_EQ(f.hits(), 0u);
}

TEST(FaultInjector, CountedFaultDisarmsAfterItsLastTransaction) {
  FaultInjector f;
  f.Inject(CountedFault(FaultKind::kNack, 3));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(f.armed()) << i;
    EXPECT_EQ(f.Next(), FaultKind::kNack) << i;
  }
  EXPECT_FALSE(f.armed());
  EXPECT_EQ(f.Next(), FaultKind::kNone);
  EXPECT_EQ(f.hits(), 3u);
}

TEST(FaultInjector, CountIncludesTransactionsTheProbabilitySpared) {
  FaultInjector f;
  FaultSpec spec;
  spec.kind = FaultKind::kTimeout;
  spec.transactions = 10;
  spec.probability = 0.0;
  f.Inject(spec);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(f.Next(), FaultKind::kNone);
  EXPECT_FALSE(f.armed());
  EXPECT_EQ(f.hits(), 0u);
}

TEST(FaultInjector, ClearKeepsHitsInjectResetsThem) {
  FaultInjector f;
  f.Inject({FaultKind::kStuck});
  EXPECT_EQ(f.Next(), FaultKind::kStuck);
  f.Clear();
  EXPECT_FALSE(f.armed());
  EXPECT_EQ(f.hits(), 1u);
  f.Inject({FaultKind::kStuck});
  EXPECT_EQ(f.hits(), 0u);
}

TEST(FaultInjector, FreezeRemembersPerRequestAndForgetsOnInject) {
  FaultInjector f;
  f.Inject({FaultKind::kStuck});
  const uint8_t req_a[] = {0x01};
  const uint8_t req_b[] = {0x02};
  uint8_t r[2] = {10, 11};
  f.Freeze(req_a, r);
  uint8_t later[2] = {20, 21};
  f.Freeze(req_a, later);
  EXPECT_EQ(later[0], 10);
  EXPECT_EQ(later[1], 11);
  uint8_t other[2] = {30, 31};
  f.Freeze(req_b, other);
  EXPECT_EQ(other[0], 30);  // a different request: its own first answer

  f.Inject({FaultKind::kStuck});
  uint8_t fresh[2] = {40, 41};
  f.Freeze(req_a, fresh);
  EXPECT_EQ(fresh[0], 40);
}

size_t NoiseBits(uint64_t seed, double p, std::vector<uint8_t>* out = nullptr) {
  FaultInjector f;
  f.Inject(RandomFault(FaultKind::kNoise, p, seed));
  EXPECT_EQ(f.Next(), FaultKind::kNoise);
  std::vector<uint8_t> bytes(1000, 0);
  const size_t flipped = f.AddNoise(bytes);
  size_t counted = 0;
  for (uint8_t b : bytes) counted += std::bitset<8>(b).count();
  EXPECT_EQ(flipped, counted);
  if (out != nullptr) *out = bytes;
  return flipped;
}

TEST(FaultInjector, NoiseRateAndDeterminism) {
  const size_t flipped = NoiseBits(1, 0.1);
  EXPECT_GE(flipped, 500u);
  EXPECT_LE(flipped, 1100u);
  std::vector<uint8_t> a, b, c;
  NoiseBits(99, 0.1, &a);
  NoiseBits(99, 0.1, &b);
  NoiseBits(100, 0.1, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(NoiseBits(1, 0.0), 0u);
  EXPECT_EQ(NoiseBits(1, 1.0), 8000u);
  const size_t rare = NoiseBits(5, 0.01);  // expected 80 of 8000
  EXPECT_GE(rare, 30u);
  EXPECT_LE(rare, 150u);
}

TEST(FaultInjector, NoiseCountsAHitOnlyWhenABitFlipped) {
  FaultInjector f;
  FaultSpec spec;
  spec.kind = FaultKind::kNoise;
  spec.probability = 0.0;
  f.Inject(spec);
  uint8_t b[4] = {};
  EXPECT_EQ(f.AddNoise(b), 0u);
  EXPECT_EQ(f.hits(), 0u);
  spec.probability = 1.0;
  f.Inject(spec);
  EXPECT_EQ(f.AddNoise(b), 32u);
  EXPECT_EQ(f.hits(), 1u);
}

}  // namespace
}  // namespace edgeforge
