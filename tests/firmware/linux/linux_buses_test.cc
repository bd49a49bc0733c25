// The node builder on Linux buses (/dev/i2c-N, spidev, gpiochip, tty): a
// board whose device node is missing fails with the part and the node named.
#include "firmware/linux/linux_buses.h"

#include <gtest/gtest.h>

#include "firmware/app/node.h"
#include "firmware/board/builtin.h"

namespace edgeforge::app {
namespace {

board::Board Factory() {
  auto b = board::LoadBoardSpec("factory-node");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

// On this machine there is no /dev/i2c-1: the error names the part, the bus
// and the device node, as an operator running on the wrong board would need.
TEST(Node, OnLinuxAMissingDeviceNodeNamesThePartAndTheNode) {
  SystemClock clock;
  LinuxBuses buses;
  board::Board b = Factory();
  b.buses.at("i2c1").linux_device = "/dev/i2c-edgeforge-test-missing";
  auto node = BuildNode(b, buses, clock);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), StatusCode::kNotFound) << node.status().ToString();
  const std::string m = node.status().message();
  EXPECT_NE(m.find("devices[0] (env0)"), std::string::npos) << m;
  EXPECT_NE(m.find("/dev/i2c-edgeforge-test-missing"), std::string::npos) << m;
}

}  // namespace
}  // namespace edgeforge::app
