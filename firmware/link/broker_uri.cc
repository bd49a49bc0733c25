#include "firmware/link/broker_uri.h"

#include <cctype>

namespace edgeforge::link {
namespace {

Status Bad(std::string_view uri, const std::string& why) {
  return InvalidArgument("'" + std::string(uri) + "': " + why + " (want ssl://host:port or mqtts://host:port)");
}

// RFC 3986 section 3.2.2 reg-name characters we accept in a host name or
// address (no user info, no percent-encoding): enough for DNS names, IPv4
// and, between brackets, IPv6.
bool IsHostChar(char c, bool bracketed) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u) || c == '-' || c == '.' || c == '_') return true;
  return bracketed && (c == ':' || c == '%');
}

}  // namespace

Result<BrokerUri> ParseBrokerUri(std::string_view uri) {
  BrokerUri out;
  const size_t sep = uri.find("://");
  if (sep == std::string_view::npos) return Bad(uri, "no scheme");
  out.scheme = std::string(uri.substr(0, sep));
  // PahoSession speaks mutual TLS only: tcp:// or ws:// would send the
  // device's data in clear, or not at all to AWS IoT Core.
  if (out.scheme != "ssl" && out.scheme != "mqtts") {
    return Bad(uri, "scheme '" + out.scheme + "://' is not ssl:// or mqtts:// (mutual TLS only)");
  }
  std::string_view rest = uri.substr(sep + 3);
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Bad(uri, "'[' without ']' around the IPv6 address");
    out.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (rest.empty()) return Bad(uri, "no port");
    if (rest.front() != ':') return Bad(uri, "'" + std::string(rest) + "' after the host, want ':port'");
    port = rest.substr(1);
    for (char c : out.host) {
      if (!IsHostChar(c, true)) return Bad(uri, "character '" + std::string(1, c) + "' in the IPv6 address");
    }
    // Brackets hold an IPv6 literal only (RFC 3986 3.2.2). "[x-%-]" was
    // accepted, failed only at connect time, and written back without the
    // brackets was refused (found by libFuzzer, docs/fuzzing.md).
    if (!out.host.empty() && out.host.find(':') == std::string::npos) {
      return Bad(uri, "'[" + out.host + "]' is not an IPv6 address (brackets are for IPv6 only)");
    }
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon == std::string_view::npos) {
      for (char c : out.host) {
        if (c == '/' || c == '?' || c == '#') return Bad(uri, "no port before '" + std::string(1, c) + "'");
      }
      return Bad(uri, out.host.empty() ? "no host and no port" : "no port");
    }
    port = rest.substr(colon + 1);
    for (char c : out.host) {
      if (!IsHostChar(c, false)) return Bad(uri, "character '" + std::string(1, c) + "' in the host name");
    }
  }
  if (out.host.empty()) return Bad(uri, "no host");
  size_t digits = 0;
  while (digits < port.size() && std::isdigit(static_cast<unsigned char>(port[digits]))) ++digits;
  if (digits == 0) {
    return Bad(uri, port.empty() ? "no port after ':'" : "port '" + std::string(port) + "' is not a number");
  }
  if (digits < port.size()) {
    return Bad(uri, "'" + std::string(port.substr(digits)) + "' after the port (nothing may follow it)");
  }
  unsigned long value = 0;
  for (char c : port.substr(0, digits)) {
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) break;
  }
  if (value < 1 || value > 65535) return Bad(uri, "port " + std::string(port) + " is not in 1..65535");
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace edgeforge::link
