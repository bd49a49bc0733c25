// Watching a live run: `edgeforge sim --prometheus` (while a real fleet runs,
// with the local mosquitto, TLS and the verifier, its /metrics page shows the
// run's counters moving) and the progress line on a terminal.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "sim/fleet/fleet.h"
#include "tests/support/http_get.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using namespace std::chrono_literals;

/// The value of the sample line `name ` in a metrics page; -1 if absent.
double Sample(const std::string& page, const std::string& name) {
  const size_t at = page.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + name.size() + 2));
}

TEST(FleetPrometheusTest, TheLivePageFollowsTheRun) {
  const uint16_t port = testing_support::FreeLoopbackPort();
  FleetOptions o;
  o.devices = 6;
  o.duration = 4s;
  o.interval = 1s;
  o.work_dir = testing_support::MakeTempDir("fleetprom");
  o.prometheus_addr = "127.0.0.1:" + std::to_string(port);
  std::atomic<bool> done{false};
  std::string last_page;
  double max_published = -1;
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string r = testing_support::HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
      if (r.rfind("HTTP/1.1 200", 0) == 0) {
        last_page = r;
        max_published = std::max(max_published, Sample(r, "edgeforge_sim_published_messages_total"));
      }
      std::this_thread::sleep_for(200ms);
    }
  });
  std::ostringstream log;
  auto r = RunFleet(o, log);
  done = true;
  scraper.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  EXPECT_TRUE(r->Passed()) << log.str();
  EXPECT_NE(log.str().find("prometheus: serving http://127.0.0.1:" + std::to_string(port) + "/metrics"),
            std::string::npos)
      << log.str();
  ASSERT_FALSE(last_page.empty()) << "never scraped\n" << log.str();
  EXPECT_EQ(Sample(last_page, "edgeforge_sim_devices"), 6);
  EXPECT_EQ(Sample(last_page, "edgeforge_sim_connected_devices"), 6);
  EXPECT_EQ(Sample(last_page, "edgeforge_sim_up"), 1);
  EXPECT_NEAR(Sample(last_page, "edgeforge_sim_scheduled_messages_per_second"), 6.0, 1e-9);
  EXPECT_GT(max_published, 0) << last_page;
  EXPECT_GE(Sample(last_page, "edgeforge_sim_verified_messages_total"), 0) << last_page;
  EXPECT_NE(last_page.find("# TYPE edgeforge_sim_latency_seconds histogram\n"), std::string::npos) << last_page;
  EXPECT_EQ(Sample(last_page, "edgeforge_sim_latency_seconds_count"),
            Sample(last_page, "edgeforge_sim_latency_seconds_bucket{le=\"+Inf\"}"))
      << last_page;
  EXPECT_NE(last_page.find("edgeforge_sim_errors_total{kind=\"dropped\"} 0\n"), std::string::npos) << last_page;
  // The run is over: nothing listens any more.
  EXPECT_EQ(testing_support::ConnectLoopback(port), -1);
}

// On a terminal the progress line is redrawn in place every second, cut to
// the terminal's width, and every other line first takes it off the screen.
TEST(FleetLiveProgressTest, OneLineRedrawnInPlaceAndCutToTheTerminal) {
  FleetOptions o;
  o.devices = 4;
  o.duration = 3s;
  o.interval = 1s;
  o.work_dir = testing_support::MakeTempDir("fleetlive");
  o.live_progress = true;
  o.terminal_columns = 60;
  std::ostringstream log;
  auto r = RunFleet(o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string out = log.str();
  const std::string clear = "\r\x1b[K";
  size_t redraws = 0;
  for (size_t at = out.find(clear); at != std::string::npos; at = out.find(clear, at + 1)) {
    const size_t end = out.find_first_of("\r\n", at + clear.size());
    const std::string line = out.substr(at + clear.size(), end - at - clear.size());
    if (line.empty()) continue;  // cleared for another line
    ++redraws;
    EXPECT_EQ(line.rfind("t=", 0), 0u) << line;
    EXPECT_LE(line.size(), 59u) << line;
  }
  EXPECT_GE(redraws, 3u) << out;
  // Other lines start on a line of their own (a fresh one, or the live line
  // cleared first), and the last live line is ended with a newline.
  for (const char* other : {"devices: 4/4 connected", "pki: "}) {
    const size_t at = out.find(other);
    if (at == std::string::npos) continue;
    const bool fresh = at == 0 || out[at - 1] == '\n';
    const bool cleared = at >= clear.size() && out.compare(at - clear.size(), clear.size(), clear) == 0;
    EXPECT_TRUE(fresh || cleared) << other;
  }
  EXPECT_NE(out.find('\n', out.rfind(clear)), std::string::npos) << "the last live line is never ended";
}

}  // namespace
}  // namespace edgeforge::sim
