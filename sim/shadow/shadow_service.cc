#include "sim/shadow/shadow_service.h"

#include <algorithm>
#include <chrono>

#include "certs/pki.h"
#include "firmware/link/paho/paho_session.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim::shadow {
namespace {

using nlohmann::json;

constexpr char kStoreFormat[] = "edgeforge-shadows/1";
constexpr char kTopicPrefix[] = "$aws/things/";
constexpr char kShadowInfix[] = "/shadow/";
// Paho checks connect timeouts only every 3 s (as in sim/verify/live_ingest.cc).
constexpr Millis kPahoTimeoutSlack{4000};
constexpr std::chrono::milliseconds kIdleWait{100};
constexpr std::chrono::milliseconds kReconnectEvery{1000};

/// "$aws/things/<thing>/shadow/<op>" -> thing, op; false for anything else.
bool SplitTopic(const std::string& topic, std::string& thing, std::string& op) {
  const std::string prefix = kTopicPrefix;
  if (topic.compare(0, prefix.size(), prefix) != 0) return false;
  const size_t infix = topic.find(kShadowInfix, prefix.size());
  if (infix == std::string::npos) return false;
  thing = topic.substr(prefix.size(), infix - prefix.size());
  op = topic.substr(infix + sizeof(kShadowInfix) - 1);
  return op == "update" || op == "get" || op == "delete";
}

}  // namespace

Result<std::map<std::string, ShadowDocument>> ShadowService::LoadStore(const std::string& path) {
  std::map<std::string, ShadowDocument> docs;
  if (path.empty()) return docs;
  auto text = fs::ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return docs;
    return text.status().WithContext("shadow store");
  }
  const json j = json::parse(*text, nullptr, false);
  const std::string fix = "; delete it to start with no shadows";
  if (j.is_discarded() || !j.is_object()) return DataLoss(path + ": not a JSON object" + fix);
  if (j.value("format", "") != kStoreFormat) {
    return DataLoss(path + ": format: expected \"" + kStoreFormat + "\"" + fix);
  }
  const auto things = j.find("things");
  if (things == j.end() || !things->is_object()) return DataLoss(path + ": things: missing or not an object" + fix);
  for (auto it = things->begin(); it != things->end(); ++it) {
    if (Status s = certs::ValidateThingName(it.key()); !s.ok()) {
      return DataLoss(path + ": things." + it.key() + ": " + s.message() + fix);
    }
    std::string err;
    auto doc = ShadowDocument::FromJson(it.value(), &err);
    if (!doc) return DataLoss(path + ": things." + it.key() + "." + err + fix);
    doc->set_thing(it.key());
    docs.emplace(it.key(), std::move(*doc));
  }
  return docs;
}

std::string ShadowService::StoreJson(const std::map<std::string, ShadowDocument>& documents) {
  json things = json::object();
  for (const auto& [thing, doc] : documents) {
    // A get for a thing that never had a shadow leaves an empty slot: nothing to keep.
    if (doc.exists() || doc.version() > 0) things[thing] = doc.ToJson();
  }
  return json{{"format", kStoreFormat}, {"things", things}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<std::unique_ptr<ShadowService>> ShadowService::Start(const ShadowServiceOptions& o) {
  auto docs = LoadStore(o.store_path);
  if (!docs.ok()) return docs.status();
  link::SessionConfig c;
  c.server_uri = o.broker_uri;
  c.client_id = o.client_id;
  c.tls = {o.pki_dir + "/ca.crt", o.pki_dir + "/shadow.crt", o.pki_dir + "/shadow.key"};
  c.connect_timeout = o.connect_timeout;
  auto session = link::MakePahoSession(c);
  if (!session.ok()) return session.status().WithContext("shadow service");
  std::unique_ptr<ShadowService> s(new ShadowService(o));
  s->documents_ = std::move(*docs);
  s->session_ = std::move(*session);
  s->last_save_ = std::chrono::steady_clock::now();
  s->save_gap_ = o.save_interval;
  ShadowService* raw = s.get();
  s->session_->OnConnectionLost([raw](const std::string& cause) {
    {
      std::lock_guard<std::mutex> lock(raw->mu_);
      raw->lost_ = true;
      raw->stats_.last_error = cause;
    }
    raw->Log("shadow service: " + cause + "; reconnecting every second");
  });
  s->session_->SetWakeup([raw] {
    {
      std::lock_guard<std::mutex> lock(raw->mu_);
      raw->woken_ = true;
    }
    raw->cv_.notify_all();
  });
  EF_RETURN_IF_ERROR(link::ConnectAndWait(*s->session_, s->clock_, o.connect_timeout + kPahoTimeoutSlack)
                         .WithContext("shadow service connect to " + o.broker_uri));
  EF_RETURN_IF_ERROR(s->SubscribeAll());
  s->supervisor_ = std::thread([raw] { raw->Supervise(); });
  return s;
}

Status ShadowService::SubscribeAll() {
  for (const char* op : {"update", "get", "delete"}) {
    const std::string filter = std::string(kTopicPrefix) + "+" + kShadowInfix + op;
    EF_RETURN_IF_ERROR(link::SubscribeAndWait(*session_, clock_, options_.connect_timeout, filter, 1,
                                              [this](const link::IncomingMessage& m) { OnMessage(m); })
                           .WithContext("shadow service subscribe " + filter));
  }
  return Status::Ok();
}

ShadowService::~ShadowService() { (void)Stop(); }

int64_t ShadowService::Now() const {
  if (options_.now_s) return options_.now_s();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void ShadowService::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void ShadowService::Publish(const std::string& topic, const std::string& payload) {
  link::OutgoingMessage out;
  out.topic = topic;
  out.payload = payload;
  out.qos = 1;
  const Status s = session_->Publish(std::move(out), [this, topic](Status done) {
    if (done.ok()) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.publish_failures;
    stats_.last_error = topic + ": " + done.ToString();
  });
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.publish_failures;
    stats_.last_error = topic + ": " + s.ToString();
  }
}

void ShadowService::OnMessage(const link::IncomingMessage& m) {
  std::string thing;
  std::string op;
  if (!SplitTopic(m.topic, thing, op)) {
    Log("shadow service: ignored a message on " + m.topic + " (not a shadow request topic)");
    return;
  }
  const int64_t now = Now();
  const std::string base = std::string(kTopicPrefix) + thing + kShadowInfix;
  std::vector<Reply> replies;
  if (Status s = certs::ValidateThingName(thing); !s.ok()) {
    // IoT Core answers unknown things with 404 "Thing not found"; a name that
    // cannot be a thing at all is a bad request.
    replies.push_back({op + "/rejected", ErrorPayload(400, s.message(), now, std::nullopt)});
  } else {
    auto it = documents_.find(thing);
    if (it == documents_.end()) {
      it = documents_.emplace(thing, ShadowDocument()).first;
      it->second.set_thing(thing);
    }
    ShadowDocument& doc = it->second;
    if (op == "update") {
      replies = doc.Update(m.payload, now);
    } else if (op == "get") {
      replies = doc.Get(m.payload, now);
    } else {
      replies = doc.Delete(m.payload, now);
    }
    if (op != "get" && !replies.empty() && replies[0].suffix.find("/accepted") != std::string::npos) dirty_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.requests;
    if (!replies.empty() && replies[0].suffix.find("/rejected") != std::string::npos) ++stats_.rejected;
  }
  for (const Reply& r : replies) Publish(base + r.suffix, r.payload);
}

Status ShadowService::Save() {
  if (!dirty_ || options_.store_path.empty()) return Status::Ok();
  const auto started = std::chrono::steady_clock::now();
  Status s = fs::WriteFileAtomically(options_.store_path, StoreJson(documents_), 0644, fs::Durability::kSynced);
  last_save_ = std::chrono::steady_clock::now();
  // A large fleet's store takes a while to write: spend at most ~1/10 of the
  // service thread on it, so requests keep being answered.
  save_gap_ = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(options_.save_interval),
                       std::chrono::duration_cast<std::chrono::milliseconds>(10 * (last_save_ - started)));
  std::lock_guard<std::mutex> lock(mu_);
  if (s.ok()) {
    dirty_ = false;
    ++stats_.saves;
  } else {
    stats_.last_error = s.ToString();
  }
  return s;
}

void ShadowService::Supervise() {
  for (;;) {
    session_->Dispatch();
    if (dirty_ && std::chrono::steady_clock::now() - last_save_ >= save_gap_) {
      if (Status s = Save(); !s.ok()) Log("shadow service: " + s.ToString());
    }
    bool lost = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kIdleWait, [this] { return stopping_ || lost_ || woken_; });
      woken_ = false;
      if (stopping_) return;
      lost = lost_;
    }
    if (!lost) continue;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, kReconnectEvery, [this] { return stopping_; })) return;
    }
    if (session_->IsConnected()) session_->Disconnect();
    Status s = link::ConnectAndWait(*session_, clock_, options_.connect_timeout + kPahoTimeoutSlack);
    if (s.ok()) s = SubscribeAll();
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      lost_ = false;
      ++stats_.reconnects;
    } else {
      stats_.last_error = s.ToString();
    }
  }
}

Status ShadowService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Ok();
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  // The supervisor is gone: this thread owns the session and the documents.
  Status saved = Save();
  if (session_) {
    session_->Disconnect();
    session_->Dispatch();
  }
  return saved;
}

ShadowServiceStats ShadowService::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool ShadowService::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !lost_ && !stopping_;
}

Result<std::unique_ptr<ShadowService>> StartBesideBroker(const std::string& broker_uri, const std::string& pki_dir,
                                                         const std::string& broker_work_dir,
                                                         std::function<void(const std::string&)> log) {
  ShadowServiceOptions o;
  o.broker_uri = broker_uri;
  o.pki_dir = pki_dir;
  o.store_path = StorePathIn(broker_work_dir);
  o.log = std::move(log);
  return ShadowService::Start(o);
}

}  // namespace edgeforge::sim::shadow
