#include "firmware/telemetry/sequence.h"

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {
namespace {

constexpr size_t kMarkBytes = 90;  // the line EncodeIssuedMark writes, '\n' included

// FNV-1a 64 (Fowler, Noll, Vo): enough to tell a torn or garbage line from a written one.
uint64_t Fnv1a64(const std::string& s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(s[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string EncodeIssuedMark(const IssuedMark& m) {
  char head[96];
  std::snprintf(head, sizeof head, "edgeforge-seq v1 boot=%020" PRIu64 " next=%020" PRIu64, m.boot, m.next);
  std::string line(head);
  char sum[32];
  std::snprintf(sum, sizeof sum, " sum=%016" PRIx64 "\n", Fnv1a64(line, line.size()));
  return line + sum;
}

std::optional<IssuedMark> DecodeIssuedMark(const std::string& line) {
  if (line.size() != kMarkBytes) return std::nullopt;
  IssuedMark m;
  uint64_t sum = 0;
  int used = 0;
  if (std::sscanf(line.c_str(), "edgeforge-seq v1 boot=%20" SCNu64 " next=%20" SCNu64 " sum=%16" SCNx64 "\n%n", &m.boot,
                  &m.next, &sum, &used) != 3) {
    return std::nullopt;
  }
  // Re-encoding must give the same bytes: rejects signs, spaces and other
  // forms sscanf accepts, and checks the sum over the exact prefix.
  if (EncodeIssuedMark(m) != line || sum != Fnv1a64(line, line.find(" sum="))) return std::nullopt;
  return m;
}

std::optional<uint64_t> SequenceCounter::ReadIssuedMark(uint64_t prev_boot, uint64_t prev_limit) {
  auto rec = storage_.ReadOverwritten(kIssuedRecord);
  if (!rec.ok()) return std::nullopt;
  const std::optional<IssuedMark> m = DecodeIssuedMark(*rec);
  if (!m || m->boot != prev_boot || m->next > prev_limit) return std::nullopt;
  return m->next;
}

Status SequenceCounter::Open() {
  auto rec = storage_.Read(kRecord);
  uint64_t mark = 0;
  uint64_t boot = 0;
  bool mark_trusted = true;
  if (rec.ok()) {
    auto j = nlohmann::json::parse(*rec, nullptr, /*allow_exceptions=*/false);
    const bool good = j.is_object() && j.contains("seq_mark") && j["seq_mark"].is_number_unsigned() &&
                      j.contains("boot") && j["boot"].is_number_unsigned() &&
                      (!j.contains("issued_mark") || j["issued_mark"].is_boolean()) &&
                      (!j.contains("closed") || j["closed"].is_boolean());
    if (!good) {
      return DataLoss(
          std::string(kRecord) +
          ": corrupt (want {\"seq_mark\":N,\"boot\":N[,\"issued_mark\":bool,\"closed\":bool]}); refusing to start so "
          "that no sequence number is reused");
    }
    mark = j["seq_mark"].get<uint64_t>();
    boot = j["boot"].get<uint64_t>();
    mark_trusted = !j.contains("issued_mark") || j["issued_mark"].get<bool>();
    // A clean Close() persisted the exact next number.
    PreviousBoot prev{boot, mark, j.contains("closed") && j["closed"].get<bool>()};
    if (!prev.exact && mark_trusted) {
      if (std::optional<uint64_t> issued = ReadIssuedMark(boot, mark)) {
        prev.issued_below = *issued;
        prev.exact = true;
      }
    }
    previous_ = prev;
  } else if (rec.status().code() != StatusCode::kNotFound) {
    return rec.status();
  }
  next_ = mark;
  limit_ = mark;
  boot_ = boot + 1;
  mark_ = Mark::kOn;
  EF_RETURN_IF_ERROR(Persist(limit_));
  if (!storage_.Overwrite(kIssuedRecord, EncodeIssuedMark({boot_, next_})).ok()) {
    mark_ = Mark::kFailing;
    EF_RETURN_IF_ERROR(Persist(limit_));
    mark_ = Mark::kOff;
  }
  open_ = true;
  return Status::Ok();
}

Result<uint64_t> SequenceCounter::Next() {
  if (!open_) return FailedPrecondition("sequence counter used before Open()");
  if (next_ >= limit_) {
    EF_RETURN_IF_ERROR(Persist(next_ + block_));
    limit_ = next_ + block_;
  }
  const uint64_t seq = next_;
  // The mark goes first: a seq that leaves this function is always covered by
  // it, so the next boot never counts fewer issued numbers than there were.
  if (mark_ == Mark::kOn && !storage_.Overwrite(kIssuedRecord, EncodeIssuedMark({boot_, seq + 1})).ok()) {
    mark_ = Mark::kFailing;
  }
  if (mark_ == Mark::kFailing) {
    EF_RETURN_IF_ERROR(Persist(limit_));  // says "issued_mark":false; retried by the next call on failure
    mark_ = Mark::kOff;
  }
  ++next_;
  return seq;
}

Status SequenceCounter::Close() {
  if (!open_) return Status::Ok();
  EF_RETURN_IF_ERROR(Persist(next_, /*closed=*/true));
  limit_ = next_;
  return Status::Ok();
}

Status SequenceCounter::Persist(uint64_t limit, bool closed) {
  nlohmann::json j = {{"seq_mark", limit}, {"boot", boot_}};
  if (mark_ != Mark::kOn) j["issued_mark"] = false;
  if (closed) j["closed"] = true;
  return storage_.WriteAtomic(kRecord, j.dump());
}

}  // namespace edgeforge::telemetry
