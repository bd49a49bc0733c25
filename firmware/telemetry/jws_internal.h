// Internal interface between jws_common.cc and the two backends
// (jws_mbedtls.cc, jws_openssl.cc). Not for use outside firmware/telemetry/jws*.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "firmware/telemetry/jws.h"

namespace edgeforge::jws::detail {

/// BASE64URL of {"alg":"ES256","b64":false,"crit":["b64"],"kid":<kid>}.
std::string EncodeProtectedHeader(const std::string& kid);

/// "<header_b64>..<BASE64URL(R || S)>": the detached compact serialization.
std::string CompactDetached(const std::string& header_b64, const std::array<uint8_t, 64>& r_s);

struct DetachedSignature {
  std::string_view header_b64;    // signing input is header_b64 '.' payload
  std::array<uint8_t, 64> r_s{};  // RFC 7518 3.4: R || S, 32 bytes each, big-endian
};
/// Header rules (ParseHeader), signature length and scalar range, kid == thumbprint(key).
Result<DetachedSignature> PrepareVerify(std::string_view compact_jws, const EcP256PublicKey& key);

std::string MbedTlsError(int code);

Result<std::unique_ptr<Signer>> MakeMbedTlsSigner(std::string_view private_key_pem);
Result<std::unique_ptr<Signer>> MakeOpenSslSigner(std::string_view private_key_pem);
std::unique_ptr<Verifier> MakeMbedTlsVerifier();
std::unique_ptr<Verifier> MakeOpenSslVerifier();

}  // namespace edgeforge::jws::detail
