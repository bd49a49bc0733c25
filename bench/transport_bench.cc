// One transport, N sessions, each with its own client certificate, against a
// running broker: time until all connected, RSS per session, CPU per
// PUBACKed message at one QoS 1 publish per session per second. Run once per
// transport in separate processes (bench/transport_bench.sh does, and prints
// the ratio): the event-loop transport (sim/transport) against the peer, the
// Paho session the device binary uses.
//
// usage: edgeforge_transport_bench mosq|paho PKI_DIR BROKER_URI N SECONDS
// prints: transport=... sessions=N connect_s=... rss_kb_per_session=...
//         cpu_us_per_msg=... scheduled=... acked=... failed=...
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "certs/pki.h"
#include "firmware/link/paho/paho_session.h"
#include "sim/transport/event_loop.h"

namespace {

using namespace edgeforge;
using Steady = std::chrono::steady_clock;

long RssKb() {
  std::ifstream f("/proc/self/status");
  std::string k;
  long v = 0;
  while (f >> k) {
    if (k == "VmRSS:") {
      f >> v;
      return v;
    }
  }
  return 0;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s mosq|paho PKI_DIR BROKER_URI N SECONDS\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  const std::string pki = argv[2];
  const std::string uri = argv[3];
  const int n = std::atoi(argv[4]);
  const int seconds = std::atoi(argv[5]);
  if ((kind != "mosq" && kind != "paho") || n < 1 || seconds < 1) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  std::unique_ptr<sim::transport::EventLoop> loop;
  if (kind == "mosq") {
    auto l = sim::transport::EventLoop::Create({pki + "/ca.crt"});
    if (!l.ok()) {
      std::fprintf(stderr, "%s\n", l.status().ToString().c_str());
      return 1;
    }
    loop = std::move(*l);
  }
  const long rss0 = RssKb();
  std::vector<std::unique_ptr<link::Session>> sessions;
  std::vector<std::string> topics;
  for (int i = 0; i < n; ++i) {
    const std::string thing = certs::DeviceName("edge-", i + 1);
    const auto p = certs::PathsFor(pki, thing);
    link::SessionConfig c;
    c.server_uri = uri;
    c.client_id = thing;
    c.tls = {pki + "/ca.crt", p.cert, p.tls_key};
    c.connect_timeout = Millis(60000);
    auto s = loop ? loop->MakeSession(c) : link::MakePahoSession(c);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
      return 1;
    }
    sessions.push_back(std::move(*s));
    topics.push_back("dt/edgeforge/site-1/" + thing + "/telemetry");
  }
  auto pump = [&](Millis wait) {
    if (loop) {
      loop->RunOnce(wait);
    } else {
      std::this_thread::sleep_for(wait);
    }
    for (auto& s : sessions) s->Dispatch();
  };
  int connected = 0;
  int failed = 0;
  const auto t0 = Steady::now();
  for (auto& s : sessions) {
    (void)s->Connect([&](edgeforge::Status st) { st.ok() ? ++connected : ++failed; });
  }
  while (connected + failed < n && Steady::now() - t0 < std::chrono::seconds(120)) pump(Millis(2));
  const double connect_s = std::chrono::duration<double>(Steady::now() - t0).count();
  const long rss1 = RssKb();
  // A telemetry-sized payload (~600 bytes) and a JWS-sized user property.
  const std::string payload(600, 'x');
  const std::string jws(160, 'j');
  long acked = 0;
  long pub_failed = 0;
  long scheduled = 0;
  const double cpu0 = CpuSeconds();
  const auto w0 = Steady::now();
  // Publishes go out in 10 ms ticks (each session once per second, spread
  // evenly); between ticks the process sleeps in the loop (or, for Paho,
  // while its threads work), so the CPU measured is the transport's.
  const auto tick = std::chrono::milliseconds(10);
  const auto end = w0 + std::chrono::seconds(seconds);
  long next = 0;  // publishes issued so far; publish k is due at w0 + k/n s
  const long total = static_cast<long>(n) * seconds;
  while (next < total) {
    const auto now = Steady::now();
    while (next < total && w0 + std::chrono::microseconds(1'000'000LL * next / n) <= now) {
      const size_t i = static_cast<size_t>(next % n);
      ++scheduled;
      ++next;
      link::OutgoingMessage m{topics[i], payload, 1, {{"jws", jws}}};
      if (!sessions[i]->Publish(std::move(m), [&](edgeforge::Status st) { st.ok() ? ++acked : ++pub_failed; }).ok()) {
        ++pub_failed;
      }
    }
    const auto wake = std::min(end, now + tick);
    pump(std::chrono::duration_cast<Millis>(
        wake - Steady::now() > Steady::duration::zero() ? wake - Steady::now() : Steady::duration::zero()));
  }
  const auto drain_end = Steady::now() + std::chrono::seconds(10);
  while (acked + pub_failed < scheduled && Steady::now() < drain_end) pump(Millis(2));
  const double cpu = CpuSeconds() - cpu0;
  std::printf(
      "transport=%s sessions=%d connected=%d connect_s=%.2f rss_kb_per_session=%.1f cpu_us_per_msg=%.1f "
      "scheduled=%ld acked=%ld failed=%ld\n",
      kind.c_str(), n, connected, connect_s, static_cast<double>(rss1 - rss0) / n,
      acked > 0 ? cpu * 1e6 / static_cast<double>(acked) : 0.0, scheduled, acked, pub_failed);
  for (auto& s : sessions) s->Disconnect();
  pump(Millis(100));
  return connected == n && acked == scheduled ? 0 : 1;
}
