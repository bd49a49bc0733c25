// Issue 8, Found item 1: a full disk (outbox log or state files) must show up
// in DeviceCounters and in the telemetry status as drops by class and as
// storage errors, never as "dropped 0".
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "firmware/app/device.h"
#include "firmware/board/builtin.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/entropy.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/sim/sim_append_log.h"
#include "tests/support/bare_buses.h"

namespace edgeforge::app {
namespace {

// A broker that is never there: everything stays in the outbox.
class OfflineSession final : public link::Session {
  Status DoConnect(link::ConnectDone) override { return Unavailable("test: no broker"); }
  Status DoPublish(link::OutgoingMessage, link::PublishDone) override { return Unavailable("test: offline"); }
  Status DoSubscribe(const std::string&, int, link::MessageHandler, link::SubscribeDone) override {
    return Unavailable("test: offline");
  }
  void DoDisconnect() override {}
  bool DoIsConnected() const override { return false; }
  void DoOnConnectionLost(link::ConnectionLost) override {}
  size_t DoDispatch() override { return 0; }
};

// A broker that refuses every publish for good (MQTT 5 PUBACK reason 0x87:
// another thing's topic): the link removes and counts each one as rejected.
// Outcomes are queued and run from Dispatch(), as the Session contract says.
class RefusingSession final : public link::Session {
 public:
  std::vector<std::string> payloads;  // what the broker refused, in order

 private:
  Status DoConnect(link::ConnectDone done) override {
    if (connected_) return FailedPrecondition("test: already connected");
    queued_.push_back([this, done = std::move(done)] {
      connected_ = true;
      done(Status::Ok());
    });
    return Status::Ok();
  }
  Status DoPublish(link::OutgoingMessage m, link::PublishDone done) override {
    if (!connected_) return Unavailable("test: not connected");
    payloads.push_back(m.payload);
    queued_.push_back(
        [done = std::move(done)] { done(PermissionDenied("test: PUBACK reason 0x87 (not authorized)")); });
    return Status::Ok();
  }
  Status DoSubscribe(const std::string&, int, link::MessageHandler, link::SubscribeDone done) override {
    if (!connected_) return Unavailable("test: not connected");
    queued_.push_back([done = std::move(done)] { done(Status::Ok()); });
    return Status::Ok();
  }
  void DoDisconnect() override { connected_ = false; }
  bool DoIsConnected() const override { return connected_; }
  void DoOnConnectionLost(link::ConnectionLost) override {}
  size_t DoDispatch() override {
    std::vector<std::function<void()>> batch;
    batch.swap(queued_);
    for (auto& fn : batch) fn();
    return batch.size();
  }

  bool connected_ = false;
  std::vector<std::function<void()>> queued_;
};

class FakeSigner final : public jws::Signer {
 public:
  FakeSigner() : Signer(jws::Backend::kMbedTls, jws::EcP256PublicKey{}) {}

 private:
  Result<std::string> DoSign(std::string_view) override { return std::string("e30..c2ln"); }
};

class ConstSource final : public pipeline::SensorSource {
 public:
  ConstSource() : pipeline::SensorSource("env0") {}

 private:
  Status DoInit() override { return Status::Ok(); }
  Status DoSample(std::vector<telemetry::Reading>& out) override {
    out.push_back(telemetry::Reading{"temperature", 20.0, "Cel", "", telemetry::Aggregation::kMean});
    return Status::Ok();
  }
};

// State files on a disk that can fill up.
class FlakyStorage final : public Storage {
 public:
  bool full = false;

 private:
  Result<std::string> DoRead(const std::string& name) override { return inner_.Read(name); }
  Status DoWriteAtomic(const std::string& name, const std::string& data) override {
    if (full) return ResourceExhausted("cannot write '/state/" + name + ".tmp': No space left on device");
    return inner_.WriteAtomic(name, data);
  }
  Status DoOverwrite(const std::string& name, const std::string& data) override {
    if (full) return ResourceExhausted("cannot write '/state/" + name + "': No space left on device");
    return inner_.Overwrite(name, data);
  }
  Result<std::string> DoReadOverwritten(const std::string& name) override { return inner_.ReadOverwritten(name); }
  MemoryStorage inner_;
};

TEST(DeviceStorageTest, FullDiskIsCountedInDeviceCountersAndInTelemetry) {
  ManualClock clock;
  FlakyStorage state;
  auto sim = std::make_unique<SimAppendLog>("sim:state/outbox/outbox.log");
  SimAppendLog* disk = sim.get();
  std::vector<std::string> outbox_lines;
  link::OutboxOptions qo;
  qo.sync = link::SyncPolicy::kNever;
  qo.log = [&outbox_lines](const std::string& l) { outbox_lines.push_back(l); };
  auto outbox = link::Outbox::Open(std::move(sim), qo, clock);
  ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
  OfflineSession session;
  SeededEntropy entropy(1);
  auto lnk = link::Link::Create(session, **outbox, clock, entropy, link::LinkOptions{});
  ASSERT_TRUE(lnk.ok()) << lnk.status().ToString();
  ConstSource source;
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  FakeSigner signer;
  DeviceOptions opts;
  opts.thing = "dev-1";
  std::vector<std::string> state_lines;
  opts.storage_log = [&state_lines](const std::string& l) { state_lines.push_back(l); };
  Device device(opts, clock, state, signer, **lnk, pipe);
  ASSERT_TRUE(device.Start().ok());
  // Runs the device in 100 ms steps until `done` (a report window per second).
  auto run_until = [&](const std::function<bool(const DeviceCounters&)>& done) {
    for (int i = 0; i < 200 && !done(device.counters()); ++i) {
      clock.Advance(Millis(100));
      (void)device.Step();
    }
    return done(device.counters());
  };

  // 1. The state disk is full: the seq lease cannot be made durable, so the
  //    two reports are never built (no seq may be reused): bulk drops.
  state.full = true;
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.dropped == 2; }));
  DeviceCounters c = device.counters();
  EXPECT_EQ(c.dropped, 2u);
  EXPECT_EQ(c.storage_errors, 2u);
  EXPECT_EQ(c.sampled, 0u);
  ASSERT_EQ(state_lines.size(), 1u) << "logged once per episode";
  EXPECT_NE(state_lines[0].find("/state/counters.json.tmp"), std::string::npos) << state_lines[0];
  state.full = false;

  // 2. Healthy: two reports queued.
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.queued == 2; }));
  c = device.counters();
  EXPECT_EQ(c.queued, 2u);
  ASSERT_EQ(state_lines.size(), 2u);

  // 3. The outbox disk is full: three reports built, signed and lost.
  LogFaultSpec full;
  full.op = LogOp::kAppend;
  full.kind = LogFault::kNoSpace;
  disk->Inject(full);
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.sampled == 5; }));
  c = device.counters();
  EXPECT_EQ(c.sampled, 5u);
  EXPECT_EQ(c.queued, 2u);
  EXPECT_EQ(c.dropped, 5u) << "2 seq leases + 3 outbox appends";
  EXPECT_EQ(c.storage_errors, 5u);
  EXPECT_EQ(c.refused, 0u);
  EXPECT_EQ(c.sampled - c.queued - c.delivered, 3u) << "the outbox's share of the loss";
  ASSERT_EQ(outbox_lines.size(), 1u);
  EXPECT_NE(outbox_lines[0].find("sim:state/outbox/outbox.log"), std::string::npos) << outbox_lines[0];

  // 4. Space returns: the next report is queued and says what was lost.
  disk->ClearFaults();
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.queued == 3; }));
  c = device.counters();
  EXPECT_EQ(c.queued, 3u);
  EXPECT_EQ(c.dropped, 5u);
  std::vector<link::QueuedMessage> queued = (*outbox)->TakeForSend(10);
  ASSERT_EQ(queued.size(), 3u);
  auto last = telemetry::ParseTelemetry(queued.back().message.payload);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->status.dropped, 5u);
  EXPECT_EQ(last->status.dropped_by_class, (std::array<uint64_t, 3>{0, 0, 5}));
  EXPECT_EQ(last->status.storage_errors, 5u);
  EXPECT_EQ(last->status.refused, 0u);
  (*outbox)->RequeueInFlight();
  (void)device.Stop(Millis(0));
}

// Issue 8: a refusal by the broker is reported as refused, not as a drop.
TEST(DeviceStorageTest, BrokerRefusalsAreCountedApartFromDrops) {
  ManualClock clock;
  auto outbox = link::Outbox::Open(std::make_unique<SimAppendLog>(), link::OutboxOptions{}, clock);
  ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
  RefusingSession session;
  SeededEntropy entropy(1);
  auto lnk = link::Link::Create(session, **outbox, clock, entropy, link::LinkOptions{});
  ASSERT_TRUE(lnk.ok()) << lnk.status().ToString();
  ConstSource source;
  pipeline::Pipeline pipe({{&source, Millis(100)}}, Millis(1000), {});
  FakeSigner signer;
  MemoryStorage state;
  DeviceOptions opts;
  opts.thing = "dev-2";
  Device device(opts, clock, state, signer, **lnk, pipe);
  ASSERT_TRUE(device.Start().ok());
  for (int i = 0; i < 200 && device.counters().refused < 3; ++i) {
    clock.Advance(Millis(100));
    (void)device.Step();
  }
  const DeviceCounters c = device.counters();
  EXPECT_EQ(c.refused, 3u);
  EXPECT_EQ(c.dropped, 0u) << "refusals are not drops";
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.storage_errors, 0u);
  // Each window reports the refusals before it, apart from dropped.
  ASSERT_EQ(session.payloads.size(), 3u);
  auto last = telemetry::ParseTelemetry(session.payloads.back());
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->status.refused, 2u);
  EXPECT_EQ(last->status.dropped, 0u);
  EXPECT_EQ((*outbox)->stats().dropped, (std::array<uint64_t, link::kPriorityCount>{0, 0, 0}));
  (void)device.Stop(Millis(0));
}

// The shadow's reported state carries storage_errors too, and is updated
// when they change (not only on sensor health or reconnects).
TEST(DeviceStorageTest, ShadowReportsStorageErrorsAfterAFullDisk) {
  ManualClock clock;
  auto sim = std::make_unique<SimAppendLog>();
  SimAppendLog* disk = sim.get();
  auto outbox = link::Outbox::Open(std::move(sim), link::OutboxOptions{}, clock);
  ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
  OfflineSession session;
  SeededEntropy entropy(1);
  auto lnk = link::Link::Create(session, **outbox, clock, entropy, link::LinkOptions{});
  ASSERT_TRUE(lnk.ok()) << lnk.status().ToString();
  auto board = board::LoadBoardSpec("factory-node");
  ASSERT_TRUE(board.ok()) << board.status().ToString();
  testing_support::BareBuses buses(clock);  // no chips attached: every part reports a fault
  auto node = BuildNode(*board, buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  pipeline::Pipeline pipe((*node)->Slots(), (*node)->report_period(), (*node)->alarm_rules());
  FakeSigner signer;
  MemoryStorage state;
  DeviceOptions opts;
  opts.thing = "dev-3";
  opts.board = &*board;
  opts.node = node->get();
  Device device(opts, clock, state, signer, **lnk, pipe);
  ASSERT_TRUE(device.Start().ok());
  auto run_until = [&](const std::function<bool(const DeviceCounters&)>& done) {
    for (int i = 0; i < 2000 && !done(device.counters()); ++i) {
      clock.Advance(Millis(250));
      (void)device.Step();
    }
    return done(device.counters());
  };
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.reports == 1; }));
  LogFaultSpec full;
  full.op = LogOp::kAppend;
  full.kind = LogFault::kNoSpace;
  disk->Inject(full);
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.sampled == 3; }));
  disk->ClearFaults();
  ASSERT_TRUE(run_until([](const DeviceCounters& d) { return d.reports == 4; }));  // queued again
  const DeviceCounters c = device.counters();
  ASSERT_GE(c.storage_errors, 2u);
  std::string last_shadow;
  for (const link::QueuedMessage& q : (*outbox)->TakeForSend(100)) {
    if (q.message.topic == "$aws/things/dev-3/shadow/update") last_shadow = q.message.payload;
  }
  (*outbox)->RequeueInFlight();
  ASSERT_FALSE(last_shadow.empty());
  const auto doc = nlohmann::json::parse(last_shadow);
  EXPECT_EQ(doc["state"]["reported"]["storage_errors"].get<uint64_t>(), c.storage_errors) << last_shadow;
  EXPECT_EQ(doc["state"]["reported"]["refused"].get<uint64_t>(), 0u) << last_shadow;
  (void)device.Stop(Millis(0));
}

}  // namespace
}  // namespace edgeforge::app
