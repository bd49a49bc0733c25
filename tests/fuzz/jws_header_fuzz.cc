// Fuzz target: the detached JWS header parser and a verify on the result
// (the jws user property comes straight off the wire).
#include <cstdint>
#include <string>

#include "firmware/telemetry/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  (void)edgeforge::jws::ParseHeader(in);
  static const auto verifier = edgeforge::jws::MakeVerifier(edgeforge::jws::Backend::kOpenSsl);
  static const auto mbed = edgeforge::jws::MakeVerifier(edgeforge::jws::Backend::kMbedTls);
  edgeforge::jws::EcP256PublicKey key;  // not on the curve: must be refused, never crash
  (void)verifier->Verify(in, "{}", key);
  (void)mbed->Verify(in, "{}", key);
  (void)edgeforge::jws::Base64UrlDecode(in);
  return 0;
}
