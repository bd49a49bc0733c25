// The edgeforge-device .deb as a gateway gets it (cmake/packaging.cmake,
// deploy/debian/): built with cpack from this build tree, its control data
// and files read back with dpkg-deb, installed into the test's own root with
// dpkg -x, its systemd unit checked by systemd-analyze (verify, and security
// at most 2.5), and the unit's ExecStart command line run from that root
// against the local broker with a config written as an operator would: it
// passes --check, publishes telemetry the verifier accepts, and stops on
// SIGTERM with exit 0 within the unit's TimeoutStopSec. systemd itself does
// not run here (a CI container has no systemd as PID 1): systemd-analyze
// checks the unit, and the command line runs as the service would run it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "edgeforge/version.h"
#include "sim/broker/local_broker.h"
#include "sim/verify/live_ingest.h"
#include "sim/verify/verifier.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

using namespace std::chrono_literals;
using testing_support::CliRun;
using testing_support::RunShell;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// The value of `key=` in a unit file's text (the last one).
std::string UnitValue(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  std::string value;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0) value = line.substr(key.size() + 1);
  }
  return value;
}

class DebPackageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One package for the suite: cpack strips and compresses the binary.
    out_ = new std::string(testing_support::MakeTempDir("debpkg"));
    const CliRun r = RunShell("cd " + std::string(EDGEFORGE_BIN_DIR) + " && cpack -G DEB -B " + *out_);
    build_output_ = new std::string(r.output);
    const CliRun arch = RunShell("dpkg --print-architecture");
    deb_ = new std::string(*out_ + "/edgeforge-device_" + kVersion + "_" + Trim(arch.output) + ".deb");
  }
  static void TearDownTestSuite() {
    delete out_;
    delete deb_;
    delete build_output_;
  }
  void SetUp() override {
    struct stat st {};
    ASSERT_EQ(::stat(deb_->c_str(), &st), 0) << "cpack made no " << *deb_ << ":\n" << *build_output_;
  }
  static std::string* out_;
  static std::string* deb_;
  static std::string* build_output_;
};
std::string* DebPackageTest::out_ = nullptr;
std::string* DebPackageTest::deb_ = nullptr;
std::string* DebPackageTest::build_output_ = nullptr;

TEST_F(DebPackageTest, ControlDataAndFilesAreWhatADeviceNeeds) {
  auto field = [](const std::string& f) { return Trim(RunShell("dpkg-deb -f " + *deb_ + " " + f).output); };
  EXPECT_EQ(field("Package"), "edgeforge-device");
  EXPECT_EQ(field("Version"), kVersion);
  EXPECT_EQ(field("Architecture"), Trim(RunShell("dpkg --print-architecture").output));
  const std::string depends = field("Depends");
  for (const char* lib : {"libpaho-mqttpp3-1", "libpaho-mqtt1.3", "libmbedcrypto7", "libmbedx509-1", "libssl3",
                          "libspdlog1.10", "adduser"}) {
    EXPECT_NE(depends.find(lib), std::string::npos) << lib << " not in Depends: " << depends;
  }
  EXPECT_EQ(Trim(RunShell("dpkg-deb -I " + *deb_ + " conffiles").output), "/etc/edgeforge/device.json");

  // The maintainer scripts are in the package, executable and valid sh (they
  // are not run here: they would add a system user to this machine).
  const std::string control = testing_support::MakeTempDir("debcontrol");
  ASSERT_EQ(RunShell("dpkg-deb -e " + *deb_ + " " + control).exit_code, 0);
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    const std::string path = control + "/" + script;
    EXPECT_EQ(::access(path.c_str(), X_OK), 0) << script;
    const CliRun syntax = RunShell("sh -n " + path);
    EXPECT_EQ(syntax.exit_code, 0) << script << ": " << syntax.output;
  }
  EXPECT_NE(RunShell("cat " + control + "/postinst").output.find("adduser --system --group"), std::string::npos);

  const std::string files = RunShell("dpkg-deb -c " + *deb_).output;
  for (const char* f :
       {"./usr/bin/edgeforge-device", "./etc/edgeforge/device.json", "./lib/systemd/system/edgeforge-device.service",
        "./usr/share/edgeforge/boards/factory-node.json", "./usr/share/edgeforge/boards/traffic-node.json",
        "./usr/share/doc/edgeforge-device/edgeforge-device.help.txt",
        "./usr/share/doc/edgeforge-device/device-config.md"}) {
    EXPECT_NE(files.find(f), std::string::npos) << f << " not in the package:\n" << files;
  }
  // Only the device: the simulator and the host tools stay out.
  EXPECT_EQ(files.find("./usr/bin/edgeforge\n"), std::string::npos) << files;
  EXPECT_EQ(files.find(" ./usr/bin/edgeforge "), std::string::npos) << files;
  // The config is the service group's to read, nobody else's; the binary is stripped.
  EXPECT_NE(files.find("-rw-r----- root/root"), std::string::npos) << files;
  const std::string root = testing_support::MakeTempDir("debroot");
  ASSERT_EQ(RunShell("dpkg -x " + *deb_ + " " + root).exit_code, 0);
  EXPECT_EQ(Trim(RunShell("readelf -S " + root + "/usr/bin/edgeforge-device | grep -c '\\.symtab'").output), "0")
      << "the packaged binary keeps its symbol table";
  const CliRun help = RunShell("cat " + root + "/usr/share/doc/edgeforge-device/edgeforge-device.help.txt");
  EXPECT_NE(help.output.find("--config F"), std::string::npos) << help.output;
}

TEST_F(DebPackageTest, TheUnitVerifiesAndItsExposureIsAtMost2Point5) {
  const std::string root = testing_support::MakeTempDir("debroot");
  ASSERT_EQ(RunShell("dpkg -x " + *deb_ + " " + root).exit_code, 0);
  const std::string unit = root + "/lib/systemd/system/edgeforge-device.service";
  // verify wants ExecStart's binary to exist: a copy of the unit with the
  // binary's path rebased into the root (the unpacked package), checked
  // against this system's units (sysinit.target, network-online.target, ...).
  std::ifstream in(unit);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string exec = "ExecStart=/usr/bin/edgeforge-device";
  ASSERT_NE(text.find(exec), std::string::npos) << text;
  text.replace(text.find(exec), exec.size(), "ExecStart=" + root + "/usr/bin/edgeforge-device");
  const std::string copy_dir = testing_support::MakeTempDir("debunit");
  std::ofstream(copy_dir + "/edgeforge-device.service") << text;
  const CliRun verify = RunShell("systemd-analyze verify " + copy_dir + "/edgeforge-device.service");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_EQ(verify.output, "") << "systemd-analyze verify warned";
  const CliRun security = RunShell("systemd-analyze security --offline=true " + unit);
  ASSERT_EQ(security.exit_code, 0) << security.output;
  std::smatch m;
  static const std::regex re(R"(Overall exposure level for edgeforge-device\.service: ([0-9.]+))");
  ASSERT_TRUE(std::regex_search(security.output, m, re)) << security.output;
  const double exposure = std::stod(m[1]);
  std::cout << "[ info ] systemd-analyze security --offline=true: exposure " << exposure << "\n";
  EXPECT_LE(exposure, 2.5) << security.output;
}

TEST_F(DebPackageTest, TheServicesCommandLineFromTheInstalledRootPublishesVerifiedTelemetry) {
  const std::string root = testing_support::MakeTempDir("debroot");
  ASSERT_EQ(RunShell("dpkg -x " + *deb_ + " " + root).exit_code, 0);
  std::ifstream unit_in(root + "/lib/systemd/system/edgeforge-device.service");
  const std::string unit((std::istreambuf_iterator<char>(unit_in)), std::istreambuf_iterator<char>());
  const std::string exec = UnitValue(unit, "ExecStart");
  ASSERT_EQ(exec, "/usr/bin/edgeforge-device --config /etc/edgeforge/device.json");
  const std::string stop = UnitValue(unit, "TimeoutStopSec");
  ASSERT_FALSE(stop.empty());

  // The local broker, an identity, and the config an operator writes over the sample.
  const std::string pki = testing_support::MakePki({"deb-gw-1"}, "debpki");
  sim::BrokerOptions o;
  o.pki_dir = pki;
  o.work_dir = testing_support::MakeTempDir("debbroker");
  auto broker = sim::LocalBroker::Start(o);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  sim::TelemetryVerifier verifier(testing_support::Jwks(pki), jws::Backend::kOpenSsl);
  sim::LiveIngestOptions io;
  io.broker_uri = (*broker)->uri();
  io.pki_dir = pki;
  io.client_id = sim::kIngestIdentity;
  io.filter = "dt/edgeforge/+/+/+";
  auto ingest = sim::LiveIngest::Start(
      io, [&verifier](const link::IncomingMessage& m) { verifier.Check(m.topic, m.payload, m.UserProperty("jws")); },
      verifier);
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();

  const std::string config = root + "/etc/edgeforge/device.json";
  auto sample = nlohmann::json::parse(std::ifstream(config));
  EXPECT_EQ(sample["state_dir"], "/var/lib/edgeforge");
  sample["thing"] = "deb-gw-1";
  sample["broker"] = (*broker)->uri();
  sample["certs"] = pki;
  sample["state_dir"] = root + "/var/lib/edgeforge";  // the unit's StateDirectory=, inside the test root
  // The packaged factory board, adapted as an operator may: a window a second.
  auto board = nlohmann::json::parse(std::ifstream(root + "/usr/share/edgeforge/boards/factory-node.json"));
  board["report_ms"] = 1000;
  std::ofstream(root + "/etc/edgeforge/line-board.json") << board.dump(2);
  sample["board"] = root + "/etc/edgeforge/line-board.json";
  sample["sim_sensors"] = true;  // no sensors on this machine
  std::ofstream(config) << sample.dump(2);
  ASSERT_EQ(::chmod(config.c_str(), 0640), 0);
  ASSERT_EQ(RunShell("install -d -m 0700 " + root + "/var/lib/edgeforge").exit_code, 0);

  // ExecStart with its paths rebased into the root.
  const std::string bin = root + "/usr/bin/edgeforge-device";
  const CliRun check = RunShell(bin + " --config " + config + " --check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_TRUE(check.Has("check: all passed")) << check.output;

  ASSERT_EQ(::setenv("JOURNAL_STREAM", "8:4242", 1), 0);  // as under systemd: stdout is journald's
  testing_support::BackgroundRun device(testing_support::Command{{bin, "--config", config}});
  ::unsetenv("JOURNAL_STREAM");
  ASSERT_TRUE(device.WaitForOutput("<6>edgeforge-device: deb-gw-1 (factory-node, simulated parts) boot 1", 30s))
      << device.Output();
  const auto until = std::chrono::steady_clock::now() + 40s;
  while (verifier.verified() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(200ms);
  const auto sent = std::chrono::steady_clock::now();
  device.Signal(SIGTERM);
  const CliRun r = device.Wait();
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(took, std::chrono::seconds(std::stoi(stop))) << "SIGTERM took longer than TimeoutStopSec=" << stop;
  EXPECT_TRUE(r.Has("<6>edgeforge-device: stopped: published")) << r.output;
  (void)(*ingest)->Stop(1s);
  const sim::VerifyReport report = verifier.Report();
  EXPECT_GE(report.verified, 2u) << r.output;
  EXPECT_EQ(report.invalid, 0u);
  EXPECT_EQ(report.lost, 0u);
}

}  // namespace
}  // namespace edgeforge
