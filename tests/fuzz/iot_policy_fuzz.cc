// Fuzz target: IoT policy documents (`edgeforge certs lint-policy FILE`, and
// the evaluator the ACL agreement test uses). Invariant: a policy the lint
// passes never lets a device publish to its own shadow update/delta, nor
// connect as another thing.
#include <cstdint>
#include <string>

#include "certs/iot_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeforge::certs;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const bool clean = LintIotPolicy(in).empty();
  IotRequest delta;
  delta.action = IotAction::kPublish;
  delta.thing = delta.client_id = "dev-a";
  delta.target = "$aws/things/dev-a/shadow/update/delta";
  IotRequest other = delta;
  other.action = IotAction::kPublish;
  other.target = "dt/a/b/dev-b/telemetry";
  for (const IotRequest& r : {delta, other}) {
    auto v = EvaluateIotPolicy(in, r, PolicyTarget{});
    if (clean && v.ok() && *v) __builtin_trap();
  }
  IotRequest connect = delta;
  connect.action = IotAction::kConnect;
  connect.target = "dev-a";
  (void)EvaluateIotPolicy(in, connect, PolicyTarget{});
  return 0;
}
