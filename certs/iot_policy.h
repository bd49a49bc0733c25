// The per-thing authorization of AWS IoT Core, written down once
// (ThingGrants()) and rendered two ways:
//   - RenderIotPolicy(): the AWS IoT policy JSON to attach to every device
//     certificate (policy variables, so one policy serves the whole fleet);
//   - RenderThingAcl(): the mosquitto ACL `pattern` lines of the local broker
//     that mirrors IoT Core (sim/broker/local_broker.h).
// EvaluateIotPolicy() decides a request against a policy document the way IoT
// Core does (explicit Deny wins, then any Allow, else deny), so a test can put
// the same matrix of identities and topics to the policy and to a real
// mosquitto running the ACL, and show that both say the same
// (tests/certs/iot_policy_itest.cc). LintIotPolicy() refuses what a
// least-privilege device policy must not contain. docs/security.md explains
// each grant.
//
// AWS semantics used here (IoT Core developer guide, "Authorization", "IoT Core
// policy actions", "Policy variables"):
//   - iot:Connect is checked on arn:...:client/<client id>, iot:Publish and
//     iot:Receive on arn:...:topic/<topic>, iot:Subscribe on
//     arn:...:topicfilter/<filter>, where MQTT's + and # are literal characters;
//   - in resources '*' matches any run of characters (also '/') and '?' one;
//   - ${iot:Connection.Thing.ThingName} is the thing attached to the
//     certificate whose name is the client id; when the connection has no
//     attached thing the variable does not resolve and its statement does not
//     apply.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hal/status.h"

namespace edgeforge::certs {

/// What a grant lets a thing do on its topics.
enum class TopicAccess {
  kPublish,  // IoT iot:Publish; mosquitto "write"
  kRead,     // IoT iot:Subscribe (topic filter) + iot:Receive (topic); mosquitto "read"
};

/// One line of the per-thing authorization. In `topic`, "{thing}" is the
/// connecting thing's name and "+" one topic level of any value.
struct TopicGrant {
  TopicAccess access;
  std::string topic;
  std::string why;
};

/// Everything a device may do besides connecting as itself: publish its
/// telemetry, alarms and last will, publish shadow update and get, read the
/// shadow service's answers and deltas. Nothing else: not another thing's
/// topics, not Basic Ingest ($aws/rules/...), not its own update/delta.
const std::vector<TopicGrant>& ThingGrants();

struct PolicyTarget {
  std::string region = "us-east-1";  // [a-z]{2}(-gov)?-[a-z]+-[0-9]
  std::string account = "123456789012";
};
/// INVALID_ARGUMENT naming the field when region or account are malformed.
Status ValidatePolicyTarget(const PolicyTarget& target);

/// The IoT policy document (JSON, 2 spaces, ends with a newline).
std::string RenderIotPolicy(const PolicyTarget& target);

/// The ACL `pattern` lines for every thing (mosquitto 2.0 acl_file syntax).
std::string RenderThingAcl();

/// One request to IoT Core's policy engine. `target` is the client id
/// (kConnect), the topic (kPublish, kReceive) or the topic filter
/// (kSubscribe). `thing` is the thing attached to the certificate, empty if
/// none.
enum class IotAction { kConnect, kPublish, kSubscribe, kReceive };
const char* IotActionName(IotAction a);  // "iot:Connect", ...
struct IotRequest {
  IotAction action = IotAction::kPublish;
  std::string target;
  std::string client_id;
  std::string thing;
};

/// true = allowed. INVALID_ARGUMENT naming the statement and field when the
/// document uses something this evaluator does not model (a condition
/// operator other than Bool, NotAction, NotResource, a variable it cannot
/// resolve the way IoT Core does), so a policy is never judged half-read.
Result<bool> EvaluateIotPolicy(std::string_view policy_json, const IotRequest& request,
                               const PolicyTarget& target);

/// What a least-privilege device policy must not contain, one line per
/// finding naming the statement (by index and Sid) and the field: iot:* or
/// any wildcard action, a '*' resource (or one whose client/topic part is
/// only wildcards), an Allow on topics or clients without
/// ${iot:Connection.Thing.ThingName}, an iot:Connect without the
/// iot:Connection.Thing.IsAttached condition, publish rights on the
/// device's own shadow update/delta topic. Empty when clean. A document that
/// is not a policy (bad JSON, no Statement) is one finding.
std::vector<std::string> LintIotPolicy(std::string_view policy_json);

}  // namespace edgeforge::certs
