#include "sim/fleet/provisioning.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <map>
#include <set>

#include "certs/identity_check.h"
#include "certs/pki.h"
#include "firmware/board/builtin.h"
#include "firmware/telemetry/topic.h"
#include "hal/linux/fs.h"

namespace edgeforge::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// With an external broker the PKI is the broker's: it must exist already.
/// Creating a CA here would give devices identities that broker cannot know.
Status CheckProvisioned(const std::string& pki, const std::vector<std::string>& things, const FleetOptions& o) {
  const std::string which = o.groups.empty() ? " --count " + std::to_string(o.devices) + " --prefix " + o.prefix
                                             : " --names <the scenario's thing names>";
  const std::string provision = "provision it with 'edgeforge certs init --dir " + pki +
                                "' and 'edgeforge certs devices --dir " + pki + which +
                                "' (and give the broker its ca.crt)";
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
  return certs::CheckFleetIdentities(p.pki_dir, p.things, clock.WallMillis() / 1000)
      .WithContext("--certs " + p.pki_dir);
}

/// Where a pattern's "{n...}" is: [open, close] and the zero-pad width (0: none).
struct PatternSlot {
  size_t open = 0;
  size_t close = 0;
  int width = 0;
};

Result<PatternSlot> FindSlot(const std::string& pattern) {
  const size_t open = pattern.find('{');
  const size_t close = pattern.find('}');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return InvalidArgument("thing pattern \"" + pattern + "\" needs {n} (or {n:W}, W digits zero-padded)");
  }
  if (pattern.find_first_of("{}", close + 1) != std::string::npos || pattern.find('}', open + 1) != close ||
      pattern.find('{', open + 1) < close) {
    return InvalidArgument("thing pattern \"" + pattern + "\" may hold only one {n}");
  }
  const std::string slot = pattern.substr(open + 1, close - open - 1);
  PatternSlot s{open, close, 0};
  if (slot == "n") return s;
  // {n:W} or, as Python and fmt write it, {n:0W}: zero-padded to W digits.
  const size_t w = slot.size() == 4 && slot.compare(0, 3, "n:0") == 0 ? 3 : 2;
  if (slot.size() == w + 1 && slot.compare(0, 2, "n:") == 0 && slot[w] >= '1' && slot[w] <= '9') {
    s.width = slot[w] - '0';
    return s;
  }
  return InvalidArgument("thing pattern \"" + pattern + "\": {" + slot + "} is not {n} or {n:W} (W 1..9)");
}

/// The boards and groups: one group per --board (devices dealt in turn), or
/// the scenario's groups in order.
Status LoadBoards(const FleetOptions& o, Provisioned& p, std::ostream& log) {
  if (o.groups.empty()) {
    for (const std::string& spec : o.boards) {
      auto b = board::LoadBoardSpec(spec);
      if (!b.ok()) return b.status().WithContext("--board");
      // --interval replaces the board's report window (the config defaults,
      // and so the shadow's starting point, come from the board).
      if (o.interval.count() > 0) b->report_ms = static_cast<uint32_t>(o.interval.count());
      p.groups.push_back({b->name, o.site, p.boards.size()});
      p.boards.push_back(std::move(*b));
    }
    p.group_of.resize(static_cast<size_t>(o.devices));
    for (size_t i = 0; i < p.group_of.size(); ++i) p.group_of[i] = static_cast<uint32_t>(i % p.groups.size());
    p.things = certs::FleetDeviceNames(o.prefix, o.devices);
  } else {
    std::map<std::string, std::string> owner;  // thing -> group, to name both on a clash
    for (const DeviceGroup& g : o.groups) {
      const std::string where = "group '" + g.name + "'";
      auto b = board::LoadBoardSpec(g.board);
      if (!b.ok()) return b.status().WithContext(where + ": board");
      if (g.report.count() > 0) b->report_ms = static_cast<uint32_t>(g.report.count());
      for (const auto& [device, ms] : g.sample_ms) {
        // An init-capture: C++17 does not let a lambda capture a structured
        // binding (gcc accepts it, clang, which the fuzz build uses, does not).
        auto it = std::find_if(b->devices.begin(), b->devices.end(),
                               [&name = device](const board::Device& d) { return d.name == name; });
        if (it == b->devices.end()) {
          return InvalidArgument(where + ": sample: board " + b->name + " has no device '" + device + "'");
        }
        if (const std::string why = board::SamplePeriodProblem(*it, ms); !why.empty()) {
          return InvalidArgument(where + ": sample." + device + ": " + why);
        }
        it->sample_ms = ms;
      }
      const uint32_t index = static_cast<uint32_t>(p.groups.size());
      p.groups.push_back({g.name, g.site.empty() ? o.site : g.site, p.boards.size()});
      p.boards.push_back(std::move(*b));
      for (int n = 1; n <= g.count; ++n) {
        std::string thing = GroupThingName(g, n);
        EF_RETURN_IF_ERROR(certs::ValidateThingName(thing).WithContext(where + ": things"));
        auto [it, fresh] = owner.emplace(thing, g.name);
        if (!fresh) {
          return InvalidArgument(where + ": thing " + thing + " is also in group '" + it->second +
                                 "': thing names must be unique");
        }
        p.things.push_back(std::move(thing));
        p.group_of.push_back(index);
      }
    }
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
  (void)o;
  double rate = 0;
  for (size_t i = 0; i < p.group_of.size(); ++i) {
    const uint32_t report_ms = p.BoardOf(i).report_ms;
    if (report_ms > 0) rate += 1000.0 / report_ms;
  }
  return rate;
}

Status ValidateThingPattern(const std::string& pattern) { return FindSlot(pattern).status(); }

std::string GroupThingName(const DeviceGroup& g, int n) {
  auto slot = FindSlot(g.things);
  if (!slot.ok()) return "";
  std::string digits = std::to_string(n);
  if (static_cast<int>(digits.size()) < slot->width) {
    digits.insert(0, static_cast<size_t>(slot->width) - digits.size(), '0');
  }
  return g.things.substr(0, slot->open) + digits + g.things.substr(slot->close + 1);
}

Status ValidateGroups(const FleetOptions& o) {
  if (o.groups.empty()) return Status::Ok();
  std::set<std::string> names;
  long long total = 0;
  for (size_t i = 0; i < o.groups.size(); ++i) {
    const DeviceGroup& g = o.groups[i];
    const std::string where = "groups[" + std::to_string(i) + "]";
    if (g.name.empty() || g.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      return InvalidArgument(where + ".name: [a-z0-9-]+, got \"" + g.name + "\"");
    }
    if (!names.insert(g.name).second) return InvalidArgument(where + ".name: \"" + g.name + "\" is used twice");
    if (g.count < 1 || g.count > 100000) return InvalidArgument(where + ".count: must be 1..100000");
    EF_RETURN_IF_ERROR(ValidateThingPattern(g.things).WithContext(where + ".things"));
    if (!g.site.empty()) EF_RETURN_IF_ERROR(topic::ValidateLevel(g.site, where + ".site"));
    if (g.report.count() != 0 && g.report.count() < 100) {
      return InvalidArgument(where + ".report: at least 100 ms (or absent: the board's report_ms)");
    }
    total += g.count;
  }
  if (total != o.devices) {
    return InvalidArgument("groups hold " + std::to_string(total) + " devices, the run " + std::to_string(o.devices));
  }
  return Status::Ok();
}

BrokerPersistence LocalBrokerPersistence(const FleetOptions& o, const Provisioned& p, std::ostream& log) {
  if (o.broker_persistence) return *o.broker_persistence;
  const double rate = ScheduledMessageRate(o, p);
  if (kFleetBrokerPersistence == BrokerPersistence::kOff || rate <= kEveryChangeMaxRate) {
    return kFleetBrokerPersistence;
  }
  for (const FleetFault& f : o.faults) {
    if (f.kind != FleetFaultKind::kBrokerRestart) continue;
    // The fault is a kill -9: without persistence the verifier's queue would
    // die with the broker and the run would report loss the devices did not cause.
    log << "broker: persistence kept for the " << f.name << " fault at " << static_cast<uint64_t>(rate)
        << " msg/s scheduled (above about " << static_cast<uint64_t>(kEveryChangeMaxRate)
        << " msg/s the broker may fall behind the schedule)\n";
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
      return Internal(std::string("setrlimit(RLIMIT_NOFILE) to the hard limit ") + std::to_string(lim.rlim_max) + ": " +
                      std::strerror(errno));
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
  p.fleet_devices = p.things.size();
  if (o.shard.sharded()) {
    // Names and groups are the whole fleet's; this process keeps its share.
    std::vector<std::string> things;
    std::vector<uint32_t> group_of;
    for (size_t i = 0; i < p.things.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(o.shard.count)) != o.shard.index) continue;
      things.push_back(p.things[i]);
      group_of.push_back(p.group_of[i]);
      p.global.push_back(i);
    }
    p.things = std::move(things);
    p.group_of = std::move(group_of);
    log << "shard " << o.shard.index << "/" << o.shard.count << ": " << p.things.size() << " of " << p.fleet_devices
        << " devices (fleet index % " << o.shard.count << " == " << o.shard.index << ")\n";
  }
  p.pki_dir = o.pki_dir.empty() ? o.work_dir + "/pki" : o.pki_dir;
  if (!o.broker_uri.empty()) {
    size_t missing = 0;
    for (const std::string& thing : p.things) {
      missing += ::access(certs::PathsFor(p.pki_dir, thing).cert.c_str(), F_OK) == 0 ? 0 : 1;
    }
    if (missing > 0 && o.issue_identities) {
      if (::access((p.pki_dir + "/ca.key").c_str(), R_OK) != 0 ||
          ::access((p.pki_dir + "/ca.crt").c_str(), R_OK) != 0) {
        return FailedPrecondition("--issue-identities: --certs " + p.pki_dir +
                                  " needs the CA's ca.crt and ca.key to issue identities from");
      }
      // The CA's key is here (a pod given the CA as a Secret, deploy/k8s):
      // this run's devices get identities from it, as the embedded broker's
      // do; EnsurePki is safe when shards share the directory.
      const auto t = SteadyClock::now();
      EF_RETURN_IF_ERROR(certs::EnsurePki(p.pki_dir, p.things).WithContext("--certs " + p.pki_dir));
      log << "pki: " << p.pki_dir << ": issued " << missing << " device identities from its CA (" << std::fixed
          << std::setprecision(2) << std::chrono::duration<double>(SteadyClock::now() - t).count() << " s)\n";
    }
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
