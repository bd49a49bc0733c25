// The per-thing IoT policy: what RenderIotPolicy writes, how the evaluator
// decides (IoT Core's rules, cited in certs/iot_policy.h), and what the lint
// refuses. The agreement with the local broker's ACL on a real mosquitto is
// tests/certs/iot_policy_acl_itest.cc.
#include "certs/iot_policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgeforge::certs {
namespace {

using Json = nlohmann::json;

IotRequest As(const std::string& thing, IotAction action, const std::string& target) {
  IotRequest r;
  r.action = action;
  r.target = target;
  r.client_id = thing;
  r.thing = thing;
  return r;
}

bool Allowed(const std::string& policy, const IotRequest& r) {
  auto v = EvaluateIotPolicy(policy, r, PolicyTarget{});
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() && *v;
}

class RenderedPolicyTest : public ::testing::Test {
 protected:
  const std::string policy_ = RenderIotPolicy(PolicyTarget{});
};

TEST_F(RenderedPolicyTest, IsCleanForTheLintAndUsesThePolicyVariables) {
  EXPECT_TRUE(LintIotPolicy(policy_).empty());
  const Json doc = Json::parse(policy_);
  EXPECT_EQ(doc["Version"], "2012-10-17");
  EXPECT_NE(policy_.find("${iot:Connection.Thing.ThingName}"), std::string::npos);
  EXPECT_EQ(doc["Statement"][0]["Condition"]["Bool"]["iot:Connection.Thing.IsAttached"], "true");
  EXPECT_EQ(policy_.find("iot:*"), std::string::npos);
}

TEST_F(RenderedPolicyTest, ConnectsOnlyAsItsOwnAttachedThing) {
  EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kConnect, "dev-a")));
  IotRequest other = As("dev-a", IotAction::kConnect, "dev-b");
  other.client_id = "dev-b";  // another thing's client id: the variable does not resolve
  EXPECT_FALSE(Allowed(policy_, other));
  IotRequest unattached = As("dev-a", IotAction::kConnect, "dev-a");
  unattached.thing.clear();
  EXPECT_FALSE(Allowed(policy_, unattached));
}

TEST_F(RenderedPolicyTest, PublishesOnlyItsOwnTopicsOneLevelPerWildcard) {
  for (const char* type : {"telemetry", "alarm", "status"}) {
    EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kPublish, std::string("dt/factory/site-1/dev-a/") + type)));
  }
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, "dt/factory/site-1/dev-b/telemetry")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, "dt/factory/site-1/dev-a/debug")));
  // '*' spans '/' in IoT policies; the Deny keeps "+" to one level.
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, "dt/factory/site-1/dev-b/dev-a/telemetry")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, "$aws/rules/ingest/dt/f/s/dev-a/telemetry")));
}

TEST_F(RenderedPolicyTest, ShadowRequestsOutAnswersInNeverItsOwnDelta) {
  const std::string own = "$aws/things/dev-a/shadow/";
  EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kPublish, own + "update")));
  EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kPublish, own + "get")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, own + "update/delta")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, own + "update/accepted")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kPublish, own + "delete")));
  for (const char* answer : {"update/accepted", "update/rejected", "update/delta", "get/accepted", "get/rejected"}) {
    EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kSubscribe, own + answer))) << answer;
    EXPECT_TRUE(Allowed(policy_, As("dev-a", IotAction::kReceive, own + answer))) << answer;
    EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kSubscribe, std::string("$aws/things/dev-b/shadow/") + answer)));
  }
  // Topic filters are literal in iot:Subscribe: a wildcard filter is not one of the granted ones.
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kSubscribe, own + "#")));
  EXPECT_FALSE(Allowed(policy_, As("dev-a", IotAction::kSubscribe, "$aws/things/+/shadow/update/delta")));
}

TEST_F(RenderedPolicyTest, RegionAndAccountAreChecked) {
  EXPECT_TRUE(ValidatePolicyTarget({"eu-central-1", "123456789012"}).ok());
  EXPECT_TRUE(ValidatePolicyTarget({"us-gov-west-1", "123456789012"}).ok());
  EXPECT_NE(ValidatePolicyTarget({"*", "123456789012"}).message().find("--region"), std::string::npos);
  EXPECT_NE(ValidatePolicyTarget({"us-east-1", "12345"}).message().find("--account"), std::string::npos);
  const std::string eu = RenderIotPolicy({"eu-central-1", "111122223333"});
  EXPECT_NE(eu.find("arn:aws:iot:eu-central-1:111122223333:client/"), std::string::npos);
}

TEST(ThingAclTest, RendersTheSameGrantsAsMosquittoPatterns) {
  const std::string acl = RenderThingAcl();
  EXPECT_NE(acl.find("pattern write dt/+/+/%u/telemetry\n"), std::string::npos);
  EXPECT_NE(acl.find("pattern read $aws/things/%u/shadow/update/delta\n"), std::string::npos);
  EXPECT_EQ(acl.find("pattern write $aws/things/%u/shadow/update/delta"), std::string::npos);
  EXPECT_EQ(acl.find('#', acl.find("pattern")), std::string::npos) << "no multi-level wildcard grant";
  size_t patterns = 0;
  for (size_t at = acl.find("pattern "); at != std::string::npos; at = acl.find("pattern ", at + 1)) ++patterns;
  EXPECT_EQ(patterns, ThingGrants().size());
}

// A policy document with one statement, for the evaluator and the lint.
std::string OneStatement(const Json& statement) {
  return Json{{"Version", "2012-10-17"}, {"Statement", Json::array({statement})}}.dump();
}
const char kArn[] = "arn:aws:iot:us-east-1:123456789012:";

TEST(IotPolicyEvaluatorTest, ExplicitDenyWinsAndNothingIsAllowedByDefault) {
  const std::string topic = std::string(kArn) + "topic/dt/a/b/${iot:Connection.Thing.ThingName}/telemetry";
  Json doc = {{"Version", "2012-10-17"},
              {"Statement",
               {{{"Effect", "Allow"}, {"Action", "iot:Publish"}, {"Resource", topic}},
                {{"Effect", "Deny"}, {"Action", "iot:Publish"}, {"Resource", std::string(kArn) + "topic/dt/a/b/x/*"}}}}};
  EXPECT_TRUE(Allowed(doc.dump(), As("y", IotAction::kPublish, "dt/a/b/y/telemetry")));
  EXPECT_FALSE(Allowed(doc.dump(), As("x", IotAction::kPublish, "dt/a/b/x/telemetry")));
  EXPECT_FALSE(Allowed(doc.dump(), As("y", IotAction::kSubscribe, "dt/a/b/y/telemetry")));
}

TEST(IotPolicyEvaluatorTest, WildcardsFollowAwsRules) {
  const std::string policy = OneStatement(
      {{"Effect", "Allow"}, {"Action", "iot:Pub*"}, {"Resource", std::string(kArn) + "topic/a/?/c*"}});
  EXPECT_TRUE(Allowed(policy, As("t", IotAction::kPublish, "a/b/c")));
  EXPECT_TRUE(Allowed(policy, As("t", IotAction::kPublish, "a/b/c/d/e")));  // '*' spans levels
  EXPECT_FALSE(Allowed(policy, As("t", IotAction::kPublish, "a/bb/c")));    // '?' is one character
  EXPECT_FALSE(Allowed(policy, As("t", IotAction::kReceive, "a/b/c")));
}

TEST(IotPolicyEvaluatorTest, WhatItDoesNotModelIsAnErrorNamingTheStatement) {
  auto v = EvaluateIotPolicy(OneStatement({{"Effect", "Allow"}, {"NotAction", "iot:Connect"}, {"Resource", "*"}}),
                             As("t", IotAction::kConnect, "t"), PolicyTarget{});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("Statement[0]: NotAction"), std::string::npos) << v.status().ToString();
  v = EvaluateIotPolicy(OneStatement({{"Effect", "Allow"},
                                      {"Action", "iot:Connect"},
                                      {"Resource", std::string(kArn) + "client/${iot:Connection.Thing.Attributes[x]}"}}),
                        As("t", IotAction::kConnect, "t"), PolicyTarget{});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("Attributes[x]"), std::string::npos);
  v = EvaluateIotPolicy("{", As("t", IotAction::kConnect, "t"), PolicyTarget{});
  EXPECT_FALSE(v.ok());
}

// The lint: each broken policy names the statement and the field.
struct LintCase {
  const char* name;
  Json statement;
  const char* expect;  // a fragment of the one finding
};

TEST(IotPolicyLintTest, RefusesWhatADevicePolicyMustNotGrant) {
  const std::string self = "${iot:Connection.Thing.ThingName}";
  const Json attached = {{"Bool", {{"iot:Connection.Thing.IsAttached", "true"}}}};
  const std::vector<LintCase> cases = {
      {"iot:*", {{"Effect", "Allow"}, {"Action", "iot:*"}, {"Resource", std::string(kArn) + "topic/dt/a/b/" + self + "/x"}},
       "Statement[0].Action: 'iot:*'"},
      {"star resource", {{"Effect", "Allow"}, {"Action", "iot:Publish"}, {"Resource", "*"}}, "wildcard resource"},
      {"star topic", {{"Effect", "Allow"}, {"Action", "iot:Publish"}, {"Resource", std::string(kArn) + "topic/*"}},
       "wildcard resource"},
      {"no variable",
       {{"Effect", "Allow"}, {"Action", "iot:Publish"}, {"Resource", std::string(kArn) + "topic/dt/a/b/dev-a/x"}},
       "does not use ${iot:Connection.Thing.ThingName}"},
      {"connect unattached",
       {{"Effect", "Allow"}, {"Action", "iot:Connect"}, {"Resource", std::string(kArn) + "client/" + self}},
       "IsAttached"},
      {"own delta",
       {{"Effect", "Allow"},
        {"Action", "iot:Publish"},
        {"Resource", std::string(kArn) + "topic/$aws/things/" + self + "/shadow/*"}},
       "update/delta"},
  };
  for (const LintCase& c : cases) {
    const auto findings = LintIotPolicy(OneStatement(c.statement));
    ASSERT_EQ(findings.size(), 1u) << c.name << ": " << ::testing::PrintToString(findings);
    EXPECT_NE(findings[0].find(c.expect), std::string::npos) << c.name << ": " << findings[0];
    EXPECT_EQ(findings[0].rfind("Statement[0]", 0), 0u) << findings[0];
  }
  // The same connect with the condition is clean; a Deny may use wildcards.
  EXPECT_TRUE(LintIotPolicy(OneStatement({{"Effect", "Allow"},
                                          {"Action", "iot:Connect"},
                                          {"Resource", std::string(kArn) + "client/" + self},
                                          {"Condition", attached}}))
                  .empty());
  EXPECT_TRUE(LintIotPolicy(OneStatement({{"Effect", "Deny"}, {"Action", "iot:*"}, {"Resource", "*"}})).empty());
}

TEST(IotPolicyLintTest, ADocumentThatIsNoPolicyIsOneFinding) {
  EXPECT_EQ(LintIotPolicy("not json").size(), 1u);
  EXPECT_EQ(LintIotPolicy("{}").size(), 1u);
  const auto v = LintIotPolicy(R"({"Statement":[{"Effect":"Maybe","Action":"iot:Connect","Resource":"x"}]})");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("Statement[0].Effect"), std::string::npos) << v[0];
}

}  // namespace
}  // namespace edgeforge::certs

namespace edgeforge::certs {
namespace {

// Resources judged by what they match, not by how they are spelled.
TEST(IotPolicyLintTest, WildcardsOutsideThePathAreCaughtByWhatTheyMatch) {
  struct Case {
    const char* resource;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"arn:*", "too wide"},
           {"arn:aws:iot:*:*:*", "too wide"},
           {"arn:aws:iot:us-east-1:123456789012:to*/$aws/things/${iot:Connection.Thing.ThingName}/shadow/update/delta",
            "update/delta"},
           {"arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}*", "too wide"},
           {"arn:aws:iot:eu-west-1:111122223333:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/update/*",
            "update/delta"},
       }) {
    const auto findings = LintIotPolicy(
        Json{{"Version", "2012-10-17"},
             {"Statement", Json::array({{{"Effect", "Allow"}, {"Action", "iot:Publish"}, {"Resource", c.resource}}})}}
            .dump());
    ASSERT_EQ(findings.size(), 1u) << c.resource << ": " << ::testing::PrintToString(findings);
    EXPECT_NE(findings[0].find(c.expect), std::string::npos) << c.resource << ": " << findings[0];
  }
}

}  // namespace
}  // namespace edgeforge::certs
