// AWS IoT Core's classic (unnamed) device shadow, as a pure state machine: no
// I/O, the clock passed in as epoch seconds. sim/shadow/shadow_service.h puts
// it on the local broker's $aws/things/<thing>/shadow/... topics.
//
// Semantics followed (AWS IoT Core Developer Guide):
// - "Device Shadow service documents": request {state:{desired,reported},
//   clientToken, version}; /accepted, /delta, /documents and /get/accepted
//   response shapes; per-leaf metadata timestamps; the version increments on
//   every accepted update; a request `version` must equal the current one.
// - "Interacting with shadows": updates merge into the document (only the
//   fields named change), a null deletes a key (desired:null / reported:null
//   delete the whole section), arrays are replaced whole, delta = the desired
//   leaves that differ from reported (published only when non-empty), delete
//   removes the shadow and its next update continues the version.
// - "Device Shadow error messages": {"code","message","timestamp",
//   "clientToken"} with 400 / 404 / 409 / 413 and the texts listed there.
// - "AWS IoT Core endpoints and quotas" (Device Shadow): state document at
//   most 8 KB (metadata excluded), clientToken at most 64 bytes, desired and
//   reported at most 6 levels deep.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgeforge::sim::shadow {

/// "The maximum size of a classic shadow state document": desired + reported
/// as JSON, metadata not counted.
inline constexpr size_t kMaxStateBytes = 8 * 1024;
/// "JSON contains too many levels of nesting; maximum is 6": levels inside
/// desired or reported ({"desired":{"a":1}} is one level).
inline constexpr int kMaxDepth = 6;
/// "A client token that is longer than 64 bytes" is refused with 400.
inline constexpr size_t kMaxClientTokenBytes = 64;

/// One message the service publishes in answer to a request.
struct Reply {
  std::string suffix;  // after $aws/things/<thing>/shadow/: "update/accepted", "get/rejected", ...
  std::string payload;
};

/// One thing's classic shadow. A default-constructed document does not exist
/// (get answers 404) until an update creates it.
class ShadowDocument {
 public:
  /// A /update request: on success update/accepted, then update/delta (if
  /// the request had desired and the delta is not empty), then
  /// update/documents; on failure one update/rejected.
  std::vector<Reply> Update(std::string_view payload, int64_t now_s);
  /// A /get request (payload empty or a JSON object with an optional clientToken).
  std::vector<Reply> Get(std::string_view payload, int64_t now_s) const;
  /// A /delete request: delete/accepted {version, timestamp} and the shadow is gone.
  std::vector<Reply> Delete(std::string_view payload, int64_t now_s);

  bool exists() const { return exists_; }
  uint64_t version() const { return version_; }
  /// desired leaves that differ from reported (an empty object if none).
  nlohmann::json Delta() const;

  /// What the service persists: {"exists","version","desired","reported",
  /// "metadata":{"desired","reported"}}; FromJson reads it back and refuses
  /// anything else with a message naming the field.
  nlohmann::json ToJson() const;
  static std::optional<ShadowDocument> FromJson(const nlohmann::json& j, std::string* error);

  /// The name used in "No shadow exists with name: <thing>".
  void set_thing(std::string thing) { thing_ = std::move(thing); }

 private:
  nlohmann::json State() const;  // {"desired"?, "reported"?}
  nlohmann::json Metadata() const;

  std::string thing_;
  bool exists_ = false;
  uint64_t version_ = 0;  // kept across a delete: the next update continues it
  nlohmann::json desired_ = nlohmann::json::object();
  nlohmann::json reported_ = nlohmann::json::object();
  nlohmann::json meta_desired_ = nlohmann::json::object();
  nlohmann::json meta_reported_ = nlohmann::json::object();
};

/// The error document IoT Core publishes on .../rejected.
std::string ErrorPayload(int code, const std::string& message, int64_t now_s,
                         const std::optional<std::string>& client_token);

}  // namespace edgeforge::sim::shadow
