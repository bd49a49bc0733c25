// A virtual device: the firmware's one device assembly (app::DeviceStack, the
// same as edgeforge-device's, last will included) built from a board, on
// simulated buses whose register models a physical model (SimWorld) drives,
// with its own identity, signing key, outbox and MQTT session.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "firmware/app/device.h"
#include "firmware/linux/device_stack.h"
#include "firmware/board/board.h"
#include "firmware/link/link.h"
#include "hal/clock.h"
#include "hal/sim/seeded_entropy.h"
#include "hal/storage.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/provisioning.h"
#include "sim/node/sim_buses.h"
#include "sim/node/sim_world.h"

namespace edgeforge::sim {

/// Each device has its own clock: it follows the fleet's real time (its
/// worker brings it up to date before each step), and a driver that waits (a
/// conversion, a FIFO) advances it without blocking the worker.
/// All of it is touched by its worker thread only (and by the fleet thread
/// before the workers start and after they joined).
struct VirtualDevice {
  size_t index = 0;  // in the fleet: things[index], the connect ramp slot
  std::string thing;
  const board::Board* board;
  ManualClock clock;
  SimBuses buses;
  std::unique_ptr<SimWorld> world;
  FileStorage storage;    // reopens records per write: no descriptor held per device
  SeededEntropy entropy;  // backoff jitter, reproducible per seed
  // Last: destroyed first (its session first of all), so no callback
  // reaches the world, buses or clock it was built on.
  std::unique_ptr<app::DeviceStack> stack;
  app::Device* device = nullptr;  // stack->device()
  link::Link* link = nullptr;     // stack->link()
  Micros report{0};               // its report window
  /// Report window changes (a shadow config applied): fleet time, new period.
  std::vector<std::pair<Micros, Micros>> report_changes;
  Micros report_now{0};  // the period in force (report, or the last change)
  // Scheduler state (its worker's):
  bool started = false;     // Device::Start ran (its connect ramp slot came)
  bool scheduled = false;   // in its worker's due-queue (runs Steps)
  bool late = false;        // connected after the fleet was up
  std::string start_error;  // Device::Start's error, if any
  Micros connected_at{-1};  // fleet time of its first connect, -1: never
  Micros first_step{-1};    // fleet time its due-queue entry first ran
  // Publish bookkeeping (its worker's; read by the fleet thread after join):
  bool any_published = false;
  /// Per boot (a power cut starts a new one), the first and last telemetry
  /// or alarm seq it published; seqs are never reused across boots.
  struct SeqRange {
    uint64_t first = 0;
    uint64_t last = 0;
  };
  std::map<uint64_t, SeqRange> boots;
  std::set<uint64_t> published;  // telemetry and alarm seqs
  /// The boot that published `seq` (one of `published`).
  uint64_t BootOf(uint64_t seq) const;
  // Power cuts (a scenario's fault schedule): the stack is destroyed without
  // a clean stop and built again from the device's files.
  bool powered = true;
  int power_cuts = 0;
  Micros off_since{0};                    // fleet time of the current power cut
  Micros off_total{0};                    // time without power: no schedule to keep
  app::DeviceCounters carried;            // counters of the boots before this one
  uint64_t carried_connections_lost = 0;  // link stats of the boots before this one
  uint64_t carried_connect_failures = 0;
  /// Counters of every boot of this run (queued: the current boot's).
  app::DeviceCounters Counters() const;
  std::mutex acked_mu;
  std::set<uint64_t> acked;  // of any message, PUBACKed (guarded by acked_mu)

  VirtualDevice(size_t i, std::string name, const board::Board& b, int64_t wall_start_ms, std::string state_dir,
                uint64_t seed)
      : index(i),
        thing(std::move(name)),
        board(&b),
        clock(wall_start_ms),
        buses(clock),
        storage(std::move(state_dir), FileStorage::RecordFds::kReopen),
        entropy(seed) {}
  bool connected() const { return connected_at.count() >= 0 || (link && link->stats().connects > 0); }
};

/// Called right before a device hands a telemetry or alarm message to its
/// link (on the device's worker thread): the verifier's latency clock.
using PublishHook = std::function<void(const std::string& thing, uint64_t seq)>;

/// Where a device's outbox log lives (chosen by RunFleet from --sync).
struct OutboxBackend {
  /// nullptr: the device's own files under <work>/devices/<thing>/outbox.
  app::OutboxLogFactory log;
  /// The outbox's own sync policy (kNever when its worker group-commits the
  /// log's store instead).
  link::SyncPolicy sync = link::SyncPolicy::kBatch;
};

/// Builds device `index` of the fleet against `broker_uri`; its session
/// comes from `session` (its worker's event loop).
Result<std::unique_ptr<VirtualDevice>> BuildDevice(const FleetOptions& o, const Provisioned& p,
                                                   const std::string& broker_uri, size_t index,
                                                   const app::SessionFactory& session, const OutboxBackend& outbox,
                                                   PublishHook on_publish);

/// Builds the firmware stack of `d` (again, after a power cut: from the
/// device's state files and outbox log) with its observers; nothing starts.
Status BuildStack(VirtualDevice& d, const FleetOptions& o, const Provisioned& p, const std::string& broker_uri,
                  const app::SessionFactory& session, const OutboxBackend& outbox, PublishHook on_publish);
/// A power cut: the stack goes without a clean stop (no DISCONNECT, so the
/// broker publishes the last will; no outbox sync). Its counters are kept.
void PowerOff(VirtualDevice& d);

}  // namespace edgeforge::sim
