// Integration: link::PahoSession against a real mosquitto (sim/broker), real
// TLS and real sockets: non-blocking connect with every outcome delivered by
// Dispatch() on the calling thread, how each connect failure is classified,
// in-flight publishes when the broker dies, the last will, SNI and ALPN bytes.
#include <MQTTAsync.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "firmware/link/paho/paho_session.h"
#include "sim/broker/local_broker.h"
#include "tests/support/pumped_session.h"
#include "tests/support/silent_listener.h"
#include "tests/support/test_pki.h"

namespace edgeforge::link {
namespace {

using namespace std::chrono_literals;
using testing_support::MakePki;
using testing_support::MakeTempDir;
using testing_support::SilentListener;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

/// Records every call of a ConnectDone / PublishDone / ConnectionLost.
class Calls {
 public:
  std::function<void(Status)> Recorder() {
    return [this](Status s) {
      std::lock_guard<std::mutex> lock(mu_);
      statuses_.push_back(std::move(s));
      threads_.push_back(std::this_thread::get_id());
    };
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return statuses_.size();
  }
  /// Dispatches `s` until the first call (bounded) and returns its status.
  Status First(Session& s, std::chrono::milliseconds limit = 20s) const {
    if (!WaitFor(
            [&] {
              s.Dispatch();
              return count() > 0;
            },
            limit)) {
      return Internal("callback never ran");
    }
    std::lock_guard<std::mutex> lock(mu_);
    return statuses_.front();
  }
  std::thread::id first_thread() const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.empty() ? std::thread::id() : threads_.front();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Status> statuses_;
  std::vector<std::thread::id> threads_;
};

/// A loopback port nothing listens on (bound once, then released).
int RefusingPort() {
  SilentListener l;
  return l.port();
}

/// What a client put into its TLS ClientHello (RFC 8446 section 4.1.2).
struct ClientHello {
  std::string sni;                // RFC 6066 section 3, server_name host_name
  std::vector<std::string> alpn;  // RFC 7301 section 3.1, protocol_name_list
  bool alpn_present = false;
  bool parsed = false;
};

/// Parses the first TLS record: a handshake record holding a ClientHello.
ClientHello ParseClientHello(const std::vector<uint8_t>& b) {
  ClientHello out;
  size_t p = 0;
  auto u8 = [&](size_t at) -> size_t { return at < b.size() ? b[at] : 0; };
  auto u16 = [&](size_t at) -> size_t { return (u8(at) << 8) | u8(at + 1); };
  if (b.size() < 9 || b[0] != 0x16 || b[5] != 0x01) return out;  // handshake / client_hello
  p = 5 + 4 + 2 + 32;                                            // headers, legacy_version, random
  p += 1 + u8(p);                                                // legacy_session_id
  p += 2 + u16(p);                                               // cipher_suites
  p += 1 + u8(p);                                                // legacy_compression_methods
  const size_t end = std::min(b.size(), p + 2 + u16(p));
  for (p += 2; p + 4 <= end;) {
    const size_t type = u16(p), len = u16(p + 2), data = p + 4;
    if (type == 0 && len >= 5 && u8(data + 2) == 0) {  // server_name, first entry host_name
      const size_t n = u16(data + 3);
      out.sni.assign(b.begin() + static_cast<long>(data + 5), b.begin() + static_cast<long>(data + 5 + n));
    }
    if (type == 16) {  // application_layer_protocol_negotiation
      out.alpn_present = true;
      for (size_t q = data + 2; q < data + len && q + 1 + u8(q) <= data + len; q += 1 + u8(q)) {
        out.alpn.emplace_back(b.begin() + static_cast<long>(q + 1), b.begin() + static_cast<long>(q + 1 + u8(q)));
      }
    }
    p = data + len;
  }
  out.parsed = p == end;
  return out;
}

/// Accepts one connection on `listener`, reads its first TLS record, closes it.
std::vector<uint8_t> CaptureFirstRecord(const SilentListener& listener) {
  std::vector<uint8_t> bytes;
  pollfd pl{listener.fd(), POLLIN, 0};
  if (::poll(&pl, 1, 10000) != 1) return bytes;
  const int c = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return bytes;
  for (;;) {
    const size_t want = bytes.size() >= 5 ? 5 + ((size_t{bytes[3]} << 8) | bytes[4]) : 5;
    if (bytes.size() >= want) break;
    pollfd pc{c, POLLIN, 0};
    if (::poll(&pc, 1, 10000) != 1) break;
    uint8_t buf[4096];
    const ssize_t n = ::read(c, buf, std::min(sizeof(buf), want - bytes.size()));
    if (n <= 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  ::close(c);
  return bytes;
}

/// mosquitto on a free loopback port with the suite's TLS files but without
/// use_identity_as_username: every client lacks a user name, and with
/// allow_anonymous false mosquitto refuses it in CONNACK.
class RefusingMosquitto {
 public:
  RefusingMosquitto(const std::string& pki, const std::string& work) {
    auto bin = sim::FindMosquitto("");
    if (!bin.ok()) {
      ADD_FAILURE() << bin.status().ToString();
      return;
    }
    port_ = RefusingPort();
    const std::string conf = work + "/mosquitto.conf";
    std::ofstream(conf) << "per_listener_settings false\nallow_anonymous false\n"
                        << "log_dest file " << work << "/mosquitto.log\n"
                        << "user " << (::getpwuid(::geteuid()) ? ::getpwuid(::geteuid())->pw_name : "root") << "\n"
                        << "listener " << port_ << " 127.0.0.1\n"
                        << "cafile " << pki << "/ca.crt\ncertfile " << pki << "/broker.crt\nkeyfile " << pki
                        << "/broker.key\nrequire_certificate true\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(bin->c_str(), bin->c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const bool up = WaitFor([&] { return PortAccepts(port_); }, 10s);
    EXPECT_TRUE(up) << testing_support::ReadAll(work + "/mosquitto.log");
  }
  ~RefusingMosquitto() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string uri() const { return "ssl://localhost:" + std::to_string(port_); }

 private:
  static bool PortAccepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    return ok;
  }
  int port_ = 0;
  pid_t pid_ = -1;
};

class SessionITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakePki({"dev-a", "dev-b", "dev-c", "dev-d"}, "sessionitest"));
    broker_ = StartBroker().release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete pki_;
  }

  static std::unique_ptr<sim::LocalBroker> StartBroker() {
    sim::BrokerOptions o;
    o.pki_dir = *pki_;
    o.work_dir = MakeTempDir("sessionbroker");
    auto b = sim::LocalBroker::Start(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(*b) : nullptr;
  }

  static SessionConfig ConfigFor(const std::string& thing, const std::string& uri) {
    return testing_support::DeviceSessionConfig(*pki_, thing, uri);
  }

  static SessionConfig IngestConfig(const std::string& uri) {
    SessionConfig c = ConfigFor(sim::kIngestIdentity, uri);
    c.tls.cert_file = *pki_ + "/ingest.crt";
    c.tls.key_file = *pki_ + "/ingest.key";
    return c;
  }

  static std::unique_ptr<Session> Make(const SessionConfig& c) {
    auto s = MakePahoSession(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  /// Connect(); the failure `done` reported (Dispatch()ed on this thread).
  static Status ConnectResult(const SessionConfig& c) {
    auto s = Make(c);
    if (!s) return Internal("no session");
    Calls done;
    Status started = s->Connect(done.Recorder());
    if (!started.ok()) return started;
    const Status result = done.First(*s, c.connect_timeout + 10s);
    EXPECT_EQ(done.count(), 1u);
    EXPECT_FALSE(s->IsConnected());
    return result;
  }

  /// The blocking helper (session.cc), on the real clock.
  static Status ConnectAndWait(Session& s, Millis limit = 15s) {
    SystemClock clock;
    return link::ConnectAndWait(s, clock, limit);
  }

  static std::string* pki_;
  static sim::LocalBroker* broker_;
};
std::string* SessionITest::pki_ = nullptr;
sim::LocalBroker* SessionITest::broker_ = nullptr;

TEST_F(SessionITest, ConnectReportsOkOnceFromDispatchOnTheCallingThread) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  Calls done;
  ASSERT_TRUE(s->Connect(done.Recorder()).ok());
  const Status st = done.First(*s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(done.first_thread(), std::this_thread::get_id()) << "done must run from Dispatch(), on its caller";
  EXPECT_TRUE(s->IsConnected());
  const Status again = s->Connect(done.Recorder());
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  s->Disconnect();
  EXPECT_FALSE(s->IsConnected());
  std::this_thread::sleep_for(100ms);
  s->Dispatch();
  EXPECT_EQ(done.count(), 1u);
}

TEST_F(SessionITest, KeepaliveAndCleanStartReachTheBroker) {
  ASSERT_NE(broker_, nullptr);
  SessionConfig c = ConfigFor("dev-c", broker_->uri());
  c.keepalive_s = 45;
  c.clean_start = false;
  c.session_expiry_s = 60;
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  // mosquitto logs "New client connected from ... as dev-c (p5, c0, k45, u'dev-c')".
  EXPECT_TRUE(WaitFor([&] { return broker_->LogTail(100000).find("as dev-c (p5, c0, k45") != std::string::npos; }))
      << broker_->LogTail();
  s->Disconnect();
}

TEST_F(SessionITest, PublishWhileDisconnectedFailsFastWithoutCallingDone) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  Calls done;
  OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-a/telemetry";
  m.payload = "{}";
  const Status st = s->Publish(m, done.Recorder());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("not connected"), std::string::npos) << st.ToString();
  std::this_thread::sleep_for(100ms);
  s->Dispatch();
  EXPECT_EQ(done.count(), 0u);
}

TEST_F(SessionITest, PortWithoutListenerIsUnavailable) {
  const Status st = ConnectResult(ConfigFor("dev-a", "ssl://localhost:" + std::to_string(RefusingPort())));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_FALSE(IsAuthFailure(st));
  EXPECT_NE(st.message().find("dev-a@ssl://localhost:"), std::string::npos) << st.ToString();
}

TEST_F(SessionITest, ListenerThatNeverAnswersIsDeadlineExceeded) {
  SilentListener hole;
  SessionConfig c = ConfigFor("dev-a", "ssl://localhost:" + std::to_string(hole.port()));
  c.connect_timeout = 1000ms;
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  Calls done;
  ASSERT_TRUE(s->Connect(done.Recorder()).ok());
  EXPECT_EQ(done.count(), 0u) << "Connect must return before the attempt ends";
  const Status st = done.First(*s);
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_EQ(done.count(), 1u);
  // The blocking helper says the same (Paho's timeout, checked every 3 s, comes first).
  auto blocking = Make(c);
  ASSERT_NE(blocking, nullptr);
  const Status b = ConnectAndWait(*blocking);
  EXPECT_EQ(b.code(), StatusCode::kDeadlineExceeded) << b.ToString();
  EXPECT_NE(b.message().find("no CONNACK"), std::string::npos) << b.ToString();
}

TEST_F(SessionITest, ClientCertificateFromAnotherCaIsUnauthenticated) {
  ASSERT_NE(broker_, nullptr);
  const std::string rogue = MakePki({"dev-a"}, "rogue");  // same CN, foreign CA
  SessionConfig c = ConfigFor("dev-a", broker_->uri());
  const auto p = certs::PathsFor(rogue, "dev-a");
  c.tls.cert_file = p.cert;
  c.tls.key_file = p.tls_key;
  const Status st = ConnectResult(c);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st.ToString();
  EXPECT_TRUE(IsAuthFailure(st));
}

TEST_F(SessionITest, ClientThatDoesNotTrustTheBrokerIsUnauthenticated) {
  ASSERT_NE(broker_, nullptr);
  const std::string other = MakePki({"dev-a"}, "othertrust");
  SessionConfig c = ConfigFor("dev-a", broker_->uri());
  c.tls.ca_file = other + "/ca.crt";  // trusts a CA that did not sign broker.crt
  const Status st = ConnectResult(c);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st.ToString();
  EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.ToString();
}

TEST_F(SessionITest, ConnackRefusalIsAnAuthFailureWithItsReasonCode) {
  RefusingMosquitto refusing(*pki_, MakeTempDir("refusing"));
  const Status st = ConnectResult(ConfigFor("dev-a", refusing.uri()));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("CONNACK MQTT 5 reason 0x87"), std::string::npos) << st.ToString();
}

TEST_F(SessionITest, DisconnectDuringConnectCancelsOnceAndDestroyDropsTheCallback) {
  SilentListener hole;
  SessionConfig c = ConfigFor("dev-a", "ssl://localhost:" + std::to_string(hole.port()));
  c.connect_timeout = 1000ms;
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  Calls done;
  ASSERT_TRUE(s->Connect(done.Recorder()).ok());
  const Status second = s->Connect(done.Recorder());
  EXPECT_EQ(second.code(), StatusCode::kFailedPrecondition) << second.ToString();
  s->Disconnect();
  EXPECT_EQ(done.count(), 0u) << "CANCELLED comes from a later Dispatch()";
  EXPECT_EQ(done.First(*s).code(), StatusCode::kCancelled);
  std::this_thread::sleep_for(c.connect_timeout + 4s);  // Paho's own timeout passes
  s->Dispatch();
  EXPECT_EQ(done.count(), 1u) << "the abandoned attempt must not report again";

  Calls dropped;
  auto doomed = Make(c);
  ASSERT_NE(doomed, nullptr);
  ASSERT_TRUE(doomed->Connect(dropped.Recorder()).ok());
  doomed.reset();  // mid-connect
  std::this_thread::sleep_for(c.connect_timeout + 4s);
  EXPECT_EQ(dropped.count(), 0u);
}

TEST_F(SessionITest, SniIsTheUriHostAndAlpnIsOffered) {
  for (const bool with_alpn : {true, false}) {
    SilentListener server;
    SessionConfig c = ConfigFor("dev-a", "ssl://localhost:" + std::to_string(server.port()));
    if (with_alpn) c.alpn = {"x-amzn-mqtt-ca"};
    auto s = Make(c);
    ASSERT_NE(s, nullptr);
    Calls done;
    ASSERT_TRUE(s->Connect(done.Recorder()).ok());
    const ClientHello hello = ParseClientHello(CaptureFirstRecord(server));
    ASSERT_TRUE(hello.parsed);
    EXPECT_EQ(hello.sni, "localhost");
    EXPECT_EQ(hello.alpn_present, with_alpn);
    if (with_alpn) {
      EXPECT_EQ(hello.alpn, std::vector<std::string>{"x-amzn-mqtt-ca"});
    }
    EXPECT_FALSE(done.First(*s).ok());  // the fake server hung up
  }
}

// MQTT 5.0 section 3.1.4: a second connection with the same client id takes
// the session over; the old one gets DISCONNECT 0x8E and its will is published
// (section 3.1.2.5), as IoT Core does for a duplicate client id.
TEST_F(SessionITest, TakeoverPublishesTheWillAndReportsTheLossOnce) {
  ASSERT_NE(broker_, nullptr);
  auto ingest = testing_support::MakePumpedPahoSession(IngestConfig(broker_->uri()));
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  ASSERT_TRUE(testing_support::ConnectAndWait(**ingest).ok());
  std::mutex mu;
  std::vector<std::string> received;
  ASSERT_TRUE(testing_support::SubscribeAndWait(**ingest, "dt/+/+/+/status", 1, [&](const IncomingMessage& m) {
                std::lock_guard<std::mutex> lock(mu);
                received.push_back(m.topic + " " + m.payload);
              }).ok());

  SessionConfig c = ConfigFor("dev-b", broker_->uri());
  c.will = SessionConfig::Will{"dt/edgeforge/site-1/dev-b/status", "offline", 1, false};
  auto first = Make(c);
  ASSERT_NE(first, nullptr);
  std::atomic<int> lost{0};
  std::string cause;
  first->OnConnectionLost([&](const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    cause = why;
    ++lost;
  });
  ASSERT_TRUE(ConnectAndWait(*first).ok());

  SessionConfig plain = ConfigFor("dev-b", broker_->uri());
  auto second = Make(plain);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(ConnectAndWait(*second).ok());

  ASSERT_TRUE(WaitFor([&] {
    first->Dispatch();
    return lost.load() == 1;
  }));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !received.empty();
  }));
  std::this_thread::sleep_for(300ms);
  first->Dispatch();
  second->Dispatch();
  EXPECT_EQ(lost.load(), 1);
  EXPECT_FALSE(first->IsConnected());
  EXPECT_TRUE(second->IsConnected());
  std::lock_guard<std::mutex> lock(mu);
  // mosquitto 2.0.11 closes the old connection without DISCONNECT 0x8E.
  EXPECT_NE(cause.find("dev-b@" + broker_->uri() + ": connection lost"), std::string::npos) << cause;
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], "dt/edgeforge/site-1/dev-b/status offline");
}

TEST_F(SessionITest, CleanDisconnectDoesNotPublishTheWill) {
  ASSERT_NE(broker_, nullptr);
  auto ingest = testing_support::MakePumpedPahoSession(IngestConfig(broker_->uri()));
  ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
  ASSERT_TRUE(testing_support::ConnectAndWait(**ingest).ok());
  std::atomic<int> received{0};
  ASSERT_TRUE(testing_support::SubscribeAndWait(**ingest, "dt/+/+/dev-d/status", 1, [&](const IncomingMessage&) {
                ++received;
              }).ok());
  SessionConfig c = ConfigFor("dev-d", broker_->uri());
  c.will = SessionConfig::Will{"dt/edgeforge/site-1/dev-d/status", "offline", 1, false};
  auto s = Make(c);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  std::atomic<int> lost{0};
  s->OnConnectionLost([&](const std::string&) { ++lost; });
  s->Disconnect();
  std::this_thread::sleep_for(500ms);
  s->Dispatch();
  EXPECT_EQ(received.load(), 0);
  EXPECT_EQ(lost.load(), 0);
}

// The broker dies with QoS 1 publishes in flight: each PublishDone runs exactly
// once (the acknowledged ones OK, the rest UNAVAILABLE so that the outbox
// re-queues them), connection-lost once, and Paho does not reconnect by itself.
TEST_F(SessionITest, BrokerKilledWithPublishesInFlightCompletesEachOnce) {
  auto broker = StartBroker();
  ASSERT_NE(broker, nullptr);
  auto s = Make(ConfigFor("dev-a", broker->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  std::atomic<int> lost{0};
  s->OnConnectionLost([&](const std::string&) { ++lost; });

  constexpr int kAcked = 20, kInFlight = 50;
  std::vector<Calls> calls(kAcked + kInFlight);
  OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-a/telemetry";
  m.payload = std::string(200, 'x');
  for (int i = 0; i < kAcked; ++i) ASSERT_TRUE(s->Publish(m, calls[i].Recorder()).ok());
  ASSERT_TRUE(WaitFor([&] {
    s->Dispatch();
    for (int i = 0; i < kAcked; ++i) {
      if (calls[i].count() == 0) return false;
    }
    return true;
  }));
  // A stopped broker reads nothing and acknowledges nothing: every further
  // publish is still in flight when the kill -9 closes its sockets.
  ASSERT_EQ(::kill(broker->pid(), SIGSTOP), 0);
  for (int i = kAcked; i < kAcked + kInFlight; ++i) ASSERT_TRUE(s->Publish(m, calls[i].Recorder()).ok());
  ASSERT_EQ(::kill(broker->pid(), SIGKILL), 0);

  ASSERT_TRUE(WaitFor([&] {
    s->Dispatch();
    for (const auto& c : calls) {
      if (c.count() == 0) return false;
    }
    return lost.load() >= 1;
  }));
  std::this_thread::sleep_for(500ms);  // a second report would come now
  s->Dispatch();
  for (int i = 0; i < kAcked + kInFlight; ++i) {
    ASSERT_EQ(calls[i].count(), 1u) << "publish " << i;
    const Status st = calls[i].First(*s);
    if (i < kAcked) {
      EXPECT_TRUE(st.ok()) << i << ": " << st.ToString();
    } else {
      EXPECT_EQ(st.code(), StatusCode::kUnavailable) << i << ": " << st.ToString();
    }
  }
  EXPECT_EQ(lost.load(), 1);
  EXPECT_FALSE(s->IsConnected());
  Calls late;
  EXPECT_EQ(s->Publish(m, late.Recorder()).code(), StatusCode::kUnavailable);
  // Nothing listens on the port now: a reconnect is refused, not an auth failure.
  Calls again;
  ASSERT_TRUE(s->Connect(again.Recorder()).ok());
  EXPECT_EQ(again.First(*s).code(), StatusCode::kUnavailable);
  EXPECT_EQ(late.count(), 0u);
  EXPECT_TRUE(WaitFor([&] { return !broker->Running(); }));
}

// Issue 9: nothing a session does reaches its owner except through
// Dispatch(), on the thread that calls it.
TEST_F(SessionITest, SubscribeReturnsAtOnceAndSubackAndMessagesComeFromDispatch) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(IngestConfig(broker_->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  Calls suback;
  std::vector<std::thread::id> message_threads;  // written by Dispatch() on this thread only
  ASSERT_TRUE(s->Subscribe(
                   "dt/+/+/dev-c/telemetry", 1,
                   [&](const IncomingMessage&) { message_threads.push_back(std::this_thread::get_id()); },
                   suback.Recorder())
                  .ok());
  EXPECT_EQ(suback.count(), 0u) << "Subscribe must return before its SUBACK";
  const Status granted = suback.First(*s);
  EXPECT_TRUE(granted.ok()) << granted.ToString();
  EXPECT_EQ(suback.first_thread(), std::this_thread::get_id());

  // A message published meanwhile waits in the queue until Dispatch().
  auto publisher = Make(ConfigFor("dev-c", broker_->uri()));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(ConnectAndWait(*publisher).ok());
  OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-c/telemetry";
  m.payload = "{}";
  SystemClock clock;
  ASSERT_TRUE(PublishAndWait(*publisher, clock, 10s, m).ok());
  std::this_thread::sleep_for(300ms);  // the broker has forwarded it by now
  EXPECT_TRUE(message_threads.empty()) << "a handler ran without Dispatch()";
  ASSERT_TRUE(WaitFor([&] {
    s->Dispatch();
    return !message_threads.empty();
  }));
  EXPECT_EQ(message_threads.size(), 1u);
  EXPECT_EQ(message_threads.front(), std::this_thread::get_id());
  publisher->Disconnect();
  s->Disconnect();
}

// No SUBACK refusal here: mosquitto 2.0.11 grants a subscription its ACL
// denies reading (it filters at delivery; FaultInfraTest's
// ThingCannotPublishOrReadAnotherThingsDelta logs what it answers), so a
// refused SUBACK cannot be produced against it.

TEST_F(SessionITest, DisconnectReturnsAtOnceAndInFlightPublishesCompleteUnavailable) {
  auto broker = StartBroker();
  ASSERT_NE(broker, nullptr);
  auto s = Make(ConfigFor("dev-a", broker->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  std::atomic<int> lost{0};
  s->OnConnectionLost([&](const std::string&) { ++lost; });
  // A stopped broker acknowledges nothing: every publish stays in flight.
  ASSERT_EQ(::kill(broker->pid(), SIGSTOP), 0);
  constexpr int kInFlight = 10;
  std::vector<Calls> calls(kInFlight);
  OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-a/telemetry";
  m.payload = "{}";
  for (auto& c : calls) ASSERT_TRUE(s->Publish(m, c.Recorder()).ok());
  s->Disconnect();  // must not wait for the PUBACKs that cannot come
  EXPECT_FALSE(s->IsConnected());
  for (const auto& c : calls) EXPECT_EQ(c.count(), 0u) << "outcomes come from Dispatch()";
  s->Dispatch();
  for (auto& c : calls) {
    ASSERT_EQ(c.count(), 1u);
    const Status st = c.First(*s);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("disconnected before PUBACK"), std::string::npos) << st.ToString();
    EXPECT_EQ(c.first_thread(), std::this_thread::get_id());
  }
  ::kill(broker->pid(), SIGCONT);
  std::this_thread::sleep_for(300ms);
  s->Dispatch();
  for (const auto& c : calls) EXPECT_EQ(c.count(), 1u) << "a late PUBACK must not complete it again";
  EXPECT_EQ(lost.load(), 0) << "no ConnectionLost after Disconnect()";
}

TEST_F(SessionITest, DestructionRunsNoQueuedCallback) {
  ASSERT_NE(broker_, nullptr);
  auto s = Make(ConfigFor("dev-a", broker_->uri()));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(ConnectAndWait(*s).ok());
  std::atomic<int> ran{0};
  s->OnConnectionLost([&](const std::string&) { ++ran; });
  std::atomic<int> wakes{0};
  s->SetWakeup([&] { ++wakes; });
  OutgoingMessage m;
  m.topic = "dt/edgeforge/site-1/dev-a/telemetry";
  m.payload = "{}";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->Publish(m, [&](Status) { ++ran; }).ok());
  // The PUBACKs arrive and are queued (each one wakes the owner)...
  ASSERT_TRUE(WaitFor([&] { return wakes.load() >= 5; }));
  s.reset();  // ...and are dropped with the session
  EXPECT_EQ(ran.load(), 0);
}

TEST(SessionConfigTest, RejectsWhatIotCoreRejects) {
  const std::string pki = MakePki({"dev-a"}, "sessioncfg");
  SessionConfig ok;
  ok.server_uri = "ssl://example.com:8883";
  ok.client_id = "dev-a";
  const auto p = certs::PathsFor(pki, "dev-a");
  ok.tls = {pki + "/ca.crt", p.cert, p.tls_key};
  ASSERT_TRUE(ValidateSessionConfig(ok).ok());

  auto expect_invalid = [&](const std::function<void(SessionConfig&)>& change, const std::string& needle) {
    SessionConfig c = ok;
    change(c);
    const Status s = ValidateSessionConfig(c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
  };
  expect_invalid([](SessionConfig& c) { c.keepalive_s = 29; }, "keepalive 29");
  expect_invalid([](SessionConfig& c) { c.keepalive_s = 1201; }, "keepalive 1201");
  expect_invalid([](SessionConfig& c) { c.server_uri = "ssl://example.com:443"; }, "ALPN");
  expect_invalid([](SessionConfig& c) { c.alpn = {""}; }, "ALPN protocol");
  expect_invalid([](SessionConfig& c) { c.will = SessionConfig::Will{"dt/a/b/dev-a/#", "offline"}; }, "will topic");
  expect_invalid(
      [](SessionConfig& c) {
        c.will = SessionConfig::Will{"dt/a/b/dev-a/status", "offline", 2};
      },
      "will qos 2");
  SessionConfig on443 = ok;
  on443.server_uri = "ssl://example.com:443";
  on443.alpn = {"x-amzn-mqtt-ca"};
  EXPECT_TRUE(ValidateSessionConfig(on443).ok());
}

TEST(ConnectFailureStatusTest, ConnackReasonCodes) {
  const std::string w = "mqtt dev-a@ssl://h:8883";
  EXPECT_EQ(ConnectFailureStatus(w, 0x87, 0, "CONNACK return code").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ConnectFailureStatus(w, 0x85, 0, "CONNACK return code").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ConnectFailureStatus(w, 0x86, 0, "CONNACK return code").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ConnectFailureStatus(w, 0x8C, 0, "CONNACK return code").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ConnectFailureStatus(w, 0x9F, 0, "CONNACK return code").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConnectFailureStatus(w, 0x88, 0, "CONNACK return code").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConnectFailureStatus(w, 0x9B, 0, "CONNACK return code").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0x87, "").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ConnectFailureStatus(w, 0x87, 0, "socket error").code(), StatusCode::kUnavailable)
      << "a positive code is a reason code only with Paho's CONNACK message";
  const Status s = ConnectFailureStatus(w, 0x87, 0, "CONNACK return code");
  EXPECT_NE(s.message().find("0x87"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(w), std::string::npos) << s.ToString();
}

TEST(ConnectFailureStatusTest, TransportFailures) {
  const std::string w = "mqtt dev-a@ssl://h:8883";
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, kPahoConnectTimeout).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, kPahoTcpTlsFailure, TcpProbe::kTcpConnects).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, kPahoTcpTlsFailure, TcpProbe::kTcpFails).code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, kPahoTcpTlsFailure).code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, kPahoClosedBeforeConnack).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ConnectFailureStatus(w, -1, 0, "socket error").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConnectFailureStatus(w, MQTTASYNC_BAD_MQTT_OPTION, 0, "").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgeforge::link
