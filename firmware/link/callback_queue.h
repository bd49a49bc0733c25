// A FIFO of completions that transport threads fill and the owner's thread
// runs (session.h: every Session callback runs from Dispatch(), never on a
// transport thread). Post() is the only call a transport thread makes.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace edgeforge::link {

class CallbackQueue {
 public:
  /// `wake`, if set, is called after each Post() (on the posting thread,
  /// outside the queue's lock): it must only signal (session.h SetWakeup).
  void SetWakeup(std::function<void()> wake) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }

  /// Queues `fn`; dropped if Close() was called (the owner is going away).
  void Post(std::function<void()> fn) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      queue_.push_back(std::move(fn));
      wake = wake_;
    }
    if (wake) wake();
  }

  /// Runs, on the calling thread, what was queued before the call, oldest
  /// first, outside the lock (a callback may Post() or call into the
  /// transport). Callbacks posted meanwhile wait for the next Drain(), so a
  /// callback that posts cannot keep one Drain() going forever.
  size_t Drain() {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return 0;
      batch.swap(queue_);
    }
    size_t ran = 0;
    while (!batch.empty()) {
      std::function<void()> fn = std::move(batch.front());
      batch.pop_front();
      {
        // Close() from inside a callback (the owner destroyed its session)
        // drops the rest of this batch too.
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) break;
      }
      if (fn) fn();
      ++ran;
    }
    return ran;
  }

  /// Drops everything queued and every later Post(): none of it will run.
  void Close() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      dropped.swap(queue_);
      wake_ = nullptr;
    }
    // `dropped` dies here, outside the lock: its captures may have destructors.
  }

  bool empty() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.empty();
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::function<void()> wake_;               // guarded by mu_
  bool closed_ = false;                      // guarded by mu_
};

}  // namespace edgeforge::link
