// The IoT rules in deploy/aws/rules/ against what devices really publish:
// each statement's topic filter matches the topic the firmware builds for its
// message type (and not the other types), every field it reads exists in a
// payload the firmware serializes, its WHERE selects the kind a built-in
// board reports, the partition key is the thing name, and the raw bytes and
// the `jws` user property the device sets are kept for verification.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "firmware/app/device.h"
#include "firmware/board/builtin.h"
#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge {
namespace {

using Json = nlohmann::json;

std::string ReadRule(const std::string& name) {
  std::ifstream in(std::string(EDGEFORGE_SOURCE_DIR) + "/deploy/aws/rules/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// SELECT list items at depth 0 (commas inside parentheses or quotes do not split).
std::vector<std::string> SplitSelect(const std::string& list) {
  std::vector<std::string> items;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : list) {
    if (c == '\'') quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')') --depth;
    if (!quoted && depth == 0 && c == ',') {
      items.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  items.push_back(cur);
  for (auto& i : items) i = std::regex_replace(i, std::regex("^\\s+|\\s+$"), "");
  return items;
}

bool HasPath(const Json& j, const std::string& dotted) {
  const Json* cur = &j;
  std::stringstream ss(dotted);
  for (std::string part; std::getline(ss, part, '.');) {
    if (!cur->is_object() || !cur->contains(part)) return false;
    cur = &(*cur)[part];
  }
  return true;
}

struct Published {
  std::string topic;
  std::string payload;
  std::string other_type_topic;  // the same device's other message type
  std::string thing;
};

std::string KindOf(const std::string& board) {
  auto b = board::LoadBoardSpec(board);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? b->kind : "";
}

Published FactoryTelemetry() {
  telemetry::Telemetry t;
  t.dev = "line-01";
  t.kind = KindOf("factory-node");
  t.seq = 7;
  t.boot = 2;
  t.ts = 1700000010000;
  t.window_start = 1700000000000;
  t.window_ms = 10000;
  telemetry::ChannelWindow w;
  w.name = "temperature";
  w.unit = "Cel";
  w.n = 10;
  w.value = w.min = w.max = w.mean = 20.5;
  t.readings.push_back(w);
  return {*topic::TelemetryTopic("edgeforge", "plant-3", t.dev), telemetry::Serialize(t),
          *topic::AlarmTopic("edgeforge", "plant-3", t.dev), t.dev};
}

Published TrafficAlarm() {
  telemetry::AlarmMessage a;
  a.dev = "radar-7";
  a.kind = KindOf("traffic-node");
  a.seq = 9;
  a.boot = 1;
  a.ts = 1700000012345;
  a.alarm.channel = "occupancy";
  a.alarm.threshold = 80;
  a.alarm.value = 85;
  a.alarm.severity = "warning";
  return {*topic::AlarmTopic("edgeforge", "corridor-9", a.dev), telemetry::Serialize(a),
          *topic::TelemetryTopic("edgeforge", "corridor-9", a.dev), a.dev};
}

// The topic level topic(n) selects (1-based, as IoT SQL's topic(n)).
std::string TopicLevel(const std::string& topic, int n) {
  std::stringstream ss(topic);
  std::string level;
  for (int i = 0; i < n && std::getline(ss, level, '/'); ++i) {
  }
  return level;
}

void CheckRule(const std::string& file, const Published& p, const std::string& other_kind) {
  SCOPED_TRACE(file);
  const Json rule = Json::parse(ReadRule(file));
  EXPECT_EQ(rule["awsIotSqlVersion"], "2016-03-23") << "get_user_property needs SQL version 2016-03-23";
  const std::string sql = rule["sql"];
  std::smatch m;
  ASSERT_TRUE(std::regex_match(sql, m, std::regex(R"(^SELECT (.+) FROM '([^']+)' WHERE (\w+) = '([^']+)'$)")))
      << sql;
  const std::string select = m[1], filter = m[2], where_field = m[3], where_value = m[4];

  // The filter takes what the device publishes for this type, nothing else of it.
  EXPECT_TRUE(topic::FilterMatches(filter, p.topic)) << filter << " vs " << p.topic;
  EXPECT_FALSE(topic::FilterMatches(filter, p.other_type_topic)) << filter << " vs " << p.other_type_topic;
  const Json payload = Json::parse(p.payload);
  // WHERE reads a field the payload has, with the value this kind of node sends.
  ASSERT_TRUE(HasPath(payload, where_field)) << where_field;
  EXPECT_EQ(payload[where_field], where_value);
  EXPECT_NE(other_kind, where_value);

  bool raw = false, jws = false, star = false;
  for (const std::string& item : SplitSelect(select)) {
    std::smatch a;
    if (item == "*") {
      star = true;
    } else if (std::regex_match(item, a, std::regex(R"(^(.+) AS (\w+)$)"))) {
      const std::string expr = a[1], alias = a[2];
      EXPECT_FALSE(payload.contains(alias)) << "alias '" << alias << "' would hide the payload's own field";
      std::smatch t;
      if (std::regex_match(expr, t, std::regex(R"(^topic\((\d)\)$)"))) {
        EXPECT_EQ(TopicLevel(p.topic, std::stoi(t[1])), p.thing) << expr;
      } else if (expr == "encode(*, 'base64')") {
        raw = true;
      } else if (expr == "get_user_property('" + app::DeviceOptions{}.jws_property + "')") {
        jws = true;
      } else {
        ADD_FAILURE() << "unchecked expression " << expr;
      }
    } else {
      EXPECT_TRUE(HasPath(payload, item)) << "field '" << item << "' is not in the payload";
    }
  }
  EXPECT_TRUE(star) << "the payload is taken as the device sent it";
  EXPECT_TRUE(raw) << "the exact signed bytes must be kept";
  EXPECT_TRUE(jws) << "the detached signature must be kept";
  EXPECT_EQ(rule["ruleDisabled"], false);
  ASSERT_TRUE(rule.contains("errorAction")) << "a failed action must not vanish";
}

TEST(IotRulesTest, FactoryTelemetryGoesToKinesisKeyedByThing) {
  const Published p = FactoryTelemetry();
  CheckRule("factory-telemetry-to-kinesis.json", p, KindOf("traffic-node"));
  const Json rule = Json::parse(ReadRule("factory-telemetry-to-kinesis.json"));
  const Json& kinesis = rule["actions"][0]["kinesis"];
  const std::string key = kinesis["partitionKey"];
  std::smatch m;
  ASSERT_TRUE(std::regex_match(key, m, std::regex(R"(^\$\{topic\((\d)\)\}$)"))) << key;
  EXPECT_EQ(TopicLevel(p.topic, std::stoi(m[1])), p.thing);
  EXPECT_FALSE(kinesis["streamName"].get<std::string>().empty());
}

TEST(IotRulesTest, TrafficAlarmsGoToALambda) {
  CheckRule("traffic-alarms-to-lambda.json", TrafficAlarm(), KindOf("factory-node"));
  const Json rule = Json::parse(ReadRule("traffic-alarms-to-lambda.json"));
  EXPECT_EQ(rule["actions"][0]["lambda"]["functionArn"].get<std::string>().rfind("arn:aws:lambda:", 0), 0u);
}

}  // namespace
}  // namespace edgeforge
