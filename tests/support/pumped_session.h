// Test support: a Session that dispatches itself. Integration tests watch a
// broker from the side (an ingest subscriber, a second device) while the test
// thread sleeps and checks; under the non-blocking Session contract someone
// must call Dispatch() for handlers to run. PumpedSession wraps a session and
// runs its Dispatch() every millisecond on a thread of its own; every call
// into the wrapped session holds one (recursive: a handler may call back in)
// mutex, so the wrapped session still sees a single thread at a time. Handlers
// therefore run on the pump thread, as they ran on Paho's thread before.
// Not for sessions given to a Link: Link::Poll() dispatches those itself.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "firmware/link/paho/paho_session.h"
#include "firmware/link/session.h"
#include "hal/clock.h"

namespace edgeforge::testing_support {

class PumpedSession final : public link::Session {
 public:
  explicit PumpedSession(std::unique_ptr<link::Session> inner) : inner_(std::move(inner)) {
    pump_ = std::thread([this] {
      while (!stop_.load()) {
        {
          std::lock_guard<std::recursive_mutex> lock(mu_);
          inner_->Dispatch();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~PumpedSession() override {
    stop_.store(true);
    pump_.join();
    std::lock_guard<std::recursive_mutex> lock(mu_);
    inner_.reset();
  }

 private:
  Status DoConnect(link::ConnectDone done) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return inner_->Connect(std::move(done));
  }
  Status DoSubscribe(const std::string& filter, int qos, link::MessageHandler handler,
                     link::SubscribeDone done) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return inner_->Subscribe(filter, qos, std::move(handler), std::move(done));
  }
  Status DoPublish(link::OutgoingMessage message, link::PublishDone done) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return inner_->Publish(std::move(message), std::move(done));
  }
  void DoDisconnect() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    inner_->Disconnect();
  }
  bool DoIsConnected() const override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return inner_->IsConnected();
  }
  void DoOnConnectionLost(link::ConnectionLost cb) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    inner_->OnConnectionLost(std::move(cb));
  }
  /// Also callable from the test thread (ConnectAndWait does). The lock keeps
  /// the inner session on one thread at a time; it does not order what a
  /// callback run by the pump writes before the test thread reads it, so
  /// that needs its own lock (session.cc's helpers have one; TSan found it).
  size_t DoDispatch() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return inner_->Dispatch();
  }
  void DoSetWakeup(std::function<void()> wake) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    inner_->SetWakeup(std::move(wake));
  }

  mutable std::recursive_mutex mu_;
  std::unique_ptr<link::Session> inner_;
  std::atomic<bool> stop_{false};
  std::thread pump_;
};

/// MakePahoSession, pumped.
inline Result<std::unique_ptr<link::Session>> MakePumpedPahoSession(const link::SessionConfig& config) {
  auto s = link::MakePahoSession(config);
  if (!s.ok()) return s.status();
  return std::unique_ptr<link::Session>(new PumpedSession(std::move(*s)));
}

// Paho checks connect timeouts only every 3 s: a test waits that much longer.
inline constexpr Millis kConnectWait{15000};
inline constexpr Millis kSubscribeWait{10000};

/// The blocking calls tests used to make, on the real clock.
inline Status ConnectAndWait(link::Session& s, Millis timeout = kConnectWait) {
  SystemClock clock;
  return link::ConnectAndWait(s, clock, timeout);
}
inline Status SubscribeAndWait(link::Session& s, const std::string& filter, int qos, link::MessageHandler handler,
                               Millis timeout = kSubscribeWait) {
  SystemClock clock;
  return link::SubscribeAndWait(s, clock, timeout, filter, qos, std::move(handler));
}
inline Status PublishAndWait(link::Session& s, link::OutgoingMessage message, Millis timeout = kSubscribeWait) {
  SystemClock clock;
  return link::PublishAndWait(s, clock, timeout, std::move(message));
}

}  // namespace edgeforge::testing_support
