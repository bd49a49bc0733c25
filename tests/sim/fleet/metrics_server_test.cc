// The --prometheus endpoint (sim/fleet/metrics_server.h) over real sockets:
// what a scraper gets, what a bad client gets, and that neither stalls it.
#include "sim/fleet/metrics_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "tests/support/http_get.h"

namespace edgeforge::sim {
namespace {

using testing_support::ConnectLoopback;

std::string Ask(uint16_t port, const std::string& request) { return testing_support::HttpExchange(port, request); }

TEST(MetricsServerTest, ServesTheRenderedPageInTheTextFormat) {
  std::atomic<int> renders{0};
  auto s = MetricsServer::Start("127.0.0.1:0", [&] {
    ++renders;
    return PrometheusFamily("edgeforge_sim_published_messages_total", "counter", "Messages.", {{"", 42}}) +
           PrometheusFamily(
               "edgeforge_sim_latency_seconds", "histogram", "Latency.",
               {{"_bucket{le=\"0.005\"}", 3}, {"_bucket{le=\"+Inf\"}", 4}, {"_sum", 0.0125}, {"_count", 4}});
  });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_NE((*s)->port(), 0);
  const std::string r = Ask((*s)->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n# HELP edgeforge_sim_published_messages_total Messages.\n"
                   "# TYPE edgeforge_sim_published_messages_total counter\n"
                   "edgeforge_sim_published_messages_total 42\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("edgeforge_sim_latency_seconds_bucket{le=\"0.005\"} 3\n"), std::string::npos) << r;
  EXPECT_NE(r.find("edgeforge_sim_latency_seconds_sum 0.0125\n"), std::string::npos) << r;
  const size_t body = r.find("\r\n\r\n") + 4;
  EXPECT_NE(r.find("Content-Length: " + std::to_string(r.size() - body) + "\r\n"), std::string::npos) << r;
  EXPECT_EQ(renders.load(), 1);
  EXPECT_EQ((*s)->scrapes(), 1u);
  // A query string is fine; HEAD gets the head only.
  EXPECT_EQ(Ask((*s)->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  const std::string head = Ask((*s)->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(head.find("# HELP"), std::string::npos) << head;
}

TEST(MetricsServerTest, BadRequestsGetTheirStatusAndDoNotStallTheNextScrape) {
  auto s = MetricsServer::Start("localhost:0", [] { return std::string("up 1\n"); });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const uint16_t port = (*s)->port();
  EXPECT_EQ(Ask(port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Ask(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(Ask(port, "hello\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Ask(port, std::string(9000, 'A')).rfind("HTTP/1.1 400", 0), 0u);
  // A client that connects and says nothing is dropped after a second.
  const int silent = ConnectLoopback(port);
  ASSERT_GE(silent, 0);
  const std::string r = Ask(port, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  ::close(silent);
  EXPECT_EQ((*s)->scrapes(), 1u);
}

TEST(MetricsServerTest, BadAddressesAreNamed) {
  const auto render = [] { return std::string(); };
  for (const char* bad : {"9464", "127.0.0.1:99999", "127.0.0.1:x", "no.such.host.invalid:9464"}) {
    auto s = MetricsServer::Start(bad, render);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find(std::string("--prometheus ") + bad), std::string::npos) << s.status().message();
  }
  auto first = MetricsServer::Start("127.0.0.1:0", render);
  ASSERT_TRUE(first.ok());
  auto taken = MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), render);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), StatusCode::kUnavailable) << taken.status().ToString();
}

}  // namespace
}  // namespace edgeforge::sim
