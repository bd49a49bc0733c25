#include "certs/aws_provisioning.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "certs/pki.h"
#include "hal/linux/fs.h"

namespace edgeforge::certs {
namespace {

using Json = nlohmann::ordered_json;

// Resources every template creates: the thing, the active certificate, and
// the shared policy attached by name (AWS IoT developer guide, "Provisioning
// templates": a template with these three resources attaches them together).
Json Resources(const Json& thing_name, const Json& certificate) {
  return {{"thing", {{"Type", "AWS::IoT::Thing"}, {"Properties", {{"ThingName", thing_name}}}}},
          {"certificate", {{"Type", "AWS::IoT::Certificate"}, {"Properties", certificate}}},
          {"policy", {{"Type", "AWS::IoT::Policy"}, {"Properties", {{"PolicyName", kDevicePolicyName}}}}}};
}

std::string Dump(const Json& j) { return j.dump(2) + "\n"; }

Result<std::vector<std::string>> DeviceThings(const std::string& pki_dir) {
  std::vector<std::string> things;
  std::error_code ec;
  const std::filesystem::path devices = std::filesystem::path(pki_dir) / "devices";
  for (const auto& e : std::filesystem::directory_iterator(devices, ec)) {
    const std::string name = e.path().filename().string();
    if (ValidateThingName(name).ok() && fs::IsRegularFile(PathsFor(pki_dir, name).cert)) things.push_back(name);
  }
  if (ec) return NotFound("'" + devices.string() + "': " + ec.message() + " (create devices with `edgeforge certs devices`)");
  std::sort(things.begin(), things.end());
  return things;
}

}  // namespace

std::string JitpTemplate() {
  const Json body = {
      {"Parameters",
       {{"AWS::IoT::Certificate::CommonName", {{"Type", "String"}}},
        {"AWS::IoT::Certificate::Id", {{"Type", "String"}}}}},
      {"Resources", Resources({{"Ref", "AWS::IoT::Certificate::CommonName"}},
                              {{"CertificateId", {{"Ref", "AWS::IoT::Certificate::Id"}}}, {"Status", "ACTIVE"}})}};
  return body.dump();
}

std::string BulkTemplate() {
  const Json body = {
      {"Parameters", {{"ThingName", {{"Type", "String"}}}, {"CertificatePem", {{"Type", "String"}}}}},
      {"Resources",
       Resources({{"Ref", "ThingName"}}, {{"CertificatePem", {{"Ref", "CertificatePem"}}}, {"Status", "ACTIVE"}})}};
  return body.dump();
}

Result<std::vector<std::string>> WriteAwsProvisioning(const AwsProvisioningOptions& o) {
  EF_RETURN_IF_ERROR(ValidatePolicyTarget(o.target));
  auto things = DeviceThings(o.pki_dir);
  if (!things.ok()) return things.status();
  auto ca = fs::ReadFileToString(o.pki_dir + "/ca.crt");
  if (!ca.ok()) return ca.status().WithContext("the CA certificate (create it with `edgeforge certs init`)");
  EF_RETURN_IF_ERROR(fs::MakeDirs(o.out_dir, 0755));
  std::vector<std::string> written;
  auto write = [&](const std::string& name, const std::string& text) -> Status {
    const std::string path = o.out_dir + "/" + name;
    EF_RETURN_IF_ERROR(fs::WriteFileAtomically(path, text, 0644));
    written.push_back(path);
    return Status::Ok();
  };
  EF_RETURN_IF_ERROR(write("policy.json", RenderIotPolicy(o.target)));
  EF_RETURN_IF_ERROR(write("ca.crt", *ca));
  if (!o.registration_code.empty()) {
    EF_RETURN_IF_ERROR(CreateVerificationCert(o.pki_dir, o.registration_code, o.out_dir));
    written.push_back(o.out_dir + "/verification.crt");
    written.push_back(o.out_dir + "/verification.key");
  }
  const Json jitp = {{"templateBody", JitpTemplate()},
                     {"roleArn", "arn:aws:iam::" + o.target.account + ":role/" + o.jitp_role}};
  EF_RETURN_IF_ERROR(write("jitp-registration-config.json", Dump(jitp)));
  EF_RETURN_IF_ERROR(write("bulk-template.json", Dump(Json::parse(BulkTemplate()))));
  std::string lines;
  for (const std::string& thing : *things) {
    auto pem = fs::ReadFileToString(PathsFor(o.pki_dir, thing).cert);
    if (!pem.ok()) return pem.status();
    lines += Json{{"ThingName", thing}, {"CertificatePem", *pem}}.dump() + "\n";
  }
  EF_RETURN_IF_ERROR(write("bulk-things.jsonl", lines));
  return written;
}

}  // namespace edgeforge::certs
