// A black hole longer than the keepalive (sim/transport NetworkFault), the
// slow half of MosqSessionITest's black-hole test: IoT Core's shortest
// keepalive is 30 s, so the session gives up after 45 s without an answer.
// Label "fault": run once, in the plain run.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "sim/broker/local_broker.h"
#include "sim/transport/event_loop.h"
#include "tests/support/pumped_session.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim::transport {
namespace {

using namespace std::chrono_literals;

TEST(NetworkFaultTest, BlackholePastTheKeepaliveEndsTheConnectionAndFailsWhatWasHeld) {
  const std::string pki = testing_support::MakePki({"dev-k"}, "netfault");
  BrokerOptions b;
  b.pki_dir = pki;
  b.work_dir = testing_support::MakeTempDir("netfaultbroker");
  auto broker = LocalBroker::Start(b);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  auto loop = EventLoop::Create({pki + "/ca.crt"});
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  link::SessionConfig c = testing_support::DeviceSessionConfig(pki, "dev-k", (*broker)->uri());
  c.keepalive_s = 30;
  auto made = (*loop)->MakeSession(c);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  link::Session& s = **made;
  const auto pump = [&](const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end && !pred()) {
      (*loop)->RunOnce(Millis(20));
      s.Dispatch();
    }
    return pred();
  };
  std::optional<Status> connected;
  ASSERT_TRUE(s.Connect([&](Status st) { connected = st; }).ok());
  ASSERT_TRUE(pump([&] { return connected.has_value(); }, 10s));
  ASSERT_TRUE(connected->ok()) << connected->ToString();
  std::string cause;
  s.OnConnectionLost([&](const std::string& why) { cause = why; });

  ASSERT_TRUE((*loop)->SetNetworkFault(s, {NetworkFault::Mode::kBlackhole, Millis(0)}).ok());
  std::optional<Status> acked;
  ASSERT_TRUE(s.Publish({"dt/edgeforge/site-1/dev-k/telemetry", "{}", 1, {}}, [&](Status st) { acked = st; }).ok());
  ASSERT_TRUE(pump([&] { return !cause.empty() && acked.has_value(); }, 60s)) << cause;
  EXPECT_NE(cause.find("keepalive: no answer for 45 s (network fault: black hole)"), std::string::npos) << cause;
  EXPECT_EQ(acked->code(), StatusCode::kUnavailable) << "held, never sent: back to its owner to send again";
  EXPECT_FALSE(s.IsConnected());
}

}  // namespace
}  // namespace edgeforge::sim::transport
