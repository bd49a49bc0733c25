#include "sim/fleet/report.h"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace edgeforge::sim {

uint64_t ScheduledReports(Micros window, Micros offset, Micros report) {
  if (report.count() <= 0 || window <= offset) return 0;
  // k >= 1 with offset + k * report < window.
  return static_cast<uint64_t>((window - offset - Micros(1)).count() / report.count());
}

uint64_t ScheduledReportsWithChanges(Micros window, Micros offset, Micros report,
                                     const std::vector<std::pair<Micros, Micros>>& changes) {
  if (window <= offset || report.count() <= 0) return 0;
  const Micros tick(1);
  Micros opened = offset;  // the open report window's start
  Micros period = report;
  Micros next = opened + period;  // when it closes
  uint64_t n = 0;
  for (const auto& [at, changed] : changes) {
    if (at >= window) break;
    if (next < at) {
      // Windows that closed before the change, but for the last period before
      // it: the change is noted at the step that applied it (which may run
      // late, and applies it before its report window is looked at), and
      // real windows drift late by the steps' lag, so whether the window due
      // just before it closed is not known. Leaving it out keeps the schedule
      // from asking for a report that never fell due (a false FAIL); it asks
      // at most one report per change too few.
      const int64_t k = (at - next - tick).count() / period.count();
      if (k > 0) {
        n += static_cast<uint64_t>(k);
        opened = next + Micros((k - 1) * period.count());
      }
    }
    if (changed.count() <= 0) continue;
    period = changed;
    next = std::max(opened + period, at);  // Pipeline::Reconfigure: the open window keeps its start
  }
  if (next >= window) return n;
  return n + 1 + static_cast<uint64_t>((window - next - tick).count() / period.count());
}

Micros StaggerOffset(size_t index, size_t count, Micros report) {
  if (count == 0) return Micros(0);
  return Micros(report.count() * static_cast<int64_t>(index) / static_cast<int64_t>(count));
}

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string RateText(double per_second) {
  if (per_second < 100) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << per_second;
    return s.str();
  }
  return WithThousands(static_cast<uint64_t>(std::llround(per_second)));
}

std::vector<std::string> FleetFailureReasons(const FleetReport& r, std::chrono::milliseconds duration,
                                             std::chrono::milliseconds shortest_window) {
  std::vector<std::string> why;
  auto secs = [](std::chrono::milliseconds d) {
    std::ostringstream s;
    s << static_cast<double>(d.count()) / 1000.0 << " s";
    return s.str();
  };
  if (r.connected == 0) {
    why.push_back("no device connected to " + r.broker + " (see the 'connect failed' lines)");
  } else if (r.connected < r.devices) {
    why.push_back(std::to_string(r.devices - r.connected) + " of " + std::to_string(r.devices) +
                  " devices never connected");
  }
  if (r.late > 0) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << r.late << " of " << r.devices
      << " devices connected late, after the fleet was up at " << r.up_s
      << " s (a longer --connect-window or a higher --connect-rate lets them start on time)";
    why.push_back(s.str());
  }
  if (r.connected > 0 && r.sampled == 0) {
    if (shortest_window.count() > 0 && duration < shortest_window) {
      why.push_back("nothing was published: the run (" + secs(duration) +
                    ") is shorter than the first report window (" + secs(shortest_window) +
                    "); use a longer --duration or a shorter --interval");
    } else {
      why.push_back("nothing was published");
    }
  } else if (r.connected > 0 && r.delivered == 0) {
    why.push_back("nothing was delivered: " + std::to_string(r.sampled) + " published, none PUBACKed");
  }
  for (const RolloutReport& ro : r.rollouts) {
    if (!ro.Finished()) why.push_back((ro.gated ? "rollout " : "") + ro.name + ": " + ro.outcome);
  }
  for (const FaultWindowReport& f : r.faults) {
    if (f.start_s < 0) why.push_back("fault " + f.name + " was never applied (the run ended first)");
    if (!f.error.empty()) why.push_back("fault " + f.name + " could not be applied: " + f.error);
  }
  if (r.never_published > 0 && r.sampled > 0) {
    why.push_back(std::to_string(r.never_published) + " connected devices never published");
  }
  // Only a schedule the engine could have met with the devices it had: a
  // fleet with nothing connected already says so above.
  if (r.scheduled > 0 && r.connected > 0 &&
      static_cast<double>(r.achieved) < kScheduleAchievedMin * static_cast<double>(r.scheduled)) {
    std::ostringstream s;
    s << (r.late > 0 || r.connected < r.devices ? "schedule missed" : "engine saturated") << " at "
      << RateText(r.AchievedRate()) << " msg/s of " << RateText(r.ScheduledRate()) << " scheduled ("
      << WithThousands(r.achieved) << " of " << WithThousands(r.scheduled) << " messages in " << std::fixed
      << std::setprecision(1) << r.measured_s << " s; worst device lag " << r.worst_lag_ms << " ms)";
    why.push_back(s.str());
  }
  if (!r.verified_run) {
    if (r.dropped > 0) why.push_back(std::to_string(r.dropped) + " dropped by the devices");
    return why;
  }
  // Nothing published is already said above; "nothing arrived" adds nothing then.
  for (const std::string& w : r.verify.FailureReasons()) {
    if (r.sampled == 0 && w.rfind("nothing arrived", 0) == 0) continue;
    why.push_back(w);
  }
  if (r.lost_unacked > 0) {
    why.push_back(std::to_string(r.lost_unacked) +
                  " published but never acknowledged by the broker (device side: still queued or dropped)");
  }
  if (r.lost_after_ack > 0) {
    why.push_back(std::to_string(r.lost_after_ack) + " acknowledged by the broker but never received (broker side)");
  }
  return why;
}

void PrintReport(const FleetReport& r, std::ostream& out) {
  out << std::fixed << std::setprecision(2);
  out << "summary (" << r.elapsed_s << " s, broker " << r.broker << (r.local_broker ? ", local mosquitto" : "")
      << (r.workers > 0 ? ", " + std::to_string(r.workers) + " workers" : "") << ")\n";
  out << "  connected    " << r.connected << "/" << r.devices;
  if (r.late > 0) out << " (" << r.late << " late)";
  out << "; fleet up at " << r.up_s << " s";
  if (r.open_files > 0) out << " holding " << r.open_files << " open files";
  out << "\n";
  out << "  rate         scheduled " << RateText(r.ScheduledRate()) << " msg/s, achieved " << RateText(r.AchievedRate())
      << " msg/s (" << r.achieved << " of " << r.scheduled << " in " << r.measured_s << " s); worst device lag "
      << r.worst_lag_ms << " ms\n";
  out << "  published    " << r.sampled << " (telemetry " << r.reports << ", alarms " << r.alarms << ") + "
      << r.shadow_reports << " shadow updates; delivered " << r.delivered << ", dropped " << r.dropped << "\n";
  out << "  sensor faults " << r.sensor_faults << " (reported in telemetry)\n";
  if (r.verified_run) {
    const auto& v = r.verify;
    out << "  received     " << v.received << "\n";
    out << "  verified     " << v.verified << " (devices " << v.devices << "; alarms " << v.alarm_messages << ")\n";
    for (const auto& [what, n] : v.alarms) out << "    alarm: " << what << " x" << n << "\n";
    out << "  lost         " << v.lost;
    if (v.lost > 0 || r.lost_unacked > 0 || r.lost_after_ack > 0) {
      out << " (never acknowledged " << r.lost_unacked << ", acknowledged but not received " << r.lost_after_ack
          << ", tail " << v.tail_lost << ")";
    }
    out << "\n";
    if (v.device_reported_lost > 0) out << "  device-reported lost " << v.device_reported_lost << "\n";
    if (v.disconnects > 0) {
      out << "  verifier     disconnected " << v.disconnects << " time(s), " << v.disconnected_s
          << " s in total (reconnected with its persistent session)\n";
    }
    out << "  duplicated   " << v.duplicates << "\n";
    out << "  invalid      " << v.invalid << "\n";
    out << "  conflicts    " << v.conflicts << "\n";
    for (const auto& [reason, n] : v.invalid_reasons) out << "    invalid: " << reason << " x" << n << "\n";
    for (const auto& e : v.examples) out << "    " << e << "\n";
    out << "  latency      p50 " << r.latency_p50_ms << " ms, p99 " << r.latency_p99_ms << " ms, max "
        << r.latency_max_ms << " ms (device publish -> verifier receive)\n";
  } else {
    out << "  verification off (--no-verify): lost/invalid not checked\n";
  }
  if (!r.faults.empty()) {
    out << "  faults       " << r.faults.size() << " window(s)";
    if (r.power_cuts > 0) out << "; " << r.power_cuts << " power cut(s), each booted again";
    out << "\n";
    for (const FaultWindowReport& f : r.faults) {
      out << "    " << f.name << ": " << f.detail << ", " << f.devices << " devices";
      if (f.start_s < 0) {
        out << ": never applied (the run ended first)\n";
        continue;
      }
      out << ", t=" << f.start_s << ".." << f.end_s << " s: published " << f.published << ", acked " << f.delivered
          << ", connections lost " << f.connections_lost << ", connects failed " << f.connect_failures << ", dropped "
          << f.dropped << ", refused " << f.refused;
      if (f.lost >= 0) out << ", lost " << f.lost;
      out << "\n";
      if (!f.error.empty()) out << "      error: " << f.error << "\n";
    }
  }
  if (!r.stages.empty()) {
    out << "  stages       " << r.stages.size() << "\n";
    for (const FaultWindowReport& s : r.stages) {
      out << "    " << s.name << ": " << s.detail << ", t=" << s.start_s << ".." << s.end_s << " s: published "
          << s.published << ", acked " << s.delivered << ", connections lost " << s.connections_lost << ", dropped "
          << s.dropped;
      if (s.lost >= 0) out << ", lost " << s.lost;
      out << "\n";
    }
  }
  for (const RolloutReport& ro : r.rollouts) {
    if (!ro.gated) continue;
    out << "  rollout      " << ro.name << " (" << ro.desired << " on " << (ro.group.empty() ? "the fleet" : ro.group)
        << "): " << ro.outcome;
    if (ro.rolled_back > 0) out << "; " << ro.restored << " of " << ro.rolled_back << " back on their old config";
    out << "\n";
    for (size_t i = 0; i < ro.steps.size(); ++i) {
      const RolloutStepReport& st = ro.steps[i];
      out << "    step " << i + 1 << ": " << st.devices << " devices (" << st.share * 100 << "%): " << st.accepted
          << " applied, " << st.rejected << " rejected, " << st.pending << " pending, " << st.alarms << " alarms"
          << (st.decision.empty() ? "" : " -> " + st.decision) << "\n";
    }
  }
  for (const auto& w : r.failures) out << "  FAIL: " << w << "\n";
  out << "result: " << (r.Passed() ? "PASS" : "FAIL") << "\n";
}

}  // namespace edgeforge::sim
