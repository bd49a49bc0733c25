// Issue 8 (2): a broker kill -9 during `edgeforge sim` made the in-process
// verifier stop for good (421 of 2,017 received, "1,500 lost", FAIL) while the
// devices reconnected and delivered everything. Now the verifier reconnects
// with its persistent session, and the broker (BrokerPersistence as the fleet
// starts it) keeps that session and its queue across the kill: 0 lost, PASS.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "certs/pki.h"
#include "sim/broker/local_broker.h"
#include "sim/fleet/fleet.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;

TEST(FleetBrokerKillTest, VerifierSurvivesBrokerKillAndRestartWithNothingLost) {
  constexpr int kDevices = 30;
  const std::string pki = MakePki(certs::FleetDeviceNames("edge-", kDevices), "fleetkill");
  BrokerOptions b;
  b.pki_dir = pki;
  b.work_dir = MakeTempDir("fleetkillbroker");
  b.persistence = kFleetBrokerPersistence;
  auto started = LocalBroker::Start(b);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  LocalBroker& broker = **started;

  FleetOptions o;
  o.devices = kDevices;
  o.duration = 18s;  // room after the restart for the devices' own backoff (up to ~8 s)
  o.interval = 500ms;
  o.broker_uri = broker.uri();
  o.pki_dir = pki;
  o.work_dir = MakeTempDir("fleetkillwork");
  o.sync = link::SyncPolicy::kAlways;  // the devices' side is not under test here

  // The fault, from another thread. mosquitto dies with the thread that
  // started it (PR_SET_PDEATHSIG), so this thread waits for the run to end.
  std::promise<void> run_done;
  auto fault = std::async(std::launch::async, [&broker, done = run_done.get_future()]() mutable {
    std::this_thread::sleep_for(5s);
    Status killed = broker.Kill();
    std::this_thread::sleep_for(3s);
    Status restarted = broker.Restart();
    done.wait();
    (void)broker.Stop();
    return killed.ok() ? restarted : killed;
  });
  std::ostringstream log;
  auto r = RunFleet(o, log);
  run_done.set_value();
  const Status fault_status = fault.get();
  ASSERT_TRUE(fault_status.ok()) << fault_status.ToString();
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  std::ostringstream report;
  PrintReport(*r, report);
  const std::string all = log.str() + report.str();
  EXPECT_EQ(r->connected, kDevices) << all;
  EXPECT_GT(r->verify.verified, 200u) << all;
  EXPECT_GE(r->verify.disconnects, 1u) << "the kill did not reach the verifier?\n" << all;
  EXPECT_EQ(r->verify.lost, 0u) << all;
  EXPECT_EQ(r->lost_after_ack, 0u) << all;
  EXPECT_EQ(r->lost_unacked, 0u) << all;
  EXPECT_EQ(r->verify.invalid, 0u) << all;
  EXPECT_TRUE(r->Passed()) << all;
  EXPECT_NE(all.find("verifier     disconnected 1 time(s)"), std::string::npos) << all;
}

}  // namespace
}  // namespace edgeforge::sim
