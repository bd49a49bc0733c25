// CallbackQueue: what transport threads Post() runs only in the owner's
// Drain(), on the owner's thread, in order; Close() drops it all.
#include "firmware/link/callback_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace edgeforge::link {
namespace {

TEST(CallbackQueueTest, PostedCallbacksRunOnlyInDrainOnTheDrainingThreadInOrder) {
  CallbackQueue q;
  std::vector<int> ran;
  std::vector<std::thread::id> threads;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      q.Post([&ran, &threads, i] {
        ran.push_back(i);
        threads.push_back(std::this_thread::get_id());
      });
    }
  });
  poster.join();
  EXPECT_TRUE(ran.empty()) << "nothing runs on the posting thread";
  EXPECT_EQ(q.Drain(), 100u);
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
  for (const auto& t : threads) EXPECT_EQ(t, std::this_thread::get_id());
  EXPECT_EQ(q.Drain(), 0u);
  EXPECT_TRUE(q.empty());
}

TEST(CallbackQueueTest, ACallbackPostedDuringDrainWaitsForTheNextDrain) {
  CallbackQueue q;
  int second = 0;
  q.Post([&] { q.Post([&] { ++second; }); });
  EXPECT_EQ(q.Drain(), 1u);
  EXPECT_EQ(second, 0);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.Drain(), 1u);
  EXPECT_EQ(second, 1);
}

TEST(CallbackQueueTest, WakeRunsOncePerPost) {
  CallbackQueue q;
  int wakes = 0;
  q.SetWakeup([&] { ++wakes; });
  q.Post([] {});
  q.Post([] {});
  EXPECT_EQ(wakes, 2);
  q.Drain();
  EXPECT_EQ(wakes, 2) << "draining does not wake";
}

TEST(CallbackQueueTest, CloseDropsWhatIsQueuedAndEveryLaterPost) {
  CallbackQueue q;
  int ran = 0;
  int wakes = 0;
  q.SetWakeup([&] { ++wakes; });
  q.Post([&] { ++ran; });
  q.Close();
  q.Post([&] { ++ran; });
  EXPECT_EQ(q.Drain(), 0u);
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(wakes, 1) << "no wake after Close()";
}

TEST(CallbackQueueTest, CloseFromACallbackDropsTheRestOfTheBatch) {
  CallbackQueue q;
  int ran = 0;
  q.Post([&] {
    ++ran;
    q.Close();
  });
  q.Post([&] { ++ran; });
  EXPECT_EQ(q.Drain(), 1u);
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace edgeforge::link
