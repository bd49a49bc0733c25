#include "sim/fleet/provisioning.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iomanip>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "firmware/board/builtin.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// With an external broker the PKI is the broker's: it must exist already.
/// Creating a CA here would give devices identities that broker cannot know.
Status CheckProvisioned(const std::string& pki, const std::vector<std::string>& things, const FleetOptions& o) {
  const std::string provision =
      "provision it with 'edgeforge certs init --dir " + pki + "' and 'edgeforge certs devices --dir " + pki +
      " --count " + std::to_string(o.devices) + " --prefix " + o.prefix + "' (and give the broker its ca.crt)";
  std::vector<std::string> files = {pki + "/ca.crt"};
  if (o.verify) {
    for (const char* f : {"/jwks.json", "/ingest.crt", "/ingest.key"}) files.push_back(pki + f);
  }
  for (const std::string& thing : things) {
    const certs::DevicePaths p = certs::PathsFor(pki, thing);
    files.insert(files.end(), {p.cert, p.tls_key, p.sign_key});
  }
  for (const std::string& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      return NotFound(f + " missing: --broker " + o.broker_uri + " needs an existing PKI in --certs; " + provision);
    }
    if (!S_ISREG(st.st_mode)) return InvalidArgument(f + " is not a regular file");
  }
  return Status::Ok();
}

// Every identity checked locally before any connects (issue 8): key
// permissions, parse, key/cert match, validity, CN = thing. kFast (~80 us per
// device, bench/identity_check_bench.cc) skips the signature checks that the
// broker's TLS handshake makes anyway.
Status CheckIdentities(const Provisioned& p) {
  SystemClock clock;
  return certs::CheckFleetIdentities(p.pki_dir, p.things, clock.WallMillis() / 1000).WithContext("--certs " + p.pki_dir);
}

Status LoadBoards(const FleetOptions& o, Provisioned& p, std::ostream& log) {
  for (const std::string& spec : o.boards) {
    auto b = board::LoadBoardSpec(spec);
    if (!b.ok()) return b.status().WithContext("--board");
    // --interval replaces the board's report window (the config defaults,
    // and so the shadow's starting point, come from the board).
    if (o.interval.count() > 0) b->report_ms = static_cast<uint32_t>(o.interval.count());
    p.boards.push_back(std::move(*b));
  }
  for (const board::Board& b : p.boards) {
    if (std::chrono::milliseconds(b.report_ms) > o.duration) {
      log << "note: " << b.source << " reports every " << b.report_ms / 1000.0 << " s, longer than --duration "
          << static_cast<double>(o.duration.count()) / 1000.0
          << " s: its devices publish nothing (use --interval or a longer --duration)\n";
    }
  }
  SystemClock clock;
  p.wall_start_ms = clock.WallMillis();
  p.start_seconds = static_cast<double>(p.wall_start_ms % 86'400'000) / 1000.0;
  return Status::Ok();
}

}  // namespace

std::chrono::milliseconds Provisioned::ShortestWindow() const {
  std::chrono::milliseconds w{0};
  for (const board::Board& b : boards) {
    const std::chrono::milliseconds m(b.report_ms);
    if (w.count() == 0 || m < w) w = m;
  }
  return w;
}

double ScheduledMessageRate(const FleetOptions& o, const Provisioned& p) {
  if (p.boards.empty()) return 0;
  double rate = 0;
  for (int i = 0; i < o.devices; ++i) {
    const uint32_t report_ms = p.boards[static_cast<size_t>(i) % p.boards.size()].report_ms;
    if (report_ms > 0) rate += 1000.0 / report_ms;
  }
  return rate;
}

BrokerPersistence LocalBrokerPersistence(const FleetOptions& o, const Provisioned& p, std::ostream& log) {
  if (o.broker_persistence) return *o.broker_persistence;
  const double rate = ScheduledMessageRate(o, p);
  if (kFleetBrokerPersistence == BrokerPersistence::kOff || rate <= kEveryChangeMaxRate) {
    return kFleetBrokerPersistence;
  }
  log << "broker: persistence off: " << static_cast<uint64_t>(rate)
      << " msg/s scheduled, and saving the database after every change keeps up to about "
      << static_cast<uint64_t>(kEveryChangeMaxRate)
      << " msg/s; a broker kill -9 now loses what is queued for the verifier\n";
  return BrokerPersistence::kOff;
}

uint64_t FileDescriptorsNeeded(const FleetOptions& o) {
  // Per device: its TLS socket (the event loop refuses libmosquitto's
  // per-handle socketpair, and the issued mark is reopened per write), and
  // with per-device outbox files (--sync always) the log and its lock file
  // (batch: two per worker store, in the slack). Plus the broker's and the
  // verifier's sockets and the process's own files. Counted low, a
  // 10,000-device run once ran out at the box's 20,000 and then dropped
  // every message whose seq could not be leased; so the run refuses up front.
  const uint64_t per_device = o.sync == link::SyncPolicy::kAlways ? 3 : 1;
  return static_cast<uint64_t>(o.devices) * per_device + 256;
}

Status RaiseFileLimit(uint64_t needed, std::ostream& log) {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Internal(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  const rlim_t before = lim.rlim_cur;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) {
    // Root (CAP_SYS_RESOURCE) may raise the hard limit too, up to
    // fs.nr_open; anyone else gets the error below naming the number.
    struct rlimit more = lim;
    more.rlim_max = needed;
    more.rlim_cur = needed;
    if (::setrlimit(RLIMIT_NOFILE, &more) == 0) lim = more;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return Internal(std::string("setrlimit(RLIMIT_NOFILE) to the hard limit ") + std::to_string(lim.rlim_max) +
                      ": " + std::strerror(errno));
    }
  }
  if (before < needed && lim.rlim_cur != before) {
    log << "open files: limit raised from " << before << " to " << lim.rlim_cur << "\n";
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    return ResourceExhausted("--devices needs about " + std::to_string(needed) + " open files, the limit is " +
                             std::to_string(lim.rlim_cur) + ": raise it with 'ulimit -n " + std::to_string(needed) +
                             "' (as root, or in /etc/security/limits.conf) or run fewer --devices");
  }
  return Status::Ok();
}

Result<Provisioned> Provision(const FleetOptions& o, std::ostream& log) {
  Provisioned p;
  EF_RETURN_IF_ERROR(LoadBoards(o, p, log));
  p.pki_dir = o.pki_dir.empty() ? o.work_dir + "/pki" : o.pki_dir;
  p.things = certs::FleetDeviceNames(o.prefix, o.devices);
  if (!o.broker_uri.empty()) {
    EF_RETURN_IF_ERROR(CheckProvisioned(p.pki_dir, p.things, o));
    EF_RETURN_IF_ERROR(fs::MakeDirs(o.work_dir, 0755));
    EF_RETURN_IF_ERROR(CheckIdentities(p));
    log << "pki: " << p.pki_dir << " (provisioned; external broker)\n";
    return p;
  }
  EF_RETURN_IF_ERROR(fs::MakeDirs(o.work_dir, 0755));
  const auto t = SteadyClock::now();
  EF_RETURN_IF_ERROR(certs::EnsurePki(p.pki_dir, p.things));
  EF_RETURN_IF_ERROR(CheckIdentities(p));
  const double s = std::chrono::duration<double>(SteadyClock::now() - t).count();
  log << "pki: " << p.pki_dir << " ready for " << p.things.size() << " devices (" << std::fixed << std::setprecision(2)
      << s << " s)\n";
  return p;
}

}  // namespace edgeforge::sim
