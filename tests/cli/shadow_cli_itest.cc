// `edgeforge shadow get|set` as a user runs it, against a real mosquitto
// with TLS and the ACL and the shadow service beside it; and `edgeforge
// broker` starting that service.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "certs/pki.h"
#include "sim/broker/local_broker.h"
#include "sim/shadow/shadow_service.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using nlohmann::json;
using testing_support::CliRun;
using testing_support::MakePki;
using testing_support::MakeTempDir;

CliRun Edgeforge(const std::string& args) { return testing_support::RunBinary("edgeforge", args); }

/// The JSON document printed on stdout (the run's output is stdout + stderr).
json Printed(const CliRun& r) {
  const size_t start = r.output.find('{');
  EXPECT_NE(start, std::string::npos) << r.output;
  return json::parse(r.output.substr(start == std::string::npos ? 0 : start), nullptr, false);
}

class ShadowCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakePki({}, "shadowcli");
    work_ = MakeTempDir("shadowclibroker");
    sim::BrokerOptions o;
    o.pki_dir = pki_;
    o.work_dir = work_;
    auto b = sim::LocalBroker::Start(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
  }
  void StartService() {
    auto s = sim::shadow::StartBesideBroker(broker_->uri(), pki_, work_, nullptr);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(*s);
  }
  std::string Common() const { return " --broker " + broker_->uri() + " --certs " + pki_; }

  std::string pki_, work_;
  std::unique_ptr<sim::LocalBroker> broker_;
  std::unique_ptr<sim::shadow::ShadowService> service_;
};

TEST_F(ShadowCliTest, SetThenGetPrintsTheDocumentAndMissingIs404) {
  StartService();
  CliRun r = Edgeforge("shadow get line-1" + Common());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("get line-1 rejected: 404 No shadow exists with name: 'line-1'")) << r.output;

  r = Edgeforge("shadow set line-1 --desired '{\"report_ms\":5000}'" + Common());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json a = Printed(r);
  EXPECT_EQ(a["state"]["desired"]["report_ms"], 5000) << r.output;
  EXPECT_EQ(a["version"], 1);
  EXPECT_NE(a.value("clientToken", "").find("edgeforge-shadow-cli-"), std::string::npos) << r.output;

  r = Edgeforge("shadow get line-1" + Common());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json g = Printed(r);
  EXPECT_EQ(g["state"]["desired"]["report_ms"], 5000) << r.output;
  EXPECT_EQ(g["state"]["delta"]["report_ms"], 5000) << r.output;

  // Over the 8 KB state limit: the service's 413 is printed, exit 1.
  r = Edgeforge("shadow set line-1 --desired '{\"x\":\"" + std::string(9000, 'x') + "\"}'" + Common());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("rejected: 413 The payload exceeds the maximum size allowed")) << r.output;
}

TEST_F(ShadowCliTest, NoServiceMeansNoAnswerAndExitOne) {
  const CliRun r = Edgeforge("shadow get line-1 --timeout 1s" + Common());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.Has("no answer on $aws/things/line-1/shadow/get/accepted")) << r.output;
  EXPECT_TRUE(r.Has("is the shadow service running")) << r.output;
}

TEST_F(ShadowCliTest, UsageErrorsExitTwoAndHelpExitsZero) {
  for (const std::string& args :
       {std::string("shadow"), std::string("shadow frob line-1 --broker ssl://localhost:1"),
        std::string("shadow get line-1"), std::string("shadow set line-1 --broker ssl://localhost:1"),
        std::string("shadow set line-1 --broker ssl://localhost:1 --desired '[1]'"),
        std::string("shadow get 'bad/name' --broker ssl://localhost:1"),
        std::string("shadow get line-1 --broker ssl://localhost:1 --desired '{}'"),
        std::string("shadow get line-1 --broker ssl://localhost:1 --frob")}) {
    const CliRun r = Edgeforge(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  }
  EXPECT_TRUE(Edgeforge("shadow set line-1 --broker ssl://localhost:1 --desired '[1]'")
                  .Has("--desired: expected a JSON object"));
  EXPECT_TRUE(Edgeforge("shadow get line-1").Has("--broker is required"));
  for (const std::string& args : {std::string("shadow --help"), std::string("shadow get line-1 --help")}) {
    const CliRun r = Edgeforge(args);
    EXPECT_EQ(r.exit_code, 0) << args;
    EXPECT_TRUE(r.Has("usage: edgeforge shadow get THING")) << r.output;
  }
  EXPECT_TRUE(Edgeforge("--help").Has("shadow    get or set a thing's device shadow"));
}

// The ask end to end: desired set while the device is away reaches it
// when it connects (its /shadow/get), it applies and reports it, the delta clears.
TEST_F(ShadowCliTest, DesiredSetWhileAwayIsAppliedWhenTheDeviceConnects) {
  StartService();
  ASSERT_TRUE(certs::EnsurePki(pki_, {"edge-00001"}).ok());
  CliRun r = Edgeforge("shadow set edge-00001 --desired '{\"config\":{\"report_ms\":2000}}'" + Common());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Edgeforge("sim --devices 1 --duration 2s --interval 1s --no-verify" + Common() + " --work " +
                MakeTempDir("shadowclisim"));
  ASSERT_TRUE(r.Has("published")) << r.output;  // the config change moves its schedule: PASS is not the point
  r = Edgeforge("shadow get edge-00001" + Common());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json g = Printed(r);
  EXPECT_EQ(g["state"]["reported"]["config"]["report_ms"], 2000) << r.output;
  EXPECT_FALSE(g["state"].contains("delta")) << "desired and reported still differ: " << r.output;
}

TEST(ShadowBrokerCliTest, BrokerCommandStartsTheShadowService) {
  const std::string pki = MakePki({}, "shadowbrokercli");
  const std::string work = MakeTempDir("shadowbrokerwork");
  const CliRun r = Edgeforge("broker --duration 2s --certs " + pki + " --work " + work);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.Has("shadow: service running as edgeforge-shadow, documents in " + work + "/shadows.json")) << r.output;
}

}  // namespace
}  // namespace edgeforge
