// Fuzz target: the test MQTT 5 codec (tests/support/mqtt_wire.h) on a byte
// stream. Malformed bytes are an error, never a crash; every packet decoded
// encodes again, and those bytes decode to the same packet (so the encoder
// and decoder agree on every field the loopback broker relies on). The input
// is also fed in two pieces: a split point changes nothing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/mqtt_wire.h"

namespace mqtt = edgeforge::testing::mqtt;

namespace {

/// Decodes the whole stream, fed as `first` then `second`; stops at the first error.
std::vector<mqtt::Packet> DecodeAll(std::string_view first, std::string_view second, bool& failed) {
  mqtt::Decoder d(1 << 16);
  std::vector<mqtt::Packet> out;
  failed = false;
  for (std::string_view piece : {first, second}) {
    d.Feed(piece);
    while (true) {
      auto next = d.Next();
      if (!next.ok()) {
        failed = true;
        return out;
      }
      if (!next->has_value()) break;
      out.push_back(std::move(**next));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  bool failed = false;
  const std::vector<mqtt::Packet> packets = DecodeAll(in, {}, failed);
  bool failed_split = false;
  const std::vector<mqtt::Packet> split = DecodeAll(in.substr(0, size / 2), in.substr(size / 2), failed_split);
  if (split != packets || failed_split != failed) __builtin_trap();
  for (const mqtt::Packet& p : packets) {
    auto bytes = mqtt::Encode(p);
    if (!bytes.ok()) __builtin_trap();  // whatever decodes is encodable
    auto again = mqtt::DecodeOne(*bytes);
    if (!again.ok() || !(*again == p)) __builtin_trap();
  }
  return 0;
}
