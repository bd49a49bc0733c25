#include "sim/models/loop_detector_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "hal/clock.h"
#include "hal/sim/sim_gpio.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;

constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }

struct Edge {
  bool rising;
  Micros at;
};

class LoopDetectorModelTest : public ::testing::Test {
 protected:
  std::vector<Edge> Edges(SimGpioLine& line) {
    std::vector<Edge> out;
    GpioEvent buf[16];
    Result<size_t> n = line.ReadEvents(Span<GpioEvent>(buf), Millis{0});
    EXPECT_TRUE(n.ok());
    for (size_t i = 0; n.ok() && i < *n; ++i) out.push_back({buf[i].edge == GpioEdge::kRising, buf[i].timestamp});
    return out;
  }

  ManualClock clock_;
  SimGpioLine up_{clock_, SimGpioLine::Direction::kInput};
  SimGpioLine down_{clock_, SimGpioLine::Direction::kInput};
  LoopDetectorModel model_{up_, down_, LoopGeometry{4.0, 2.0}};
};

TEST_F(LoopDetectorModelTest, FourEdgesOfOneVehicle) {
  // 4.5 m at 20 m/s: each loop occupied (4.5 + 2) / 20 = 325 ms, the
  // downstream loop 4 / 20 = 200 ms later.
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(2000));
  const std::vector<Edge> up = Edges(up_);
  const std::vector<Edge> down = Edges(down_);
  ASSERT_EQ(up.size(), 2u);
  ASSERT_EQ(down.size(), 2u);
  EXPECT_TRUE(up[0].rising);
  EXPECT_EQ(up[0].at, Ms(1000));
  EXPECT_FALSE(up[1].rising);
  EXPECT_EQ(up[1].at, Ms(1325));
  EXPECT_EQ(down[0].at, Ms(1200));
  EXPECT_EQ(down[1].at, Ms(1525));
}

TEST_F(LoopDetectorModelTest, PulseEndWaitsForTheNextVehicleOrFlush) {
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());
  clock_.Advance(Ms(2000));
  EXPECT_EQ(Edges(up_).size(), 1u);                          // the end may still merge with a next vehicle
  ASSERT_TRUE(model_.AddVehicle(Ms(3000), 20.0, 4.5).ok());  // does not overlap: schedules it
  clock_.Advance(Ms(2000));
  const std::vector<Edge> up = Edges(up_);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0].at, Ms(1325));
  EXPECT_EQ(up[1].at, Ms(3000));
}

TEST_F(LoopDetectorModelTest, TailgatingMergesIntoOnePulse) {
  // The second car's front reaches the loop 300 ms later, while the first
  // occupies it until 325 ms: one pulse until 300 + 325 ms.
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.AddVehicle(Ms(1300), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(3000));
  const std::vector<Edge> up = Edges(up_);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0].at, Ms(1000));
  EXPECT_EQ(up[1].at, Ms(1625));
  EXPECT_EQ(Edges(down_).size(), 2u);
  EXPECT_EQ(model_.vehicles(), 2u);
  EXPECT_EQ(model_.merged(), 2u);  // once per loop
}

TEST_F(LoopDetectorModelTest, RejectsOutOfOrderOvertakingAndBadValues) {
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 10.0, 4.5).ok());
  Status s = model_.AddVehicle(Ms(900), 10.0, 4.5);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("before the previous one"));
  // 100 ms later but 4x faster: would reach the downstream loop first.
  s = model_.AddVehicle(Ms(1100), 40.0, 4.5);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("overtake"));
  EXPECT_EQ(model_.AddVehicle(Ms(2000), 0.0, 4.5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model_.AddVehicle(Ms(2000), 10.0, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model_.vehicles(), 1u);  // rejected vehicles changed nothing
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(5000));
  EXPECT_EQ(Edges(up_).size(), 2u);
}

}  // namespace
}  // namespace edgeforge
