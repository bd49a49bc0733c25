// The outbox on SharedLogStore tenants (issue 9): several devices' outboxes
// share one store file and must come back from it exactly as the per-device
// FileAppendLog would bring them back.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <string>
#include <vector>

#include "firmware/link/outbox.h"
#include "hal/clock.h"
#include "hal/linux/shared_log_store.h"

namespace edgeforge::link {
namespace {

std::string TempDir() {
  std::string t = testing::TempDir() + "outboxstoreXXXXXX";
  return mkdtemp(t.data());
}

OutgoingMessage Msg(const std::string& topic, const std::string& payload) {
  OutgoingMessage m;
  m.topic = topic;
  m.payload = payload;
  return m;
}

std::unique_ptr<Outbox> OpenOn(SharedLogStore& store, const std::string& tenant, const Clock& clock) {
  auto log = store.OpenTenant(tenant);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return nullptr;
  OutboxOptions o;
  o.sync = SyncPolicy::kBatch;
  o.compact_min_bytes = 0;
  auto box = Outbox::Open(std::move(*log), o, clock);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  return box.ok() ? std::move(box).value() : nullptr;
}

// "seq:topic:payload" of everything queued, in send order (takes and requeues them).
std::vector<std::string> Queue(Outbox& box) {
  std::vector<std::string> out;
  for (const auto& q : box.TakeForSend(1000)) {
    out.push_back(std::to_string(q.seq) + ":" + q.message.topic + ":" + q.message.payload);
  }
  box.RequeueInFlight();
  return out;
}

TEST(OutboxOnStoreTest, ThreeDevicesAppendAckCompactAndReopenToTheSameQueues) {
  const std::string dir = TempDir();
  ManualClock clock;
  const std::vector<std::string> devices = {"dev-a", "dev-b", "dev-c"};
  std::map<std::string, std::vector<std::string>> before;
  {
    auto store = SharedLogStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::map<std::string, std::unique_ptr<Outbox>> boxes;
    for (const auto& d : devices) {
      boxes[d] = OpenOn(**store, d, clock);
      ASSERT_NE(boxes[d], nullptr);
    }
    // Interleaved appends: the three logs' frames alternate in the one file.
    std::map<std::string, std::vector<uint64_t>> ids;
    for (uint64_t i = 0; i < 12; ++i) {
      for (const auto& d : devices) {
        auto id = boxes[d]->Append(i % 3 == 0 ? Priority::kAlarm : Priority::kBulk, i,
                                   Msg("dt/" + d, d + "-" + std::to_string(i)));
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        ids[d].push_back(*id);
      }
    }
    for (size_t i = 0; i < 8; ++i) ASSERT_TRUE(boxes["dev-a"]->Ack(ids["dev-a"][i]).ok());
    for (size_t i = 0; i < 12; i += 2) ASSERT_TRUE(boxes["dev-b"]->Ack(ids["dev-b"][i]).ok());
    ASSERT_TRUE(boxes["dev-a"]->Compact().ok());
    ASSERT_TRUE(boxes["dev-c"]->Append(Priority::kState, 99, Msg("dt/dev-c", "late")).ok());
    ASSERT_TRUE((*store)->SyncAll().ok());
    for (const auto& d : devices) before[d] = Queue(*boxes[d]);
    EXPECT_EQ(before["dev-a"].size(), 4u);
    EXPECT_EQ(before["dev-b"].size(), 6u);
    EXPECT_EQ(before["dev-c"].size(), 13u);
  }
  auto store = SharedLogStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->stats().corrupt_regions, 0u);
  EXPECT_EQ((*store)->stats().torn_tail_bytes, 0u);
  for (const auto& d : devices) {
    auto box = OpenOn(**store, d, clock);
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(Queue(*box), before[d]) << d;
    EXPECT_EQ(box->stats().quarantined_records, 0u) << d;
  }
}

}  // namespace
}  // namespace edgeforge::link
