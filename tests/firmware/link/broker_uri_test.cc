#include "firmware/link/broker_uri.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edgeforge::link {
namespace {

using ::testing::HasSubstr;

TEST(BrokerUri, AcceptsWhatPahoSessionConnectsTo) {
  auto u = ParseBrokerUri("ssl://localhost:8883");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "ssl");
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 8883);
  u = ParseBrokerUri("mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:443");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->port, 443);
  u = ParseBrokerUri("ssl://[::1]:1");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 1);
  EXPECT_TRUE(ParseBrokerUri("ssl://127.0.0.1:65535").ok());
}

TEST(BrokerUri, SaysWhatIsWrong) {
  const struct {
    const char* uri;
    const char* says;
  } cases[] = {
      {"localhost:8883", "no scheme"},
      {"tcp://localhost:1883", "scheme 'tcp://' is not ssl:// or mqtts://"},
      {"ssl://nohost:notaport", "port 'notaport' is not a number"},
      {"ssl://localhost", "no port"},
      {"ssl://localhost:", "no port after ':'"},
      {"ssl://:8883", "no host"},
      {"ssl://", "no host and no port"},
      {"ssl://localhost:0", "port 0 is not in 1..65535"},
      {"ssl://localhost:65536", "port 65536 is not in 1..65535"},
      {"ssl://localhost:99999999999999999999", "is not in 1..65535"},
      {"ssl://localhost:8883/mqtt", "'/mqtt' after the port"},
      {"ssl://localhost:8883 ", "' ' after the port"},
      {"ssl://local host:8883", "character ' ' in the host name"},
      {"ssl://user@host:8883", "character '@' in the host name"},
      {"ssl://[::1:8883", "'[' without ']'"},
      {"ssl://[::1]", "no port"},
      {"ssl://[::1]x:1", "'x:1' after the host"},
  };
  for (const auto& c : cases) {
    auto u = ParseBrokerUri(c.uri);
    ASSERT_FALSE(u.ok()) << c.uri;
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument) << c.uri;
    EXPECT_THAT(u.status().message(), HasSubstr(c.says)) << c.uri;
    EXPECT_THAT(u.status().message(), HasSubstr(std::string("'") + c.uri + "'")) << "quotes the URI";
  }
}

}  // namespace
}  // namespace edgeforge::link
