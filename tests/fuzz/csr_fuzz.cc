// Fuzz target: certificate requests as `edgeforge certs sign-csr` reads them
// from a device (certs::SignCsr's checks before any CA material is touched,
// and CsrCommonName). The CA directory does not exist: anything that gets
// past the checks must fail on the missing CA, never be signed.
#include <cstdint>
#include <string>

#include "certs/pki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto crt = edgeforge::certs::SignCsr("/nonexistent/edgeforge-fuzz-ca", in, "fuzz.csr");
  if (crt.ok()) __builtin_trap();
  (void)edgeforge::certs::CsrCommonName(in);
  return 0;
}
