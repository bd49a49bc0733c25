#include "firmware/app/sensor_source.h"
#include "firmware/drivers/bme280/bme280_source.h"

#include <gtest/gtest.h>

#include "firmware/telemetry/telemetry.h"
#include "hal/sim/sim_i2c_bus.h"
#include "sim/models/bme280_model.h"

namespace edgeforge::app {
namespace {

class Bme280SourceTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  SimI2cBus bus_;
  Bme280Model model_;
  Bme280 bme_{bus_, 0x76, clock_};
  Bme280Source source_{"env0", bme_};
};

TEST_F(Bme280SourceTest, ReadingsCarryUnitsAndSensorResolution) {
  ASSERT_TRUE(bus_.Attach(0x76, model_).ok());
  model_.SetAmbient(20.17, 101168.2, 53.94);
  ASSERT_TRUE(source_.Init().ok());
  std::vector<telemetry::Reading> r;
  ASSERT_TRUE(source_.Sample(r).ok());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "temperature");
  EXPECT_EQ(r[0].unit, "Cel");
  EXPECT_NEAR(r[0].value, 20.17, 0.011);
  EXPECT_EQ(r[1].unit, "Pa");
  EXPECT_NEAR(r[1].value, 101168.2, 2.0);
  EXPECT_EQ(r[2].unit, "%");
  EXPECT_NEAR(r[2].value, 53.94, 0.011);
  // Rounded to the sensor's resolution: no noise digits in the JSON.
  telemetry::Message m;
  m.dev = "d";
  m.readings = r;
  const std::string json = telemetry::Serialize(m);
  const auto p = json.find("\"pressure\":{\"value\":");
  ASSERT_NE(p, std::string::npos);
  const std::string value = json.substr(p + 20, json.find(',', p + 20) - (p + 20));
  EXPECT_LE(value.size(), 8u) << value;  // e.g. 101168.2
}

TEST_F(Bme280SourceTest, MissingSensorGivesFaultedReadingsThenRecovers) {
  std::vector<telemetry::Reading> r;
  Status s = source_.Sample(r);  // nothing on the bus: NACK
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& reading : r) {
    EXPECT_NE(reading.fault.find("env0"), std::string::npos) << reading.fault;
    EXPECT_NE(reading.fault.find("0x76"), std::string::npos) << reading.fault;
  }
  // The sensor is plugged in: the next sample re-initialises it and reads.
  ASSERT_TRUE(bus_.Attach(0x76, model_).ok());
  r.clear();
  EXPECT_TRUE(source_.Sample(r).ok());
  EXPECT_TRUE(r[0].fault.empty());
}

}  // namespace
}  // namespace edgeforge::app
