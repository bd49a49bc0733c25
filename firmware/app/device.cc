#include "firmware/app/device.h"

#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::app {

Device::Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer, link::Session& session,
               pipeline::Pipeline& pipeline)
    : options_(std::move(options)),
      clock_(clock),
      signer_(signer),
      session_(session),
      pipeline_(pipeline),
      seq_(storage) {}

Status Device::Start() {
  EF_RETURN_IF_ERROR(telemetry::ValidateKind(options_.kind).WithContext("kind"));
  auto t = topic::TelemetryTopic(options_.app, options_.site, options_.thing);
  if (!t.ok()) return t.status();
  telemetry_topic_ = *t;
  auto a = topic::AlarmTopic(options_.app, options_.site, options_.thing);
  if (!a.ok()) return a.status();
  alarm_topic_ = *a;
  EF_RETURN_IF_ERROR(seq_.Open().WithContext(options_.thing));
  started_ = clock_.Monotonic();
  EF_RETURN_IF_ERROR(pipeline_.Init().WithContext(options_.thing));
  return session_.Connect().WithContext(options_.thing);
}

Micros Device::Step() {
  pipeline::StepResult r = pipeline_.Step(clock_.Monotonic(), clock_.WallMillis());
  for (const auto& e : r.alarms) PublishAlarm(e);
  if (r.report) PublishReport(*r.report);
  return r.next_wake;
}

std::optional<uint64_t> Device::NextSeq() {
  auto seq = seq_.Next();
  if (seq.ok()) return *seq;
  dropped_.fetch_add(1);  // the counter could not be made durable: never risk a reused seq
  return std::nullopt;
}

void Device::PublishAlarm(const pipeline::AlarmEvent& e) {
  const std::optional<uint64_t> seq = NextSeq();
  if (!seq) return;
  telemetry::AlarmMessage m;
  m.dev = options_.thing;
  m.kind = options_.kind;
  m.seq = *seq;
  m.boot = seq_.boot();
  m.ts = e.ts_ms;
  m.alarm = e.alarm;
  ++alarms_;
  Publish(alarm_topic_, telemetry::Serialize(m), m.seq);
}

void Device::PublishReport(const pipeline::Window& w) {
  const std::optional<uint64_t> seq = NextSeq();
  if (!seq) return;
  telemetry::Telemetry m;
  m.dev = options_.thing;
  m.kind = options_.kind;
  m.seq = *seq;
  m.boot = seq_.boot();
  m.ts = w.end_ms;
  m.window_start = w.start_ms;
  m.window_ms = static_cast<uint64_t>(std::chrono::duration_cast<Millis>(w.length).count());
  m.readings = w.channels;
  m.status.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.Monotonic() - started_).count();
  m.status.dropped = dropped_.load();
  m.status.faults = w.faults;
  m.status.skipped_samples = w.skipped_samples;
  ++reports_;
  Publish(telemetry_topic_, telemetry::Serialize(m), m.seq);
}

void Device::Publish(const std::string& topic, std::string payload, uint64_t seq) {
  ++sampled_;
  link::OutgoingMessage out;
  out.topic = topic;
  out.payload = std::move(payload);
  auto jws = signer_.Sign(out.payload);
  if (!jws.ok()) {
    dropped_.fetch_add(1);
    return;
  }
  out.user_properties.emplace_back(options_.jws_property, std::move(*jws));
  if (observer_) observer_(seq, clock_.Monotonic());
  in_flight_.fetch_add(1);
  Status s = session_.Publish(std::move(out), [this](const Status& done) {
    (done.ok() ? delivered_ : dropped_).fetch_add(1);
    in_flight_.fetch_sub(1);
  });
  if (!s.ok()) {
    in_flight_.fetch_sub(1);
    dropped_.fetch_add(1);  // explicit: store-and-forward (issue 4) will queue it instead
  }
}

Status Device::Stop() {
  Status s = session_.IsConnected() ? session_.Disconnect(Millis(2000)) : Status::Ok();
  Status c = seq_.Close();
  return s.ok() ? c : s;
}

DeviceCounters Device::counters() const {
  uint64_t faults = 0;
  for (const auto& c : pipeline_.counters()) faults += c.failures;
  return DeviceCounters{sampled_, reports_, alarms_, delivered_.load(), dropped_.load(), faults};
}

}  // namespace edgeforge::app
