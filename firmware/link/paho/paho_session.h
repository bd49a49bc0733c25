// Session on Eclipse Paho MQTT C++ (async client, MQTT 5, mutual TLS).
#pragma once

#include <memory>
#include <string>

#include "firmware/link/session.h"

namespace edgeforge::link {

/// INVALID_ARGUMENT if the config breaks IoT Core rules or names missing files.
Result<std::unique_ptr<Session>> MakePahoSession(const SessionConfig& config);

// What Paho C 1.3 (Debian 12: libpaho-mqtt 1.3.12) puts into
// MQTTAsync_failureData5 for a failed connect, as observed against mosquitto
// 2.0.11 over TLS 1.3 (tests/firmware/link/paho/session_itest.cc) and read in MQTTAsyncUtils.c:
//   message                              code            when
//   "CONNACK return code"                the reason code CONNACK >= 0x80 (reasonCode stays 0)
//   "TCP connect timeout"                -1              no CONNACK within connectTimeout, at any
//                                                        stage; checked every 3 s
//   "TCP/TLS connect failure"            -1              TCP refused or unreachable, OR the TLS
//                                                        handshake failed (either side rejected a
//                                                        certificate, X509_check_host failed), OR
//                                                        the broker reset the connection while
//                                                        CONNECT was written (TLS 1.3)
//   "TCP connect completion failure"     -1              CONNECT sent, then the connection closed
//                                                        before CONNACK
// A rejected client certificate shows as either of the last two: under TLS 1.3
// the client finishes its side of the handshake before the broker checks its
// certificate and answers with an alert and a close.
inline constexpr char kPahoConnackRefused[] = "CONNACK return code";
inline constexpr char kPahoConnectTimeout[] = "TCP connect timeout";
inline constexpr char kPahoTcpTlsFailure[] = "TCP/TLS connect failure";
inline constexpr char kPahoClosedBeforeConnack[] = "TCP connect completion failure";

/// After kPahoTcpTlsFailure (or kPahoClosedBeforeConnack) the session makes
/// one TLS handshake of its own (tls_probe.h): if TCP connects, the failure
/// was TLS, and the handshake says which side refused and why.
enum class TcpProbe {
  kNotRun,
  kTcpConnects,  // the broker accepts TCP: the TLS handshake failed
  kTcpFails,     // refused, unreachable, or name not resolved
};

/// A failed connect mapped to the codes listed at IsAuthFailure() (session.h).
/// `rc`, `reason`, `paho_message`: MQTTAsync_failureData5 code, reasonCode,
/// message. `where` starts the message ("mqtt dev-a@ssl://host:8883").
/// `diagnosis`: what DiagnoseTlsHandshake (tls_probe.h) found after a TLS
/// failure; when set it is the message.
Status ConnectFailureStatus(const std::string& where, int rc, int reason, const std::string& paho_message,
                            TcpProbe probe = TcpProbe::kNotRun, const std::string& diagnosis = "");

/// An MQTT 5 CONNACK reason code >= 0x80 (OASIS MQTT 5.0 section 3.2.2.2).
Status ConnackRefusalStatus(const std::string& where, int reason);

}  // namespace edgeforge::link
