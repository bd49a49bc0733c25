#include "sim/physics/environment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace edgeforge {
namespace {

constexpr double kHour = 3600.0;
constexpr double kDay = 24 * kHour;

TEST(EnvironmentModel, SameSeedSameClimate) {
  const EnvironmentModel a(42), b(42);
  for (double t : {-1e6, -0.5, 0.0, 1.0, 12345.678, 3 * kDay + 17.25, 1e8}) {
    const EnvironmentModel::Ambient x = a.At(t), y = b.At(t), again = a.At(t);
    EXPECT_EQ(x.celsius, y.celsius) << t;
    EXPECT_EQ(x.pascal, y.pascal) << t;
    EXPECT_EQ(x.rel_humidity, y.rel_humidity) << t;
    EXPECT_EQ(x.celsius, again.celsius) << t;  // no hidden state between calls
  }
}

TEST(EnvironmentModel, DifferentSeedsDiffer) {
  const EnvironmentModel a(1), b(2);
  int differing = 0;
  for (int i = 0; i < 48; ++i) {
    const double t = i * 1800.0;
    differing += std::fabs(a.At(t).celsius - b.At(t).celsius) > 0.01 &&
                 std::fabs(a.At(t).pascal - b.At(t).pascal) > 0.1;
  }
  EXPECT_GE(differing, 40);
}

TEST(EnvironmentModel, StaysInFactoryBandsAndSensorRange) {
  for (uint64_t seed : {0ull, 1ull, 7ull, 0xDEADBEEFull, ~0ull}) {
    const EnvironmentModel env(seed);
    for (double t = -kDay; t < 7 * kDay; t += 97.0) {
      const EnvironmentModel::Ambient a = env.At(t);
      ASSERT_GE(a.celsius, 18.0) << seed << " " << t;
      ASSERT_LE(a.celsius, 26.0) << seed << " " << t;
      ASSERT_GE(a.pascal, 101325.0 - 300.0) << seed << " " << t;
      ASSERT_LE(a.pascal, 101325.0 + 300.0) << seed << " " << t;
      ASSERT_GE(a.rel_humidity, 30.0) << seed << " " << t;
      ASSERT_LE(a.rel_humidity, 60.0) << seed << " " << t;
    }
  }
}

TEST(EnvironmentModel, DiurnalSwingPeaksInTheAfternoon) {
  for (uint64_t seed : {3ull, 99ull, 123456789ull}) {
    const EnvironmentModel env(seed);
    for (int day = 0; day < 3; ++day) {
      double lo = 1e9, hi = -1e9, hottest_hour = 0;
      for (double h = 0; h < 24; h += 0.25) {
        const double c = env.At(day * kDay + h * kHour).celsius;
        lo = std::min(lo, c);
        if (c > hi) {
          hi = c;
          hottest_hour = h;
        }
      }
      EXPECT_GE(hi - lo, 4.0) << seed << " day " << day;
      EXPECT_GE(hottest_hour, 11.0) << seed;
      EXPECT_LE(hottest_hour, 19.0) << seed;
    }
  }
}

TEST(EnvironmentModel, HumidityFallsAsTemperatureRises) {
  const EnvironmentModel env(5);
  std::vector<double> c, rh;
  for (double t = 0; t < 2 * kDay; t += 600) {
    c.push_back(env.At(t).celsius);
    rh.push_back(env.At(t).rel_humidity);
  }
  const double n = static_cast<double>(c.size());
  double mc = 0, mh = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    mc += c[i] / n;
    mh += rh[i] / n;
  }
  double cov = 0, vc = 0, vh = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cov += (c[i] - mc) * (rh[i] - mh);
    vc += (c[i] - mc) * (c[i] - mc);
    vh += (rh[i] - mh) * (rh[i] - mh);
  }
  EXPECT_LT(cov / std::sqrt(vc * vh), -0.8);
}

TEST(EnvironmentModel, NoiseIsSmoothNotWhite) {
  const EnvironmentModel env(11);
  double max_dc = 0, max_dp = 0, max_dh = 0;
  for (double t = 0; t < kDay; t += 1.0) {
    const EnvironmentModel::Ambient a = env.At(t), b = env.At(t + 1.0);
    max_dc = std::max(max_dc, std::fabs(b.celsius - a.celsius));
    max_dp = std::max(max_dp, std::fabs(b.pascal - a.pascal));
    max_dh = std::max(max_dh, std::fabs(b.rel_humidity - a.rel_humidity));
  }
  // Per second of simulated time: far below a sensor's own noise floor.
  EXPECT_LT(max_dc, 0.005);
  EXPECT_LT(max_dp, 0.5);
  EXPECT_LT(max_dh, 0.02);
  // ...but the noise is there: pressure wanders by more than the 30 Pa tide.
  double lo = 1e9, hi = -1e9;
  for (double t = 0; t < 2 * kDay; t += 600) {
    lo = std::min(lo, env.At(t).pascal);
    hi = std::max(hi, env.At(t).pascal);
  }
  EXPECT_GT(hi - lo, 80.0);
}

}  // namespace
}  // namespace edgeforge
