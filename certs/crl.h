// Certificate revocation for the dev PKI: DIR/crl.pem, an X.509 v2 CRL
// (RFC 5280 section 5) signed by DIR's CA, which the local broker loads
// (mosquitto `crlfile`, sim/broker/local_broker.cc) so that a revoked device
// certificate is refused at the TLS handshake, as IoT Core refuses a
// certificate whose status is REVOKED. mbedTLS 2.28 parses CRLs but cannot
// write them, so this is OpenSSL's X509_CRL.
#pragma once

#include <string>

#include "hal/status.h"

namespace edgeforge::certs {

/// Adds the serial of the certificate at `cert_path` (issued by DIR's CA) to
/// DIR/crl.pem, creating it if missing, and re-signs it: thisUpdate now,
/// nextUpdate now + `days`. Revoking a certificate twice keeps one entry.
/// Returns the serial in hex. Errors name the file.
Result<std::string> RevokeCertificate(const std::string& dir, const std::string& cert_path, int days = 30);

}  // namespace edgeforge::certs
