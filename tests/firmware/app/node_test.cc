// The node builder: a board file becomes drivers and sources on whatever
// buses a BusProvider hands out; configuration errors name the file and field.
#include "firmware/app/node.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "firmware/board/builtin.h"
#include "hal/sim/sim_gpio.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/sim/sim_uart.h"
#include "sim/models/bme280_model.h"
#include "tests/support/bare_buses.h"

namespace edgeforge::app {
namespace {

using namespace std::chrono_literals;

using testing_support::BareBuses;

board::Board Factory() {
  auto b = board::LoadBoardSpec("factory-node");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

Status BuildFrom(const std::string& json) {
  ManualClock clock;
  BareBuses buses(clock);
  auto b = board::ParseBoard(json, "boards/x.json");
  if (!b.ok()) return b.status();
  auto node = BuildNode(*b, buses, clock);
  return node.ok() ? Status::Ok() : node.status();
}

std::string FactoryJson() {
  for (const auto& b : board::BuiltinBoards()) {
    if (b.name == "factory-node") return std::string(b.json);
  }
  return "";
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(Node, FactoryBoardBuildsEveryPartWithItsChannelsPeriodsAndAlarms) {
  ManualClock clock;
  BareBuses buses(clock);
  const board::Board b = Factory();
  auto node = BuildNode(b, buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  const auto& parts = (*node)->parts();
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].device->name, "env0");
  EXPECT_EQ(parts[0].channels, (std::vector<std::string>{"temperature", "pressure", "humidity"}));
  EXPECT_EQ(parts[1].channels.size(), 5u);
  EXPECT_EQ(parts[2].channels, (std::vector<std::string>{"motor_current", "line_pressure"}));
  const auto slots = (*node)->Slots();
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[1].period, Micros(250ms));
  EXPECT_EQ((*node)->report_period(), Micros(10s));
  ASSERT_EQ((*node)->alarm_rules().size(), b.alarms.size());
  EXPECT_EQ((*node)->alarm_rules()[0].channel, b.alarms[0].channel);
  EXPECT_EQ((*node)->alarm_rules()[0].severity, board::SeverityName(b.alarms[0].severity));
}

TEST(Node, TheBuiltSourcesTalkToTheChipOnTheBoardsBus) {
  ManualClock clock;
  BareBuses buses(clock);
  Bme280Model model;
  model.SetAmbient(23.0, 100000, 40);
  ASSERT_TRUE(buses.i2c("i2c1").Attach(0x76, model).ok());
  auto node = BuildNode(Factory(), buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  pipeline::SensorSource* env = (*node)->parts()[0].source;
  ASSERT_TRUE(env->Init().ok());
  std::vector<telemetry::Reading> out;
  ASSERT_TRUE(env->Sample(out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_NEAR(out[0].value, 23.0, 0.01);
}

TEST(Node, AnAlarmOnAChannelNoPartProducesNamesTheAlarmAndTheKnownChannels) {
  const Status s = BuildFrom(Replace(FactoryJson(), "\"channel\": \"temperature\"", "\"channel\": \"temprature\""));
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("boards/x.json: alarms[1].channel"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("temprature"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("motor_current"), std::string::npos) << s.message();
}

TEST(Node, BadDriverParamsNameTheField) {
  Status s = BuildFrom(Replace(FactoryJson(), "\"pga_v\": 1.024", "\"pga_v\": 1.5"));
  EXPECT_NE(s.message().find("devices[2].params.channels[0].pga_v"), std::string::npos) << s.message();
  s = BuildFrom(Replace(FactoryJson(), "\"odr_hz\": 100", "\"odr_hz\": 123"));
  EXPECT_NE(s.message().find("devices[1].params.odr_hz"), std::string::npos) << s.message();
  s = BuildFrom(Replace(FactoryJson(), "\"shunt_ohm\": 165", "\"shunt_ohm\": 165, \"shunt\": 1"));
  EXPECT_NE(s.message().find("devices[2].params.channels[1].shunt"), std::string::npos) << s.message();
  s = BuildFrom(Replace(FactoryJson(), "\"transducer\": \"loop_4_20ma\"", "\"transducer\": \"thermocouple\""));
  EXPECT_NE(s.message().find("channels[1].transducer"), std::string::npos) << s.message();
}

TEST(Node, TwoPartsProducingTheSameChannelAreRefused) {
  const Status s = BuildFrom(
      Replace(FactoryJson(), "{\"name\": \"vib0\"",
              "{\"name\": \"env1\", \"compatible\": \"bosch,bme280\", \"bus\": \"i2c1\", \"address\": \"0x77\", "
              "\"sample_ms\": 1000},\n    {\"name\": \"vib0\""));
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"temperature\" is also produced by env0"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace edgeforge::app
