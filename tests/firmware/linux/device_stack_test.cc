// DeviceStack: the one assembly of a device (issue 9). Deterministic: a
// ManualClock, SeededEntropy, simulated buses with a BME280 model, in-memory
// state and outbox log, and an in-test session that follows session.h's
// non-blocking contract (completions only from Dispatch()).
#include "firmware/linux/device_stack.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "firmware/board/builtin.h"
#include "hal/linux/fs.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_append_log.h"
#include "sim/models/bme280_model.h"
#include "tests/support/bare_buses.h"

namespace edgeforge::app {
namespace {

using namespace std::chrono_literals;
using testing_support::BareBuses;

// A P-256 key made for this test only (openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt).
constexpr const char* kSignKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLKTvqUPdBQ+2LK/N
1YU1/aW6gwFUP3bjs/rISYSHVMOhRANCAARCUxQAYp8ndIc4amPBz5Mc04kDRXj4
0ku4zufEJSlrFBnfHiJfpFyuXdJxj+7NwqOoedOBE0h2sRuSvxFE63cO
-----END PRIVATE KEY-----
)";

/// A broker that accepts everything, seen through session.h's contract:
/// every outcome is queued and runs from Dispatch() only.
class FakeSession final : public link::Session {
 public:
  explicit FakeSession(link::SessionConfig c) : config(std::move(c)) {}

  link::SessionConfig config;                    // what the factory was given
  std::vector<link::OutgoingMessage> published;  // in publish order
  std::vector<std::string> subscribed;
  int connects = 0;

  /// A message from the broker on `topic`, handed to its subscription at the next Dispatch().
  void Deliver(const std::string& topic, const std::string& payload) {
    for (const auto& [filter, handler] : handlers_) {
      if (filter == topic) queue_.push_back([h = handler, topic, payload] { h(link::IncomingMessage{topic, payload, {}}); });
    }
  }

 private:
  Status DoConnect(link::ConnectDone done) override {
    if (connected_ || connecting_) return FailedPrecondition("already connected or connecting");
    connecting_ = true;
    ++connects;
    queue_.push_back([this, done] {
      connecting_ = false;
      connected_ = true;
      done(Status::Ok());
    });
    return Status::Ok();
  }
  Status DoSubscribe(const std::string& filter, int, link::MessageHandler handler, link::SubscribeDone done) override {
    if (!connected_) return Unavailable("not connected");
    subscribed.push_back(filter);
    handlers_.emplace_back(filter, std::move(handler));
    queue_.push_back([done] { done(Status::Ok()); });
    return Status::Ok();
  }
  Status DoPublish(link::OutgoingMessage message, link::PublishDone done) override {
    if (!connected_) return Unavailable("not connected");
    published.push_back(std::move(message));
    queue_.push_back([done] { done(Status::Ok()); });
    return Status::Ok();
  }
  void DoDisconnect() override { connected_ = connecting_ = false; }
  bool DoIsConnected() const override { return connected_; }
  void DoOnConnectionLost(link::ConnectionLost) override {}
  size_t DoDispatch() override {
    size_t ran = 0;
    while (!queue_.empty()) {
      auto cb = std::move(queue_.front());
      queue_.pop_front();
      cb();
      ++ran;
    }
    return ran;
  }

  bool connected_ = false;
  bool connecting_ = false;
  std::deque<std::function<void()>> queue_;
  std::vector<std::pair<std::string, link::MessageHandler>> handlers_;
};

board::Board FactoryBoard() {
  auto b = board::LoadBoardSpec("factory-node");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : board::Board{};
}

DeviceStackConfig Config() {
  DeviceStackConfig c;
  c.thing = "dev-1";
  c.app = "plant";
  c.site = "hall-2";
  c.broker_uri = "ssl://broker.example:8883";
  c.tls = {"/pki/ca.crt", "/pki/devices/dev-1/device.crt", "/pki/devices/dev-1/device.key"};
  c.sign_key_pem = kSignKeyPem;
  c.jws_backend = jws::Backend::kOpenSsl;
  c.outbox.sync = link::SyncPolicy::kNever;
  return c;
}

/// Everything a platform hands in, on simulated parts.
struct Platform {
  Platform() : buses(clock) {
    model.SetAmbient(22.0, 100000, 40);
    EXPECT_TRUE(buses.i2c("i2c1").Attach(0x76, model).ok());
  }
  DeviceStackParts Parts(const board::Board& b) {
    DeviceStackParts p{b, buses, clock, entropy, storage, nullptr};
    p.session = [this](const link::SessionConfig& c) -> Result<std::unique_ptr<link::Session>> {
      ++sessions_made;
      auto s = std::make_unique<FakeSession>(c);
      session = s.get();
      return std::unique_ptr<link::Session>(std::move(s));
    };
    p.outbox_log = [this]() -> Result<std::unique_ptr<AppendLog>> {
      ++logs_made;
      auto l = std::make_unique<SimAppendLog>("sim:dev-1/outbox.log");
      log = l.get();
      return std::unique_ptr<AppendLog>(std::move(l));
    };
    return p;
  }
  /// Steps the device until the session saw a publish on `topic` (bounded).
  const link::OutgoingMessage* RunUntilPublished(DeviceStack& stack, const std::string& topic) {
    for (int i = 0; i < 10'000; ++i) {
      for (const auto& m : session->published) {
        if (m.topic == topic) return &m;
      }
      const Micros next = stack.device().Step();
      clock.AdvanceTo(std::max(next, clock.Monotonic() + Micros(1)));
    }
    return nullptr;
  }

  ManualClock clock;
  BareBuses buses;
  Bme280Model model;
  SeededEntropy entropy{7};
  MemoryStorage storage;
  FakeSession* session = nullptr;
  SimAppendLog* log = nullptr;
  int sessions_made = 0;
  int logs_made = 0;
};

Status BuildError(Platform& p, const board::Board& b, const DeviceStackConfig& c) {
  auto stack = DeviceStack::Build(p.Parts(b), c);
  EXPECT_FALSE(stack.ok());
  return stack.ok() ? Status::Ok() : stack.status();
}

#define EXPECT_HAS(status, text) EXPECT_NE((status).message().find(text), std::string::npos) << (status).ToString()

TEST(DeviceSessionConfig, CarriesTheIdentityAndTheLastWillOnTheStatusTopic) {
  DeviceStackConfig c = Config();
  c.keepalive_s = 60;
  const link::SessionConfig s = DeviceSessionConfig(c);
  EXPECT_EQ(s.server_uri, "ssl://broker.example:8883");
  EXPECT_EQ(s.client_id, "dev-1");
  EXPECT_EQ(s.tls.ca_file, "/pki/ca.crt");
  EXPECT_EQ(s.tls.cert_file, "/pki/devices/dev-1/device.crt");
  EXPECT_EQ(s.tls.key_file, "/pki/devices/dev-1/device.key");
  EXPECT_EQ(s.keepalive_s, 60);
  ASSERT_TRUE(s.will.has_value());
  EXPECT_EQ(s.will->topic, "dt/plant/hall-2/dev-1/status");
  EXPECT_EQ(s.will->topic, StatusTopic(c));
  EXPECT_EQ(s.will->qos, 1);
  EXPECT_FALSE(s.will->retain);
  const auto will = nlohmann::json::parse(s.will->payload);
  EXPECT_EQ(will.at("v"), 2);
  EXPECT_EQ(will.at("type"), "status");
  EXPECT_EQ(will.at("dev"), "dev-1");
  EXPECT_EQ(will.at("state"), "offline");
}

TEST(DeviceStack, TheFactoryGetsTheDeviceSessionConfigWithItsWill) {
  Platform p;
  const board::Board b = FactoryBoard();
  auto stack = DeviceStack::Build(p.Parts(b), Config());
  ASSERT_TRUE(stack.ok()) << stack.status().ToString();
  ASSERT_NE(p.session, nullptr);
  EXPECT_EQ(p.sessions_made, 1);
  EXPECT_EQ(&(*stack)->session(), p.session);
  ASSERT_TRUE(p.session->config.will.has_value());
  EXPECT_EQ(p.session->config.will->topic, "dt/plant/hall-2/dev-1/status");
  EXPECT_EQ(p.session->config.will->payload, DeviceSessionConfig(Config()).will->payload);
  EXPECT_EQ(p.session->config.client_id, "dev-1");
  EXPECT_EQ((*stack)->session_config().will->topic, p.session->config.will->topic);
  EXPECT_EQ((*stack)->thing(), "dev-1");
  EXPECT_EQ((*stack)->node().parts().size(), 3u);
  // Built, not started: nothing connects before device().Start().
  EXPECT_EQ(p.session->connects, 0);
}

TEST(DeviceStack, PublishesSignedTelemetryThroughTheFactorysSession) {
  Platform p;
  board::Board b = FactoryBoard();
  auto built = DeviceStack::Build(p.Parts(b), Config());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  DeviceStack& stack = **built;
  // The stack keeps its own board: the caller's may change or go away.
  b.kind = "changed";
  b.devices.clear();
  b.report_ms = 1;
  ASSERT_TRUE(stack.device().Start().ok());
  const link::OutgoingMessage* m = p.RunUntilPublished(stack, "dt/plant/hall-2/dev-1/telemetry");
  ASSERT_NE(m, nullptr) << "no telemetry published through the factory's session";
  EXPECT_EQ(p.session->connects, 1);
  const auto t = nlohmann::json::parse(m->payload);
  EXPECT_EQ(t.at("dev"), "dev-1");
  EXPECT_EQ(t.at("kind"), "factory");
  EXPECT_NEAR(t.at("readings").at("temperature").at("value").get<double>(), 22.0, 0.05) << m->payload;
  // The detached JWS verifies over the exact payload with the configured key.
  const std::string* jws = nullptr;
  for (const auto& [k, v] : m->user_properties) {
    if (k == "jws") jws = &v;
  }
  ASSERT_NE(jws, nullptr);
  auto pub = jws::PublicKeyFromPem(kSignKeyPem);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_TRUE(jws::MakeVerifier(jws::Backend::kMbedTls)->Verify(*jws, m->payload, *pub).ok());
  // The shadow came up on the stack's board: it subscribed to its delta topic
  // (and to get/accepted: it fetches its shadow on connect) and reported the
  // board's config, not what the caller's copy says now.
  EXPECT_EQ(p.session->subscribed, (std::vector<std::string>{"$aws/things/dev-1/shadow/update/delta",
                                                             "$aws/things/dev-1/shadow/get/accepted"}));
  const link::OutgoingMessage* shadow = p.RunUntilPublished(stack, "$aws/things/dev-1/shadow/update");
  ASSERT_NE(shadow, nullptr);
  const auto reported = nlohmann::json::parse(shadow->payload).at("state").at("reported");
  EXPECT_EQ(reported.at("config").at("report_ms"), 10000) << shadow->payload;
  EXPECT_EQ(reported.at("config").at("sample_ms").at("env0"), 1000) << shadow->payload;
  // PUBACKs, dispatched on this thread, reached the outbox through the link.
  stack.device().Step();
  EXPECT_GE(stack.device().counters().delivered, 2u);  // shadow report + telemetry
  EXPECT_EQ(stack.outbox().stats().depth, 0u);
}

TEST(DeviceStack, TheOutboxLogFactoryIsUsedWhenGivenAndDirIsNotNeeded) {
  Platform p;
  const board::Board b = FactoryBoard();
  DeviceStackConfig c = Config();
  ASSERT_TRUE(c.outbox.dir.empty());
  auto built = DeviceStack::Build(p.Parts(b), c);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  DeviceStack& stack = **built;
  EXPECT_EQ(p.logs_made, 1);
  ASSERT_NE(p.log, nullptr);
  EXPECT_EQ(stack.outbox().log_path(), "sim:dev-1/outbox.log");
  ASSERT_TRUE(stack.device().Start().ok());
  ASSERT_NE(p.RunUntilPublished(stack, "dt/plant/hall-2/dev-1/telemetry"), nullptr);
  // The queued telemetry went through the injected log.
  EXPECT_GT(p.log->calls(LogOp::kAppend), 0u);
  EXPECT_NE(p.log->content().find("\"dev\":\"dev-1\""), std::string::npos);
}

TEST(DeviceStack, WithoutALogFactoryTheOutboxIsTheFileLogInOutboxDir) {
  Platform p;
  const board::Board b = FactoryBoard();
  std::string dir = testing::TempDir() + "stackXXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  DeviceStackConfig c = Config();
  c.outbox.dir = dir + "/outbox";
  DeviceStackParts parts = p.Parts(b);
  parts.outbox_log = nullptr;
  auto built = DeviceStack::Build(parts, c);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(p.logs_made, 0);
  EXPECT_EQ((*built)->outbox().log_path(), dir + "/outbox/outbox.log");
}

TEST(DeviceStack, ASignKeyFileIsReadAndItsErrorsNameTheFile) {
  Platform p;
  const board::Board b = FactoryBoard();
  std::string dir = testing::TempDir() + "stackkeyXXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  DeviceStackConfig c = Config();
  c.sign_key_pem.clear();
  c.sign_key_file = dir + "/sign.key";
  Status s = BuildError(p, b, c);
  EXPECT_HAS(s, "dev-1: sign_key_file");
  EXPECT_HAS(s, dir + "/sign.key");
  ASSERT_TRUE(fs::WriteFileAtomically(c.sign_key_file, kSignKeyPem, 0600).ok());
  auto built = DeviceStack::Build(p.Parts(b), c);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_TRUE(fs::WriteFileAtomically(c.sign_key_file, "not a key", 0600).ok());
  s = BuildError(p, b, c);
  EXPECT_HAS(s, "dev-1: sign_key_file " + dir + "/sign.key");
}

TEST(DeviceStack, ConfigErrorsNameTheThingAndTheField) {
  Platform p;
  const board::Board b = FactoryBoard();
  struct Case {
    const char* what;
    std::function<void(DeviceStackConfig&)> change;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"no sign key", [](DeviceStackConfig& c) { c.sign_key_pem.clear(); },
       "dev-1: sign_key_pem / sign_key_file: neither is set"},
      {"two sign keys", [](DeviceStackConfig& c) { c.sign_key_file = "/k"; }, "sign_key_pem / sign_key_file: both"},
      {"bad key text", [](DeviceStackConfig& c) { c.sign_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n"; },
       "dev-1: sign_key_pem"},
      {"bad broker URI", [](DeviceStackConfig& c) { c.broker_uri = "tcp://broker:1883"; },
       "dev-1: broker_uri: 'tcp://broker:1883'"},
      {"no broker", [](DeviceStackConfig& c) { c.broker_uri.clear(); }, "dev-1: broker_uri"},
      {"no CA", [](DeviceStackConfig& c) { c.tls.ca_file.clear(); }, "dev-1: tls.ca_file is empty"},
      {"no cert", [](DeviceStackConfig& c) { c.tls.cert_file.clear(); }, "dev-1: tls.cert_file is empty"},
      {"no key", [](DeviceStackConfig& c) { c.tls.key_file.clear(); }, "dev-1: tls.key_file is empty"},
      {"keepalive", [](DeviceStackConfig& c) { c.keepalive_s = 10; }, "dev-1: keepalive_s 10"},
      {"bad site", [](DeviceStackConfig& c) { c.site = "a/b"; }, "dev-1: site 'a/b'"},
      {"no thing", [](DeviceStackConfig& c) { c.thing.clear(); }, "thing is empty"},
      {"long thing", [](DeviceStackConfig& c) { c.thing = std::string(129, 'x'); }, "at most 128"},
      {"no bound", [](DeviceStackConfig& c) { c.outbox.max_bytes = 0; }, "dev-1: outbox.max_bytes"},
      {"in flight", [](DeviceStackConfig& c) { c.link.max_in_flight = 0; }, "dev-1: link max_in_flight"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    DeviceStackConfig c = Config();
    k.change(c);
    p.sessions_made = 0;
    const Status s = BuildError(p, b, c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_HAS(s, k.want);
    EXPECT_EQ(p.sessions_made, 0) << "a session was made for a config that cannot work";
  }
}

TEST(DeviceStack, OutboxDirIsRequiredOnlyWithoutALogFactory) {
  Platform p;
  const board::Board b = FactoryBoard();
  DeviceStackParts parts = p.Parts(b);
  parts.outbox_log = nullptr;
  auto built = DeviceStack::Build(parts, Config());
  ASSERT_FALSE(built.ok());
  EXPECT_HAS(built.status(), "dev-1: outbox.dir is empty");
}

TEST(DeviceStack, BadBoardsAreNamedByTheirFileAndField) {
  Platform p;
  board::Board b = FactoryBoard();
  b.source = "boards/x.json";
  b.kind = "Not A Kind";
  Status s = BuildError(p, b, Config());
  EXPECT_HAS(s, "dev-1: boards/x.json: kind");
  b = FactoryBoard();
  b.source = "boards/x.json";
  b.report_ms = 0;
  s = BuildError(p, b, Config());
  EXPECT_HAS(s, "dev-1: boards/x.json: report_ms");
  b = FactoryBoard();
  b.source = "boards/x.json";
  b.alarms[0].channel = "nope";
  s = BuildError(p, b, Config());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_HAS(s, "dev-1: boards/x.json: alarms[0].channel");
}

TEST(DeviceStack, FactoryFailuresAreNamed) {
  Platform p;
  const board::Board b = FactoryBoard();
  DeviceStackParts parts = p.Parts(b);
  parts.session = [](const link::SessionConfig&) -> Result<std::unique_ptr<link::Session>> {
    return Unavailable("transport full");
  };
  auto built = DeviceStack::Build(parts, Config());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kUnavailable);
  EXPECT_HAS(built.status(), "dev-1: session: transport full");

  DeviceStackParts no_factory = p.Parts(b);
  no_factory.session = nullptr;
  built = DeviceStack::Build(no_factory, Config());
  ASSERT_FALSE(built.ok());
  EXPECT_HAS(built.status(), "dev-1: parts.session");

  DeviceStackParts full_store = p.Parts(b);
  full_store.outbox_log = []() -> Result<std::unique_ptr<AppendLog>> { return ResourceExhausted("store full"); };
  built = DeviceStack::Build(full_store, Config());
  ASSERT_FALSE(built.ok());
  EXPECT_HAS(built.status(), "dev-1: outbox log (parts.outbox_log): store full");
}

}  // namespace
}  // namespace edgeforge::app

namespace edgeforge::app {
namespace {

// Two devices with one identity, seen through the shadow: the device reports
// its run (instance) and connection time right behind its get, and a
// get/accepted showing another run connected after this one started is an
// identity conflict; an earlier run of the same device (a reboot) is not.
TEST(DeviceStack, AnotherRunInTheShadowNewerThanThisOneIsAnIdentityConflict) {
  Platform p;
  auto built = DeviceStack::Build(p.Parts(FactoryBoard()), Config());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  DeviceStack& stack = **built;
  const int64_t start = p.clock.WallMillis();
  ASSERT_TRUE(stack.device().Start().ok());
  ASSERT_NE(p.RunUntilPublished(stack, "$aws/things/dev-1/shadow/get"), nullptr);
  // The report behind the get names this run.
  const auto& pub = p.session->published;
  size_t get = 0;
  while (get < pub.size() && pub[get].topic != "$aws/things/dev-1/shadow/get") ++get;
  ASSERT_LT(get + 1, pub.size());
  ASSERT_EQ(pub[get + 1].topic, "$aws/things/dev-1/shadow/update");
  const auto session = nlohmann::json::parse(pub[get + 1].payload).at("state").at("reported").at("session");
  const std::string own = session.at("instance");
  EXPECT_EQ(own, std::to_string(stack.device().boot()) + "-" + std::to_string(start));
  EXPECT_GE(session.at("since").get<int64_t>(), start);

  auto answer = [&](const std::string& instance, int64_t since) {
    p.session->Deliver("$aws/things/dev-1/shadow/get/accepted",
                       R"({"state":{"reported":{"session":{"instance":")" + instance + R"(","since":)" +
                           std::to_string(since) + R"(}}},"version":3})");
    stack.device().Step();
    return stack.device().counters().identity_conflicts;
  };
  EXPECT_EQ(answer(own, start + 10), 0u) << "its own report";
  EXPECT_EQ(answer("7-1000", start - 60000), 0u) << "an earlier run (a reboot) reported before this one started";
  EXPECT_EQ(answer("1-" + std::to_string(start + 5), start + 500), 1u) << "another run, connected after this start";
}

}  // namespace
}  // namespace edgeforge::app
