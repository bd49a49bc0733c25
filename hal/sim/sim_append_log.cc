#include "hal/sim/sim_append_log.h"

#include <cerrno>
#include <system_error>

namespace edgeforge {

const char* LogFaultName(LogFault kind) {
  switch (kind) {
    case LogFault::kNone:
      return "none";
    case LogFault::kNoSpace:
      return "nospace";
    case LogFault::kIoError:
      return "eio";
    case LogFault::kShortWrite:
      return "short";
    case LogFault::kTornWrite:
      return "torn";
  }
  return "unknown";
}

void SimAppendLog::Inject(const LogFaultSpec& spec) {
  OpFault& f = faults_[Index(spec.op)];
  f.kind = spec.kind;
  f.skip = spec.skip;
  if (spec.kind == LogFault::kNone) {
    f.injector.Clear();
    return;
  }
  // FaultInjector only counts calls and rolls the probability here; which
  // storage error a hit becomes is `kind`'s business.
  f.injector.Inject(FaultSpec{FaultKind::kDisconnect, spec.calls, spec.probability, spec.seed});
  f.seed = spec.seed;
}

void SimAppendLog::ClearFault(LogOp op) {
  faults_[Index(op)].kind = LogFault::kNone;
  faults_[Index(op)].injector.Clear();
}

void SimAppendLog::ClearFaults() {
  for (size_t i = 0; i < kLogOpCount; ++i) ClearFault(static_cast<LogOp>(i));
}

LogFault SimAppendLog::Next(LogOp op) {
  OpFault& f = faults_[Index(op)];
  if (f.kind == LogFault::kNone) return LogFault::kNone;
  if (f.skip > 0) {
    --f.skip;
    return LogFault::kNone;
  }
  const LogFault kind = f.kind;
  const bool hit = f.injector.Next() != FaultKind::kNone;
  if (!f.injector.armed()) f.kind = LogFault::kNone;  // the last of its N calls
  return hit ? kind : LogFault::kNone;
}

// splitmix64, as FaultInjector (hal/sim/fault.cc).
uint64_t SimAppendLog::Random(uint64_t& state) const {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Status SimAppendLog::ErrnoError(int err, const char* what) const {
  const StatusCode code = err == ENOSPC ? StatusCode::kResourceExhausted : StatusCode::kUnknown;
  return Status(code, std::string(what) + " '" + name_ + "': " + std::generic_category().message(err));
}

std::string SimAppendLog::Materialize(size_t end) const {
  std::string image = durable_;
  for (size_t i = durable_.size(); i < end; ++i) {
    bool lost = false;
    for (const auto& [offset, size] : lost_) lost = lost || (i >= offset && i < offset + size);
    image.push_back(lost ? '\0' : content_[i]);
  }
  return image;
}

std::string SimAppendLog::CutImage(uint64_t seed) const {
  uint64_t rng = seed;
  const size_t n = pending_ends_.size();
  const size_t k = static_cast<size_t>(Random(rng) % (n + 1));
  if (k == 0) return durable_;
  const size_t start = k == 1 ? pending_start_ : pending_ends_[k - 2];
  const size_t len = pending_ends_[k - 1] - start;
  return Materialize(start + 1 + static_cast<size_t>(Random(rng) % len));
}

void SimAppendLog::SetDurable(std::string image) {
  durable_ = std::move(image);
  content_ = durable_;
  pending_ends_.clear();
  pending_start_ = content_.size();
  lost_.clear();
}

void SimAppendLog::Preload(std::string bytes) { SetDurable(std::move(bytes)); }

void SimAppendLog::PowerCut(uint64_t seed) { SetDurable(CutImage(seed)); }

void SimAppendLog::ArmPowerCut(uint64_t n, uint64_t seed) {
  cut_in_ = n;
  cut_seed_ = seed;
}

bool SimAppendLog::PowerFails(LogOp op, std::string_view append, std::string_view replace) {
  if (powered_off_) return true;
  if (cut_in_ == 0 || --cut_in_ != 0) return false;
  uint64_t rng = cut_seed_ ^ 0x5DEECE66Dull;
  const bool completed = Random(rng) % 2 == 0;  // Sync / Replace: did it finish before the cut?
  if (op == LogOp::kAppend) {
    content_.append(append.data(), append.size());
    pending_ends_.push_back(content_.size());
  } else if (op == LogOp::kSync && completed) {
    SetDurable(Materialize(content_.size()));
  } else if (op == LogOp::kReplace && completed) {
    SetDurable(std::string(replace));
  }
  PowerCut(cut_seed_);
  powered_off_ = true;
  return true;
}

Result<std::string> SimAppendLog::DoReadAll() {
  ++calls_[Index(LogOp::kRead)];
  if (powered_off_) return Unavailable("cannot read '" + name_ + "': power is off");
  const LogFault f = Next(LogOp::kRead);
  if (f != LogFault::kNone) return ErrnoError(f == LogFault::kNoSpace ? ENOSPC : EIO, "cannot read");
  return content_;
}

Status SimAppendLog::DoAppend(std::string_view bytes) {
  ++calls_[Index(LogOp::kAppend)];
  if (PowerFails(LogOp::kAppend, bytes, {})) return Unavailable("cannot write '" + name_ + "': power lost");
  switch (Next(LogOp::kAppend)) {
    case LogFault::kNone:
      break;
    case LogFault::kNoSpace:
    case LogFault::kShortWrite:  // the prefix written is cut off again: nothing to show
      return ErrnoError(ENOSPC, "cannot write");
    case LogFault::kIoError:
      return ErrnoError(EIO, "cannot write");
    case LogFault::kTornWrite: {
      if (bytes.size() < 2) return ErrnoError(ENOSPC, "cannot write");
      OpFault& f = faults_[Index(LogOp::kAppend)];
      uint64_t rng = f.seed + f.injector.hits();
      const size_t torn = 1 + static_cast<size_t>(Random(rng) % (bytes.size() - 1));
      content_.append(bytes.data(), torn);
      pending_ends_.push_back(content_.size());
      return DataLoss(ErrnoError(ENOSPC, "cannot write").message() + "; " + std::to_string(torn) +
                      " bytes of the torn write stay at offset " + std::to_string(content_.size() - torn) +
                      " (ftruncate failed)");
    }
  }
  content_.append(bytes.data(), bytes.size());
  pending_ends_.push_back(content_.size());
  return Status::Ok();
}

Status SimAppendLog::DoSync() {
  ++calls_[Index(LogOp::kSync)];
  if (PowerFails(LogOp::kSync, {}, {})) return Unavailable("cannot fdatasync '" + name_ + "': power lost");
  switch (Next(LogOp::kSync)) {
    case LogFault::kNone:
      // The disk gets zeros where a failed sync lost pages; the page cache
      // still shows what was written (until a power cut).
      durable_ = Materialize(content_.size());
      pending_ends_.clear();
      pending_start_ = content_.size();
      lost_.clear();
      return Status::Ok();
    case LogFault::kNoSpace:
    case LogFault::kShortWrite:
      return ErrnoError(ENOSPC, "cannot fdatasync");
    case LogFault::kIoError:
    case LogFault::kTornWrite:
      // fsyncgate: the dirty pages are dropped and marked clean.
      if (content_.size() > pending_start_) lost_.emplace_back(pending_start_, content_.size() - pending_start_);
      pending_ends_.clear();
      pending_start_ = content_.size();
      return ErrnoError(EIO, "cannot fdatasync");
  }
  return Status::Ok();
}

Status SimAppendLog::DoReplace(std::string_view content) {
  ++calls_[Index(LogOp::kReplace)];
  if (PowerFails(LogOp::kReplace, {}, content)) return Unavailable("cannot replace '" + name_ + "': power lost");
  const LogFault f = Next(LogOp::kReplace);
  if (f == LogFault::kNoSpace || f == LogFault::kShortWrite) return ErrnoError(ENOSPC, "cannot replace");
  if (f != LogFault::kNone) return ErrnoError(EIO, "cannot replace");
  SetDurable(std::string(content));
  return Status::Ok();
}

Result<std::string> SimAppendLog::DoWriteSideFile(std::string_view prefix, std::string_view content) {
  ++calls_[Index(LogOp::kSideFile)];
  if (PowerFails(LogOp::kSideFile, {}, {}))
    return Unavailable("cannot write a side file of '" + name_ + "': power lost");
  const LogFault f = Next(LogOp::kSideFile);
  if (f == LogFault::kNoSpace || f == LogFault::kShortWrite) return ErrnoError(ENOSPC, "cannot write a side file of");
  if (f != LogFault::kNone) return ErrnoError(EIO, "cannot write a side file of");
  for (uint64_t n = 1;; ++n) {
    std::string name = std::string(prefix) + "-" + std::to_string(n) + ".bin";
    if (side_files_.count(name) != 0) continue;
    side_files_.emplace(name, std::string(content));
    return name;
  }
}

// Named records share the side files' faults (LogOp::kSideFile): a failing
// replace leaves the old record; an OK one is durable (it survives PowerCut).
Status SimAppendLog::DoReplaceRecord(std::string_view name, std::string_view content) {
  ++calls_[Index(LogOp::kSideFile)];
  if (PowerFails(LogOp::kSideFile, {}, {}))
    return Unavailable("cannot replace a record of '" + name_ + "': power lost");
  const LogFault f = Next(LogOp::kSideFile);
  if (f == LogFault::kNoSpace || f == LogFault::kShortWrite) return ErrnoError(ENOSPC, "cannot replace a record of");
  if (f != LogFault::kNone) return ErrnoError(EIO, "cannot replace a record of");
  records_[std::string(name)] = std::string(content);
  return Status::Ok();
}

Result<std::string> SimAppendLog::DoReadRecord(std::string_view name) {
  auto it = records_.find(std::string(name));
  if (it == records_.end()) return NotFound("no record '" + std::string(name) + "' beside '" + name_ + "'");
  return it->second;
}

}  // namespace edgeforge
