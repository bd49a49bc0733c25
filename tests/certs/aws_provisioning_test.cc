// `edgeforge certs policy | lint-policy | aws`: the AWS account's side of the
// fleet, written from the dev PKI and checked the way the account would use
// it: the policy lints clean, the templates name the parameters AWS passes,
// every bulk line's certificate is its thing's, the verification
// certificate chains to the CA (OpenSSL's command line as the second party).
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "certs/aws_provisioning.h"
#include "cli/certs_cli.h"
#include "certs/pki.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_identity.h"
#include "tests/support/test_pki.h"

namespace edgeforge::certs {
namespace {

using Json = nlohmann::json;
using testing_support::ReadAll;

struct CliResult {
  int code;
  std::string out;
  std::string err;
};
CliResult Cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = RunCertsCli(args, out, err);
  return {code, out.str(), err.str()};
}

class AwsProvisioningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing_support::MakeTempDir("aws");
    ASSERT_TRUE(EnsurePki(dir_ + "/pki", {"line-01", "line-02", "radar-7"}).ok());
  }
  std::string dir_;
};

TEST_F(AwsProvisioningTest, WritesEveryArtifactTheAccountNeeds) {
  const std::string code = "1f2e3d4c5b6a79880f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
  const CliResult r = Cli({"aws", "--dir", dir_ + "/pki", "--out", dir_ + "/aws", "--region", "eu-west-1",
                           "--account", "111122223333", "--registration-code", code});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string out = dir_ + "/aws/";
  for (const char* f : {"policy.json", "ca.crt", "verification.crt", "verification.key",
                        "jitp-registration-config.json", "bulk-template.json", "bulk-things.jsonl"}) {
    EXPECT_NE(r.out.find("wrote " + out + f), std::string::npos) << f << "\n" << r.out;
  }
  // The policy: clean for the lint, the account's ARNs.
  const std::string policy = ReadAll(out + "policy.json");
  EXPECT_TRUE(LintIotPolicy(policy).empty());
  EXPECT_NE(policy.find("arn:aws:iot:eu-west-1:111122223333:topic/"), std::string::npos);
  EXPECT_EQ(Cli({"lint-policy", out + "policy.json"}).code, 0);

  // JITP: IoT Core fills these parameters from the certificate it sees first.
  const Json jitp = Json::parse(ReadAll(out + "jitp-registration-config.json"));
  EXPECT_EQ(jitp["roleArn"], "arn:aws:iam::111122223333:role/edgeforge-jitp");
  const Json body = Json::parse(jitp["templateBody"].get<std::string>());
  EXPECT_TRUE(body["Parameters"].contains("AWS::IoT::Certificate::CommonName"));
  EXPECT_TRUE(body["Parameters"].contains("AWS::IoT::Certificate::Id"));
  EXPECT_EQ(body["Resources"]["thing"]["Properties"]["ThingName"]["Ref"], "AWS::IoT::Certificate::CommonName");
  EXPECT_EQ(body["Resources"]["policy"]["Properties"]["PolicyName"], kDevicePolicyName);
  // Every Ref names a declared parameter, in both templates.
  const Json bulk = Json::parse(ReadAll(out + "bulk-template.json"));
  for (const Json* t : {&body, &bulk}) {
    std::vector<std::string> refs;
    std::function<void(const Json&)> walk = [&](const Json& j) {
      if (j.is_object()) {
        if (j.contains("Ref")) refs.push_back(j["Ref"]);
        for (const auto& [k, v] : j.items()) walk(v);
      } else if (j.is_array()) {
        for (const auto& v : j) walk(v);
      }
    };
    walk((*t)["Resources"]);
    ASSERT_FALSE(refs.empty());
    for (const std::string& ref : refs) EXPECT_TRUE((*t)["Parameters"].contains(ref)) << ref;
  }

  // Bulk registration: one line per device, each certificate its thing's.
  std::istringstream lines(ReadAll(out + "bulk-things.jsonl"));
  std::vector<std::string> things;
  for (std::string line; std::getline(lines, line);) {
    const Json l = Json::parse(line);
    const std::string thing = l["ThingName"];
    things.push_back(thing);
    for (const auto& [k, v] : l.items()) EXPECT_TRUE(bulk["Parameters"].contains(k)) << k;
    testing_support::WriteFile(dir_ + "/" + thing + ".pem", l["CertificatePem"].get<std::string>(), 0644);
    const auto subject = testing_support::RunShell("openssl x509 -in " + dir_ + "/" + thing + ".pem -noout -subject");
    EXPECT_TRUE(subject.Has("CN = " + thing)) << subject.output;
    EXPECT_EQ(l["CertificatePem"], ReadAll(PathsFor(dir_ + "/pki", thing).cert));
  }
  EXPECT_EQ(things, (std::vector<std::string>{"line-01", "line-02", "radar-7"}));

  // CA registration: the verification certificate proves the CA key, CN = code.
  const auto verify = testing_support::RunShell("openssl verify -CAfile " + out + "ca.crt " + out + "verification.crt");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  const auto cn = testing_support::RunShell("openssl x509 -in " + out + "verification.crt -noout -subject");
  EXPECT_TRUE(cn.Has("CN = " + code)) << cn.output;
}

TEST_F(AwsProvisioningTest, BadInputsAreNamed) {
  CliResult r = Cli({"aws", "--dir", dir_ + "/pki", "--out", dir_ + "/o", "--registration-code", "no spaces"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("registration code 'no spaces'"), std::string::npos) << r.err;
  r = Cli({"aws", "--dir", dir_ + "/pki", "--out", dir_ + "/o", "--account", "42"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--account '42'"), std::string::npos) << r.err;
  r = Cli({"aws", "--dir", dir_ + "/pki"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--out OUT is required"), std::string::npos) << r.err;
  r = Cli({"aws", "--dir", dir_ + "/none", "--out", dir_ + "/o"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(dir_ + "/none/devices"), std::string::npos) << r.err;
}

TEST(CertsPolicyCliTest, PolicyGoesToStdoutOrAFileAndTheLintNamesEachFinding) {
  const std::string dir = testing_support::MakeTempDir("policy-cli");
  CliResult r = Cli({"policy"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, RenderIotPolicy(PolicyTarget{}));
  r = Cli({"policy", "--out", dir + "/p.json", "--region", "ap-southeast-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Cli({"lint-policy", dir + "/p.json"}).out, dir + "/p.json: clean\n");

  testing_support::WriteFile(dir + "/bad.json", R"({"Version":"2012-10-17","Statement":[
    {"Sid":"Everything","Effect":"Allow","Action":"iot:*","Resource":"*"}]})",
                             0644);
  r = Cli({"lint-policy", dir + "/bad.json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(dir + "/bad.json: Statement[0] (Sid Everything).Action: 'iot:*'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wildcard resource"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 findings"), std::string::npos) << r.err;
  r = Cli({"lint-policy"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("FILE is required"), std::string::npos) << r.err;
  r = Cli({"lint-policy", dir + "/missing.json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  r = Cli({"policy", "--region", "mars"});
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace edgeforge::certs
