// `edgeforge sim --prometheus ADDR` (issue 10): the run's live counters over
// HTTP in the Prometheus text exposition format (version 0.0.4), so a
// Prometheus or Grafana Agent beside the load test can scrape it while it
// runs, as emqtt-bench offers.
//
// A deliberately small server: one thread, blocking accept with poll(2) and a
// stop pipe, one request per connection (Connection: close), GET /metrics
// only. A scrape is a few KB every 15 s or so; nothing here needs more. Bad
// requests get 400, other paths 404, other methods 405; a client that sends
// nothing for a second is dropped so it cannot stall the next scrape.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hal/status.h"

namespace edgeforge::sim {

class MetricsServer {
 public:
  /// What GET /metrics answers with (called on the server's thread).
  using Render = std::function<std::string()>;

  /// Listens on `addr`: "host:port" ("127.0.0.1:9464", "0.0.0.0:9464",
  /// "localhost:0" for any free port) or ":port" (all interfaces).
  /// INVALID_ARGUMENT naming the address, UNAVAILABLE if it cannot bind.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& addr, Render render);
  ~MetricsServer();  // stops and joins the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// The bound port (the chosen one for port 0).
  uint16_t port() const;
  /// "http://127.0.0.1:PORT/metrics", for the log.
  std::string url() const;
  /// Requests answered 200 so far.
  uint64_t scrapes() const;

 private:
  class Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// One metric family in the text format: "# HELP", "# TYPE" and its sample
/// lines. Each sample is (what follows the family name on its line, value):
/// "" for a plain sample, "{group=\"a\"}" for labels, "_bucket{le=\"0.01\"}",
/// "_sum" or "_count" for a histogram's series; label values already escaped.
std::string PrometheusFamily(const std::string& name, const std::string& type, const std::string& help,
                             const std::vector<std::pair<std::string, double>>& samples);

}  // namespace edgeforge::sim
