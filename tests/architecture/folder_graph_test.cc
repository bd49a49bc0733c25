// The source tree's folder graph (docs/architecture.md): folder A depends on
// folder B when a file directly in A includes "B/x.h". The graph has no
// cycles: a cycle means two folders that can only be understood, built and
// tested together, which the layers are there to prevent. A failure names
// each cycle and, for each of its edges, one include that makes it.
//
// The layers between the project's own libraries are enforced by the build
// (each library sees only the headers of what it links, CMakeLists.txt).
// Third-party headers all live in /usr/include, where include paths cannot
// fence them off, so the last test here checks that the firmware core and
// the HAL's interfaces include no MQTT client, log or CLI library.
//
// Run it alone: ctest --preset ci -R FolderGraph
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace edgeforge {
namespace {

namespace fs = std::filesystem;

// The folders the product is built from (tests/ and bench/ may include anything).
const char* const kRoots[] = {"hal", "firmware", "sim", "certs", "cli"};

struct FolderGraph {
  // folder -> folder it includes from -> one "file: #include" that shows it
  std::map<std::string, std::map<std::string, std::string>> edges;
  size_t files = 0;
};

FolderGraph ReadGraph(const fs::path& source_dir) {
  FolderGraph g;
  const std::regex include_re(R"re(^\s*#\s*include\s+"([^"]+)")re");
  for (const char* root : kRoots) {
    for (const auto& entry : fs::recursive_directory_iterator(source_dir / root)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      ++g.files;
      const std::string rel = fs::relative(entry.path(), source_dir).generic_string();
      const std::string from = fs::path(rel).parent_path().generic_string();
      std::ifstream in(entry.path());
      std::string line;
      std::smatch m;
      while (std::getline(in, line)) {
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string to = fs::path(m[1].str()).parent_path().generic_string();
        if (to.empty() || to == from || to == "edgeforge") continue;  // edgeforge/: generated (version.h)
        g.edges[from].emplace(to, rel + ": #include \"" + m[1].str() + "\"");
      }
    }
  }
  return g;
}

// Strongly connected components with more than one folder (Tarjan).
std::vector<std::vector<std::string>> Cycles(const FolderGraph& g) {
  std::map<std::string, int> index;
  std::map<std::string, int> low;
  std::vector<std::string> stack;
  std::set<std::string> on_stack;
  std::vector<std::vector<std::string>> cycles;
  int next = 0;
  std::function<void(const std::string&)> visit = [&](const std::string& v) {
    index[v] = low[v] = next++;
    stack.push_back(v);
    on_stack.insert(v);
    auto it = g.edges.find(v);
    if (it != g.edges.end()) {
      for (const auto& [w, why] : it->second) {
        if (index.count(w) == 0) {
          visit(w);
          low[v] = std::min(low[v], low[w]);
        } else if (on_stack.count(w) != 0) {
          low[v] = std::min(low[v], index[w]);
        }
      }
    }
    if (low[v] != index[v]) return;
    std::vector<std::string> component;
    std::string w;
    do {
      w = stack.back();
      stack.pop_back();
      on_stack.erase(w);
      component.push_back(w);
    } while (w != v);
    if (component.size() > 1) cycles.push_back(component);
  };
  for (const auto& [v, out] : g.edges) {
    if (index.count(v) == 0) visit(v);
  }
  return cycles;
}

std::string Describe(const FolderGraph& g, const std::vector<std::string>& cycle) {
  const std::set<std::string> members(cycle.begin(), cycle.end());
  std::ostringstream out;
  out << "folder cycle:";
  for (const auto& f : cycle) out << " " << f;
  out << "\n";
  for (const auto& from : cycle) {
    for (const auto& [to, why] : g.edges.at(from)) {
      if (members.count(to) != 0) out << "  " << from << " -> " << to << " (" << why << ")\n";
    }
  }
  return out.str();
}

TEST(FolderGraphTest, TheSourceFoldersIncludeEachOtherWithoutCycles) {
  const FolderGraph g = ReadGraph(EDGEFORGE_SOURCE_DIR);
  ASSERT_GT(g.files, 100u) << "read too few sources under " << EDGEFORGE_SOURCE_DIR;
  ASSERT_GT(g.edges.size(), 10u);
  for (const auto& cycle : Cycles(g)) ADD_FAILURE() << Describe(g, cycle);
}

// The check itself: a graph with a cycle is reported, with the includes.
TEST(FolderGraphTest, ACycleIsFoundAndNamedWithItsIncludes) {
  FolderGraph g;
  g.edges["firmware/link"]["firmware/app"] = "firmware/link/shadow.h: #include \"firmware/app/device_config.h\"";
  g.edges["firmware/app"]["firmware/link"] = "firmware/app/device.h: #include \"firmware/link/link.h\"";
  g.edges["firmware/app"]["hal"] = "firmware/app/device.h: #include \"hal/clock.h\"";
  const auto cycles = Cycles(g);
  ASSERT_EQ(cycles.size(), 1u);
  const std::string text = Describe(g, cycles[0]);
  EXPECT_NE(text.find("firmware/link -> firmware/app (firmware/link/shadow.h"), std::string::npos) << text;
  EXPECT_NE(text.find("firmware/app -> firmware/link (firmware/app/device.h"), std::string::npos) << text;
  EXPECT_EQ(text.find("hal"), std::string::npos) << text;
}

// The firmware core (everything in firmware/ but the Paho session and the
// Linux composition) and the HAL's interfaces: portable, so no MQTT client
// (Paho, libmosquitto), no log library (the core logs through callbacks) and
// no command-line library.
TEST(FolderGraphTest, TheFirmwareCoreAndTheHalInterfacesIncludeNoClientLibrary) {
  const fs::path root = EDGEFORGE_SOURCE_DIR;
  const std::regex system_re(R"re(^\s*#\s*include\s+<([^>]+)>)re");
  const std::regex forbidden_re(R"re(^(mqtt/|MQTT[A-Za-z]*\.h$|mosquitto\.h$|spdlog/|CLI/|openssl/ssl\.h$))re");
  size_t files = 0;
  auto check = [&](const fs::path& file) {
    ++files;
    std::ifstream in(file);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, system_re) && std::regex_search(m[1].str(), forbidden_re)) {
        ADD_FAILURE() << fs::relative(file, root).generic_string() << ": #include <" << m[1].str()
                      << "> (docs/architecture.md: the core is portable; this belongs in firmware/link/paho, "
                         "firmware/linux, sim or cli)";
      }
    }
  };
  for (const auto& entry : fs::directory_iterator(root / "hal")) {
    if (entry.is_regular_file()) check(entry.path());
  }
  for (const auto& entry : fs::recursive_directory_iterator(root / "firmware")) {
    const std::string rel = fs::relative(entry.path(), root).generic_string();
    if (!entry.is_regular_file() || rel.rfind("firmware/link/paho/", 0) == 0 || rel.rfind("firmware/linux/", 0) == 0) {
      continue;
    }
    check(entry.path());
  }
  EXPECT_GT(files, 80u);
}

}  // namespace
}  // namespace edgeforge
