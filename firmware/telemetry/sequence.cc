#include "firmware/telemetry/sequence.h"

#include <nlohmann/json.hpp>

namespace edgeforge::telemetry {

Status SequenceCounter::Open() {
  auto rec = storage_.Read(kRecord);
  uint64_t mark = 0;
  uint64_t boot = 0;
  if (rec.ok()) {
    auto j = nlohmann::json::parse(*rec, nullptr, /*allow_exceptions=*/false);
    const bool good = j.is_object() && j.contains("seq_mark") && j["seq_mark"].is_number_unsigned() &&
                      j.contains("boot") && j["boot"].is_number_unsigned();
    if (!good) {
      return DataLoss(std::string(kRecord) +
                      ": corrupt (want {\"seq_mark\":N,\"boot\":N}); refusing to start so that no "
                      "sequence number is reused");
    }
    mark = j["seq_mark"].get<uint64_t>();
    boot = j["boot"].get<uint64_t>();
  } else if (rec.status().code() != StatusCode::kNotFound) {
    return rec.status();
  }
  next_ = mark;
  limit_ = mark;
  boot_ = boot + 1;
  EF_RETURN_IF_ERROR(Persist(limit_));
  open_ = true;
  return Status::Ok();
}

Result<uint64_t> SequenceCounter::Next() {
  if (!open_) return FailedPrecondition("sequence counter used before Open()");
  if (next_ >= limit_) {
    EF_RETURN_IF_ERROR(Persist(next_ + block_));
    limit_ = next_ + block_;
  }
  return next_++;
}

Status SequenceCounter::Close() {
  if (!open_) return Status::Ok();
  EF_RETURN_IF_ERROR(Persist(next_));
  limit_ = next_;
  return Status::Ok();
}

Status SequenceCounter::Persist(uint64_t limit) {
  nlohmann::json j = {{"seq_mark", limit}, {"boot", boot_}};
  return storage_.WriteAtomic(kRecord, j.dump());
}

}  // namespace edgeforge::telemetry
