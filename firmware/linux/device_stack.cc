#include "firmware/linux/device_stack.h"

#include <utility>

#include "firmware/link/broker_uri.h"
#include "firmware/linux/file_outbox.h"
#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"
#include "hal/linux/fs.h"

namespace edgeforge::app {
namespace {

/// AWS IoT Core: the client id (= thing name) is at most 128 bytes.
constexpr size_t kMaxThingBytes = 128;

Status RequireFile(const std::string& path, const std::string& field, const char* what) {
  if (path.empty()) return InvalidArgument(field + " is empty (" + what + ")");
  return Status::Ok();
}

/// The board as the stack needs it; ParseBoard checks the same, but a board
/// can also be made in code (tests, generated fleets).
Status CheckBoard(const board::Board& b) {
  const std::string where = b.source.empty() ? "board " + b.name : b.source;
  EF_RETURN_IF_ERROR(telemetry::ValidateKind(b.kind).WithContext(where + ": kind"));
  if (b.report_ms == 0) return InvalidArgument(where + ": report_ms must be > 0 (the telemetry report period)");
  return Status::Ok();
}

Result<std::unique_ptr<jws::Signer>> MakeDeviceSigner(const DeviceStackConfig& c) {
  std::string pem = c.sign_key_pem;
  std::string field = "sign_key_pem";
  if (pem.empty()) {
    field = "sign_key_file " + c.sign_key_file;
    auto text = fs::ReadFileToString(c.sign_key_file);
    if (!text.ok()) return text.status().WithContext("sign_key_file");
    pem = std::move(*text);
  }
  auto signer = jws::MakeSigner(c.jws_backend, pem);
  if (!signer.ok()) return signer.status().WithContext(field);
  return signer;
}

Result<std::unique_ptr<link::Outbox>> OpenOutbox(const DeviceStackParts& parts, const DeviceStackConfig& c) {
  if (!parts.outbox_log) {
    auto box = link::OpenFileOutbox(c.outbox, parts.clock);
    if (!box.ok()) return box.status().WithContext("outbox.dir");
    return box;
  }
  auto log = parts.outbox_log();
  if (!log.ok()) return log.status().WithContext("outbox log (parts.outbox_log)");
  if (*log == nullptr) return InvalidArgument("outbox log (parts.outbox_log): the factory returned no log");
  return link::Outbox::Open(std::move(*log), c.outbox, parts.clock);
}

}  // namespace

std::string StatusTopic(const DeviceStackConfig& c) { return "dt/" + c.app + "/" + c.site + "/" + c.thing + "/status"; }

Status ValidateDeviceStackConfig(const DeviceStackConfig& c, bool outbox_dir_required) {
  EF_RETURN_IF_ERROR(topic::ValidateLevel(c.thing, "thing"));
  if (c.thing.size() > kMaxThingBytes) {
    return InvalidArgument("thing '" + c.thing + "' is " + std::to_string(c.thing.size()) +
                           " bytes; AWS IoT Core allows at most 128 (it is the MQTT client id)");
  }
  EF_RETURN_IF_ERROR(topic::ValidateLevel(c.app, "app"));
  EF_RETURN_IF_ERROR(topic::ValidateLevel(c.site, "site"));
  // The longest topic the device publishes to; the others differ only in the last level.
  if (auto t = topic::TelemetryTopic(c.app, c.site, c.thing); !t.ok())
    return t.status().WithContext("app + site + thing");
  if (auto uri = link::ParseBrokerUri(c.broker_uri); !uri.ok()) return uri.status().WithContext("broker_uri");
  EF_RETURN_IF_ERROR(RequireFile(c.tls.ca_file, "tls.ca_file", "the CA certificate that signed the broker's"));
  EF_RETURN_IF_ERROR(RequireFile(c.tls.cert_file, "tls.cert_file", "the device's client certificate"));
  EF_RETURN_IF_ERROR(RequireFile(c.tls.key_file, "tls.key_file", "the device's TLS private key"));
  if (c.sign_key_pem.empty() == c.sign_key_file.empty()) {
    return InvalidArgument(std::string("sign_key_pem / sign_key_file: ") +
                           (c.sign_key_pem.empty() ? "neither is set" : "both are set") +
                           "; give the ES256 signing key as PEM text or as a file, exactly one");
  }
  if (c.keepalive_s < 30 || c.keepalive_s > 1200) {
    return InvalidArgument("keepalive_s " + std::to_string(c.keepalive_s) + " is outside AWS IoT Core's 30..1200");
  }
  if (c.outbox.max_bytes == 0) return InvalidArgument("outbox.max_bytes must be > 0 (the durable queue's bound)");
  if (outbox_dir_required && c.outbox.dir.empty()) {
    return InvalidArgument("outbox.dir is empty (the durable queue's directory; or give an outbox-log factory)");
  }
  // Not link::ValidateSessionConfig: it checks that the TLS files exist, and
  // this check reads no files; the session factory validates what it needs.
  return link::ValidateLinkOptions(c.link);
}

link::SessionConfig DeviceSessionConfig(const DeviceStackConfig& c) {
  link::SessionConfig s;
  s.server_uri = c.broker_uri;
  s.client_id = c.thing;
  s.tls = c.tls;
  s.keepalive_s = c.keepalive_s;
  // The broker tells the world when this device vanishes without a clean
  // DISCONNECT (power cut, crash, network gone past the keepalive).
  link::SessionConfig::Will will;
  will.topic = StatusTopic(c);
  will.payload = R"({"v":2,"type":"status","dev":")" + c.thing + R"(","state":"offline"})";
  s.will = std::move(will);
  return s;
}

Result<std::unique_ptr<DeviceStack>> DeviceStack::Build(const DeviceStackParts& parts, const DeviceStackConfig& c) {
  const std::string who = c.thing.empty() ? "device" : c.thing;
  auto fail = [&who](const Status& s) { return s.WithContext(who); };
  if (!parts.session) return fail(InvalidArgument("parts.session: no session factory"));
  if (Status s = ValidateDeviceStackConfig(c, !parts.outbox_log); !s.ok()) return fail(s);
  if (Status s = CheckBoard(parts.board); !s.ok()) return fail(s);

  std::unique_ptr<DeviceStack> d(new DeviceStack());
  d->session_config_ = DeviceSessionConfig(c);
  // Errors from here on already name the board file, key file or outbox path.
  auto node = BuildNode(parts.board, parts.buses, parts.clock);
  if (!node.ok()) return fail(node.status());
  d->node_ = std::move(*node);
  d->pipeline_ =
      std::make_unique<pipeline::Pipeline>(d->node_->Slots(), d->node_->report_period(), d->node_->alarm_rules());
  auto signer = MakeDeviceSigner(c);
  if (!signer.ok()) return fail(signer.status());
  d->signer_ = std::move(*signer);
  auto session = parts.session(d->session_config_);
  if (!session.ok()) return fail(session.status().WithContext("session"));
  if (*session == nullptr) return fail(InvalidArgument("session: the factory returned no session"));
  d->session_ = std::move(*session);
  auto outbox = OpenOutbox(parts, c);
  if (!outbox.ok()) return fail(outbox.status());
  d->outbox_ = std::move(*outbox);
  auto lnk = link::Link::Create(*d->session_, *d->outbox_, parts.clock, parts.entropy, c.link);
  if (!lnk.ok()) return fail(lnk.status());
  d->link_ = std::move(*lnk);

  DeviceOptions o;
  o.thing = c.thing;
  o.kind = d->node_->board().kind;
  o.app = c.app;
  o.site = c.site;
  // The node's own copy of the board: the caller's may go away after Build.
  o.board = &d->node_->board();
  o.node = d->node_.get();
  o.firmware_version = c.firmware_version;
  o.storage_log = c.storage_log;
  d->device_ =
      std::make_unique<Device>(std::move(o), parts.clock, parts.storage, *d->signer_, *d->link_, *d->pipeline_);
  return d;
}

DeviceStack::~DeviceStack() {
  // Members go in reverse declaration order, the session first; spelled out
  // here because the order is the point (session.h: no callback runs once the
  // session's destruction has begun, so nothing reaches a dead link or device).
  session_.reset();
  device_.reset();
  link_.reset();
  outbox_.reset();
  signer_.reset();
  pipeline_.reset();
  node_.reset();
}

}  // namespace edgeforge::app
