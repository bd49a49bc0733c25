// MQTT 5 wire codec for tests (OASIS MQTT Version 5.0, 2019): just the packets
// Link uses, so that the in-process loopback (loopback_session.h) moves real
// MQTT bytes between the device's session and a scripted broker. Test support
// only: the product transports are Paho and libmosquitto.
//
// Data representation follows section 1.5 (two-byte integers big-endian,
// variable byte integers of at most 4 bytes in their minimal form, UTF-8
// strings with a two-byte length, well-formed and without U+0000); properties
// follow section 2.2.2 (every identifier of the table in 2.2.2.2 is decoded by
// its type; the ones a test looks at are kept, the rest are checked and
// skipped). Decoding never trusts a length: malformed input is an error
// naming the packet and the field, never a crash (tests/fuzz/mqtt_wire_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hal/status.h"

namespace edgeforge::testing::mqtt {

using UserProperties = std::vector<std::pair<std::string, std::string>>;

/// Fixed header packet types (section 2.1.2).
enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kSubscribe = 8,
  kSuback = 9,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

struct Will {
  std::string topic;
  std::string payload;
  int qos = 0;  // 0..2
  bool retain = false;
  bool operator==(const Will& o) const {
    return topic == o.topic && payload == o.payload && qos == o.qos && retain == o.retain;
  }
};

/// Section 3.1. Protocol name "MQTT", level 5.
struct Connect {
  std::string client_id;
  uint16_t keepalive_s = 0;
  bool clean_start = true;
  uint32_t session_expiry_s = 0;  // property 0x11, written only when > 0
  std::optional<Will> will;
  std::optional<std::string> user_name;
  std::optional<std::string> password;  // binary data
  bool operator==(const Connect& o) const {
    return client_id == o.client_id && keepalive_s == o.keepalive_s && clean_start == o.clean_start &&
           session_expiry_s == o.session_expiry_s && will == o.will && user_name == o.user_name &&
           password == o.password;
  }
};

/// Section 3.2.
struct Connack {
  bool session_present = false;
  uint8_t reason = 0;  // 0x00 success; >= 0x80 refusal (3.2.2.2)
  bool operator==(const Connack& o) const { return session_present == o.session_present && reason == o.reason; }
};

/// Section 3.3. QoS 2 is not used by Link (IoT Core has none) but decodes.
struct Publish {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;  // only for qos > 0, then non-zero
  UserProperties user_properties;
  bool operator==(const Publish& o) const {
    return topic == o.topic && payload == o.payload && qos == o.qos && retain == o.retain && dup == o.dup &&
           packet_id == o.packet_id && user_properties == o.user_properties;
  }
};

/// Section 3.4.
struct Puback {
  uint16_t packet_id = 0;
  uint8_t reason = 0;  // 0x00 success, 0x87 not authorized, ...
  bool operator==(const Puback& o) const { return packet_id == o.packet_id && reason == o.reason; }
};

/// Section 3.8: one or more (filter, subscription options) pairs. Link only
/// sets the maximum QoS; the other options are kept as received so that a
/// decode/encode round trip is exact.
struct Subscribe {
  struct Filter {
    std::string filter;
    uint8_t options = 0;  // bits 0-1 QoS, 2 no local, 3 retain as published, 4-5 retain handling
    int qos() const { return options & 0x03; }
    bool operator==(const Filter& o) const { return filter == o.filter && options == o.options; }
  };
  uint16_t packet_id = 0;
  std::vector<Filter> filters;
  bool operator==(const Subscribe& o) const { return packet_id == o.packet_id && filters == o.filters; }
};

/// Section 3.9: one reason code per filter, in order.
struct Suback {
  uint16_t packet_id = 0;
  std::vector<uint8_t> reasons;
  bool operator==(const Suback& o) const { return packet_id == o.packet_id && reasons == o.reasons; }
};

/// Section 3.14.
struct Disconnect {
  uint8_t reason = 0;  // 0x00 normal disconnection (no will)
  bool operator==(const Disconnect& o) const { return reason == o.reason; }
};

struct Pingreq {
  bool operator==(const Pingreq&) const { return true; }
};
struct Pingresp {
  bool operator==(const Pingresp&) const { return true; }
};

using Packet = std::variant<Connect, Connack, Publish, Puback, Subscribe, Suback, Pingreq, Pingresp, Disconnect>;

PacketType TypeOf(const Packet& p);
/// "CONNECT", "PUBACK", ... for messages.
const char* PacketName(PacketType t);

/// The packet's bytes. INVALID_ARGUMENT naming the field when it cannot be
/// encoded (a string over 65535 bytes or not UTF-8, a QoS out of 0..2, a
/// packet id of 0 where one is required, an empty SUBSCRIBE).
Result<std::string> Encode(const Packet& packet);

/// Variable byte integer (section 1.5.5), appended to `out`. `value` <= 268435455.
void AppendVarInt(uint32_t value, std::string& out);

/// Decodes a byte stream (one direction of one connection) packet by packet.
/// Feed() what arrived, then call Next() until it returns no packet.
class Decoder {
 public:
  /// Packets larger than `max_packet_size` (fixed header included) are an
  /// error rather than a wait for bytes that would never fit a test's memory.
  explicit Decoder(size_t max_packet_size = 1 << 20) : max_packet_size_(max_packet_size) {}

  void Feed(std::string_view bytes) { buffer_.append(bytes.data(), bytes.size()); }
  /// The next complete packet; std::nullopt while it is still partial; an
  /// error (DATA_LOSS naming the packet and field) for malformed bytes.
  /// After an error the stream is unusable (MQTT closes the connection,
  /// section 4.13): every later call returns the same error.
  Result<std::optional<Packet>> Next();
  /// Bytes fed but not yet consumed by a packet.
  size_t buffered() const { return buffer_.size(); }

 private:
  size_t max_packet_size_;
  std::string buffer_;
  std::optional<Status> error_;
};

/// Decodes exactly one packet that fills all of `bytes` (tests).
Result<Packet> DecodeOne(std::string_view bytes);

}  // namespace edgeforge::testing::mqtt
