// Session on Eclipse Paho MQTT C++ (async client, MQTT 5, mutual TLS).
#pragma once

#include <memory>

#include "firmware/link/session.h"

namespace edgeforge::link {

/// INVALID_ARGUMENT if the config breaks IoT Core rules or names missing files.
Result<std::unique_ptr<Session>> MakePahoSession(const SessionConfig& config);

}  // namespace edgeforge::link
