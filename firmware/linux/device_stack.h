// One device stack (issue 9): the single place that assembles a device from
// its parts. edgeforge-device (cli/device_command.cc) and every simulated
// device of the fleet (sim/fleet/) build through DeviceStack::Build, so both
// run the same firmware with the same session config (last will included);
// they differ only in what DeviceStackParts hands in: the HAL backends (bus
// provider, storage, outbox log), the clock, the entropy and the transport
// (session factory). DESIGN.md principle 1.
//
// What is assembled, in order (each step's error names the thing and the
// field or file at fault):
//   node      app::BuildNode(board, buses, clock): drivers and sources
//   pipeline  sample periods, report window and alarm rules from the node
//   signer    ES256 signer from the signing key (PEM text or file) and backend
//   session   the factory's, given DeviceSessionConfig(config)
//   outbox    the durable queue, on the factory's AppendLog or the Linux
//             file log in config.outbox.dir
//   link      session + outbox, reconnecting, paced by the governor
//   device    app::Device over all of them, with the shadow (board + node)
// Build does not start anything: nothing connects, samples or touches the
// sequence counter until the caller runs device().Start(). That leaves room
// to set observers (Link::set_delivery_observer, Device::set_publish_observer)
// and to attach a physics world to the buses first.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "edgeforge/version.h"
#include "firmware/app/device.h"
#include "firmware/app/node.h"
#include "firmware/board/board.h"
#include "firmware/link/link.h"
#include "firmware/link/outbox.h"
#include "firmware/link/session.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/telemetry/jws.h"
#include "hal/append_log.h"
#include "hal/clock.h"
#include "hal/entropy.h"
#include "hal/status.h"
#include "hal/storage.h"

namespace edgeforge::app {

/// What a device is told: its identity, where to connect, how to queue.
/// Plain data, the same on a gateway and in a simulated device. The node
/// kind is not here: it comes from the board (DeviceStackParts::board).
struct DeviceStackConfig {
  std::string thing;              // thing name = MQTT client id = cert CN = telemetry "dev"
  std::string app = "edgeforge";  // dt/<app>/<site>/<thing>/{telemetry,alarm,status}
  std::string site = "site-1";
  std::string broker_uri;  // ssl://host:8883 or mqtts://host:8883 (link/broker_uri.h)
  link::TlsIdentity tls;   // ca, cert, key file paths, handed to the session as they are
  /// The ES256 signing key: its PEM text, or a file holding it. Exactly one
  /// of the two is set (text lets a fleet read keys its own way).
  std::string sign_key_pem;
  std::string sign_key_file;
  jws::Backend jws_backend = jws::Backend::kMbedTls;  // firmware path; OpenSSL for fleets on hosts
  /// Bound, sync policy and failure log of the durable outbox. `dir` is the
  /// Linux file log's directory, used only when DeviceStackParts::outbox_log
  /// is not set (then it is required).
  link::OutboxOptions outbox;
  link::LinkOptions link;  // backoff, governor, in-flight window, connection log
  int keepalive_s = 30;    // MQTT keepalive; IoT Core accepts 30..1200
  /// One line per state-storage failure episode (seq lease, config.json).
  std::function<void(const std::string&)> storage_log;
  std::string firmware_version = kVersion;  // reported to the device shadow
};

/// Makes the device's session from the config DeviceSessionConfig built.
/// The device binary passes link::MakePahoSession; the simulator its
/// event-loop transport. Errors are returned by Build with the thing name.
using SessionFactory = std::function<Result<std::unique_ptr<link::Session>>(const link::SessionConfig&)>;
/// Makes the outbox's append log (hal/append_log.h): a fleet-level store or
/// an in-memory log. Called once per Build.
using OutboxLogFactory = std::function<Result<std::unique_ptr<AppendLog>>()>;

/// What differs by platform. Everything referenced here is the caller's and
/// must outlive the DeviceStack, except `board` (the node keeps its own
/// copy) and the factories (called during Build only).
struct DeviceStackParts {
  const board::Board& board;              // parsed and validated (board::ParseBoard / LoadBoardSpec)
  BusProvider& buses;                     // Linux device nodes, or simulated buses with models attached
  Clock& clock;                           // SystemClock on a gateway; a per-device ManualClock in a fleet
  Entropy& entropy;                       // backoff jitter: LinuxEntropy, or SeededEntropy for reproducible runs
  Storage& storage;                       // state files: sequence lease, shadow config
  SessionFactory session;                 // required
  OutboxLogFactory outbox_log = nullptr;  // nullptr: the Linux file log in config.outbox.dir
};

/// INVALID_ARGUMENT naming the DeviceStackConfig field (thing, app, site,
/// broker_uri, tls.ca_file / cert_file / key_file, sign_key_pem /
/// sign_key_file, keepalive_s, outbox.max_bytes, link.*). Does not read files.
/// `outbox_dir_required`: no outbox-log factory, so outbox.dir must be set.
Status ValidateDeviceStackConfig(const DeviceStackConfig& config, bool outbox_dir_required);

/// The topic of the last will: dt/<app>/<site>/<thing>/status.
std::string StatusTopic(const DeviceStackConfig& config);

/// The ONE place a device's session config is made (issue 9: the binary and
/// the simulator run the same firmware). Carries the MQTT 5 last will: the
/// broker publishes {"v":2,"type":"status","dev":"<thing>","state":"offline"}
/// (QoS 1, not retained) to StatusTopic() when the device vanishes without a
/// clean DISCONNECT (power cut, crash, network gone past the keepalive, or a
/// takeover by a second connection with the same client id).
link::SessionConfig DeviceSessionConfig(const DeviceStackConfig& config);

/// A built device and everything it owns. Destruction order is safe by
/// construction: the session goes first (no callback of it runs once its
/// destruction has begun, session.h), then the device, the link, the outbox
/// (closed without a sync: call device().Stop() first on a clean stop), the
/// signer, the pipeline and the node. Not movable: the parts point at each
/// other.
///
/// Threads: like Device, one thread at a time (the device's own); a fleet
/// worker may own many stacks.
class DeviceStack {
 public:
  /// Assembles a device (see the file comment); nothing is started.
  /// Errors: "<thing>: <field or file>: <why>", e.g. "dev-1: sign_key_file:
  /// ...: No such file" or "dev-1: broker_uri: ...". Configuration errors
  /// are INVALID_ARGUMENT; a bus, key file or outbox that cannot be opened
  /// keeps the code it failed with.
  static Result<std::unique_ptr<DeviceStack>> Build(const DeviceStackParts& parts, const DeviceStackConfig& config);

  ~DeviceStack();
  DeviceStack(const DeviceStack&) = delete;
  DeviceStack& operator=(const DeviceStack&) = delete;

  Device& device() { return *device_; }
  const Device& device() const { return *device_; }
  link::Link& link() { return *link_; }
  const link::Link& link() const { return *link_; }
  const Node& node() const { return *node_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }
  link::Outbox& outbox() { return *outbox_; }
  const link::Outbox& outbox() const { return *outbox_; }
  /// The factory's session; a device loop that sleeps sets its wakeup here
  /// (Session::SetWakeup) before device().Start().
  link::Session& session() { return *session_; }
  /// The config the session was made from (DeviceSessionConfig).
  const link::SessionConfig& session_config() const { return session_config_; }
  const std::string& thing() const { return session_config_.client_id; }

 private:
  DeviceStack() = default;

  link::SessionConfig session_config_;
  // Declared in construction order; destroyed in reverse, session first.
  std::unique_ptr<Node> node_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<jws::Signer> signer_;
  std::unique_ptr<link::Outbox> outbox_;
  std::unique_ptr<link::Link> link_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<link::Session> session_;  // last: destroyed first
};

}  // namespace edgeforge::app
