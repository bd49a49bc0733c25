// `edgeforge certs` through RunCertsCli: exit codes, messages and the files it leaves.
#include "cli/certs_cli.h"

#include <gtest/gtest.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "firmware/telemetry/jws.h"

namespace edgeforge::certs {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult Cli(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunCertsCli(args, out, err);
  return {code, out.str(), err.str()};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class CertsCliTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = testing::TempDir() + "certs_cli_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/pki";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string root_;
  std::string dir_;
};

TEST_F(CertsCliTest, HelpExitsZero) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"help"}}) {
    CliResult r = Cli(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("usage: edgeforge certs <command>"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty());
  }
  CliResult sub = Cli({"devices", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_NE(sub.out.find("usage: edgeforge certs devices"), std::string::npos) << sub.out;
  EXPECT_NE(Cli({"help", "jwks"}).out.find("usage: edgeforge certs jwks"), std::string::npos);
  EXPECT_NE(Cli({"init", "-h"}).out.find("usage: edgeforge certs init"), std::string::npos);
}

TEST_F(CertsCliTest, UsageErrorsExitTwoWithOneLineAndAHint) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"init"}, "--dir DIR is required"},
      {{"init", "--dir", dir_, "--force"}, "unknown option '--force'"},
      {{"init", "--dir"}, "--dir needs a value"},
      {{"init", "--dir", dir_, "extra"}, "unexpected argument 'extra'"},
      {{"devices", "--dir", dir_}, "exactly one of --count N or --names LIST"},
      {{"devices", "--dir", dir_, "--count", "2", "--names", "a"}, "exactly one of"},
      {{"devices", "--dir", dir_, "--count", "0"}, "--count must be an integer"},
      {{"devices", "--dir", dir_, "--count", "12x"}, "got '12x'"},
      {{"devices", "--dir", dir_, "--names", "a", "--prefix", "p-"},
       "--prefix only goes with --count"},
      {{"devices", "--dir", dir_, "--count", "1", "--threads", "0"}, "--threads must be"},
      {{"jwks", "--dir", dir_, "--dir", dir_}, "given twice"},
  };
  for (const Case& c : cases) {
    CliResult r = Cli(c.args);
    EXPECT_EQ(r.code, 2) << c.says;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--help)"), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err), 2u) << r.err;
  }
  EXPECT_EQ(Cli({}).code, 2);
}

TEST_F(CertsCliTest, InitCreatesThePkiAndRefusesASecondTime) {
  CliResult r = Cli({"init", "--dir", dir_});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f :
       {"ca.crt", "ca.key", "broker.crt", "broker.key", "ingest.crt", "ingest.key"}) {
    EXPECT_TRUE(fs::is_regular_file(dir_ + "/" + f)) << f;
  }
  const std::string ca = ReadFile(dir_ + "/ca.crt");
  CliResult again = Cli({"init", "--dir=" + dir_});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err.rfind("edgeforge certs: ", 0), 0u) << again.err;
  EXPECT_NE(again.err.find("ca.key"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(dir_ + "/ca.crt"), ca);
}

TEST_F(CertsCliTest, InitUnderARegularFileFails) {
  std::ofstream(root_ + "/afile") << "x";
  CliResult r = Cli({"init", "--dir", root_ + "/afile/sub"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("afile/sub"), std::string::npos) << r.err;
}

TEST_F(CertsCliTest, DevicesByCountThenIdempotent) {
  ASSERT_EQ(Cli({"init", "--dir", dir_}).code, 0);
  CliResult r = Cli({"devices", "--dir", dir_, "--count", "3", "--threads", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("created 3 of 3 devices in [0-9]+\\.[0-9]{2} s\n")))
      << r.out;
  // 1-based, the names `edgeforge sim --devices 3` runs.
  for (const char* thing : {"edge-00001", "edge-00002", "edge-00003"}) {
    EXPECT_TRUE(fs::is_regular_file(PathsFor(dir_, thing).cert)) << thing;
  }
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(ReadFile(dir_ + "/jwks.json"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->size(), 3u);

  CliResult again = Cli({"devices", "--dir", dir_, "--count", "4", "--prefix", "edge-"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("created 1 of 4 devices"), std::string::npos) << again.out;
}

TEST_F(CertsCliTest, DevicesByNamesNamesTheBadOne) {
  ASSERT_EQ(Cli({"init", "--dir", dir_}).code, 0);
  CliResult r = Cli({"devices", "--dir", dir_, "--names", "press-1,press-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("created 2 of 2 devices"), std::string::npos) << r.out;
  CliResult bad = Cli({"devices", "--dir", dir_, "--names", "ok,dev#1"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("\"dev#1\""), std::string::npos) << bad.err;
  CliResult empty = Cli({"devices", "--dir", dir_, "--names", "a,,b"});
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.err.find("is empty"), std::string::npos) << empty.err;
}

TEST_F(CertsCliTest, DevicesWithoutInitSaysSo) {
  CliResult r = Cli({"devices", "--dir", dir_, "--count", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("certs init"), std::string::npos) << r.err;
}

TEST_F(CertsCliTest, JwksToStdoutAndFile) {
  ASSERT_EQ(Cli({"init", "--dir", dir_}).code, 0);
  ASSERT_EQ(Cli({"devices", "--dir", dir_, "--names", "a,b"}).code, 0);
  CliResult r = Cli({"jwks", "--dir", dir_, "--out", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<std::vector<jws::Jwk>> set = jws::JwkSetFromJson(r.out);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->size(), 2u);
  EXPECT_EQ((*set)[0].thing, "a");

  const std::string file = root_ + "/keys.json";
  CliResult to_file = Cli({"jwks", "--dir", dir_, "--out", file});
  ASSERT_EQ(to_file.code, 0) << to_file.err;
  EXPECT_EQ(ReadFile(file), r.out);
  fs::remove(dir_ + "/jwks.json");
  ASSERT_EQ(Cli({"jwks", "--dir", dir_}).code, 0);
  EXPECT_EQ(ReadFile(dir_ + "/jwks.json"), r.out);
}

}  // namespace
}  // namespace edgeforge::certs
