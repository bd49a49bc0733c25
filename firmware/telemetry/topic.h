// MQTT topic names under AWS IoT Core's limits (AWS IoT Core developer guide,
// "Topics" and "AWS IoT Core message broker and protocol limits and quotas"):
// a topic is at most 256 UTF-8 bytes and at most 7 forward slashes, except
// that the Basic Ingest prefix `$aws/rules/<rule-name>/` does not count.
#pragma once

#include <string>
#include <string_view>

#include "hal/status.h"

namespace edgeforge::topic {

inline constexpr size_t kMaxTopicBytes = 256;
inline constexpr int kMaxSlashes = 7;

/// A topic a client may publish to: non-empty, no wildcards (+ #), no NUL,
/// valid UTF-8, <= 256 bytes, <= 7 slashes (Basic Ingest prefix exempt).
Status ValidatePublishTopic(std::string_view topic);

/// One level of a topic built from a name (app, site, thing): non-empty,
/// no '/', '+', '#', NUL. `what` names the field in the error ("site").
Status ValidateLevel(std::string_view level, std::string_view what);

/// dt/<app>/<site>/<thing>/telemetry, validated as a whole.
Result<std::string> TelemetryTopic(std::string_view app, std::string_view site,
                                   std::string_view thing);

/// dt/<app>/<site>/<thing>/alarm, validated as a whole.
Result<std::string> AlarmTopic(std::string_view app, std::string_view site, std::string_view thing);

struct TelemetryTopicParts {
  std::string app;
  std::string site;
  std::string thing;
  std::string type;  // the message type: "telemetry" or "alarm" (telemetry::MessageTypeName)
};

/// Splits dt/<app>/<site>/<thing>/<type> for any valid <type> level (the
/// caller matches it against the payload's `type`); INVALID_ARGUMENT for any
/// other shape.
Result<TelemetryTopicParts> ParseTelemetryTopic(std::string_view topic);

}  // namespace edgeforge::topic

namespace edgeforge::topic {
/// MQTT 3.1.1 section 4.7 filter matching ('+' one level, '#' the rest);
/// wildcards at the first level do not match topics that start with '$'.
bool FilterMatches(std::string_view filter, std::string_view topic);
}  // namespace edgeforge::topic
