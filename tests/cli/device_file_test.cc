// edgeforge-device's config file (cli/device_file.h) and log (cli/common/log.h):
// every setting read, every bad input named by file and field, the command
// line winning, the permission rule, and the log's levels and journald
// priorities. Real files in a temporary directory.
#include "cli/device_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/common/log.h"
#include "tests/support/test_pki.h"

namespace edgeforge::cli {
namespace {

constexpr char kFull[] = R"({
  "thing": "gw-7",
  "broker": "ssl://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883",
  "certs": "/etc/edgeforge/certs",
  "identity": {"ca": "/etc/ssl/amazon-root-ca-1.pem", "cert": "c.crt", "key": "c.key", "sign_key": "s.key"},
  "board": "traffic-node",
  "state_dir": "/var/lib/edgeforge",
  "queue_bytes": 1048576,
  "sync": "batch",
  "log_level": "debug",
  "app": "line",
  "site": "plant-3",
  "signer": "openssl",
  "sim_sensors": true,
  "seed": 42,
  "time_scale": 60
})";

TEST(DeviceFileTest, EverySettingIsRead) {
  auto f = ParseDeviceFile(kFull, "device.json");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f->thing, "gw-7");
  EXPECT_EQ(*f->broker, "ssl://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883");
  EXPECT_EQ(*f->certs, "/etc/edgeforge/certs");
  EXPECT_EQ(*f->ca, "/etc/ssl/amazon-root-ca-1.pem");
  EXPECT_EQ(*f->cert, "c.crt");
  EXPECT_EQ(*f->key, "c.key");
  EXPECT_EQ(*f->sign_key, "s.key");
  EXPECT_EQ(*f->board, "traffic-node");
  EXPECT_EQ(*f->state, "/var/lib/edgeforge");
  EXPECT_EQ(*f->queue_bytes, 1048576);
  EXPECT_EQ(*f->sync, "batch");
  EXPECT_EQ(*f->log_level, "debug");
  EXPECT_EQ(*f->app, "line");
  EXPECT_EQ(*f->site, "plant-3");
  EXPECT_EQ(*f->signer, "openssl");
  EXPECT_TRUE(*f->sim);
  EXPECT_EQ(*f->seed, 42);
  EXPECT_EQ(*f->time_scale, 60);
}

TEST(DeviceFileTest, AnEmptyObjectSetsNothing) {
  auto f = ParseDeviceFile("{}", "device.json");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->thing || f->broker || f->board || f->queue_bytes || f->sim || f->time_scale);
}

TEST(DeviceFileTest, EachBadInputNamesTheFileAndTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"thing": 7})", "device.json: thing: must be a string"},
      {R"({"thing": "bad name"})", "device.json: thing: "},
      {R"({"broker": "tcp://host:1883"})", "device.json: broker: "},
      {R"({"identity": {"ca": 5}})", "device.json: identity.ca: must be a string"},
      {R"({"identity": {"cert": "c", "pem": "x"}})", "device.json: identity.pem"},
      {R"({"identity": "ca.crt"})", "device.json: identity: must be an object"},
      {R"({"queue_bytes": 5})", "device.json: queue_bytes: must be in 4096.."},
      {R"({"queue_bytes": "8M"})", "device.json: queue_bytes: must be an integer"},
      {R"({"sync": "sometimes"})", "device.json: sync: must be one of"},
      {R"({"log_level": "verbose"})", "device.json: log_level: must be one of"},
      {R"({"signer": "tpm"})", "device.json: signer: must be one of"},
      {R"({"sim_sensors": "yes"})", "device.json: sim_sensors: must be true or false"},
      {R"({"time_scale": 0})", "device.json: time_scale: must be in 0.001..10000"},
      {R"({"seed": -1})", "device.json: seed: "},
      {R"({"boadr": "factory-node"})", "device.json: boadr"},
      {R"({"board": "a", "board": "b"})", "device.json: board: key appears twice"},
      {R"(["thing"])", "device.json"},
      {R"({"thing": )", "device.json:1:"},
      {R"({"identity": {"ca": {"x": {"y": {"z": 1}}}}})", "device.json"},
  };
  for (const auto& [text, want] : cases) {
    auto f = ParseDeviceFile(text, "device.json");
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(f.status().message().rfind(want, 0), 0u) << text << "\n" << f.status().message();
  }
}

TEST(DeviceFileTest, TheCommandLineWinsOverTheFileAndTheFileOverTheDefaults) {
  auto f = ParseDeviceFile(kFull, "device.json");
  ASSERT_TRUE(f.ok());
  DeviceOptions o;
  o.thing = "from-cli";
  o.sync = "never";
  const std::set<std::string> given = {"--thing", "--sync"};
  ApplyDeviceFile(
      *f, [&](const std::string& opt) { return given.count(opt) > 0; }, o);
  EXPECT_EQ(o.thing, "from-cli");
  EXPECT_EQ(o.sync, "never");
  EXPECT_EQ(o.board, "traffic-node");
  EXPECT_EQ(o.state, "/var/lib/edgeforge");
  EXPECT_EQ(o.queue_bytes, 1048576);
  EXPECT_EQ(o.sign_key, "s.key");
  EXPECT_TRUE(o.sim);

  DeviceOptions defaults;
  auto empty = ParseDeviceFile("{}", "device.json");
  ApplyDeviceFile(
      *empty, [](const std::string&) { return false; }, defaults);
  EXPECT_EQ(defaults.app, "edgeforge");
  EXPECT_EQ(defaults.sync, "always");
  EXPECT_EQ(defaults.log_level, "info");
  EXPECT_EQ(defaults.queue_bytes, 8LL << 20);
}

TEST(DeviceFileTest, AFileGroupOrOthersMayWriteIsRefusedWithTheFix) {
  const std::string dir = testing_support::MakeTempDir("devcfg");
  const std::string path = dir + "/device.json";
  std::ofstream(path) << R"({"thing": "gw-1"})";
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto ok = LoadDeviceFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok->thing, "gw-1");

  ASSERT_EQ(::chmod(path.c_str(), 0664), 0);
  auto group = LoadDeviceFile(path);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(group.status().message(), path +
                                          ": writable by its group (mode 0664): whoever can edit it can point the "
                                          "device at another broker or identity; fix: chmod 640 " +
                                          path);
  ASSERT_EQ(::chmod(path.c_str(), 0646), 0);
  EXPECT_NE(LoadDeviceFile(path).status().message().find("writable by others (mode 0646)"), std::string::npos);

  auto missing = LoadDeviceFile(dir + "/nope.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), dir + "/nope.json: No such file or directory");
  EXPECT_EQ(LoadDeviceFile(dir).status().message(), dir + ": not a regular file");
}

TEST(DeviceLogTest, LevelsFilterAndJournaldGetsEachLinesPriority) {
  EXPECT_FALSE(log::ParseLevel("verbose").ok());
  std::ostringstream plain;
  log::Init("edgeforge-device", plain, *log::ParseLevel("warn"), false);
  log::Debug("d");
  log::Info("i");
  log::Warn("w");
  log::Error("e");
  EXPECT_EQ(plain.str(), "edgeforge-device: w\nedgeforge-device: e\n");
  EXPECT_FALSE(log::Enabled(log::Level::kInfo));

  std::ostringstream journal;
  log::Init("edgeforge-device", journal, log::Level::kDebug, true);
  log::Debug("d");
  log::Info("i");
  log::Warn("w");
  log::Error("e");
  log::Sink(log::Level::kWarn)("link: connection lost");
  EXPECT_EQ(journal.str(),
            "<7>edgeforge-device: d\n<6>edgeforge-device: i\n<4>edgeforge-device: w\n<3>edgeforge-device: e\n"
            "<4>edgeforge-device: link: connection lost\n");
  // A '%' in the message or the program name is text, not a pattern flag.
  std::ostringstream percent;
  log::Init("edge%v", percent, log::Level::kInfo, false);
  log::Info("100% {}");
  EXPECT_EQ(percent.str(), "edge%v: 100% {}\n");
  // The log keeps a reference to its stream: point it back at one that outlives the test.
  log::Init("edgeforge-device", std::cout, log::Level::kInfo, false);
}

}  // namespace
}  // namespace edgeforge::cli
