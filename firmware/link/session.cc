// The blocking helpers for tools and tests (session.h): each starts one call
// and drives the session's Dispatch() on the caller's thread until it is done.
#include "firmware/link/session.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace edgeforge::link {
namespace {

constexpr Micros kDispatchEvery{1000};

/// What the call's callback hands to WaitFor. Both normally run on the
/// caller's thread (session.h), but a session that is also dispatched from a
/// thread of its own (the tests' PumpedSession) runs the callback there while
/// WaitFor polls: the lock makes that hand-off ordered instead of a data race
/// on the optional (found by ThreadSanitizer, scripts/test --tsan).
class Outcome {
 public:
  void Set(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(s);
  }
  std::optional<Status> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<Status> status_;
};

/// Dispatches until `result` is set (returns it) or `timeout` passed on `clock`.
std::optional<Status> WaitFor(Session& session, Clock& clock, Millis timeout, const std::shared_ptr<Outcome>& result) {
  const Micros end = clock.Monotonic() + std::chrono::duration_cast<Micros>(timeout);
  for (;;) {
    session.Dispatch();
    if (std::optional<Status> s = result->Get()) return s;
    if (clock.Monotonic() >= end) return std::nullopt;
    clock.SleepFor(kDispatchEvery);
  }
}

std::string Ms(Millis d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Status ConnectAndWait(Session& session, Clock& clock, Millis timeout) {
  // Shared: the callback may outlive this frame if the attempt is cancelled
  // (its CANCELLED then runs from a later Dispatch()).
  auto result = std::make_shared<Outcome>();
  EF_RETURN_IF_ERROR(session.Connect([result](Status s) { result->Set(std::move(s)); }));
  if (std::optional<Status> s = WaitFor(session, clock, timeout, result)) return *s;
  session.Disconnect();  // cancels the attempt: no connection is left behind
  return DeadlineExceeded("connect: no CONNACK within " + Ms(timeout) + " (attempt cancelled)");
}

Status SubscribeAndWait(Session& session, Clock& clock, Millis timeout, const std::string& filter, int qos,
                        MessageHandler handler) {
  auto result = std::make_shared<Outcome>();
  EF_RETURN_IF_ERROR(
      session.Subscribe(filter, qos, std::move(handler), [result](Status s) { result->Set(std::move(s)); }));
  if (std::optional<Status> s = WaitFor(session, clock, timeout, result)) return *s;
  return DeadlineExceeded("subscribe " + filter + ": no SUBACK within " + Ms(timeout));
}

Status PublishAndWait(Session& session, Clock& clock, Millis timeout, OutgoingMessage message) {
  const std::string topic = message.topic;
  auto result = std::make_shared<Outcome>();
  EF_RETURN_IF_ERROR(session.Publish(std::move(message), [result](Status s) { result->Set(std::move(s)); }));
  if (std::optional<Status> s = WaitFor(session, clock, timeout, result)) return *s;
  return DeadlineExceeded("publish to " + topic + ": no PUBACK within " + Ms(timeout));
}

}  // namespace edgeforge::link
