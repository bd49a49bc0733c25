// The local shadow service's document logic against IoT Core's documented
// behaviour. Each case names the AWS IoT Core Developer Guide page (and the
// example on it) it follows.
#include "sim/shadow/shadow_document.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeforge::sim::shadow {
namespace {

using nlohmann::json;
constexpr int64_t kT0 = 1700000000;

json Only(const std::vector<Reply>& r, const std::string& suffix) {
  EXPECT_EQ(r.size(), 1u);
  if (r.empty()) return json();
  EXPECT_EQ(r[0].suffix, suffix) << r[0].payload;
  return json::parse(r[0].payload);
}

const Reply* Find(const std::vector<Reply>& r, const std::string& suffix) {
  for (const auto& x : r)
    if (x.suffix == suffix) return &x;
  return nullptr;
}

ShadowDocument Doc() {
  ShadowDocument d;
  d.set_thing("dev-a");
  return d;
}

// "Interacting with shadows", "Retrieving a shadow document": a shadow that
// was never created answers 404 "No shadow exists with name".
TEST(ShadowDocument, GetWithoutShadowIs404) {
  ShadowDocument d = Doc();
  json e = Only(d.Get(R"({"clientToken":"t1"})", kT0), "get/rejected");
  EXPECT_EQ(e["code"], 404);
  EXPECT_EQ(e["message"], "No shadow exists with name: 'dev-a'");
  EXPECT_EQ(e["clientToken"], "t1");
  EXPECT_EQ(e["timestamp"], kT0);
}

// "Device Shadow service documents", request state document and
// "/accepted response state document": the accepted message carries the
// request's state, its metadata, timestamp, clientToken and the new version.
TEST(ShadowDocument, FirstUpdateCreatesVersion1AndAccepts) {
  ShadowDocument d = Doc();
  auto r = d.Update(R"({"state":{"desired":{"color":"red"}},"clientToken":"abc"})", kT0);
  ASSERT_NE(Find(r, "update/accepted"), nullptr);
  json a = json::parse(Find(r, "update/accepted")->payload);
  EXPECT_EQ(a["state"], json::parse(R"({"desired":{"color":"red"}})"));
  EXPECT_EQ(a["metadata"]["desired"]["color"]["timestamp"], kT0);
  EXPECT_EQ(a["version"], 1);
  EXPECT_EQ(a["clientToken"], "abc");
  EXPECT_TRUE(d.exists());
  EXPECT_EQ(d.version(), 1u);
}

// "/delta response state document": desired differs from reported, so the
// delta is published with the differing leaves and their metadata.
TEST(ShadowDocument, DesiredDifferentFromReportedPublishesDelta) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"reported":{"color":"green","power":"on"}}})", kT0);
  auto r = d.Update(R"({"state":{"desired":{"color":"red","power":"on"}},"clientToken":"c2"})", kT0 + 5);
  ASSERT_NE(Find(r, "update/delta"), nullptr);
  json delta = json::parse(Find(r, "update/delta")->payload);
  EXPECT_EQ(delta["state"], json::parse(R"({"color":"red"})"));
  EXPECT_EQ(delta["metadata"]["color"]["timestamp"], kT0 + 5);
  EXPECT_EQ(delta["version"], 2);
  EXPECT_EQ(delta["clientToken"], "c2");
}

// "Interacting with shadows": no delta when desired and reported agree, and
// none for an update without desired.
TEST(ShadowDocument, NoDeltaWhenInSyncOrReportedOnly) {
  ShadowDocument d = Doc();
  auto r = d.Update(R"({"state":{"desired":{"color":"red"},"reported":{"color":"red"}}})", kT0);
  EXPECT_EQ(Find(r, "update/delta"), nullptr);
  r = d.Update(R"({"state":{"reported":{"color":"blue"}}})", kT0);
  EXPECT_EQ(Find(r, "update/delta"), nullptr);
  // ...though the document now has one, and get/accepted shows it.
  json g = Only(d.Get("", kT0), "get/accepted");
  EXPECT_EQ(g["state"]["delta"], json::parse(R"({"color":"red"})"));
}

// "Device Shadow service documents", "/documents response state document":
// previous and current with state, metadata and version.
TEST(ShadowDocument, DocumentsCarryPreviousAndCurrent) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"reported":{"a":1}}})", kT0);
  auto r = d.Update(R"({"state":{"reported":{"a":2}},"clientToken":"x"})", kT0 + 1);
  ASSERT_NE(Find(r, "update/documents"), nullptr);
  json docs = json::parse(Find(r, "update/documents")->payload);
  EXPECT_EQ(docs["previous"]["state"]["reported"]["a"], 1);
  EXPECT_EQ(docs["previous"]["version"], 1);
  EXPECT_EQ(docs["current"]["state"]["reported"]["a"], 2);
  EXPECT_EQ(docs["current"]["version"], 2);
  EXPECT_EQ(docs["current"]["metadata"]["reported"]["a"]["timestamp"], kT0 + 1);
  EXPECT_EQ(docs["clientToken"], "x");
}

// "Interacting with shadows", "Deleting shadow data": a null removes the
// key; desired:null removes the whole section.
TEST(ShadowDocument, NullDeletesKeysAndSections) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"desired":{"a":1,"b":{"c":2,"d":3}},"reported":{"z":1}}})", kT0);
  (void)d.Update(R"({"state":{"desired":{"a":null,"b":{"c":null}}}})", kT0);
  json g = Only(d.Get("", kT0), "get/accepted");
  EXPECT_EQ(g["state"]["desired"], json::parse(R"({"b":{"d":3}})"));
  EXPECT_FALSE(g["metadata"]["desired"].contains("a"));
  (void)d.Update(R"({"state":{"desired":null}})", kT0);
  g = Only(d.Get("", kT0), "get/accepted");
  EXPECT_FALSE(g["state"].contains("desired"));
  EXPECT_EQ(g["state"]["reported"]["z"], 1);
}

// "Device Shadow service documents", "Arrays": an array is replaced whole,
// never merged element by element; its metadata has one entry per element.
TEST(ShadowDocument, ArraysReplacedWhole) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"reported":{"colors":["red","green","blue"]}}})", kT0);
  (void)d.Update(R"({"state":{"reported":{"colors":["white"]}}})", kT0 + 1);
  json g = Only(d.Get("", kT0), "get/accepted");
  EXPECT_EQ(g["state"]["reported"]["colors"], json::parse(R"(["white"])"));
  EXPECT_EQ(g["metadata"]["reported"]["colors"].size(), 1u);
  EXPECT_EQ(g["metadata"]["reported"]["colors"][0]["timestamp"], kT0 + 1);
}

// "Device Shadow service documents", "Versioning of a shadow": a request
// version that is not the current one is refused with 409; the right one passes.
TEST(ShadowDocument, VersionMismatchIs409) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"reported":{"a":1}}})", kT0);
  json e = Only(d.Update(R"({"state":{"reported":{"a":2}},"version":7,"clientToken":"v"})", kT0), "update/rejected");
  EXPECT_EQ(e["code"], 409);
  EXPECT_EQ(e["message"], "Version conflict");
  EXPECT_EQ(e["clientToken"], "v");
  EXPECT_EQ(d.version(), 1u);
  auto ok = d.Update(R"({"state":{"reported":{"a":2}},"version":1})", kT0);
  EXPECT_NE(Find(ok, "update/accepted"), nullptr);
  EXPECT_EQ(d.version(), 2u);
}

// "Device Shadow error messages", 400: each documented text.
TEST(ShadowDocument, BadRequestsAre400WithDocumentedMessages) {
  const std::string deep = R"({"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}})";
  const std::string six = R"({"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}})";
  struct Case {
    std::string payload, message;
  } cases[] = {
      {"{not json", "Invalid JSON"},
      {"[1,2]", "Invalid JSON"},
      {R"({"clientToken":"t"})", "Missing required node: state"},
      {R"({"state":5})", "State node must be an object"},
      {R"({"state":{"desired":[1]}})", "Desired node must be an object"},
      {R"({"state":{"reported":"x"}})", "Reported node must be an object"},
      {R"({"state":{"delta":{"a":1}}})", "State contains an invalid node"},
      {R"({"state":{},"version":"3"})", "Invalid version"},
      {R"({"state":{},"clientToken":")" + std::string(65, 'k') + "\"}", "Invalid clientToken"},
      {deep, "JSON contains too many levels of nesting; maximum is 6"},
      {R"({"state":{},"desire":{}})", "Unexpected top-level key: desire (allowed: state, clientToken, version)"},
  };
  for (const auto& c : cases) {
    ShadowDocument d = Doc();
    json e = Only(d.Update(c.payload, kT0), "update/rejected");
    EXPECT_EQ(e["code"], 400) << c.payload;
    EXPECT_EQ(e["message"], c.message) << c.payload;
    EXPECT_FALSE(d.exists());
  }
  // 100,000 brackets (what a 128 KB MQTT payload can hold) are refused
  // before parsing, with the same message, and without a deep recursion.
  {
    ShadowDocument d = Doc();
    const std::string bomb =
        R"({"state":{"desired":{"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}}}";
    json e = Only(d.Update(bomb, kT0), "update/rejected");
    EXPECT_EQ(e["message"], "JSON contains too many levels of nesting; maximum is 6");
  }
  ShadowDocument d = Doc();
  EXPECT_NE(Find(d.Update(six, kT0), "update/accepted"), nullptr) << "6 levels are allowed";
  // A token of exactly 64 bytes is fine and echoed.
  json a = json::parse(d.Update(R"({"state":{},"clientToken":")" + std::string(64, 'k') + "\"}", kT0)[0].payload);
  EXPECT_EQ(a["clientToken"], std::string(64, 'k'));
}

// "Device Shadow error messages", 413 and the quota "maximum size of a
// classic shadow state document" (8 KB): one request over it, and a merge
// that would grow the stored state over it, are both refused.
TEST(ShadowDocument, StateOver8KBIs413) {
  ShadowDocument d = Doc();
  const std::string big(kMaxStateBytes, 'x');
  json e =
      Only(d.Update(R"({"state":{"desired":{"a":")" + big + R"("}},"clientToken":"big"})", kT0), "update/rejected");
  EXPECT_EQ(e["code"], 413);
  EXPECT_EQ(e["message"], "The payload exceeds the maximum size allowed");
  EXPECT_EQ(e["clientToken"], "big");
  const std::string half(kMaxStateBytes / 2, 'y');
  EXPECT_NE(Find(d.Update(R"({"state":{"desired":{"a":")" + half + R"("}}})", kT0), "update/accepted"), nullptr);
  e = Only(d.Update(R"({"state":{"reported":{"b":")" + half + R"("}}})", kT0), "update/rejected");
  EXPECT_EQ(e["code"], 413);
  EXPECT_EQ(d.version(), 1u);
}

// "Interacting with shadows", "Deleting a shadow": delete/accepted with the
// version; afterwards get is 404 and the next update continues the version.
TEST(ShadowDocument, DeleteRemovesShadowKeepsVersionCounting) {
  ShadowDocument d = Doc();
  json e = Only(d.Delete("", kT0), "delete/rejected");
  EXPECT_EQ(e["code"], 404);
  (void)d.Update(R"({"state":{"reported":{"a":1}}})", kT0);
  (void)d.Update(R"({"state":{"reported":{"a":2}}})", kT0);
  json a = Only(d.Delete(R"({"clientToken":"del"})", kT0 + 9), "delete/accepted");
  EXPECT_EQ(a["version"], 2);
  EXPECT_EQ(a["timestamp"], kT0 + 9);
  EXPECT_EQ(a["clientToken"], "del");
  EXPECT_EQ(Only(d.Get("", kT0), "get/rejected")["code"], 404);
  (void)d.Update(R"({"state":{"reported":{"b":1}}})", kT0);
  json g = Only(d.Get("", kT0), "get/accepted");
  EXPECT_EQ(g["version"], 3);
  EXPECT_FALSE(g["state"]["reported"].contains("a"));
}

// "Device Shadow service documents", "/get/accepted response state
// document": desired, reported, delta, metadata, version, timestamp, clientToken.
TEST(ShadowDocument, GetAcceptedHasWholeDocument) {
  ShadowDocument d = Doc();
  (void)d.Update(
      R"({"state":{"desired":{"lights":{"color":"red"},"fan":1},"reported":{"lights":{"color":"green"},"fan":1}}})",
      kT0);
  json g = Only(d.Get(R"({"clientToken":"g"})", kT0 + 3), "get/accepted");
  EXPECT_EQ(g["state"]["delta"], json::parse(R"({"lights":{"color":"red"}})"));
  EXPECT_EQ(g["metadata"]["reported"]["fan"]["timestamp"], kT0);
  EXPECT_EQ(g["timestamp"], kT0 + 3);
  EXPECT_EQ(g["version"], 1);
  EXPECT_EQ(g["clientToken"], "g");
  EXPECT_EQ(Only(d.Get("garbage", kT0), "get/rejected")["code"], 400);
}

TEST(ShadowDocument, PersistedFormRoundTripsAndRefusesBadFields) {
  ShadowDocument d = Doc();
  (void)d.Update(R"({"state":{"desired":{"a":[1,2]},"reported":{"b":{"c":true}}}})", kT0);
  std::string err;
  auto back = ShadowDocument::FromJson(d.ToJson(), &err);
  ASSERT_TRUE(back.has_value()) << err;
  EXPECT_EQ(back->ToJson(), d.ToJson());
  json bad = d.ToJson();
  bad["version"] = -1;
  EXPECT_FALSE(ShadowDocument::FromJson(bad, &err).has_value());
  EXPECT_NE(err.find("version"), std::string::npos) << err;
  bad = d.ToJson();
  bad["metadata"].erase("reported");
  EXPECT_FALSE(ShadowDocument::FromJson(bad, &err).has_value());
  EXPECT_NE(err.find("metadata.reported"), std::string::npos) << err;
}

}  // namespace
}  // namespace edgeforge::sim::shadow
