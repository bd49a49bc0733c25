#include "firmware/telemetry/topic.h"

#include <algorithm>
#include <vector>

namespace edgeforge::topic {
namespace {

constexpr std::string_view kBasicIngestPrefix = "$aws/rules/";

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c < 0x80) extra = 0;
    else if ((c >> 5) == 0x6) extra = 1;
    else if ((c >> 4) == 0xE) extra = 2;
    else if ((c >> 3) == 0x1E) extra = 3;
    else return false;
    if (extra > 0 && i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string q = "'";
  q.append(s.substr(0, 80));
  if (s.size() > 80) q += "...";
  return q + "'";
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

}  // namespace

Status ValidatePublishTopic(std::string_view topic) {
  if (topic.empty()) return InvalidArgument("topic is empty");
  if (topic.size() > kMaxTopicBytes) {
    return InvalidArgument("topic " + Quote(topic) + " is " + std::to_string(topic.size()) +
                           " bytes; AWS IoT Core allows at most 256");
  }
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
    return InvalidArgument("topic " + Quote(topic) + " contains a wildcard (+ #) or NUL");
  }
  if (!ValidUtf8(topic)) return InvalidArgument("topic " + Quote(topic) + " is not valid UTF-8");
  std::string_view counted = topic;
  if (counted.substr(0, kBasicIngestPrefix.size()) == kBasicIngestPrefix) {
    // $aws/rules/<rule-name>/ is not counted against the slash limit.
    const size_t rule_end = counted.find('/', kBasicIngestPrefix.size());
    counted = rule_end == std::string_view::npos ? std::string_view() : counted.substr(rule_end + 1);
  }
  const auto slashes = std::count(counted.begin(), counted.end(), '/');
  if (slashes > kMaxSlashes) {
    return InvalidArgument("topic " + Quote(topic) + " has " + std::to_string(slashes) +
                           " slashes; AWS IoT Core allows at most 7");
  }
  return Status::Ok();
}

Status ValidateLevel(std::string_view level, std::string_view what) {
  const std::string field(what);
  if (level.empty()) return InvalidArgument(field + " is empty");
  if (level.find_first_of(std::string_view("/+#\0", 4)) != std::string_view::npos) {
    return InvalidArgument(field + " " + Quote(level) + " must not contain '/', '+', '#' or NUL");
  }
  if (!ValidUtf8(level)) return InvalidArgument(field + " " + Quote(level) + " is not valid UTF-8");
  return Status::Ok();
}

namespace {

Result<std::string> DataTopic(std::string_view app, std::string_view site, std::string_view thing,
                              std::string_view type) {
  EF_RETURN_IF_ERROR(ValidateLevel(app, "app"));
  EF_RETURN_IF_ERROR(ValidateLevel(site, "site"));
  EF_RETURN_IF_ERROR(ValidateLevel(thing, "thing"));
  std::string t = "dt/";
  t.append(app).append("/").append(site).append("/").append(thing).append("/").append(type);
  EF_RETURN_IF_ERROR(ValidatePublishTopic(t));
  return t;
}

}  // namespace

Result<std::string> TelemetryTopic(std::string_view app, std::string_view site,
                                   std::string_view thing) {
  return DataTopic(app, site, thing, "telemetry");
}

Result<std::string> AlarmTopic(std::string_view app, std::string_view site, std::string_view thing) {
  return DataTopic(app, site, thing, "alarm");
}

Result<TelemetryTopicParts> ParseTelemetryTopic(std::string_view topic) {
  const auto levels = Split(topic, '/');
  if (levels.size() != 5 || levels[0] != "dt") {
    return InvalidArgument("topic " + Quote(topic) + " is not dt/<app>/<site>/<thing>/<type>");
  }
  static const char* const kNames[] = {"", "app", "site", "thing", "type"};
  for (size_t i = 1; i < levels.size(); ++i) {
    EF_RETURN_IF_ERROR(ValidateLevel(levels[i], kNames[i]).WithContext("topic " + Quote(topic)));
  }
  return TelemetryTopicParts{std::string(levels[1]), std::string(levels[2]),
                             std::string(levels[3]), std::string(levels[4])};
}

}  // namespace edgeforge::topic

namespace edgeforge::topic {

bool FilterMatches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;  // MQTT 3.1.1 section 4.7.2
  }
  const auto f = Split(filter, '/');
  const auto t = Split(topic, '/');
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // also matches the parent level ("a/#" matches "a")
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

}  // namespace edgeforge::topic
