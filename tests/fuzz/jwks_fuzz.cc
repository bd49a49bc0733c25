// Fuzz target: JWK set parsing (a file a verifier loads).
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgeforge::jws::JwkSetFromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)edgeforge::jws::PublicKeyFromPem(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
