#include "sim/shadow/shadow_document.h"

#include <algorithm>
#include <utility>

#include "firmware/board/strict_json.h"

namespace edgeforge::sim::shadow {
namespace {

using nlohmann::json;

struct Error {
  int code;
  std::string message;
};

/// Levels of objects/arrays inside `v`: a scalar is 0, {"a":1} is 1.
int Depth(const json& v) {
  if (!v.is_structured()) return 0;
  int deepest = 0;
  for (const auto& child : v) deepest = std::max(deepest, Depth(child));
  return deepest + 1;
}

/// "Device Shadow service documents", metadata: one {"timestamp"} per leaf,
/// mirroring objects; arrays get one entry per element.
json MetadataFor(const json& v, int64_t now_s) {
  if (v.is_object()) {
    json m = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) m[it.key()] = MetadataFor(it.value(), now_s);
    return m;
  }
  if (v.is_array()) {
    json m = json::array();
    for (const auto& e : v) m.push_back(MetadataFor(e, now_s));
    return m;
  }
  return json{{"timestamp", now_s}};
}

/// A value stored as given, except that nulls inside an object being created
/// mean "absent" ("Interacting with shadows": null deletes).
json WithoutNulls(const json& v) {
  if (!v.is_object()) return v;
  json out = json::object();
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_null()) out[it.key()] = WithoutNulls(it.value());
  }
  return out;
}

/// Merges `patch` into `target` (objects recurse, arrays and scalars replace
/// whole, null deletes), keeping `meta` in step.
void Merge(json& target, json& meta, const json& patch, int64_t now_s) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (v.is_null()) {
      target.erase(k);
      meta.erase(k);
    } else if (v.is_object() && target.contains(k) && target[k].is_object()) {
      if (!meta.contains(k) || !meta[k].is_object()) meta[k] = json::object();
      Merge(target[k], meta[k], v, now_s);
    } else {
      target[k] = WithoutNulls(v);
      meta[k] = MetadataFor(target[k], now_s);
    }
  }
}

/// desired leaves whose value differs from reported's (objects compared per
/// key, everything else whole).
json DeltaOf(const json& desired, const json& reported) {
  json d = json::object();
  for (auto it = desired.begin(); it != desired.end(); ++it) {
    const auto r = reported.find(it.key());
    if (r == reported.end()) {
      d[it.key()] = it.value();
    } else if (it.value().is_object() && r->is_object()) {
      json sub = DeltaOf(it.value(), *r);
      if (!sub.empty()) d[it.key()] = std::move(sub);
    } else if (it.value() != *r) {
      d[it.key()] = it.value();
    }
  }
  return d;
}

/// The metadata of the delta's leaves (the /delta document carries them).
json MetaOfDelta(const json& delta, const json& meta) {
  json m = json::object();
  for (auto it = delta.begin(); it != delta.end(); ++it) {
    const auto mi = meta.find(it.key());
    if (mi == meta.end()) continue;
    m[it.key()] = it.value().is_object() && mi->is_object() ? MetaOfDelta(it.value(), *mi) : *mi;
  }
  return m;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// A request body: empty (get/delete may be), or a JSON object. Reads the
/// clientToken first so that even a refusal can echo it.
struct Request {
  json body = json::object();
  std::optional<std::string> client_token;
};

Error TooDeep() {
  return Error{400, "JSON contains too many levels of nesting; maximum is " + std::to_string(kMaxDepth)};
}

std::optional<Error> ParseRequest(std::string_view payload, bool may_be_empty, Request& out) {
  if (payload.empty() && may_be_empty) return std::nullopt;
  // The request object, state and desired/reported are 3 levels above the 6 allowed.
  // Counted on the raw text before parsing, so that a 128 KB payload of
  // brackets never reaches the recursive code below (Depth, dump,
  // destruction) as a 60,000-level tree.
  if (board::MaxNesting(payload) > kMaxDepth + 3) return TooDeep();
  json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error{400, "Invalid JSON"};
  if (const auto t = j.find("clientToken"); t != j.end()) {
    if (!t->is_string() || t->get_ref<const std::string&>().size() > kMaxClientTokenBytes) {
      return Error{400, "Invalid clientToken"};
    }
    out.client_token = t->get<std::string>();
  }
  out.body = std::move(j);
  return std::nullopt;
}

std::vector<Reply> Rejected(const std::string& op, const Error& e, int64_t now_s,
                            const std::optional<std::string>& token) {
  return {Reply{op + "/rejected", ErrorPayload(e.code, e.message, now_s, token)}};
}

/// Everything about an update request that does not depend on the document.
std::optional<Error> ValidateUpdate(const json& body) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "state" && it.key() != "clientToken" && it.key() != "version") {
      // Not in the documented list; IoT Core's request format has only these three.
      return Error{400, "Unexpected top-level key: " + it.key() + " (allowed: state, clientToken, version)"};
    }
  }
  const auto state = body.find("state");
  if (state == body.end()) return Error{400, "Missing required node: state"};
  if (!state->is_object()) return Error{400, "State node must be an object"};
  if (const auto v = body.find("version"); v != body.end() && !v->is_number_unsigned()) {
    return Error{400, "Invalid version"};
  }
  for (auto it = state->begin(); it != state->end(); ++it) {
    if (it.key() != "desired" && it.key() != "reported") return Error{400, "State contains an invalid node"};
    if (!it.value().is_object() && !it.value().is_null()) {
      return Error{400, it.key() == "desired" ? "Desired node must be an object" : "Reported node must be an object"};
    }
    if (Depth(it.value()) > kMaxDepth) return TooDeep();
  }
  if (Dump(*state).size() > kMaxStateBytes) return Error{413, "The payload exceeds the maximum size allowed"};
  return std::nullopt;
}

void PutToken(json& j, const std::optional<std::string>& token) {
  if (token) j["clientToken"] = *token;
}

}  // namespace

std::string ErrorPayload(int code, const std::string& message, int64_t now_s,
                         const std::optional<std::string>& client_token) {
  json j{{"code", code}, {"message", message}, {"timestamp", now_s}};
  PutToken(j, client_token);
  return Dump(j);
}

json ShadowDocument::State() const {
  json s = json::object();
  if (!desired_.empty()) s["desired"] = desired_;
  if (!reported_.empty()) s["reported"] = reported_;
  return s;
}

json ShadowDocument::Metadata() const {
  json m = json::object();
  if (!meta_desired_.empty()) m["desired"] = meta_desired_;
  if (!meta_reported_.empty()) m["reported"] = meta_reported_;
  return m;
}

json ShadowDocument::Delta() const { return DeltaOf(desired_, reported_); }

std::vector<Reply> ShadowDocument::Update(std::string_view payload, int64_t now_s) {
  Request req;
  if (auto e = ParseRequest(payload, false, req)) return Rejected("update", *e, now_s, req.client_token);
  if (auto e = ValidateUpdate(req.body)) return Rejected("update", *e, now_s, req.client_token);
  if (const auto v = req.body.find("version"); v != req.body.end() && v->get<uint64_t>() != version_) {
    return Rejected("update", Error{409, "Version conflict"}, now_s, req.client_token);
  }
  const json& state = req.body["state"];
  ShadowDocument next = *this;
  for (const char* section : {"desired", "reported"}) {
    const auto part = state.find(section);
    if (part == state.end()) continue;
    json& target = section[0] == 'd' ? next.desired_ : next.reported_;
    json& meta = section[0] == 'd' ? next.meta_desired_ : next.meta_reported_;
    if (part->is_null()) {
      target = json::object();
      meta = json::object();
    } else {
      Merge(target, meta, *part, now_s);
    }
  }
  if (Dump(next.State()).size() > kMaxStateBytes) {
    return Rejected("update", Error{413, "The payload exceeds the maximum size allowed"}, now_s, req.client_token);
  }
  next.exists_ = true;
  next.version_ = version_ + 1;

  // update/accepted: the request's state and the metadata of what it named.
  json accepted{{"state", state}, {"timestamp", now_s}, {"version", next.version_}};
  json meta = json::object();
  for (const char* section : {"desired", "reported"}) {
    const auto part = state.find(section);
    if (part == state.end()) continue;
    meta[section] = part->is_null() ? json(nullptr) : MetadataFor(*part, now_s);
  }
  accepted["metadata"] = meta;
  PutToken(accepted, req.client_token);
  std::vector<Reply> out{{"update/accepted", Dump(accepted)}};

  const json delta = next.Delta();
  if (state.contains("desired") && !delta.empty()) {
    json d{{"state", delta},
           {"metadata", MetaOfDelta(delta, next.meta_desired_)},
           {"timestamp", now_s},
           {"version", next.version_}};
    PutToken(d, req.client_token);
    out.push_back({"update/delta", Dump(d)});
  }
  json previous{{"state", State()}, {"metadata", Metadata()}, {"version", version_}};
  json current{{"state", next.State()}, {"metadata", next.Metadata()}, {"version", next.version_}};
  json docs{{"previous", exists_ ? previous : json(nullptr)}, {"current", current}, {"timestamp", now_s}};
  PutToken(docs, req.client_token);
  out.push_back({"update/documents", Dump(docs)});
  *this = std::move(next);
  return out;
}

std::vector<Reply> ShadowDocument::Get(std::string_view payload, int64_t now_s) const {
  Request req;
  if (auto e = ParseRequest(payload, true, req)) return Rejected("get", *e, now_s, req.client_token);
  if (!exists_)
    return Rejected("get", Error{404, "No shadow exists with name: '" + thing_ + "'"}, now_s, req.client_token);
  json state = State();
  const json delta = Delta();
  if (!delta.empty()) state["delta"] = delta;
  json doc{{"state", state}, {"metadata", Metadata()}, {"version", version_}, {"timestamp", now_s}};
  PutToken(doc, req.client_token);
  return {Reply{"get/accepted", Dump(doc)}};
}

std::vector<Reply> ShadowDocument::Delete(std::string_view payload, int64_t now_s) {
  Request req;
  if (auto e = ParseRequest(payload, true, req)) return Rejected("delete", *e, now_s, req.client_token);
  if (!exists_) {
    return Rejected("delete", Error{404, "No shadow exists with name: '" + thing_ + "'"}, now_s, req.client_token);
  }
  if (const auto v = req.body.find("version"); v != req.body.end()) {
    if (!v->is_number_unsigned()) return Rejected("delete", Error{400, "Invalid version"}, now_s, req.client_token);
    if (v->get<uint64_t>() != version_)
      return Rejected("delete", Error{409, "Version conflict"}, now_s, req.client_token);
  }
  json doc{{"version", version_}, {"timestamp", now_s}};
  PutToken(doc, req.client_token);
  exists_ = false;
  desired_ = reported_ = meta_desired_ = meta_reported_ = json::object();
  return {Reply{"delete/accepted", Dump(doc)}};
}

json ShadowDocument::ToJson() const {
  return json{{"exists", exists_},
              {"version", version_},
              {"desired", desired_},
              {"reported", reported_},
              {"metadata", {{"desired", meta_desired_}, {"reported", meta_reported_}}}};
}

std::optional<ShadowDocument> ShadowDocument::FromJson(const json& j, std::string* error) {
  auto fail = [&](const std::string& what) -> std::optional<ShadowDocument> {
    if (error) *error = what;
    return std::nullopt;
  };
  if (!j.is_object()) return fail("not an object");
  ShadowDocument d;
  const auto exists = j.find("exists");
  if (exists == j.end() || !exists->is_boolean()) return fail("exists: missing or not true/false");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_unsigned())
    return fail("version: missing or not a non-negative integer");
  d.exists_ = exists->get<bool>();
  d.version_ = version->get<uint64_t>();
  for (const char* k : {"desired", "reported"}) {
    const auto v = j.find(k);
    if (v == j.end() || !v->is_object()) return fail(std::string(k) + ": missing or not an object");
    (k[0] == 'd' ? d.desired_ : d.reported_) = *v;
  }
  const auto meta = j.find("metadata");
  if (meta == j.end() || !meta->is_object()) return fail("metadata: missing or not an object");
  for (const char* k : {"desired", "reported"}) {
    const auto v = meta->find(k);
    if (v == meta->end() || !v->is_object()) return fail(std::string("metadata.") + k + ": missing or not an object");
    (k[0] == 'd' ? d.meta_desired_ : d.meta_reported_) = *v;
  }
  return d;
}

}  // namespace edgeforge::sim::shadow
