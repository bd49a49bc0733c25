// Device-level crash-loss accounting (issue 8): the real Device, Link and
// on-disk Outbox, a MemoryStorage for the seq counter (it keeps what a kill -9
// leaves in the page cache), a manual clock, and a session that never
// connects (the device stays offline, everything stays queued). A "crash" is
// destroying the objects without Stop().
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firmware/app/device.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "hal/linux/fs.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/storage.h"

namespace edgeforge::app {
namespace {

using namespace std::chrono_literals;

std::string TempDir() {
  std::string t = testing::TempDir() + "devlossXXXXXX";
  return mkdtemp(t.data());
}

/// A broker that is never there.
class OfflineSession final : public link::Session {
 private:
  Status DoConnect(link::ConnectDone) override { return Unavailable("offline"); }
  Status DoPublish(link::OutgoingMessage, link::PublishDone) override { return Unavailable("offline"); }
  Status DoSubscribe(const std::string&, int, link::MessageHandler, link::SubscribeDone) override {
    return Unavailable("offline");
  }
  void DoDisconnect() override {}
  bool DoIsConnected() const override { return false; }
  void DoOnConnectionLost(link::ConnectionLost) override {}
  size_t DoDispatch() override { return 0; }
};

/// Signing is not what this test is about.
class FakeSigner final : public jws::Signer {
 public:
  FakeSigner() : Signer(jws::Backend::kOpenSsl, jws::EcP256PublicKey{}) {}

 private:
  Result<std::string> DoSign(std::string_view) override { return std::string("h..s"); }
};

class ConstantSource final : public pipeline::SensorSource {
 public:
  ConstantSource() : pipeline::SensorSource("env0") {}

 private:
  Status DoInit() override { return Status::Ok(); }
  Status DoSample(std::vector<telemetry::Reading>& out) override {
    out.push_back({"temperature", 21.5, "Cel", "", telemetry::Aggregation::kMean});
    return Status::Ok();
  }
};

/// One boot of the device: everything it owns, built and started.
struct Boot {
  Boot(const std::string& dir, ManualClock& clock, Storage& storage) {
    link::OutboxOptions q;
    q.dir = dir;
    q.sync = link::SyncPolicy::kNever;
    auto box = link::OpenFileOutbox(q, clock);
    EXPECT_TRUE(box.ok()) << box.status().ToString();
    outbox = std::move(*box);
    auto l = link::Link::Create(session, *outbox, clock, entropy, link::LinkOptions{});
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    lnk = std::move(*l);
    pipe = std::make_unique<pipeline::Pipeline>(std::vector<pipeline::SourceSlot>{{&source, Micros(100ms)}}, Micros(1s),
                                                std::vector<pipeline::AlarmRule>{});
    DeviceOptions o;
    o.thing = "dev-1";
    device = std::make_unique<Device>(o, clock, storage, signer, *lnk, *pipe);
    const Status s = device->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  /// Runs until `n` telemetry windows were published.
  void Publish(ManualClock& clock, uint64_t n) {
    const uint64_t want = device->counters().reports + n;
    for (int i = 0; i < 10'000 && device->counters().reports < want; ++i) {
      const Micros next = device->Step();
      clock.AdvanceTo(std::max(next, clock.Monotonic() + Micros(1)));
    }
    EXPECT_EQ(device->counters().reports, want);
  }
  /// The telemetry windows queued in the outbox, in seq order.
  std::vector<telemetry::Telemetry> Queued() {
    std::vector<telemetry::Telemetry> out;
    for (const link::QueuedMessage& m : outbox->TakeForSend(1000)) {
      auto t = telemetry::ParseTelemetry(m.message.payload);
      EXPECT_TRUE(t.ok()) << t.status().ToString();
      if (t.ok()) out.push_back(*t);
    }
    outbox->RequeueInFlight();
    return out;
  }

  OfflineSession session;
  SeededEntropy entropy{1};
  FakeSigner signer;
  ConstantSource source;
  std::unique_ptr<link::Outbox> outbox;
  std::unique_ptr<link::Link> lnk;
  std::unique_ptr<pipeline::Pipeline> pipe;
  std::unique_ptr<Device> device;
};

/// The byte offset of the data record whose payload holds "seq":N.
size_t RecordOf(const std::string& log, uint64_t seq) {
  const size_t at = log.find("\"seq\":" + std::to_string(seq) + ",");
  EXPECT_NE(at, std::string::npos);
  return log.rfind(std::string("\xEF\x9A\x0B\x0C", 4), at);
}

TEST(DeviceCrashLossTest, FirstBootHasNoPreviousBootAndSaysNothing) {
  const std::string dir = TempDir();
  ManualClock clock;
  MemoryStorage storage;
  Boot b(dir, clock, storage);
  EXPECT_FALSE(b.device->crash_loss().has_value());
  b.Publish(clock, 2);
  for (const auto& t : b.Queued()) EXPECT_FALSE(t.status.prev_boot.has_value());
}

TEST(DeviceCrashLossTest, LogTruncatedAfterACrashIsCountedAndCarriedInEveryWindow) {
  const std::string dir = TempDir();
  ManualClock clock;
  MemoryStorage storage;
  {
    Boot b(dir, clock, storage);
    b.Publish(clock, 6);  // seqs 0..5, all queued (offline)
  }                       // kill -9
  const std::string log_path = dir + "/" + link::Outbox::kLogName;
  std::string log = *fs::ReadFileToString(log_path);
  log.resize(RecordOf(log, 3) + 30);  // seq 3's record torn, 4 and 5 gone
  ASSERT_TRUE(fs::WriteFileAtomically(log_path, log, 0600).ok());

  Boot b(dir, clock, storage);
  const std::optional<CrashLoss>& cl = b.device->crash_loss();
  ASSERT_TRUE(cl.has_value());
  EXPECT_EQ(cl->boot, 1u);
  EXPECT_TRUE(cl->any_issued);
  EXPECT_EQ(cl->last_seq, 5u);
  EXPECT_TRUE(cl->exact);
  EXPECT_EQ(cl->lost, 3u);
  EXPECT_EQ(cl->ranges, (link::crash_loss::SeqRanges{{3, 5}}));
  EXPECT_TRUE(cl->resolved.ok()) << cl->resolved.ToString();
  b.Publish(clock, 2);
  size_t with_prev = 0;
  for (const auto& t : b.Queued()) {
    if (t.boot != 2) continue;
    ++with_prev;
    ASSERT_TRUE(t.status.prev_boot.has_value()) << "seq " << t.seq;
    EXPECT_EQ(t.status.prev_boot->boot, 1u);
    EXPECT_EQ(t.status.prev_boot->last_seq, 5u);
    EXPECT_TRUE(t.status.prev_boot->exact);
    EXPECT_EQ(t.status.prev_boot->lost, 3u);
    EXPECT_GT(t.seq, 5u) << "a seq reused";
  }
  EXPECT_EQ(with_prev, 2u);
}

// Once accounted, a loss is not reported again by the boot after; a fresh loss is.
TEST(DeviceCrashLossTest, ALossIsReportedByTheNextBootOnly) {
  const std::string dir = TempDir();
  ManualClock clock;
  MemoryStorage storage;
  {
    Boot b(dir, clock, storage);
    b.Publish(clock, 3);
  }
  ASSERT_TRUE(fs::WriteFileAtomically(dir + "/" + link::Outbox::kLogName, "", 0600).ok());
  {
    Boot b(dir, clock, storage);
    ASSERT_TRUE(b.device->crash_loss().has_value());
    EXPECT_EQ(b.device->crash_loss()->lost, 3u);
    b.Publish(clock, 2);  // seqs 1000, 1001 (boot 1's lease skipped), queued
  }
  {
    Boot b(dir, clock, storage);
    ASSERT_TRUE(b.device->crash_loss().has_value());
    EXPECT_EQ(b.device->crash_loss()->boot, 2u);
    EXPECT_EQ(b.device->crash_loss()->last_seq, 1001u);
    EXPECT_EQ(b.device->crash_loss()->lost, 0u) << link::crash_loss::Format(b.device->crash_loss()->ranges);
  }
}

}  // namespace
}  // namespace edgeforge::app
