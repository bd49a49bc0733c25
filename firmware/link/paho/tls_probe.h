// Why a TLS handshake with the broker failed, in words an operator can act on.
//
// Paho C 1.3 reports every failed handshake as "TCP/TLS connect failure"
// (or, when a TLS 1.3 broker refuses the client certificate after its
// Finished, as a connection closed before CONNACK): it passes up neither
// OpenSSL's verify result for the broker's certificate nor the alert the
// broker sent. After such a failure the session makes one handshake of its
// own with the same files and the same checks as Paho (TLS >= 1.2, the
// broker's certificate chained to the CA file and naming the URI host, our
// certificate and key) and reads what OpenSSL says: which side refused, and
// why (tests/firmware/link/paho/tls_attack_itest.cc drives every case against a real
// mosquitto or openssl s_server).
#pragma once

#include <string>

#include "firmware/link/broker_uri.h"
#include "firmware/link/session.h"
#include "hal/clock.h"

namespace edgeforge::link {

/// A connected TCP socket to `uri`'s host and port (blocking, CLOEXEC), or
/// -1 if none opens within `limit`.
int ConnectTcp(const BrokerUri& uri, Millis limit);

/// One handshake with `tls` against `uri`, bounded by `limit` for the TCP
/// connect and for each read. Returns one sentence: what failed and the fix
/// (e.g. "the broker refused our certificate: it is revoked (TLS alert
/// certificate_revoked) ..."), "" if TCP does not connect now, or a sentence
/// saying the handshake succeeds now. Blocks the calling thread; call it from
/// Paho's, never the device's.
std::string DiagnoseTlsHandshake(const BrokerUri& uri, const TlsIdentity& tls, Millis limit);

}  // namespace edgeforge::link
