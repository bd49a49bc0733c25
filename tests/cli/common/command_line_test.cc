#include "cli/common/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace edgeforge::cli {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

struct Parsed {
  std::string board = "default";
  std::vector<std::string> boards;
  milliseconds duration{30000};
  long long devices = 100;
  double scale = 1;
  std::string broker;
  bool check = false;
  Status status;
  bool help = false;
};

Parsed Parse(const std::vector<std::string>& args) {
  CommandLine cl("edgeforge test");
  Parsed p;
  cl.String("--thing", p.board);
  cl.Strings("--board", p.boards);
  cl.Duration("--duration", p.duration, "omit it to run until a signal");
  cl.Int("--devices", 1, 1000, p.devices);
  cl.Double("--time-scale", 0.001, 10000, p.scale);
  cl.BrokerUri("--broker", p.broker);
  cl.Flag("--check", p.check);
  p.status = cl.Parse(args);
  p.help = cl.help();
  return p;
}

TEST(CommandLineTest, BothSpellingsOfAValue) {
  const Parsed p = Parse({"--thing", "a", "--devices=7", "--duration", "500ms", "--time-scale=60", "--broker",
                          "ssl://localhost:8883", "--check"});
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.board, "a");
  EXPECT_EQ(p.devices, 7);
  EXPECT_EQ(p.duration, milliseconds(500));
  EXPECT_EQ(p.scale, 60);
  EXPECT_EQ(p.broker, "ssl://localhost:8883");
  EXPECT_TRUE(p.check);
}

TEST(CommandLineTest, AbsentOptionsKeepTheirDefaults) {
  const Parsed p = Parse({});
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.board, "default");
  EXPECT_EQ(p.duration, milliseconds(30000));
  EXPECT_FALSE(p.check);
}

TEST(CommandLineTest, RepeatableOptionsKeepEveryValueInOrder) {
  const Parsed p = Parse({"--board", "a", "--board=b", "--board", "c"});
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.boards, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(CommandLineTest, EachProblemIsNamed) {
  const struct {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"--thing", "a", "--thing=b"}, "--thing given twice"},
      {{"--devices", "1", "--devices", "1"}, "--devices given twice"},
      {{"--check", "--check"}, "--check given twice"},
      {{"--frobnicate"}, "unknown option '--frobnicate'"},
      {{"--frobnicate=1"}, "unknown option '--frobnicate=1'"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--thing"}, "--thing needs a value"},
      {{"--thing="}, "--thing needs a value"},
      {{"--thing", "--check"}, "--thing needs a value"},
      {{"--board"}, "--board needs a value"},
      {{"--devices", "0"}, "--devices '0' must be a whole number in 1..1000"},
      {{"--devices=12x"}, "--devices '12x' must be a whole number in 1..1000"},
      {{"--time-scale", "fast"}, "--time-scale 'fast' must be a number in"},
      {{"--duration", "soon"}, "--duration 'soon' is not a duration (e.g. 30, 30s, 500ms, 2m, 1h)"},
      {{"--duration", "0"}, "--duration '0' must be more than 0; omit it to run until a signal"},
      {{"--duration=0ms"}, "--duration '0ms' must be more than 0"},
      {{"--broker", "ssl://nohost:notaport"}, "--broker: 'ssl://nohost:notaport': port 'notaport' is not a number"},
  };
  for (const auto& c : cases) {
    const Parsed p = Parse(c.args);
    EXPECT_EQ(p.status.code(), StatusCode::kInvalidArgument) << c.says;
    EXPECT_THAT(p.status.message(), HasSubstr(c.says));
  }
}

TEST(CommandLineTest, HelpWinsOverAnyOtherProblem) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"--devices", "0", "--help"}, {"--frobnicate", "-h"}}) {
    const Parsed p = Parse(args);
    EXPECT_TRUE(p.help);
    EXPECT_TRUE(p.status.ok()) << p.status.ToString();
  }
}

TEST(CommandLineTest, UsageErrorIsTwoLinesAndExitCodeTwo) {
  CommandLine cl("edgeforge test");
  std::ostringstream err;
  EXPECT_EQ(cl.UsageError(InvalidArgument("--x given twice"), err), 2);
  EXPECT_EQ(err.str(), "edgeforge test: --x given twice\n(see edgeforge test --help)\n");
}

TEST(DurationTest, Units) {
  EXPECT_EQ(*ParseDuration("30", "--d"), milliseconds(30000));
  EXPECT_EQ(*ParseDuration("30s", "--d"), milliseconds(30000));
  EXPECT_EQ(*ParseDuration("500ms", "--d"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("2m", "--d"), milliseconds(120000));
  EXPECT_EQ(*ParseDuration("1h", "--d"), milliseconds(3600000));
  EXPECT_EQ(*ParseDuration("1.5s", "--d"), milliseconds(1500));
  EXPECT_FALSE(ParseDuration("1d", "--d").ok());
  EXPECT_FALSE(ParseDuration("-1", "--d").ok());
}

}  // namespace
}  // namespace edgeforge::cli
