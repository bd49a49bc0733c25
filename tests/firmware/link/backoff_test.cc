#include "firmware/link/backoff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "hal/sim/seeded_entropy.h"

namespace edgeforge::link {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr uint64_t kAllOnes = std::numeric_limits<uint64_t>::max();

Backoff Make(const BackoffOptions& options = {}) {
  Result<Backoff> b = Backoff::Create(options);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

Millis NetworkBoundAt(uint32_t n, const BackoffOptions& o = {}) {
  int64_t bound = o.min.count();
  for (uint32_t i = 0; i < n && bound < o.max.count(); ++i) bound *= 2;
  return Millis(std::min(bound, o.max.count()));
}

// ---------------------------------------------------------------------------
// Options.

TEST(BackoffOptions, DefaultsAreValid) { EXPECT_TRUE(ValidateBackoffOptions({}).ok()); }

TEST(BackoffOptions, RejectsEachBadFieldByName) {
  struct Case {
    BackoffOptions options;
    const char* field;
  };
  std::vector<Case> cases;
  BackoffOptions o;
  o.min = Millis(0);
  cases.push_back({o, "min"});
  o = {};
  o.max = Millis(500);
  o.min = Millis(100);
  cases.push_back({o, "max"});  // below the 1 s CONNECT spacing
  o = {};
  o.max = seconds(10);
  o.min = seconds(20);
  o.auth_min = seconds(5);
  cases.push_back({o, "max"});  // below min
  o = {};
  o.stable_after = Millis(0);
  cases.push_back({o, "stable_after"});
  o = {};
  o.auth_factor = 0.5;
  cases.push_back({o, "auth_factor"});
  o = {};
  o.auth_factor = std::numeric_limits<double>::infinity();
  cases.push_back({o, "auth_factor"});
  o = {};
  o.auth_min = Millis(-1);
  cases.push_back({o, "auth_min"});
  o = {};
  o.auth_min = o.max + Millis(1);
  cases.push_back({o, "auth_min"});
  for (const Case& c : cases) {
    Result<Backoff> b = Backoff::Create(c.options);
    ASSERT_FALSE(b.ok()) << c.field;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(b.status().message(), HasSubstr(std::string("backoff options: ") + c.field + " "));
  }
}

// ---------------------------------------------------------------------------
// Bounds and jitter.

TEST(Backoff, BoundDoublesPerAttemptAndSaturatesAtCap) {
  Backoff b = Make();
  const int64_t expected_s[] = {1, 2, 4, 8, 16, 32, 64, 120, 120, 120};
  for (int64_t s : expected_s) {
    EXPECT_EQ(b.Bound(FailureKind::kNetwork), seconds(s)) << "attempt " << b.attempt();
    // The top of the random range reaches the bound exactly.
    EXPECT_EQ(b.NextDelay(kAllOnes, FailureKind::kNetwork), seconds(s));
  }
  EXPECT_EQ(b.attempt(), 10u);
}

TEST(Backoff, BoundDoesNotOverflowAfterManyAttempts) {
  Backoff b = Make();
  for (int i = 0; i < 200; ++i) (void)b.NextDelay(kAllOnes, FailureKind::kNetwork);
  EXPECT_EQ(b.attempt(), 200u);
  EXPECT_EQ(b.Bound(FailureKind::kNetwork), seconds(120));
  EXPECT_EQ(b.NextDelay(kAllOnes, FailureKind::kNetwork), seconds(120));
}

TEST(Backoff, EveryDelayLiesBetweenFloorAndBound) {
  // Failed CONNECTs: floor = 1 s (IoT Core CONNECT spacing).
  SeededEntropy rng(0xB0FF);
  for (int trial = 0; trial < 500; ++trial) {
    Backoff b = Make();
    for (uint32_t n = 0; n < 12; ++n) {
      const Millis bound = NetworkBoundAt(n);
      ASSERT_EQ(b.Bound(FailureKind::kNetwork), bound);
      const Millis d = b.NextDelay(rng.Next(), FailureKind::kNetwork);
      ASSERT_GE(d, kIotCoreConnectSpacing) << "attempt " << n;
      ASSERT_LE(d, std::max(bound, kIotCoreConnectSpacing)) << "attempt " << n;
    }
  }
}

TEST(Backoff, LowestRandomBitsGiveTheFloor) {
  Backoff b = Make();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.NextDelay(0, FailureKind::kNetwork), kIotCoreConnectSpacing);
}

TEST(Backoff, FullJitterMeanIsAboutHalfTheBound) {
  SeededEntropy rng(42);
  Backoff b = Make();
  for (int i = 0; i < 8; ++i) (void)b.NextDelay(rng.Next(), FailureKind::kNetwork);
  ASSERT_EQ(b.Bound(FailureKind::kNetwork), seconds(120));
  constexpr int kDraws = 20000;
  double sum_ms = 0;
  int below_quarter = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Millis d = b.NextDelay(rng.Next(), FailureKind::kNetwork);
    sum_ms += static_cast<double>(d.count());
    if (d < seconds(30)) ++below_quarter;
  }
  const double mean_s = sum_ms / kDraws / 1000.0;
  EXPECT_NEAR(mean_s, 60.0, 3.0);  // uniform over [1 s, 120 s]: 60.5 s
  // Spread, not clustered near the middle (equal jitter would give 0 here).
  EXPECT_NEAR(static_cast<double>(below_quarter) / kDraws, 29.0 / 119.0, 0.03);
}

TEST(Backoff, SameRandomStreamGivesSameSchedule) {
  SeededEntropy a(7), b(7), c(8);
  Backoff x = Make(), y = Make(), z = Make();
  std::vector<Millis> xs, ys, zs;
  for (int i = 0; i < 20; ++i) {
    const FailureKind kind = (i % 5 == 4) ? FailureKind::kAuthorization : FailureKind::kNetwork;
    xs.push_back(x.NextDelay(a.Next(), kind));
    ys.push_back(y.NextDelay(b.Next(), kind));
    zs.push_back(z.NextDelay(c.Next(), kind));
  }
  EXPECT_EQ(xs, ys);
  EXPECT_NE(xs, zs);
}

// ---------------------------------------------------------------------------
// Reset policy (the reconnect-storm guard).

TEST(Backoff, ConnectionDroppedAfterFiveSecondsDoesNotReset) {
  Backoff b = Make();
  for (int i = 0; i < 5; ++i) (void)b.NextDelay(0, FailureKind::kNetwork);
  ASSERT_EQ(b.attempt(), 5u);
  b.OnConnected(seconds(100));
  b.OnDisconnected(seconds(105));
  EXPECT_EQ(b.attempt(), 5u);
  EXPECT_EQ(b.Bound(FailureKind::kNetwork), seconds(32));
  EXPECT_EQ(b.NextDelay(kAllOnes, FailureKind::kNetwork), seconds(32));
  EXPECT_EQ(b.attempt(), 6u);
}

TEST(Backoff, BrokerThatAcceptsThenDropsStillBacksOffToCap) {
  // The storm: every CONNACK succeeds, every connection dies 2 s later.
  Backoff b = Make();
  Micros now{0};
  for (int i = 0; i < 12; ++i) {
    b.OnConnected(now);
    now += seconds(2);
    b.OnDisconnected(now);
    now += b.NextDelay(kAllOnes, FailureKind::kNetwork);
  }
  EXPECT_EQ(b.Bound(FailureKind::kNetwork), seconds(120));
}

TEST(Backoff, ResetsOnlyOnceUpForStableAfter) {
  Backoff b = Make();
  for (int i = 0; i < 6; ++i) (void)b.NextDelay(0, FailureKind::kNetwork);
  b.OnConnected(seconds(1000));
  b.OnDisconnected(seconds(1060) - Micros(1));  // one microsecond short
  EXPECT_EQ(b.attempt(), 6u);
  b.OnConnected(seconds(2000));
  b.OnDisconnected(seconds(2060));
  EXPECT_EQ(b.attempt(), 0u);
  EXPECT_EQ(b.Bound(FailureKind::kNetwork), seconds(1));
}

TEST(Backoff, DisconnectWithoutConnectChangesNothing) {
  Backoff b = Make();
  for (int i = 0; i < 3; ++i) (void)b.NextDelay(0, FailureKind::kNetwork);
  b.OnDisconnected(seconds(500));
  EXPECT_EQ(b.attempt(), 3u);
  EXPECT_EQ(b.NextDelay(0, FailureKind::kNetwork), kIotCoreConnectSpacing);
}

// ---------------------------------------------------------------------------
// IoT Core: at most 1 CONNECT per second per client id.

TEST(Backoff, AfterALongConnectionTheFirstRetryIsJitteredFromZero) {
  // A fleet dropped together by a broker restart must spread out, not all
  // reconnect at the 1 s floor.
  Backoff b = Make();
  b.OnConnected(seconds(0));
  b.OnDisconnected(seconds(3600));
  ASSERT_EQ(b.attempt(), 0u);
  EXPECT_EQ(b.NextDelay(0, FailureKind::kNetwork), Millis(0));
  // The next failure follows a fresh CONNECT: the floor is back.
  EXPECT_EQ(b.NextDelay(0, FailureKind::kNetwork), kIotCoreConnectSpacing);
}

TEST(Backoff, ConnectionShorterThanOneSecondKeepsTheFloor) {
  Backoff b = Make();
  b.OnConnected(seconds(10));
  b.OnDisconnected(seconds(10) + Millis(300));
  EXPECT_EQ(b.NextDelay(0, FailureKind::kNetwork), kIotCoreConnectSpacing);
}

TEST(Backoff, ConnectsAreNeverCloserThanOneSecond) {
  // A reconnect loop against a flaky broker: CONNECTs fail fast, or succeed
  // and drop after a random lifetime from 0 to 3 s. Small `min` so the floor,
  // not the exponential, is what holds the spacing.
  BackoffOptions o;
  o.min = Millis(10);
  o.max = seconds(2);
  o.stable_after = Millis(1500);
  o.auth_min = seconds(1);
  Backoff b = Make(o);
  SeededEntropy rng(99);
  Micros now{0};
  Micros last_connect{-seconds(10)};
  for (int i = 0; i < 5000; ++i) {
    ASSERT_GE(now - last_connect, kIotCoreConnectSpacing) << "connect " << i;
    last_connect = now;
    const uint64_t r = rng.Next();
    FailureKind kind = FailureKind::kNetwork;
    if (r % 3 == 0) {
      now += Micros(r % 50'000);  // refused / TLS failure within 50 ms
    } else if (r % 3 == 1) {
      now += Micros(r % 20'000);
      kind = FailureKind::kAuthorization;
    } else {
      now += Micros(r % 100'000);  // CONNACK
      b.OnConnected(now);
      now += Micros((r >> 20) % 3'000'000);
      b.OnDisconnected(now);
    }
    now += b.NextDelay(rng.Next(), kind);
  }
}

// ---------------------------------------------------------------------------
// Authorization failures.

TEST(Backoff, AuthorizationBoundIsFactorTimesNetworkBoundCapped) {
  Backoff b = Make();
  for (uint32_t n = 0; n < 10; ++n) {
    const Millis network = b.Bound(FailureKind::kNetwork);
    const Millis expected = std::min<Millis>(seconds(120), std::max<Millis>(seconds(10), network * 8));
    EXPECT_EQ(b.Bound(FailureKind::kAuthorization), expected) << "attempt " << n;
    EXPECT_EQ(b.NextDelay(kAllOnes, FailureKind::kAuthorization), expected);
  }
  // 1 s * 8 = 8 s is under auth_min: the floor rules attempt 0; 8 * 16 s caps.
}

TEST(Backoff, AuthorizationFailuresWaitAtLeastAsLongAndAtLeastAuthMin) {
  SeededEntropy rng(2015);
  for (int trial = 0; trial < 300; ++trial) {
    Backoff net = Make(), auth = Make();
    for (uint32_t n = 0; n < 10; ++n) {
      const uint64_t r = rng.Next();
      const Millis dn = net.NextDelay(r, FailureKind::kNetwork);
      const Millis da = auth.NextDelay(r, FailureKind::kAuthorization);
      ASSERT_GE(da, dn) << "attempt " << n;
      ASSERT_GE(da, seconds(10)) << "attempt " << n;
      ASSERT_LE(da, seconds(120)) << "attempt " << n;
    }
  }
}

TEST(Backoff, AuthorizationMeanIsFactorTimesNetworkMeanUntilCapped) {
  SeededEntropy rng(3);
  BackoffOptions o;
  o.min = Millis(100);
  o.max = seconds(600);
  o.auth_min = Millis(0);
  double net_sum = 0, auth_sum = 0;
  constexpr int kTrials = 5000;
  for (int trial = 0; trial < kTrials; ++trial) {
    Backoff net = Make(o), auth = Make(o);
    // Attempt 5: network bound 3.2 s, authorization bound 25.6 s.
    for (int i = 0; i < 5; ++i) {
      (void)net.NextDelay(0, FailureKind::kNetwork);
      (void)auth.NextDelay(0, FailureKind::kAuthorization);
    }
    net_sum += static_cast<double>(net.NextDelay(rng.Next(), FailureKind::kNetwork).count());
    auth_sum += static_cast<double>(auth.NextDelay(rng.Next(), FailureKind::kAuthorization).count());
  }
  // Both uniform above the 1 s floor: (1 + 3.2) / 2 = 2.1 s and (1 + 25.6) / 2 = 13.3 s.
  EXPECT_NEAR(net_sum / kTrials, 2100.0, 100.0);
  EXPECT_NEAR(auth_sum / kTrials, 13300.0, 500.0);
}

}  // namespace
}  // namespace edgeforge::link
