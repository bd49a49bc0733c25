// Fuzz target: broker URIs from command lines (firmware/link/broker_uri.h).
// An accepted URI has a host and a port in 1..65535, and written back as
// scheme://host:port (IPv6 in brackets) it parses to the same parts.
#include <cstdint>
#include <string>
#include <string_view>

#include "firmware/link/broker_uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto uri = edgeforge::link::ParseBrokerUri(in);
  if (!uri.ok()) return 0;
  if (uri->host.empty() || uri->port == 0) __builtin_trap();
  const bool v6 = uri->host.find(':') != std::string::npos;
  const std::string again =
      uri->scheme + "://" + (v6 ? "[" + uri->host + "]" : uri->host) + ":" + std::to_string(uri->port);
  auto back = edgeforge::link::ParseBrokerUri(again);
  if (!back.ok() || back->host != uri->host || back->port != uri->port || back->scheme != uri->scheme) {
    __builtin_trap();
  }
  return 0;
}
