// scripts/sbom against the binaries this build made: every shared library
// they load is listed under its Debian package with the version dpkg has
// installed, the project's chosen dependencies are all there, and the table
// in docs/security.md came from the script (same header).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/cli_run.h"
#include "tests/support/test_pki.h"

namespace edgeforge {
namespace {

TEST(SbomTest, ListsWhatTheBinariesLoadWithTheInstalledVersions) {
  const std::string bin = EDGEFORGE_BIN_DIR;
  const auto r = testing_support::RunShell(std::string(EDGEFORGE_SOURCE_DIR) + "/scripts/sbom " + bin +
                                           "/edgeforge-device " + bin + "/edgeforge");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "| Debian package | version | source | license (debian/copyright) | in |");
  std::set<std::string> packages;
  const std::regex row(R"(^\| ([^ |]+) \| ([^ |]+) \| ([^ |]+) \| .* \| (.+) \|$)");
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.rfind("|---", 0) == 0) continue;
    ASSERT_TRUE(std::regex_match(line, m, row)) << line;
    packages.insert(m[1]);
    // One line per installed architecture (a cross build adds :arm64 / :armhf
    // copies of the same libraries); the host's comes first, as in the script.
    const auto v = testing_support::RunShell("dpkg-query -W -f='${Version}\\n' " + m[1].str() + " | head -n 1");
    EXPECT_EQ(v.output, m[2].str() + "\n") << line;
  }
  for (const char* p : {"libpaho-mqtt1.3", "libpaho-mqttpp3-1", "libmbedcrypto7", "libmbedx509-1", "libssl3",
                        "libspdlog1.10", "nlohmann-json3-dev", "libcli11-dev", "libmosquitto1", "mosquitto"}) {
    EXPECT_EQ(packages.count(p), 1u) << p << " missing from:\n" << r.output;
  }
  const std::string doc = testing_support::ReadAll(std::string(EDGEFORGE_SOURCE_DIR) + "/docs/security.md");
  EXPECT_NE(doc.find("| Debian package | version | source | license (debian/copyright) | in |"), std::string::npos)
      << "docs/security.md's dependency table is made by scripts/sbom";
}

TEST(SbomTest, AMissingBinaryIsAnErrorNamingIt) {
  const auto r = testing_support::RunShell(std::string(EDGEFORGE_SOURCE_DIR) + "/scripts/sbom /nonexistent/bin");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.Has("/nonexistent/bin is not a built binary")) << r.output;
}

}  // namespace
}  // namespace edgeforge
