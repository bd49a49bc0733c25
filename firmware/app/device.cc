#include "firmware/app/device.h"

#include "firmware/pipeline/window.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::app {
namespace {

// Until the device takes its node kind from the board, it runs BME280 sources:
// a factory node (docs/telemetry.md, "Node kinds").
constexpr char kNodeKind[] = "factory";

// One sample as a v2 window of n = 1 (a faulted reading: n = 0, faults = 1).
telemetry::Telemetry AsWindowOfOne(const telemetry::Message& m) {
  pipeline::WindowAggregator window;
  for (const auto& r : m.readings) (void)window.Add(r);
  telemetry::Telemetry t;
  t.dev = m.dev;
  t.kind = kNodeKind;
  t.boot = m.boot;
  t.ts = m.ts;
  t.window_start = m.ts;
  t.readings = window.Close();
  t.status = m.status;
  return t;
}

}  // namespace

Device::Device(DeviceOptions options, Clock& clock, Storage& storage, jws::Signer& signer,
               link::Session& session, std::vector<SensorSource*> sensors)
    : options_(std::move(options)),
      clock_(clock),
      signer_(signer),
      session_(session),
      sensors_(std::move(sensors)),
      seq_(storage) {}

Status Device::Start() {
  auto t = topic::TelemetryTopic(options_.app, options_.site, options_.thing);
  if (!t.ok()) return t.status();
  topic_ = *t;
  EF_RETURN_IF_ERROR(seq_.Open().WithContext(options_.thing));
  started_ = clock_.Monotonic();
  for (auto* s : sensors_) {
    if (!s->Init().ok()) ++sensor_faults_;  // shows up as a fault in the first telemetry
  }
  return session_.Connect().WithContext(options_.thing);
}

telemetry::Message Device::Sample() {
  telemetry::Message m;
  m.dev = options_.thing;
  m.boot = seq_.boot();
  m.ts = clock_.WallMillis();
  for (auto* s : sensors_) {
    Status st = s->Sample(m.readings);
    if (!st.ok()) {
      ++sensor_faults_;
      m.status.faults.push_back(s->name() + ": " + st.ToString());
    }
  }
  m.status.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.Monotonic() - started_).count();
  m.status.dropped = dropped_.load();
  return m;
}

Status Device::PublishOnce() {
  telemetry::Telemetry m = AsWindowOfOne(Sample());
  auto seq = seq_.Next();
  if (!seq.ok()) return seq.status();
  m.seq = *seq;
  ++sampled_;
  link::OutgoingMessage out;
  out.topic = topic_;
  out.payload = telemetry::Serialize(m);
  auto jws = signer_.Sign(out.payload);
  if (!jws.ok()) {
    dropped_.fetch_add(1);
    return jws.status().WithContext(options_.thing + " sign");
  }
  out.user_properties.emplace_back(options_.jws_property, std::move(*jws));
  if (observer_) observer_(m.seq, clock_.Monotonic());
  in_flight_.fetch_add(1);
  Status s = session_.Publish(std::move(out), [this](const Status& done) {
    (done.ok() ? delivered_ : dropped_).fetch_add(1);
    in_flight_.fetch_sub(1);
  });
  if (!s.ok()) {
    in_flight_.fetch_sub(1);
    dropped_.fetch_add(1);  // explicit: issue 4 replaces this with store-and-forward
  }
  return s;
}

Status Device::Stop() {
  Status s = session_.IsConnected() ? session_.Disconnect(Millis(2000)) : Status::Ok();
  Status c = seq_.Close();
  return s.ok() ? c : s;
}

DeviceCounters Device::counters() const {
  return DeviceCounters{sampled_, delivered_.load(), dropped_.load(), sensor_faults_};
}

}  // namespace edgeforge::app
