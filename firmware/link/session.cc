// The blocking helpers for tools and tests (session.h): each starts one call
// and drives the session's Dispatch() on the caller's thread until it is done.
#include "firmware/link/session.h"

#include <memory>
#include <optional>
#include <string>

namespace edgeforge::link {
namespace {

constexpr Micros kDispatchEvery{1000};

/// Dispatches until `*result` is set or `timeout` passed on `clock`.
bool WaitFor(Session& session, Clock& clock, Millis timeout, const std::shared_ptr<std::optional<Status>>& result) {
  const Micros end = clock.Monotonic() + std::chrono::duration_cast<Micros>(timeout);
  for (;;) {
    session.Dispatch();
    if (result->has_value()) return true;
    if (clock.Monotonic() >= end) return false;
    clock.SleepFor(kDispatchEvery);
  }
}

std::string Ms(Millis d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Status ConnectAndWait(Session& session, Clock& clock, Millis timeout) {
  // Shared: the callback may outlive this frame if the attempt is cancelled
  // (its CANCELLED then runs from a later Dispatch()).
  auto result = std::make_shared<std::optional<Status>>();
  EF_RETURN_IF_ERROR(session.Connect([result](Status s) { *result = std::move(s); }));
  if (WaitFor(session, clock, timeout, result)) return **result;
  session.Disconnect();  // cancels the attempt: no connection is left behind
  return DeadlineExceeded("connect: no CONNACK within " + Ms(timeout) + " (attempt cancelled)");
}

Status SubscribeAndWait(Session& session, Clock& clock, Millis timeout, const std::string& filter, int qos,
                        MessageHandler handler) {
  auto result = std::make_shared<std::optional<Status>>();
  EF_RETURN_IF_ERROR(
      session.Subscribe(filter, qos, std::move(handler), [result](Status s) { *result = std::move(s); }));
  if (WaitFor(session, clock, timeout, result)) return **result;
  return DeadlineExceeded("subscribe " + filter + ": no SUBACK within " + Ms(timeout));
}

Status PublishAndWait(Session& session, Clock& clock, Millis timeout, OutgoingMessage message) {
  const std::string topic = message.topic;
  auto result = std::make_shared<std::optional<Status>>();
  EF_RETURN_IF_ERROR(session.Publish(std::move(message), [result](Status s) { *result = std::move(s); }));
  if (WaitFor(session, clock, timeout, result)) return **result;
  return DeadlineExceeded("publish to " + topic + ": no PUBACK within " + Ms(timeout));
}

}  // namespace edgeforge::link
