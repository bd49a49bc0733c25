#include "sim/broker/local_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "certs/iot_policy.h"
#include "certs/pki.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {

// The broker's usernames are the certificate CNs that certs/ issues.
static_assert(std::string_view(kIngestIdentity) == certs::kIngestCommonName);
static_assert(std::string_view(kShadowServiceIdentity) == certs::kShadowServiceCommonName);

namespace {

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string AbsolutePath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr) return p;
  return std::string(buf) + "/" + p;
}

/// Asks the kernel for a free loopback port. Another process may take it before
/// mosquitto binds; Start() retries on that.
Result<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fs::ErrnoStatus(errno, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  if (port < 0) return fs::ErrnoStatus(errno, "bind 127.0.0.1:0");
  return port;
}

// A TLS 1.2 ClientHello (RFC 5246 7.4.1.2) offering ECDHE-ECDSA-AES128-GCM-SHA256
// on P-256 (RFC 8422 5.1), what the dev PKI's EC broker key needs.
constexpr uint8_t kClientHello[] = {
    0x16, 0x03, 0x01, 0x00, 0x45,                    // record: handshake, TLS 1.0 framing, 69 bytes
    0x01, 0x00, 0x00, 0x41,                          // ClientHello, 65 bytes
    0x03, 0x03,                                      // client_version TLS 1.2
    0x65, 0x64, 0x67, 0x65, 0x66, 0x6f, 0x72, 0x67,  // random (32 bytes; any value will do)
    0x65, 0x2d, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00,                                                                    // session_id: empty
    0x00, 0x02, 0xc0, 0x2b,                          // cipher_suites: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0x01, 0x00,                                      // compression_methods: null
    0x00, 0x16,                                      // extensions, 22 bytes
    0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17,  // supported_groups: secp256r1
    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,              // ec_point_formats: uncompressed
    0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03,  // signature_algorithms: ecdsa_secp256r1_sha256
};
static_assert(sizeof(kClientHello) == 5 + 0x45, "record length");

/// Whether a TLS server answers on 127.0.0.1:`port`: a TCP connect only shows
/// that mosquitto called listen(), not that its TLS context is loaded and its
/// event loop runs. Any TLS record back (a ServerHello, or an alert) will do.
bool TlsAnswers(int port, std::chrono::milliseconds limit) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool answered = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, kClientHello, sizeof kClientHello, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kClientHello)) {
    pollfd p{fd, POLLIN, 0};
    uint8_t type = 0;
    if (::poll(&p, 1, static_cast<int>(limit.count())) == 1 && ::recv(fd, &type, 1, 0) == 1) {
      answered = type == 0x16 || type == 0x15;  // ContentType handshake or alert (RFC 5246 6.2.1)
    }
  }
  ::close(fd);
  return answered;
}

/// fork + exec mosquitto -c `conf`, its stdout/stderr appended to `log`.
Result<pid_t> SpawnMosquitto(const std::string& bin, const std::string& conf, const std::string& log) {
  // mosquitto's own stdout/stderr (start-up warnings) go to its log, not to our terminal.
  const int out_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) return fs::ErrnoStatus(errno, "cannot write " + log);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(out_fd);
    return fs::ErrnoStatus(err, "fork");
  }
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    // Own process group: a Ctrl-C reaches us, and we stop the broker in order.
    // If we die without stopping it, the kernel stops it for us (strictly: when
    // the thread that forked exits, prctl(2), so call Start/Restart from a
    // thread that outlives the broker).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // mosquitto holds one descriptor per client and inherits our soft
    // RLIMIT_NOFILE (often 1024), which caps a 10,000-device fleet at ~1,000
    // connections (issue 9). Raise the soft limit to the hard limit in the
    // child only; if that fails the broker still runs with the old limit.
    struct rlimit nofile {};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = nofile.rlim_max;
      (void)::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out_fd);
  return pid;
}

std::string CurrentUser() {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(::geteuid(), &pw, buf, sizeof buf, &found) != 0 || found == nullptr) return "root";
  return found->pw_name;
}

constexpr char kDatabaseFile[] = "mosquitto.db";

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

}  // namespace

std::string AclRules() {
  const std::string ingest = kIngestIdentity;
  const std::string shadow = kShadowServiceIdentity;
  return "# Generated by edgeforge: mirrors the per-thing IoT policy of AWS IoT Core\n"
         "# (`edgeforge certs policy`; both come from certs/iot_policy.cc).\n"
         "# The username is the client certificate's CN (use_identity_as_username).\n"
         "# mosquitto checks a user's 'deny' lines first, then its grants, then the\n"
         "# patterns, which apply to every user (also the two service identities).\n"
         "\n"
         "# The ingest identity reads everything. '#' does not match topics that\n"
         "# start with '$' (MQTT 3.1.1 4.7.2), so $aws/# is granted explicitly. The\n"
         "# deny keeps the dt/ pattern below from letting it publish as a thing.\n"
         "user " +
         ingest +
         "\n"
         "topic deny dt/+/+/" +
         ingest +
         "/#\n"
         "topic read #\n"
         "topic read $aws/#\n"
         "\n"
         "# The shadow-service identity plays IoT Core's device shadow service: it\n"
         "# publishes $aws/things/<thing>/shadow/update/delta, .../accepted, ...\n"
         "# and reads every thing's .../update. No telemetry either way.\n"
         "user " +
         shadow +
         "\n"
         "topic deny dt/#\n"
         "topic readwrite $aws/things/+/shadow/#\n"
         "\n" +
         certs::RenderThingAcl();
}

namespace {

std::string PersistenceConfig(BrokerPersistence p, const std::string& work) {
  switch (p) {
    case BrokerPersistence::kOff:
      return "persistence false\n";
    case BrokerPersistence::kEveryChange:
      // autosave_on_changes turns autosave_interval into a count of changes
      // (mosquitto.conf(5)): save after every one. The location needs the '/'.
      return "persistence true\n"
             "persistence_location " +
             work +
             "/\n"
             "persistence_file " +
             kDatabaseFile +
             "\n"
             "autosave_on_changes true\n"
             "autosave_interval 1\n";
  }
  return "persistence false\n";
}

}  // namespace

std::string MosquittoConfig(const BrokerOptions& o, int port) {
  const std::string pki = AbsolutePath(o.pki_dir);
  const std::string work = AbsolutePath(o.work_dir);
  std::ostringstream c;
  c << "# Generated by edgeforge broker: a local stand-in for AWS IoT Core.\n"
    << "per_listener_settings false\n"
    << "allow_anonymous false\n"
    << PersistenceConfig(o.persistence, work)
    // When started as root mosquitto would drop to user 'mosquitto', which
    // cannot read our 0600 keys; stay the user who owns them.
    << "user " << CurrentUser() << "\n"
    << "log_dest file " << work << "/mosquitto.log\n"
    << "log_type error\nlog_type warning\nlog_type notice\n"
    << "connection_messages true\n"
    << "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
    // IoT Core: payload <= 128 KB, keepalive <= 1200 s. max_packet_size bounds
    // the whole packet, so allow 1 KiB over the payload for topic and properties.
    << "max_packet_size 132096\n"
    << "max_keepalive 1200\n"
    // The ingest subscriber must never be dropped from silently: the default
    // max_queued_messages (1000) discards without telling anyone.
    << "max_queued_messages 1000000\n"
    << "max_inflight_messages 100\n"
    << "acl_file " << work << "/acl\n"
    << "\n"
    << "listener " << port << " 127.0.0.1\n"
    << "protocol mqtt\n"
    << "cafile " << pki << "/ca.crt\n"
    << "certfile " << pki << "/broker.crt\n"
    << "keyfile " << pki << "/broker.key\n"
    << "tls_version tlsv1.2\n"
    // A revoked device certificate is refused at the handshake (`edgeforge
    // certs revoke`; IoT Core: certificate status REVOKED). Read at start.
    << (::access((pki + "/crl.pem").c_str(), R_OK) == 0 ? "crlfile " + pki + "/crl.pem\n" : std::string())
    << "require_certificate true\n"
    << "use_identity_as_username true\n";
  return c.str();
}

Result<std::string> FindMosquitto(const std::string& hint) {
  if (!hint.empty()) {
    if (IsExecutable(hint)) return hint;
    return NotFound("mosquitto binary '" + hint + "' is not executable");
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string d;
    while (std::getline(ss, d, ':')) dirs.push_back(d);
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/usr/local/sbin"});
  for (const auto& d : dirs) {
    if (!d.empty() && IsExecutable(d + "/mosquitto")) return d + "/mosquitto";
  }
  return NotFound("mosquitto is not installed; install it with: sudo apt-get install -y mosquitto");
}

Result<std::unique_ptr<LocalBroker>> LocalBroker::Start(const BrokerOptions& o) {
  auto bin = FindMosquitto(o.mosquitto);
  if (!bin.ok()) return bin.status();
  for (const char* f : {"ca.crt", "broker.crt", "broker.key"}) {
    const std::string p = o.pki_dir + "/" + f;
    if (::access(p.c_str(), R_OK) != 0) {
      return NotFound(p + " missing: create the PKI with 'edgeforge certs init --dir " + o.pki_dir + "'");
    }
  }
  EF_RETURN_IF_ERROR(fs::MakeDirs(o.work_dir, 0755));
  const std::string conf = AbsolutePath(o.work_dir) + "/mosquitto.conf";
  const std::string log = AbsolutePath(o.work_dir) + "/mosquitto.log";
  EF_RETURN_IF_ERROR(fs::WriteFileAtomically(o.work_dir + "/acl", AclRules(), 0644));
  // A fresh broker: sessions saved by an earlier one in this work_dir must not come back.
  const std::string db = o.work_dir + "/" + kDatabaseFile;
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(db));
  EF_RETURN_IF_ERROR(fs::RemoveIfExists(db + ".new"));
  Status last = Unavailable("not started");
  for (int attempt = 0; attempt < 3; ++attempt) {
    int port = o.port;
    if (port == 0) {
      auto p = FreeLoopbackPort();
      if (!p.ok()) return p.status();
      port = *p;
    }
    EF_RETURN_IF_ERROR(fs::WriteFileAtomically(conf, MosquittoConfig(o, port), 0644));
    std::remove(log.c_str());
    auto pid = SpawnMosquitto(*bin, conf, log);
    if (!pid.ok()) return pid.status();
    std::unique_ptr<LocalBroker> b(new LocalBroker(*pid, port, *bin, conf, log, o.start_timeout));
    last = b->WaitUntilServing();
    if (last.ok()) return b;
    (void)b->Stop(Millis(1000));
    // Only a lost race for a port we picked is worth another try.
    if (o.port != 0 || b->LogTail().find("in use") == std::string::npos) break;
  }
  return last;
}

LocalBroker::~LocalBroker() { (void)Stop(); }

Status LocalBroker::WaitUntilServing() {
  const auto deadline = std::chrono::steady_clock::now() + start_timeout_;
  while (std::chrono::steady_clock::now() < deadline && running()) {
    if (TlsAnswers(port_, std::chrono::milliseconds(500))) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const bool alive = running();
  return Unavailable(std::string("mosquitto ") +
                     (alive ? "did not answer TLS on port " : "exited before answering TLS on port ") +
                     std::to_string(port_) + " within " + std::to_string(start_timeout_.count()) + " ms; " + log_path_ +
                     ":\n" + LogTail());
}

bool LocalBroker::running() const {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return false;
  }
  return true;
}

Status LocalBroker::Stop(Millis grace) {
  if (!running()) return Status::Ok();
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (void)Kill();
  return DeadlineExceeded("mosquitto did not stop within the grace period; killed");
}

Status LocalBroker::Kill() {
  if (!running()) return Status::Ok();
  const pid_t pid = pid_;
  if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
    return fs::ErrnoStatus(errno, "mosquitto pid " + std::to_string(pid) + ": kill -9");
  }
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);  // SIGKILL cannot be caught: this returns promptly
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  if (r < 0 && errno != ECHILD) return fs::ErrnoStatus(errno, "mosquitto pid " + std::to_string(pid) + ": waitpid");
  return Status::Ok();
}

Status LocalBroker::Restart() {
  if (running()) return Status::Ok();
  auto pid = SpawnMosquitto(binary_, conf_path_, log_path_);  // appends: the log keeps the earlier run
  if (!pid.ok()) return pid.status().WithContext("restart mosquitto on port " + std::to_string(port_));
  pid_ = *pid;
  Status st = WaitUntilServing();
  if (!st.ok()) (void)Stop(Millis(1000));
  return st;
}

std::string LocalBroker::LogTail(size_t max_bytes) const { return ReadTail(log_path_, max_bytes); }

}  // namespace edgeforge::sim
