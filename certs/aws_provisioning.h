// What an AWS account needs to take a fleet whose identities this project's
// CA issued (bring your own CA), written by `edgeforge certs aws`
// (docs/aws-iot.md walks through the aws CLI calls that consume each file):
//
//   OUT/policy.json                      the per-thing IoT policy (certs/iot_policy.h)
//   OUT/ca.crt                           register-ca-certificate --ca-certificate
//   OUT/verification.crt, .key           --verification-cert (CN = the account's
//                                        registration code), with --registration-code
//   OUT/jitp-registration-config.json    --registration-config: just-in-time
//                                        provisioning of a device whose certificate
//                                        IoT Core sees first at its TLS handshake
//   OUT/bulk-template.json               start-thing-registration-task --template-body
//   OUT/bulk-things.jsonl                its input file: one line per device of DIR
//                                        ({"ThingName", "CertificatePem"})
//
// Every template creates the thing (name = certificate CN), activates the
// certificate and attaches the one policy by name, so policy variables give
// each device only its own topics.
#pragma once

#include <string>
#include <vector>

#include "certs/iot_policy.h"
#include "hal/status.h"

namespace edgeforge::certs {

inline constexpr char kDevicePolicyName[] = "edgeforge-device";

struct AwsProvisioningOptions {
  std::string pki_dir;            // the CA and DIR/devices/<thing>/device.crt
  std::string out_dir;            // created if missing
  PolicyTarget target;            // region and account of the ARNs
  std::string registration_code;  // empty: no verification certificate
  std::string jitp_role = "edgeforge-jitp";  // IAM role IoT Core assumes to provision
};

/// Writes the files above; returns their paths in that order.
Result<std::vector<std::string>> WriteAwsProvisioning(const AwsProvisioningOptions& o);

/// The provisioning template bodies (JSON), exposed for tests.
std::string JitpTemplate();
std::string BulkTemplate();

}  // namespace edgeforge::certs
