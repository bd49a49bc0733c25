// firmware/link/paho_session: what a failed connect says to the operator
// (issue 8 item 6: name the broker's reason where it has one; after a TLS
// failure, say what is still possible once the local identity check passed).
#include "firmware/link/paho/paho_session.h"

#include <gtest/gtest.h>

namespace edgeforge::link {
namespace {

const std::string kWhere = "mqtt dev-a@ssl://broker:8883";

#define EXPECT_HAS(status, needle)                              \
  EXPECT_NE((status).message().find(needle), std::string::npos) \
      << "want \"" << (needle) << "\" in " << (status).ToString()

TEST(ConnectFailureMessageTest, TlsFailureSaysWhatTheLocalCheckCannotSee) {
  const Status s = ConnectFailureStatus(kWhere, -1, 0, kPahoTcpTlsFailure, TcpProbe::kTcpConnects);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_HAS(s, kWhere);
  EXPECT_HAS(s, "Paho does not say which side refused");
  EXPECT_HAS(s, "does not trust the CA that issued our certificate");
  EXPECT_HAS(s, "revoked");
  EXPECT_HAS(s, "not signed by our CA file");
  EXPECT_HAS(s, "TCP/TLS connect failure");  // Paho's own words stay, for searching its docs
}

TEST(ConnectFailureMessageTest, CloseAfterTlsSaysItIsTheBrokerRefusingTheCertificate) {
  const Status s = ConnectFailureStatus(kWhere, -1, 0, kPahoClosedBeforeConnack);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_HAS(s, "refuses a client certificate");
  EXPECT_HAS(s, "revoked");
}

TEST(ConnectFailureMessageTest, ConnackRefusalsNameTheReasonAndWhatItMeans) {
  Status s = ConnackRefusalStatus(kWhere, 0x87);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_HAS(s, "CONNACK MQTT 5 reason 0x87");
  EXPECT_HAS(s, "iot:Connect");
  s = ConnackRefusalStatus(kWhere, 0x85);
  EXPECT_HAS(s, "client id");
  s = ConnackRefusalStatus(kWhere, 0x9F);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_HAS(s, "1 per second");
  s = ConnackRefusalStatus(kWhere, 0x8A);
  EXPECT_HAS(s, "banned");
}

}  // namespace
}  // namespace edgeforge::link
