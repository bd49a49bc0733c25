#include "firmware/telemetry/topic.h"

#include <gtest/gtest.h>

namespace edgeforge::topic {
namespace {

TEST(TopicTest, BuildsTelemetryTopic) {
  auto t = TelemetryTopic("edgeforge", "site-1", "edge-00001");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "dt/edgeforge/site-1/edge-00001/telemetry");
}

TEST(TopicTest, RejectsWildcardsAndSlashesInLevels) {
  for (const char* bad : {"a/b", "a+", "#", ""}) {
    auto t = TelemetryTopic("edgeforge", bad, "edge-1");
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("site"), std::string::npos) << t.status().message();
  }
}

TEST(TopicTest, EnforcesIotCoreLengthLimit) {
  const std::string thing(240, 't');
  auto t = TelemetryTopic("app", "site", thing);  // 3+4+5+240+10 = 262 bytes
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("256"), std::string::npos) << t.status().message();
  EXPECT_TRUE(ValidatePublishTopic(std::string(256, 'a')).ok());
  EXPECT_FALSE(ValidatePublishTopic(std::string(257, 'a')).ok());
}

TEST(TopicTest, EnforcesSevenSlashesExceptBasicIngestPrefix) {
  EXPECT_TRUE(ValidatePublishTopic("a/b/c/d/e/f/g/h").ok());  // 7 slashes
  auto eight = ValidatePublishTopic("a/b/c/d/e/f/g/h/i");
  ASSERT_FALSE(eight.ok());
  EXPECT_NE(eight.message().find("slashes"), std::string::npos);
  // $aws/rules/<rule>/ is not counted (AWS IoT Basic Ingest).
  EXPECT_TRUE(ValidatePublishTopic("$aws/rules/myrule/a/b/c/d/e/f/g/h").ok());
  EXPECT_FALSE(ValidatePublishTopic("$aws/rules/myrule/a/b/c/d/e/f/g/h/i").ok());
}

TEST(TopicTest, RejectsWildcardsNulAndBadUtf8) {
  EXPECT_FALSE(ValidatePublishTopic("dt/+/x").ok());
  EXPECT_FALSE(ValidatePublishTopic("dt/#").ok());
  EXPECT_FALSE(ValidatePublishTopic(std::string("dt/\0x", 5)).ok());
  EXPECT_FALSE(ValidatePublishTopic("dt/\xc3").ok());      // truncated sequence
  EXPECT_FALSE(ValidatePublishTopic("dt/\xff\xfe").ok());  // not UTF-8 at all
  EXPECT_TRUE(ValidatePublishTopic("dt/caf\xc3\xa9").ok());
  EXPECT_FALSE(ValidatePublishTopic("").ok());
}

TEST(TopicTest, ParsesTelemetryTopic) {
  auto p = ParseTelemetryTopic("dt/edgeforge/site-1/edge-00042/telemetry");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->app, "edgeforge");
  EXPECT_EQ(p->site, "site-1");
  EXPECT_EQ(p->thing, "edge-00042");
  EXPECT_EQ(p->type, "telemetry");
  EXPECT_FALSE(ParseTelemetryTopic("dt/a/b/c").ok());
  EXPECT_FALSE(ParseTelemetryTopic("cmd/a/b/c/d").ok());
  EXPECT_FALSE(ParseTelemetryTopic("dt/a//c/d").ok());
  EXPECT_FALSE(ParseTelemetryTopic("dt/a/b/c/d/e").ok());
}

TEST(TopicTest, BuildsAlarmTopicNextToTelemetry) {
  auto t = AlarmTopic("edgeforge", "site-1", "edge-00001");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "dt/edgeforge/site-1/edge-00001/alarm");
  auto bad = AlarmTopic("edgeforge", "site-1", "edge+1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("thing"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(AlarmTopic("app", "site", std::string(245, 't')).ok());  // 3+4+5+245+6 = 263 bytes
}

TEST(TopicTest, ParsesBothMessageTypes) {
  auto a = ParseTelemetryTopic(*AlarmTopic("edgeforge", "site-1", "edge-00042"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->thing, "edge-00042");
  EXPECT_EQ(a->type, "alarm");
  auto t = ParseTelemetryTopic(*TelemetryTopic("edgeforge", "site-1", "edge-00042"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, "telemetry");
}

TEST(TopicTest, FilterMatching) {
  EXPECT_TRUE(FilterMatches("dt/+/+/+/+", "dt/a/b/c/telemetry"));
  EXPECT_FALSE(FilterMatches("dt/+/+/+/+", "dt/a/b/c"));
  EXPECT_TRUE(FilterMatches("dt/#", "dt/a/b"));
  EXPECT_TRUE(FilterMatches("dt/#", "dt"));
  EXPECT_FALSE(FilterMatches("#", "$aws/things/x/shadow/update"));
  EXPECT_TRUE(FilterMatches("$aws/#", "$aws/things/x/shadow/update"));
  EXPECT_FALSE(FilterMatches("dt/a", "dt/b"));
}

}  // namespace
}  // namespace edgeforge::topic
