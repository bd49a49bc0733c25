#include "firmware/telemetry/sequence.h"

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {
namespace {

constexpr size_t kMarkBytes = 98;  // the line EncodeIssuedMark writes, '\n' included

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
  std::snprintf(head, sizeof head, "edgeforge-seq v1 boot=%020" PRIu64 " next=%020" PRIu64 " exact=%d", m.boot, m.next,
                m.exact ? 1 : 0);
  std::string line(head);
  char sum[32];
  std::snprintf(sum, sizeof sum, " sum=%016" PRIx64 "\n", Fnv1a64(line, line.size()));
  return line + sum;
}

std::optional<IssuedMark> DecodeIssuedMark(const std::string& line) {
  if (line.size() != kMarkBytes) return std::nullopt;
  IssuedMark m;
  uint64_t sum = 0;
  int exact = 0;
  if (std::sscanf(line.c_str(), "edgeforge-seq v1 boot=%20" SCNu64 " next=%20" SCNu64 " exact=%1d sum=%16" SCNx64,
                  &m.boot, &m.next, &exact, &sum) != 4) {
    return std::nullopt;
  }
  m.exact = exact == 1;
  // Re-encoding must give the same bytes: rejects signs, spaces and other
  // forms sscanf accepts, and checks the sum over the exact prefix.
  if (EncodeIssuedMark(m) != line || sum != Fnv1a64(line, line.find(" sum="))) return std::nullopt;
  return m;
}

std::optional<IssuedMark> SequenceCounter::ReadIssuedMark(uint64_t prev_boot, uint64_t prev_limit) {
  auto rec = storage_.ReadOverwritten(kIssuedRecord);
  if (!rec.ok()) return std::nullopt;
  std::optional<IssuedMark> m = DecodeIssuedMark(*rec);
  if (!m || m->boot != prev_boot || m->next > prev_limit) return std::nullopt;
  return m;
}

Status SequenceCounter::Open() {
  auto rec = storage_.Read(kRecord);
  uint64_t mark = 0;
  uint64_t boot = 0;
  if (rec.ok()) {
    auto j = nlohmann::json::parse(*rec, nullptr, /*allow_exceptions=*/false);
    const bool good = j.is_object() && j.contains("seq_mark") && j["seq_mark"].is_number_unsigned() &&
                      j.contains("boot") && j["boot"].is_number_unsigned() &&
                      (!j.contains("issued_mark") || j["issued_mark"].is_boolean());
    if (!good) {
      return DataLoss(std::string(kRecord) +
                      ": corrupt (want {\"seq_mark\":N,\"boot\":N,...}); refusing to start so "
                      "that no sequence number is reused");
    }
    mark = j["seq_mark"].get<uint64_t>();
    boot = j["boot"].get<uint64_t>();
    previous_ = PreviousFrom(j.dump(), boot, mark);
  } else if (rec.status().code() != StatusCode::kNotFound) {
    return rec.status();
  }
  next_ = mark;
  limit_ = mark;
  boot_ = boot + 1;
  // Nothing issued by this boot yet: the mark carries the previous boot's
  // figure (not the lease limit, whose rest was never issued).
  issued_below_ = previous_ ? previous_->issued_below : 0;
  issued_exact_ = previous_ ? previous_->exact : true;
  mark_ = Mark::kOn;
  EF_RETURN_IF_ERROR(Persist(limit_));
  if (!storage_.Overwrite(kIssuedRecord, EncodeIssuedMark({boot_, issued_below_, issued_exact_})).ok()) {
    mark_ = Mark::kFailing;
    EF_RETURN_IF_ERROR(Persist(limit_));
    mark_ = Mark::kOff;
  }
  open_ = true;
  return Status::Ok();
}

PreviousBoot SequenceCounter::PreviousFrom(const std::string& record, uint64_t boot, uint64_t limit) {
  const auto j = nlohmann::json::parse(record);
  // A clean Close() recorded the exact figure durably.
  if (j.contains("closed") && j["closed"] == true && j.contains("issued_below") &&
      j["issued_below"].is_number_unsigned() && j["issued_below"].get<uint64_t>() <= limit &&
      j.contains("issued_exact") && j["issued_exact"].is_boolean()) {
    return {boot, j["issued_below"].get<uint64_t>(), j["issued_exact"].get<bool>()};
  }
  const bool mark_trusted = !j.contains("issued_mark") || j["issued_mark"].get<bool>();
  if (mark_trusted) {
    if (std::optional<IssuedMark> m = ReadIssuedMark(boot, limit)) return {boot, m->next, m->exact};
  }
  return {boot, limit, false};  // the lease limit: an upper bound
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
  if (mark_ == Mark::kOn && !storage_.Overwrite(kIssuedRecord, EncodeIssuedMark({boot_, seq + 1, true})).ok()) {
    mark_ = Mark::kFailing;
  }
  if (mark_ == Mark::kFailing) {
    EF_RETURN_IF_ERROR(Persist(limit_));  // says "issued_mark":false; retried by the next call on failure
    mark_ = Mark::kOff;
  }
  ++next_;
  issued_below_ = next_;
  issued_exact_ = true;
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
  if (closed) {
    j["closed"] = true;
    j["issued_below"] = issued_below_;
    j["issued_exact"] = issued_exact_;
  }
  return storage_.WriteAtomic(kRecord, j.dump());
}

}  // namespace edgeforge::telemetry
