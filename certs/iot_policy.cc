#include "certs/iot_policy.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

namespace edgeforge::certs {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr char kThingSlot[] = "{thing}";
constexpr char kThingVar[] = "${iot:Connection.Thing.ThingName}";
constexpr char kAttachedKey[] = "iot:Connection.Thing.IsAttached";
constexpr char kDeltaTemplate[] = "$aws/things/{thing}/shadow/update/delta";

std::vector<std::string> Levels(const std::string& topic) {
  std::vector<std::string> levels;
  size_t start = 0;
  for (;;) {
    const size_t slash = topic.find('/', start);
    levels.push_back(topic.substr(start, slash - start));
    if (slash == std::string::npos) return levels;
    start = slash + 1;
  }
}

std::string Join(const std::vector<std::string>& levels) {
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) out += (i == 0 ? "" : "/") + levels[i];
  return out;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// A template as an IoT resource path: "{thing}" -> the policy variable, a "+"
// level -> '*'. A '*' also matches '/', which one level must not, so
// DepthDenies() adds what keeps the wildcard to one level.
std::string IotTopic(const std::string& templ) {
  std::vector<std::string> levels = Levels(templ);
  for (std::string& l : levels) {
    if (l == "+") l = "*";
  }
  return ReplaceAll(Join(levels), kThingSlot, kThingVar);
}

// For a template with '+' levels: topics under the same literal prefix with
// more levels than the template ("dt/*/*/*/*/*" for "dt/+/+/{thing}/telemetry"),
// which '*' would otherwise let through ("dt/a/b/other/X/telemetry").
std::string DepthDeny(const std::string& templ) {
  const std::vector<std::string> levels = Levels(templ);
  std::vector<std::string> deny;
  size_t i = 0;
  for (; i < levels.size() && levels[i] != "+"; ++i) deny.push_back(levels[i]);
  for (size_t n = i; n <= levels.size(); ++n) deny.push_back("*");
  return Join(deny);
}

std::string Arn(const PolicyTarget& t, const std::string& type, const std::string& rest) {
  return "arn:aws:iot:" + t.region + ":" + t.account + ":" + type + "/" + rest;
}

// AWS resource wildcards: '*' any run of characters, '?' exactly one.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "Action": "iot:Publish" or ["iot:Publish", ...] -> the strings; an error
// names the field otherwise.
Result<std::vector<std::string>> Strings(const Json& statement, const char* field, const std::string& where) {
  auto it = statement.find(field);
  if (it == statement.end()) return InvalidArgument(where + ": no " + field);
  std::vector<std::string> out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array() && !it->empty()) {
    for (const Json& v : *it) {
      if (!v.is_string()) return InvalidArgument(where + "." + field + ": every entry must be a string");
      out.push_back(v.get<std::string>());
    }
  } else {
    return InvalidArgument(where + "." + field + ": must be a string or a non-empty array of strings");
  }
  return out;
}

struct Statement {
  std::string where;  // "Statement[2] (Sid PublishOwnTopics)"
  bool allow = false;
  std::vector<std::string> actions;
  std::vector<std::string> resources;
  const Json* condition = nullptr;
};

Result<std::vector<Statement>> ParseStatements(const Json& doc) {
  if (!doc.is_object()) return InvalidArgument("the policy is not a JSON object");
  auto st = doc.find("Statement");
  if (st == doc.end()) return InvalidArgument("the policy has no Statement");
  std::vector<const Json*> raw;
  if (st->is_object()) {
    raw.push_back(&*st);
  } else if (st->is_array()) {
    for (const Json& s : *st) raw.push_back(&s);
  } else {
    return InvalidArgument("Statement must be an object or an array");
  }
  std::vector<Statement> out;
  for (size_t i = 0; i < raw.size(); ++i) {
    const Json& s = *raw[i];
    Statement parsed;
    parsed.where = "Statement[" + std::to_string(i) + "]";
    if (!s.is_object()) return InvalidArgument(parsed.where + ": not an object");
    if (auto sid = s.find("Sid"); sid != s.end() && sid->is_string()) {
      parsed.where += " (Sid " + sid->get<std::string>() + ")";
    }
    for (const char* unsupported : {"NotAction", "NotResource", "NotPrincipal"}) {
      if (s.contains(unsupported)) return InvalidArgument(parsed.where + ": " + unsupported + " is not modelled");
    }
    auto effect = s.find("Effect");
    if (effect == s.end() || !effect->is_string() ||
        (effect->get<std::string>() != "Allow" && effect->get<std::string>() != "Deny")) {
      return InvalidArgument(parsed.where + ".Effect: must be \"Allow\" or \"Deny\"");
    }
    parsed.allow = effect->get<std::string>() == "Allow";
    auto actions = Strings(s, "Action", parsed.where);
    if (!actions.ok()) return actions.status();
    parsed.actions = std::move(*actions);
    auto resources = Strings(s, "Resource", parsed.where);
    if (!resources.ok()) return resources.status();
    parsed.resources = std::move(*resources);
    if (auto c = s.find("Condition"); c != s.end()) parsed.condition = &*c;
    out.push_back(std::move(parsed));
  }
  return out;
}

Result<Json> ParsePolicy(std::string_view text) {
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("the policy is not valid JSON");
  return doc;
}

// A Condition block: only {"Bool": {"iot:Connection.Thing.IsAttached": "true"|true}}
// is modelled (what RenderIotPolicy writes).
Result<bool> ConditionHolds(const Statement& s, const IotRequest& r) {
  if (s.condition == nullptr) return true;
  if (!s.condition->is_object()) return InvalidArgument(s.where + ".Condition: not an object");
  for (const auto& [op, keys] : s.condition->items()) {
    if (op != "Bool" || !keys.is_object()) {
      return InvalidArgument(s.where + ".Condition." + op + ": only Bool conditions are modelled");
    }
    for (const auto& [key, value] : keys.items()) {
      if (key != kAttachedKey) {
        return InvalidArgument(s.where + ".Condition.Bool." + key + ": only " + kAttachedKey + " is modelled");
      }
      bool want = false;
      if (value.is_boolean()) {
        want = value.get<bool>();
      } else if (value.is_string() && (value == "true" || value == "false")) {
        want = value == "true";
      } else {
        return InvalidArgument(s.where + ".Condition.Bool." + key + ": must be true or false");
      }
      if (want != !r.thing.empty()) return false;
    }
  }
  return true;
}

// Substitutes the policy variables IoT Core resolves for this connection.
// nullopt: a variable that does not resolve (no attached thing, or a client
// id that is not the thing's name), so the resource matches nothing.
Result<std::optional<std::string>> Substitute(const std::string& resource, const IotRequest& r,
                                              const std::string& where) {
  std::string out;
  size_t at = 0;
  for (;;) {
    const size_t open = resource.find("${", at);
    out += resource.substr(at, open - at);
    if (open == std::string::npos) return std::optional<std::string>(out);
    const size_t close = resource.find('}', open);
    if (close == std::string::npos) return InvalidArgument(where + ".Resource: unterminated ${ in " + resource);
    const std::string var = resource.substr(open + 2, close - open - 2);
    if (var == "iot:Connection.Thing.ThingName") {
      if (r.thing.empty() || r.client_id != r.thing) return std::optional<std::string>();
      out += r.thing;
    } else if (var == "iot:ClientId") {
      out += r.client_id;
    } else {
      return InvalidArgument(where + ".Resource: policy variable ${" + var + "} is not modelled");
    }
    at = close + 1;
  }
}

std::string RequestArn(const IotRequest& r, const PolicyTarget& t) {
  switch (r.action) {
    case IotAction::kConnect:
      return Arn(t, "client", r.target);
    case IotAction::kSubscribe:
      return Arn(t, "topicfilter", r.target);
    case IotAction::kPublish:
    case IotAction::kReceive:
      return Arn(t, "topic", r.target);
  }
  return "";
}

Result<bool> Applies(const Statement& s, const IotRequest& r, const std::string& action, const std::string& arn) {
  const bool action_matches = std::any_of(s.actions.begin(), s.actions.end(),
                                          [&](const std::string& a) { return GlobMatch(Lower(a), action); });
  if (!action_matches) return false;
  bool resource_matches = false;
  for (const std::string& res : s.resources) {
    auto sub = Substitute(res, r, s.where);
    if (!sub.ok()) return sub.status();
    if (sub->has_value() && GlobMatch(**sub, arn)) resource_matches = true;
  }
  if (!resource_matches) return false;
  return ConditionHolds(s, r);
}

// The part after "arn:aws:iot:<region>:<account>:<type>/", or the whole
// resource when it is not an IoT ARN.
std::string ResourcePath(const std::string& resource, std::string* type) {
  static const std::regex kArn(R"(^arn:aws:iot:[^:]*:[^:]*:([^/]*)/(.*)$)");
  std::smatch m;
  if (!std::regex_match(resource, m, kArn)) {
    type->clear();
    return resource;
  }
  *type = m[1];
  return m[2];
}

bool OnlyWildcards(const std::string& s) {
  return !s.empty() && s.find_first_not_of("*?/#+") == std::string::npos;
}

// The ARN of `type`/`rest` in the region and account a resource names (its
// own fields, wildcards included), so a resource is judged by what it
// matches, not by how it is spelled.
std::string ProbeArn(const std::string& resource, const std::string& type, const std::string& rest) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t colon = resource.find(':', start);
    if (colon == std::string::npos) break;
    fields.push_back(resource.substr(start, colon - start));
    start = colon + 1;
  }
  const bool arn = fields.size() == 5 && fields[0] == "arn" && fields[2] == "iot";
  const PolicyTarget defaults;
  return "arn:aws:iot:" + (arn ? fields[3] : defaults.region) + ":" + (arn ? fields[4] : defaults.account) + ":" +
         type + "/" + rest;
}

// What a resource of an Allow grants that a device policy must not, judged
// for a probe thing: another thing's client id or topics (a wildcard in the
// wrong place, or no thing variable), or its own update/delta (publishing
// there would forge the shadow service's commands to itself).
void LintResource(const Statement& s, const std::string& res, bool publishes, std::vector<std::string>& findings) {
  std::string type;
  const std::string path = ResourcePath(res, &type);
  if (res == "*" || OnlyWildcards(type) || OnlyWildcards(path)) {
    findings.push_back(s.where + ".Resource: '" + res + "' is a wildcard resource; name the thing's own " +
                       "client id and topics with " + kThingVar);
    return;
  }
  const bool per_thing_type = GlobMatch(type, "client") || GlobMatch(type, "topic") || GlobMatch(type, "topicfilter");
  if (per_thing_type && res.find(kThingVar) == std::string::npos) {
    findings.push_back(s.where + ".Resource: '" + res + "' does not use " + kThingVar +
                       ", so every device gets it, not only the thing itself");
    return;
  }
  IotRequest probe;
  probe.thing = probe.client_id = "lint-probe-thing";
  auto sub = Substitute(res, probe, s.where);
  if (!sub.ok() || !sub->has_value()) return;  // the evaluator reports what it cannot model
  // Another thing, and one whose name extends the probe's ("${...}*").
  std::vector<std::pair<std::string, std::string>> others;
  for (const std::string& other : {std::string("lint-other-thing"), probe.thing + "-2"}) {
    others.insert(others.end(), {{"client", other},
                                 {"topic", "dt/a/b/" + other + "/telemetry"},
                                 {"topic", "$aws/things/" + other + "/shadow/update"},
                                 {"topicfilter", "$aws/things/" + other + "/shadow/update/delta"}});
  }
  for (const auto& [t, rest] : others) {
    if (!GlobMatch(**sub, ProbeArn(res, t, rest))) continue;
    findings.push_back(s.where + ".Resource: '" + res + "' is too wide: it grants another thing's " + t + " " +
                       rest + ", not only the thing's own");
    return;
  }
  const std::string delta = ReplaceAll(kDeltaTemplate, kThingSlot, probe.thing);
  if (publishes && GlobMatch(**sub, ProbeArn(res, "topic", delta))) {
    findings.push_back(s.where + ".Resource: '" + res + "' lets a device publish to its own " +
                       "$aws/things/<thing>/shadow/update/delta, which only the shadow service may");
  }
}

void LintStatement(const Statement& s, std::vector<std::string>& findings) {
  if (!s.allow) return;  // a Deny only takes rights away
  for (const std::string& a : s.actions) {
    if (a.find('*') != std::string::npos || a.find('?') != std::string::npos) {
      findings.push_back(s.where + ".Action: '" + a + "' grants every matching action; name each (iot:Connect, " +
                         "iot:Publish, iot:Subscribe, iot:Receive)");
    }
  }
  const bool publishes = std::any_of(s.actions.begin(), s.actions.end(),
                                     [](const std::string& a) { return GlobMatch(Lower(a), "iot:publish"); });
  for (const std::string& res : s.resources) LintResource(s, res, publishes, findings);
  // A wildcard action was flagged above; the condition is asked of a named iot:Connect.
  const bool connect =
      std::any_of(s.actions.begin(), s.actions.end(), [](const std::string& a) { return Lower(a) == "iot:connect"; });
  if (connect) {
    const bool attached = s.condition != nullptr && s.condition->is_object() && s.condition->contains("Bool") &&
                          (*s.condition)["Bool"].is_object() && (*s.condition)["Bool"].contains(kAttachedKey) &&
                          ((*s.condition)["Bool"][kAttachedKey] == "true" || (*s.condition)["Bool"][kAttachedKey] == true);
    if (!attached) {
      findings.push_back(s.where + ".Condition: iot:Connect without {\"Bool\": {\"" + kAttachedKey +
                         "\": \"true\"}} lets a certificate with no thing attached connect");
    }
  }
}

}  // namespace

const std::vector<TopicGrant>& ThingGrants() {
  static const std::vector<TopicGrant> kGrants = {
      {TopicAccess::kPublish, "dt/+/+/{thing}/telemetry", "window statistics (docs/telemetry.md)"},
      {TopicAccess::kPublish, "dt/+/+/{thing}/alarm", "threshold crossings"},
      {TopicAccess::kPublish, "dt/+/+/{thing}/status", "the last will (offline notice)"},
      {TopicAccess::kPublish, "$aws/things/{thing}/shadow/update", "reported config and state"},
      {TopicAccess::kPublish, "$aws/things/{thing}/shadow/get", "the shadow on every connect"},
      {TopicAccess::kRead, "$aws/things/{thing}/shadow/update/accepted", "answers to its updates"},
      {TopicAccess::kRead, "$aws/things/{thing}/shadow/update/rejected", "refusals of its updates"},
      {TopicAccess::kRead, "$aws/things/{thing}/shadow/update/delta", "desired config to apply"},
      {TopicAccess::kRead, "$aws/things/{thing}/shadow/get/accepted", "the shadow document"},
      {TopicAccess::kRead, "$aws/things/{thing}/shadow/get/rejected", "no shadow yet (404)"},
  };
  return kGrants;
}

Status ValidatePolicyTarget(const PolicyTarget& target) {
  static const std::regex kRegion(R"(^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-[0-9]$)");
  static const std::regex kAccount(R"(^[0-9]{12}$)");
  if (!std::regex_match(target.region, kRegion)) {
    return InvalidArgument("--region '" + target.region + "' is not an AWS region name such as us-east-1");
  }
  if (!std::regex_match(target.account, kAccount)) {
    return InvalidArgument("--account '" + target.account + "' is not a 12-digit AWS account id");
  }
  return Status::Ok();
}

const char* IotActionName(IotAction a) {
  switch (a) {
    case IotAction::kConnect:
      return "iot:Connect";
    case IotAction::kPublish:
      return "iot:Publish";
    case IotAction::kSubscribe:
      return "iot:Subscribe";
    case IotAction::kReceive:
      return "iot:Receive";
  }
  return "?";
}

std::string RenderIotPolicy(const PolicyTarget& t) {
  OrderedJson publish = OrderedJson::array(), subscribe = OrderedJson::array(), receive = OrderedJson::array();
  std::set<std::string> publish_denies, read_denies;
  for (const TopicGrant& g : ThingGrants()) {
    const std::string topic = IotTopic(g.topic);
    const bool wide = g.topic.find('+') != std::string::npos;
    if (g.access == TopicAccess::kPublish) {
      publish.push_back(Arn(t, "topic", topic));
      if (wide) publish_denies.insert(DepthDeny(g.topic));
    } else {
      subscribe.push_back(Arn(t, "topicfilter", topic));
      receive.push_back(Arn(t, "topic", topic));
      if (wide) read_denies.insert(DepthDeny(g.topic));
    }
  }
  OrderedJson statements = OrderedJson::array();
  statements.push_back({{"Sid", "ConnectAsItsThing"},
                        {"Effect", "Allow"},
                        {"Action", "iot:Connect"},
                        {"Resource", Arn(t, "client", kThingVar)},
                        {"Condition", {{"Bool", {{kAttachedKey, "true"}}}}}});
  statements.push_back({{"Sid", "PublishOwnTelemetryAndShadowRequests"},
                        {"Effect", "Allow"},
                        {"Action", "iot:Publish"},
                        {"Resource", publish}});
  statements.push_back({{"Sid", "SubscribeOwnShadowAnswers"},
                        {"Effect", "Allow"},
                        {"Action", "iot:Subscribe"},
                        {"Resource", subscribe}});
  statements.push_back({{"Sid", "ReceiveOwnShadowAnswers"},
                        {"Effect", "Allow"},
                        {"Action", "iot:Receive"},
                        {"Resource", receive}});
  if (!publish_denies.empty()) {
    OrderedJson deny = OrderedJson::array();
    for (const std::string& d : publish_denies) deny.push_back(Arn(t, "topic", d));
    statements.push_back({{"Sid", "OneLevelPerWildcard"}, {"Effect", "Deny"}, {"Action", "iot:Publish"}, {"Resource", deny}});
  }
  if (!read_denies.empty()) {
    OrderedJson deny = OrderedJson::array();
    for (const std::string& d : read_denies) deny.push_back(Arn(t, "topic", d));
    statements.push_back(
        {{"Sid", "OneLevelPerWildcardRead"}, {"Effect", "Deny"}, {"Action", "iot:Receive"}, {"Resource", deny}});
  }
  OrderedJson doc = {{"Version", "2012-10-17"}, {"Statement", statements}};
  return doc.dump(2) + "\n";
}

std::string RenderThingAcl() {
  std::string out = "# Every thing (user = certificate CN = thing name): rendered from\n"
                    "# certs/iot_policy.cc ThingGrants(), as `edgeforge certs policy` renders\n"
                    "# the IoT policy. 'read' is subscribe + receive, 'write' is publish.\n";
  for (const TopicGrant& g : ThingGrants()) {
    out += std::string("pattern ") + (g.access == TopicAccess::kPublish ? "write " : "read ") +
           ReplaceAll(g.topic, kThingSlot, "%u") + "\n";
  }
  return out;
}

Result<bool> EvaluateIotPolicy(std::string_view policy_json, const IotRequest& request, const PolicyTarget& target) {
  auto doc = ParsePolicy(policy_json);
  if (!doc.ok()) return doc.status();
  auto statements = ParseStatements(*doc);
  if (!statements.ok()) return statements.status();
  const std::string action = Lower(IotActionName(request.action));
  const std::string arn = RequestArn(request, target);
  bool allowed = false;
  for (const Statement& s : *statements) {
    auto applies = Applies(s, request, action, arn);
    if (!applies.ok()) return applies.status();
    if (!*applies) continue;
    if (!s.allow) return false;  // an explicit Deny always wins
    allowed = true;
  }
  return allowed;
}

std::vector<std::string> LintIotPolicy(std::string_view policy_json) {
  auto doc = ParsePolicy(policy_json);
  if (!doc.ok()) return {doc.status().message()};
  auto statements = ParseStatements(*doc);
  if (!statements.ok()) return {statements.status().message()};
  std::vector<std::string> findings;
  if (auto v = doc->find("Version"); v == doc->end() || *v != "2012-10-17") {
    findings.push_back("Version: must be \"2012-10-17\" (policy variables need it)");
  }
  for (const Statement& s : *statements) LintStatement(s, findings);
  return findings;
}

}  // namespace edgeforge::certs
