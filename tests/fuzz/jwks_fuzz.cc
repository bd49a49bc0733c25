// Fuzz target: the key files a verifier loads: JWK sets, revocation lists
// (corpus revoked.json) and PEM public keys, and one JWK as a key
// announcement carries it.
#include <cstdint>
#include <string_view>

#include "firmware/telemetry/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgeforge::jws::JwkSetFromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)edgeforge::jws::PublicKeyFromPem(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)edgeforge::jws::RevocationListFromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)edgeforge::jws::JwkFromJson(std::string_view(reinterpret_cast<const char*>(data), size), "jwk");
  return 0;
}
