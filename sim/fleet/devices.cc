#include "sim/fleet/devices.h"

#include "certs/pki.h"
#include "firmware/link/paho_session.h"
#include "hal/linux/fs.h"
#include "hal/sim/sim_append_log.h"

namespace edgeforge::sim {
namespace {

Status BuildNode(const FleetOptions& o, const Provisioned& p, VirtualDevice& d) {
  WorldOptions w;
  w.seed = o.seed * 1000003u + d.index;
  w.start_seconds = p.start_seconds;
  w.time_scale = o.time_scale;
  auto world = SimWorld::Create(*d.board, d.buses, d.clock, w);
  if (!world.ok()) return world.status();
  d.world = std::move(*world);
  auto node = app::BuildNode(*d.board, d.buses, d.clock);
  if (!node.ok()) return node.status();
  d.node = std::move(*node);
  d.report = d.node->report_period();
  d.pipeline = std::make_unique<pipeline::Pipeline>(d.node->Slots(), d.report, d.node->alarm_rules());
  return Status::Ok();
}

/// --sync never: the outbox in memory (no files, nothing survives the run);
/// otherwise each device's own files under its state directory.
Result<std::unique_ptr<link::Outbox>> OpenOutbox(const FleetOptions& o, const std::string& state, const Clock& clock) {
  link::OutboxOptions q;
  q.dir = state + "/outbox";
  q.max_bytes = o.queue_bytes;
  q.sync = o.sync;
  if (o.sync == link::SyncPolicy::kNever) {
    return link::Outbox::Open(std::make_unique<SimAppendLog>("memory:" + q.dir), q, clock);
  }
  return link::Outbox::Open(q, clock);
}

}  // namespace

Result<std::unique_ptr<VirtualDevice>> BuildDevice(const FleetOptions& o, const Provisioned& p,
                                                   const std::string& broker_uri, size_t index, PublishHook on_publish) {
  const std::string& thing = p.things[index];
  const std::string state = o.work_dir + "/devices/" + thing;
  EF_RETURN_IF_ERROR(fs::MakeDirs(state, 0700));
  const board::Board& b = p.boards[index % p.boards.size()];
  auto d = std::make_unique<VirtualDevice>(index, thing, b, p.wall_start_ms, state, o.seed * 1000003u + index);
  EF_RETURN_IF_ERROR(BuildNode(o, p, *d).WithContext(thing));
  const certs::DevicePaths paths = certs::PathsFor(p.pki_dir, thing);
  auto key = fs::ReadFileToString(paths.sign_key);
  if (!key.ok()) return key.status();
  auto signer = jws::MakeSigner(o.signer, *key);
  if (!signer.ok()) return signer.status().WithContext(paths.sign_key);
  d->signer = std::move(*signer);
  link::SessionConfig c;
  c.server_uri = broker_uri;
  c.client_id = thing;
  c.tls = {p.pki_dir + "/ca.crt", paths.cert, paths.tls_key};
  auto session = link::MakePahoSession(c);
  if (!session.ok()) return session.status().WithContext(thing);
  d->session = std::move(*session);
  app::DeviceOptions opts;
  opts.thing = thing;
  opts.kind = b.kind;
  opts.board = d->board;
  opts.node = d->node.get();
  opts.app = o.app;
  opts.site = o.site;
  auto outbox = OpenOutbox(o, state, d->clock);
  if (!outbox.ok()) return outbox.status().WithContext(thing);
  d->outbox = std::move(*outbox);
  auto lnk = link::Link::Create(*d->session, *d->outbox, d->clock, d->entropy, link::LinkOptions{});
  if (!lnk.ok()) return lnk.status().WithContext(thing);
  d->link = std::move(*lnk);
  d->device = std::make_unique<app::Device>(opts, d->clock, d->storage, *d->signer, *d->link, *d->pipeline);
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
