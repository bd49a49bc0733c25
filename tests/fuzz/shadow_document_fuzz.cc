// Fuzz target: sim::shadow::ShadowDocument on /update, /get and /delete
// payloads (bytes any client of the local broker may publish). Every request
// gets exactly the documented replies, rejections are well-formed error
// documents, and the stored state never breaks the documented limits.
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/shadow/shadow_document.h"

namespace {

using edgeforge::sim::shadow::Reply;
using edgeforge::sim::shadow::ShadowDocument;
using nlohmann::json;

void CheckReplies(const std::vector<Reply>& replies) {
  if (replies.empty()) __builtin_trap();
  for (const Reply& r : replies) {
    json j = json::parse(r.payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) __builtin_trap();
    if (r.suffix.size() > 9 && r.suffix.compare(r.suffix.size() - 9, 9, "/rejected") == 0) {
      if (replies.size() != 1 || !j["code"].is_number_integer() || !j["message"].is_string()) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ShadowDocument d;
  d.set_thing("fuzz");
  // Seed a document so that merges and deltas have something to work on.
  (void)d.Update(R"({"state":{"desired":{"a":1,"b":{"c":[1,2]}},"reported":{"a":2}}})", 1);
  const uint64_t before = d.version();
  const auto replies = d.Update(in, 2);
  CheckReplies(replies);
  const bool accepted = replies[0].suffix == "update/accepted";
  if (d.version() != before + (accepted ? 1 : 0)) __builtin_trap();
  json state = json::object();
  const json whole = d.ToJson();
  if (!whole["desired"].empty()) state["desired"] = whole["desired"];
  if (!whole["reported"].empty()) state["reported"] = whole["reported"];
  if (state.dump(-1, ' ', false, json::error_handler_t::replace).size() > edgeforge::sim::shadow::kMaxStateBytes) {
    __builtin_trap();
  }
  std::string err;
  auto back = ShadowDocument::FromJson(whole, &err);
  if (!back || back->ToJson() != whole) __builtin_trap();
  CheckReplies(d.Get(in, 3));
  CheckReplies(d.Delete(in, 4));
  return 0;
}
