#include "sim/fleet/devices.h"

#include "certs/pki.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
Result<std::unique_ptr<VirtualDevice>> BuildDevice(const FleetOptions& o, const Provisioned& p,
                                                   const std::string& broker_uri, size_t index,
                                                   const app::SessionFactory& session, const OutboxBackend& outbox,
                                                   PublishHook on_publish) {
  const std::string& thing = p.things[index];
  const std::string state = o.work_dir + "/devices/" + thing;
  EF_RETURN_IF_ERROR(fs::MakeDirs(state, 0700));
  const board::Board& b = p.BoardOf(index);
  // Seeds follow the device's place in the whole fleet, so a shard's devices
  // read what they would in one process.
  const uint64_t seed = o.seed * 1000003u + p.GlobalIndex(index);
  auto d = std::make_unique<VirtualDevice>(index, thing, b, p.wall_start_ms, state, seed);
  // The physics first: its register models must be on the buses when the
  // stack's drivers probe them.
  WorldOptions w;
  w.seed = seed;
  w.start_seconds = p.start_seconds;
  w.time_scale = o.time_scale;
  auto world = SimWorld::Create(b, d->buses, d->clock, w);
  if (!world.ok()) return world.status().WithContext(thing);
  d->world = std::move(*world);

  EF_RETURN_IF_ERROR(BuildStack(*d, o, p, broker_uri, session, outbox, std::move(on_publish)));
  return d;
}

Status BuildStack(VirtualDevice& d, const FleetOptions& o, const Provisioned& p, const std::string& broker_uri,
                  const app::SessionFactory& session, const OutboxBackend& outbox, PublishHook on_publish) {
  const std::string& thing = d.thing;
  const std::string state = o.work_dir + "/devices/" + thing;
  const board::Board& b = *d.board;
  app::DeviceStackConfig c;
  c.thing = thing;
  c.app = o.app;
  c.site = p.GroupOf(d.index).site;
  c.broker_uri = broker_uri;
  const certs::DevicePaths paths = certs::PathsFor(p.pki_dir, thing);
  c.tls = {p.pki_dir + "/ca.crt", paths.cert, paths.tls_key};
  c.sign_key_file = paths.sign_key;
  c.jws_backend = o.signer;
  c.outbox.dir = state + "/outbox";
  c.outbox.max_bytes = o.queue_bytes;
  c.outbox.sync = outbox.sync;
  app::DeviceStackParts parts{b, d.buses, d.clock, d.entropy, d.storage, session, outbox.log};
  auto stack = app::DeviceStack::Build(parts, c);
  if (!stack.ok()) return stack.status();
  d.stack = std::move(*stack);
  d.device = &d.stack->device();
  d.link = &d.stack->link();
  d.report = d.stack->node().report_period();
  if (d.report_now.count() == 0) d.report_now = d.report;

  VirtualDevice* raw = &d;
  d.link->set_delivery_observer([raw](uint64_t seq, const Status& result) {
    if (!result.ok()) return;
    std::lock_guard<std::mutex> lock(raw->acked_mu);
    raw->acked.insert(seq);
  });
  d.device->set_publish_observer([raw, on_publish](uint64_t seq, Micros) {
    auto [range, first] = raw->boots.try_emplace(raw->device->boot(), VirtualDevice::SeqRange{seq, seq});
    if (!first) range->second.last = seq;
    raw->any_published = true;
    raw->published.insert(seq);
    if (on_publish) on_publish(raw->thing, seq);
  });
  d.powered = true;
  return Status::Ok();
}

void PowerOff(VirtualDevice& d) {
  if (!d.powered) return;
  const app::DeviceCounters now = d.Counters();
  if (d.link != nullptr) {
    d.carried_connections_lost += d.link->stats().connections_lost;
    d.carried_connect_failures += d.link->stats().connect_failures;
  }
  d.device = nullptr;
  d.link = nullptr;
  d.stack.reset();  // the session first: its socket closes without DISCONNECT
  d.carried = now;
  d.carried.queued = 0;
  d.powered = false;
  ++d.power_cuts;
}

uint64_t VirtualDevice::BootOf(uint64_t seq) const {
  uint64_t boot = boots.empty() ? 0 : boots.begin()->first;
  for (const auto& [b, r] : boots) {
    if (r.first <= seq) boot = b;
  }
  return boot;
}

app::DeviceCounters VirtualDevice::Counters() const {
  app::DeviceCounters c = carried;
  if (device == nullptr) return c;
  const app::DeviceCounters n = device->counters();
  c.sampled += n.sampled;
  c.reports += n.reports;
  c.alarms += n.alarms;
  c.shadow_reports += n.shadow_reports;
  c.shadow_gets += n.shadow_gets;
  c.delivered += n.delivered;
  c.dropped += n.dropped;
  c.refused += n.refused;
  c.storage_errors += n.storage_errors;
  c.queued = n.queued;
  c.reconnects += n.reconnects;
  c.sensor_faults += n.sensor_faults;
  return c;
}

}  // namespace edgeforge::sim
