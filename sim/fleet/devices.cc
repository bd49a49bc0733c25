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
  auto d = std::make_unique<VirtualDevice>(index, thing, b, p.wall_start_ms, state, o.seed * 1000003u + index);
  // The physics first: its register models must be on the buses when the
  // stack's drivers probe them.
  WorldOptions w;
  w.seed = o.seed * 1000003u + index;
  w.start_seconds = p.start_seconds;
  w.time_scale = o.time_scale;
  auto world = SimWorld::Create(b, d->buses, d->clock, w);
  if (!world.ok()) return world.status().WithContext(thing);
  d->world = std::move(*world);

  app::DeviceStackConfig c;
  c.thing = thing;
  c.app = o.app;
  c.site = p.GroupOf(index).site;
  c.broker_uri = broker_uri;
  const certs::DevicePaths paths = certs::PathsFor(p.pki_dir, thing);
  c.tls = {p.pki_dir + "/ca.crt", paths.cert, paths.tls_key};
  c.sign_key_file = paths.sign_key;
  c.jws_backend = o.signer;
  c.outbox.dir = state + "/outbox";
  c.outbox.max_bytes = o.queue_bytes;
  c.outbox.sync = outbox.sync;
  app::DeviceStackParts parts{b, d->buses, d->clock, d->entropy, d->storage, session,
                              outbox.log};
  auto stack = app::DeviceStack::Build(parts, c);
  if (!stack.ok()) return stack.status();
  d->stack = std::move(*stack);
  d->device = &d->stack->device();
  d->link = &d->stack->link();
  d->report = d->stack->node().report_period();

  VirtualDevice* raw = d.get();
  d->link->set_delivery_observer([raw](uint64_t seq, const Status& result) {
    if (!result.ok()) return;
    std::lock_guard<std::mutex> lock(raw->acked_mu);
    raw->acked.insert(seq);
  });
  d->device->set_publish_observer([raw, on_publish](uint64_t seq, Micros) {
    if (!raw->any_published) raw->first_seq = seq;
    raw->any_published = true;
    raw->last_seq = seq;
    raw->published.insert(seq);
    if (on_publish) on_publish(raw->thing, seq);
  });
  return d;
}

}  // namespace edgeforge::sim
