#include "firmware/link/governor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "hal/sim/seeded_entropy.h"

namespace edgeforge::link {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

Governor Make(const GovernorOptions& options = {}) {
  Result<Governor> g = Governor::Create(options);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return std::move(g).value();
}

// Offers `per_s` messages of `bytes` each second for `duration`, evenly
// spaced; returns how many passed in each whole second.
std::vector<int> OfferLoad(Governor& g, size_t bytes, int per_s, seconds duration) {
  std::vector<int> passed(static_cast<size_t>(duration.count()), 0);
  const Micros step = Micros(seconds(1)) / per_s;
  for (Micros t{0}; t < duration; t += step) {
    if (g.TryAcquire(bytes, t)) ++passed[static_cast<size_t>(t / seconds(1))];
  }
  return passed;
}

int Sum(const std::vector<int>& v) {
  int s = 0;
  for (int x : v) s += x;
  return s;
}

// ---------------------------------------------------------------------------
// Options.

TEST(GovernorOptions, DefaultsAreIotCoreLimits) {
  const GovernorOptions o;
  EXPECT_EQ(o.publishes_per_s, 100u);
  EXPECT_EQ(o.bytes_per_s, 512u * 1024u);
  EXPECT_EQ(o.publish_burst, 100u);
  EXPECT_EQ(o.byte_burst, 512u * 1024u);
  EXPECT_TRUE(ValidateGovernorOptions(o).ok());
}

TEST(GovernorOptions, RejectsEachBadFieldByName) {
  const std::array<uint64_t GovernorOptions::*, 4> fields = {
      &GovernorOptions::publishes_per_s, &GovernorOptions::bytes_per_s, &GovernorOptions::publish_burst,
      &GovernorOptions::byte_burst};
  const std::array<const char*, 4> names = {"publishes_per_s", "bytes_per_s", "publish_burst", "byte_burst"};
  for (size_t i = 0; i < fields.size(); ++i) {
    for (uint64_t bad : {uint64_t{0}, uint64_t{2'000'000'000}}) {
      GovernorOptions o;
      o.*fields[i] = bad;
      Result<Governor> g = Governor::Create(o);
      ASSERT_FALSE(g.ok()) << names[i];
      EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(g.status().message(), HasSubstr(std::string("governor options: ") + names[i] + " "));
    }
  }
}

// ---------------------------------------------------------------------------
// Rates.

TEST(Governor, PublishLimitBindsForSmallMessages) {
  // 1000 msg/s of 200 B for 10 s: 20 KB/s is far under the byte limit.
  Governor g = Make();
  const std::vector<int> passed = OfferLoad(g, 200, 1000, seconds(10));
  // Second 0: the full bucket (100) plus its refill while it drains.
  EXPECT_GE(passed[0], 190);
  EXPECT_LE(passed[0], 200);
  for (size_t s = 1; s < passed.size(); ++s) EXPECT_EQ(passed[s], 100) << "second " << s;
  EXPECT_NEAR(Sum(passed), 100 + 100 * 10, 2);
}

TEST(Governor, ByteLimitBindsForLargeMessages) {
  // 64 KiB messages: 512 KiB/s admits 8 per second, well under 100 publishes.
  Governor g = Make();
  const std::vector<int> passed = OfferLoad(g, 64 * 1024, 1000, seconds(10));
  EXPECT_EQ(passed[0], 8 + 7);  // full bucket, then one per 125 ms from t = 125 ms
  for (size_t s = 1; s < passed.size(); ++s) EXPECT_EQ(passed[s], 8) << "second " << s;
}

TEST(Governor, NeverExceedsRatePlusBurstInAnyWindow) {
  // Mixed sizes sent as soon as allowed: for every window [t_i, t_j] the sends
  // are <= burst + rate * (t_j - t_i), the token bucket's guarantee.
  Governor g = Make();
  SeededEntropy rng(512);
  std::vector<Micros> times;
  std::vector<uint64_t> sizes;
  Micros now{0};
  for (int i = 0; i < 3000; ++i) {
    const size_t bytes = static_cast<size_t>(rng.Next() % (20 * 1024));
    now = g.NextAvailable(bytes, now);
    ASSERT_TRUE(g.TryAcquire(bytes, now));
    times.push_back(now);
    sizes.push_back(bytes);
  }
  for (size_t i = 0; i < times.size(); i += 7) {
    uint64_t count = 0, bytes = 0;
    for (size_t j = i; j < times.size(); ++j) {
      count += 1;
      bytes += sizes[j];
      const auto span_us = static_cast<uint64_t>((times[j] - times[i]).count());
      // Integer form of count <= 100 + 100 * span_s and bytes <= B + B * span_s.
      ASSERT_LE(count * 1'000'000, 100 * 1'000'000 + 100 * span_us) << i << ".." << j;
      ASSERT_LE(bytes * 1'000'000, 524288ull * 1'000'000 + 524288ull * span_us) << i << ".." << j;
    }
  }
  // And it was not idle: sends took about as long as the byte budget demands.
  uint64_t total = 0;
  for (uint64_t s : sizes) total += s;
  const double expected_s = static_cast<double>(total - 524288) / 524288.0;
  EXPECT_NEAR(static_cast<double>(now.count()) / 1e6, expected_s, 0.1);
}

// ---------------------------------------------------------------------------
// NextAvailable.

TEST(Governor, NextAvailableIsTheExactMicrosecond) {
  Governor g = Make();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(g.TryAcquire(0, Micros(0)));
  ASSERT_FALSE(g.TryAcquire(0, Micros(0)));
  // One publish token per 10 ms.
  EXPECT_EQ(g.NextAvailable(0, Micros(0)), milliseconds(10));
  EXPECT_EQ(g.NextAvailable(0, milliseconds(3)), milliseconds(10));
  EXPECT_EQ(g.NextAvailable(0, milliseconds(25)), milliseconds(25));

  SeededEntropy rng(1);
  Micros now = milliseconds(25);
  for (int i = 0; i < 300; ++i) {
    const auto bytes = static_cast<size_t>(rng.Next() % (600 * 1024));  // some exceed the 512 KiB bucket
    now += Micros(static_cast<int64_t>(rng.Next() % 400'000));
    const Micros at = g.NextAvailable(bytes, now);
    ASSERT_GE(at, now);
    if (at > now) {
      Governor early = g;
      ASSERT_FALSE(early.TryAcquire(bytes, at - Micros(1))) << "bytes " << bytes;
    }
    ASSERT_TRUE(g.TryAcquire(bytes, at)) << "bytes " << bytes;
    now = at;
  }
}

TEST(Governor, NextAvailableForBytesRoundsUp) {
  GovernorOptions o;
  o.byte_burst = 1000;
  Governor g = Make(o);
  ASSERT_TRUE(g.TryAcquire(1000, Micros(0)));
  // 1000 B at 524288 B/s = 1907.35 us.
  EXPECT_EQ(g.NextAvailable(1000, Micros(0)), Micros(1908));
  EXPECT_FALSE(g.TryAcquire(1000, Micros(1907)));
  EXPECT_TRUE(g.TryAcquire(1000, Micros(1908)));
}

TEST(Governor, FailedTryAcquireTakesNothing) {
  GovernorOptions o;
  o.byte_burst = 1000;
  Governor g = Make(o);
  ASSERT_TRUE(g.TryAcquire(600, Micros(0)));
  EXPECT_FALSE(g.TryAcquire(600, Micros(0)));
  // The 400 B left still admit 400 B, and the publish count is untouched.
  EXPECT_TRUE(g.TryAcquire(400, Micros(0)));
}

// ---------------------------------------------------------------------------
// Refill and oversized messages.

TEST(Governor, IdleTimeRefillsOnlyUpToTheBurst) {
  GovernorOptions o;
  o.publish_burst = 20;
  Governor g = Make(o);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(g.TryAcquire(100, Micros(0)));
  ASSERT_FALSE(g.TryAcquire(100, Micros(0)));
  for (Micros idle : {Micros(hours(1)), Micros(hours(24 * 365 * 50))}) {
    int passed = 0;
    while (g.TryAcquire(100, idle)) ++passed;
    EXPECT_EQ(passed, 20) << idle.count() << " us idle";
  }
}

TEST(Governor, MessageLargerThanTheByteBucketGoesWhenTheBucketIsFull) {
  GovernorOptions o;
  o.bytes_per_s = 1000;
  o.byte_burst = 1000;
  Governor g = Make(o);
  ASSERT_TRUE(g.TryAcquire(200, Micros(0)));
  // 5000 B needs a full bucket: 200 B to refill = 200 ms.
  EXPECT_EQ(g.NextAvailable(5000, Micros(0)), milliseconds(200));
  EXPECT_FALSE(g.TryAcquire(5000, milliseconds(199)));
  ASSERT_TRUE(g.TryAcquire(5000, milliseconds(200)));
  // The bucket is now 4000 B in debt: even 1 B waits for it to be repaid.
  EXPECT_EQ(g.NextAvailable(1, milliseconds(200)), milliseconds(200 + 4001));
  // Back-to-back oversized messages go at the byte rate: one per 5 s.
  Micros t = g.NextAvailable(5000, milliseconds(200));
  EXPECT_EQ(t, milliseconds(200 + 5000));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(g.TryAcquire(5000, t));
    const Micros next = g.NextAvailable(5000, t);
    EXPECT_EQ(next - t, seconds(5));
    t = next;
  }
}

TEST(Governor, TimeGoingBackIsTreatedAsNoTime) {
  Governor g = Make();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(g.TryAcquire(0, seconds(5)));
  EXPECT_FALSE(g.TryAcquire(0, seconds(4)));
  EXPECT_EQ(g.NextAvailable(0, seconds(4)), seconds(5) + milliseconds(10));
}

}  // namespace
}  // namespace edgeforge::link
