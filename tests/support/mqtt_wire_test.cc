// The test MQTT 5 codec against byte vectors written out from OASIS MQTT 5.0
// (section numbers in each test), partial streams and malformed input.
#include "tests/support/mqtt_wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgeforge::testing::mqtt {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

std::string MustEncode(const Packet& p) {
  auto b = Encode(p);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : std::string();
}

Status DecodeError(const std::string& bytes) {
  auto p = DecodeOne(bytes);
  EXPECT_FALSE(p.ok()) << "decoded malformed bytes";
  return p.status();
}

TEST(MqttWire, VariableByteIntegersMatchTheTableIn1_5_5) {
  const std::vector<std::pair<uint32_t, std::string>> table = {
      {0, Bytes({0x00})},
      {127, Bytes({0x7f})},
      {128, Bytes({0x80, 0x01})},
      {16383, Bytes({0xff, 0x7f})},
      {16384, Bytes({0x80, 0x80, 0x01})},
      {2097151, Bytes({0xff, 0xff, 0x7f})},
      {2097152, Bytes({0x80, 0x80, 0x80, 0x01})},
      {268435455, Bytes({0xff, 0xff, 0xff, 0x7f})},
  };
  for (const auto& [value, bytes] : table) {
    std::string out;
    AppendVarInt(value, out);
    EXPECT_EQ(out, bytes) << value;
  }
}

TEST(MqttWire, ConnectVariableHeaderMatchesTheExampleIn3_1_2_11) {
  // Figure 3-8's example variable header: protocol name, level 5, flags 0xCE
  // (user name, password, will QoS 1, will, clean start), keep alive 10,
  // properties: session expiry interval 10.
  Connect c;
  c.client_id = "thing-1";
  c.keepalive_s = 10;
  c.clean_start = true;
  c.session_expiry_s = 10;
  c.will = Will{"dt/app/site/thing-1/status", "offline", 1, false};
  c.user_name = "user";
  c.password = std::string("pw\0x", 4);
  const std::string bytes = MustEncode(c);
  const std::string header =
      Bytes({0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xce, 0x00, 0x0a, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a});
  ASSERT_GT(bytes.size(), 2 + header.size());
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0x10);  // CONNECT, flags 0
  EXPECT_EQ(bytes.substr(2, header.size()), header);
  auto back = DecodeOne(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::get<Connect>(*back), c);
}

TEST(MqttWire, ConnectWithoutWillOrCredentials) {
  Connect c;
  c.client_id = "a";
  c.keepalive_s = 30;
  c.clean_start = false;
  // 10 bytes variable header (no properties) + client id "a".
  EXPECT_EQ(MustEncode(c),
            Bytes({0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x01, 'a'}));
}

TEST(MqttWire, SmallPacketsAreTheBytesTheSpecDescribes) {
  EXPECT_EQ(MustEncode(Connack{false, 0x00}), Bytes({0x20, 0x03, 0x00, 0x00, 0x00}));  // 3.2
  EXPECT_EQ(MustEncode(Connack{true, 0x00}), Bytes({0x20, 0x03, 0x01, 0x00, 0x00}));
  EXPECT_EQ(MustEncode(Connack{false, 0x87}), Bytes({0x20, 0x03, 0x00, 0x87, 0x00}));
  EXPECT_EQ(MustEncode(Puback{1, 0x00}), Bytes({0x40, 0x02, 0x00, 0x01}));  // 3.4.2.1: reason 0 omitted
  EXPECT_EQ(MustEncode(Puback{0x1234, 0x87}), Bytes({0x40, 0x03, 0x12, 0x34, 0x87}));
  EXPECT_EQ(MustEncode(Pingreq{}), Bytes({0xc0, 0x00}));     // 3.12
  EXPECT_EQ(MustEncode(Pingresp{}), Bytes({0xd0, 0x00}));    // 3.13
  EXPECT_EQ(MustEncode(Disconnect{}), Bytes({0xe0, 0x00}));  // 3.14.2.1: 0x00 omitted
  EXPECT_EQ(MustEncode(Disconnect{0x8e}), Bytes({0xe0, 0x01, 0x8e}));
  Subscribe s{1, {{"a/#", 1}}};
  EXPECT_EQ(MustEncode(s), Bytes({0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', '#', 0x01}));  // 3.8.1: 0010
  EXPECT_EQ(MustEncode(Suback{1, {0x01, 0x87}}), Bytes({0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x87}));
}

TEST(MqttWire, PublishQos1WithUserPropertyAndTheLongerPubackForms) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.qos = 1;
  p.packet_id = 10;
  EXPECT_EQ(MustEncode(p), Bytes({0x32, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 0x00, 'h', 'i'}));
  p.user_properties = {{"k", "v"}};
  // Property 0x26: two UTF-8 strings (2.2.2.2), property length 7.
  EXPECT_EQ(MustEncode(p), Bytes({0x32, 0x11, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 0x07, 0x26, 0x00, 0x01, 'k', 0x00,
                                  0x01, 'v', 'h', 'i'}));
  auto back = DecodeOne(MustEncode(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<Publish>(*back), p);
  // QoS 0 retain: no packet id.
  Publish q0{"t", "", 0, true, false, 0, {}};
  EXPECT_EQ(MustEncode(q0), Bytes({0x31, 0x04, 0x00, 0x01, 't', 0x00}));
  // PUBACK with reason and (empty) properties, 3.4.2.2.
  auto long_ack = DecodeOne(Bytes({0x40, 0x04, 0x00, 0x07, 0x10, 0x00}));
  ASSERT_TRUE(long_ack.ok()) << long_ack.status().ToString();
  EXPECT_EQ(std::get<Puback>(*long_ack), (Puback{7, 0x10}));
}

TEST(MqttWire, UnmodelledPropertiesAreReadByTypeAndSkipped) {
  // CONNACK with Receive Maximum (0x21, two bytes), Assigned Client Identifier
  // (0x12, string) and a user property.
  const std::string bytes = Bytes(
      {0x20, 0x11, 0x00, 0x00, 0x0e, 0x21, 0x00, 0x14, 0x12, 0x00, 0x01, 'x', 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'});
  auto p = DecodeOne(bytes);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(std::get<Connack>(*p), (Connack{false, 0}));
}

TEST(MqttWire, AStreamWaitsForPartialPacketsAndSplitsJoinedOnes) {
  Publish p{"dt/x", std::string(200, 'p'), 1, false, false, 3, {{"jws", "a.b.c"}}};  // remaining length > 127
  const std::string stream = MustEncode(p) + MustEncode(Pingresp{}) + MustEncode(Puback{3, 0});
  Decoder d;
  std::vector<Packet> got;
  for (char c : stream) {
    d.Feed(std::string(1, c));
    while (true) {
      auto next = d.Next();
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      if (!next->has_value()) break;
      got.push_back(std::move(**next));
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(std::get<Publish>(got[0]), p);
  EXPECT_TRUE(std::holds_alternative<Pingresp>(got[1]));
  EXPECT_EQ(std::get<Puback>(got[2]), (Puback{3, 0}));
  EXPECT_EQ(d.buffered(), 0u);

  Decoder all;
  all.Feed(stream);
  int n = 0;
  for (auto next = all.Next(); next.ok() && next->has_value(); next = all.Next()) ++n;
  EXPECT_EQ(n, 3);
}

void ExpectError(const std::string& bytes, const std::string& needle) {
  const Status st = DecodeError(bytes);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find(needle), std::string::npos) << "'" << needle << "' not in: " << st.ToString();
}

TEST(MqttWire, MalformedInputIsAnErrorNamingPacketAndField) {
  ExpectError(Bytes({0x41, 0x02, 0x00, 0x01}), "PUBACK fixed header: flags 1 are reserved");
  ExpectError(Bytes({0x80, 0x00}), "SUBSCRIBE fixed header: flags 0");  // 3.8.1 wants 0010
  ExpectError(Bytes({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}), "PUBLISH fixed header: QoS 3");
  ExpectError(Bytes({0x38, 0x04, 0x00, 0x01, 't', 0x00}), "DUP set on QoS 0");
  ExpectError(Bytes({0x30, 0x80, 0x00}), "remaining length: not in its minimal form");
  ExpectError(Bytes({0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}), "remaining length: longer than 4 bytes");
  ExpectError(Bytes({0x30, 0x06, 0x00, 0x03, 0xed, 0xa0, 0x80, 0x00}), "PUBLISH topic name: not well-formed UTF-8");
  ExpectError(Bytes({0x30, 0x04, 0x00, 0x01, 0x00, 0x00}), "PUBLISH topic name: not well-formed UTF-8");  // U+0000
  ExpectError(Bytes({0x30, 0x04, 0x00, 0x01, '#', 0x00}), "topic name: contains a wildcard");
  ExpectError(Bytes({0x30, 0x04, 0x00, 0x09, 't', 0x00}), "PUBLISH topic name: length 9 runs past the packet");
  ExpectError(Bytes({0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00}), "PUBLISH packet identifier: 0");
  ExpectError(Bytes({0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x7f, 0x00}), "unknown property identifier 127");
  ExpectError(Bytes({0x30, 0x05, 0x00, 0x01, 't', 0x05, 0x26}), "PUBLISH properties: length 5 runs past");
  ExpectError(Bytes({0x20, 0x03, 0x02, 0x00, 0x00}), "CONNACK acknowledge flags: reserved bits set");
  ExpectError(Bytes({0x82, 0x03, 0x00, 0x01, 0x00}), "SUBSCRIBE payload: no topic filter");
  ExpectError(Bytes({0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03}), "subscription options: QoS 3");
  ExpectError(Bytes({0xc0, 0x01, 0x00}), "PINGREQ remaining length: must be 0");
  ExpectError(Bytes({0xf0, 0x00}), "packet type 15 is not one this codec knows");
  ExpectError(Bytes({0x10, 0x03, 0x00, 0x01, 'X'}), "CONNECT protocol name: 'X', not 'MQTT'");
  ExpectError(Bytes({0x10, 0x0a, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x00}),
              "protocol level: 4, this codec speaks 5");
  ExpectError(Bytes({0x10, 0x0a, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x03, 0x00, 0x00}), "reserved bit 0 set");
  ExpectError(Bytes({0x40, 0x01, 0x00}), "PUBACK packet identifier: truncated");
  ExpectError(Bytes({0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}), "PUBACK trailing bytes");
}

TEST(MqttWire, AnErrorIsStickyAndOversizedPacketsAreRefusedBeforeBuffering) {
  Decoder d;
  d.Feed(Bytes({0x41, 0x02, 0x00, 0x01}) + MustEncode(Pingresp{}));
  auto first = d.Next();
  ASSERT_FALSE(first.ok());
  auto second = d.Next();
  ASSERT_FALSE(second.ok());  // the stream is unusable after a malformed packet (4.13)
  EXPECT_EQ(second.status().message(), first.status().message());

  Decoder small(16);
  small.Feed(Bytes({0x30, 0x80, 0x01}));  // announces 128 bytes: refused before they arrive
  auto big = small.Next();
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("max_packet_size 16"), std::string::npos) << big.status().ToString();
}

TEST(MqttWire, EncodeRefusesWhatCannotBeSentNamingTheField) {
  auto no_id = Encode(Publish{"t", "", 1, false, false, 0, {}});
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.status().message().find("PUBLISH packet id"), std::string::npos);
  auto wildcard = Encode(Publish{"a/+", "", 0, false, false, 0, {}});
  ASSERT_FALSE(wildcard.ok());
  EXPECT_NE(wildcard.status().message().find("wildcards"), std::string::npos);
  auto long_topic = Encode(Publish{std::string(70000, 'a'), "", 0, false, false, 0, {}});
  ASSERT_FALSE(long_topic.ok());
  EXPECT_NE(long_topic.status().message().find("PUBLISH topic: longer than 65535"), std::string::npos);
  auto bad_utf8 = Encode(Publish{"t", "", 0, false, false, 0, {{"k", "\xff"}}});
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("user property value"), std::string::npos);
  Connect c;
  c.will = Will{"w", "", 3, false};
  auto bad_qos = Encode(c);
  ASSERT_FALSE(bad_qos.ok());
  EXPECT_NE(bad_qos.status().message().find("CONNECT will qos must be 0, 1 or 2, got 3"), std::string::npos);
  EXPECT_FALSE(Encode(Subscribe{1, {}}).ok());
}

}  // namespace
}  // namespace edgeforge::testing::mqtt
