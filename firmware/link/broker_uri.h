// The broker URI the device, the simulator and the verifier accept: what
// PahoSession connects to (mutual TLS only), checked before anything starts so
// that a typo is a usage error naming the part that is wrong, not a Paho
// return code at connect time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge::link {

struct BrokerUri {
  std::string scheme;  // "ssl" or "mqtts": both TLS to the broker (Paho MQTT C)
  std::string host;    // name or address; an IPv6 literal without its brackets
  uint16_t port = 0;   // 1..65535
};

/// Parses "ssl://host:port" or "mqtts://host:port" ("[::1]" for an IPv6
/// address). The port is required (IoT Core: 8883, or 443 with ALPN) and
/// nothing may follow it. INVALID_ARGUMENT says what is wrong, quoting `uri`.
Result<BrokerUri> ParseBrokerUri(std::string_view uri);

}  // namespace edgeforge::link
