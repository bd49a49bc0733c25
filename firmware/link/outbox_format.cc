#include "firmware/link/outbox_format.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace edgeforge::link {

const char* PriorityName(Priority p) {
  switch (p) {
    case Priority::kAlarm:
      return "alarm";
    case Priority::kState:
      return "state";
    case Priority::kBulk:
      return "bulk";
  }
  return "unknown";
}

size_t MessageBytes(const OutgoingMessage& m) {
  size_t n = m.topic.size() + m.payload.size();
  for (const auto& [k, v] : m.user_properties) n += k.size() + v.size();
  return n;
}

namespace outbox_log {
namespace {

constexpr uint32_t kCrc32cReflected = 0x82F63B78u;

// Byte-at-a-time table for the reflected polynomial (RFC 3720 appendix B.4).
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? (c >> 1) ^ kCrc32cReflected : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void PutU16(std::string& out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
void PutBytes(std::string& out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

uint32_t LoadU32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

// Bounds-checked little-endian reader over one record body.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool U8(uint8_t& v) {
    if (s_.size() - pos_ < 1) return false;
    v = static_cast<uint8_t>(s_[pos_++]);
    return true;
  }
  bool U16(uint16_t& v) {
    uint64_t w = 0;
    if (!Le(2, w)) return false;
    v = static_cast<uint16_t>(w);
    return true;
  }
  bool U32(uint32_t& v) {
    uint64_t w = 0;
    if (!Le(4, w)) return false;
    v = static_cast<uint32_t>(w);
    return true;
  }
  bool U64(uint64_t& v) { return Le(8, v); }
  bool Bytes(std::string& v) {
    uint32_t n = 0;
    if (!U32(n) || s_.size() - pos_ < n) return false;
    v.assign(s_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  bool Le(size_t n, uint64_t& v) {
    if (s_.size() - pos_ < n) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    pos_ += n;
    return true;
  }
  std::string_view s_;
  size_t pos_ = 0;
};

// Header with a zero CRC, the body after it, then the CRC patched in.
void AppendRecord(std::string& out, RecordType type, const std::string& body) {
  const size_t start = out.size();
  for (uint8_t b : kMarker) PutU8(out, b);
  PutU8(out, static_cast<uint8_t>(type));
  PutU8(out, kVersion);
  PutU16(out, 0);
  PutU32(out, static_cast<uint32_t>(body.size()));
  uint32_t crc = Crc32c(0, std::string_view(out).substr(start, 12));
  crc = Crc32c(crc, body);
  PutU32(out, crc);
  out += body;
}

void AppendIdRecord(std::string& out, RecordType type, uint64_t id) {
  std::string body;
  PutU64(body, id);
  AppendRecord(out, type, body);
}

bool DecodeData(std::string_view body, QueuedMessage& m) {
  Reader r(body);
  uint8_t priority = 0;
  uint8_t qos = 0;
  uint16_t reserved = 0;
  uint32_t props = 0;
  if (!r.U64(m.id) || !r.U64(m.seq) || !r.U8(priority) || !r.U8(qos) || !r.U16(reserved)) return false;
  if (priority >= kPriorityCount || qos > 2 || reserved != 0) return false;
  m.priority = static_cast<Priority>(priority);
  m.message.qos = qos;
  if (!r.Bytes(m.message.topic) || !r.Bytes(m.message.payload) || !r.U32(props)) return false;
  // Each property needs at least its two length fields: a huge count in a
  // short body fails here instead of reserving memory for it.
  if (props > body.size() / 8) return false;
  m.message.user_properties.resize(props);
  for (auto& [k, v] : m.message.user_properties) {
    if (!r.Bytes(k) || !r.Bytes(v)) return false;
  }
  return r.AtEnd();
}

bool DecodeBody(RecordType type, std::string_view body, Record& rec) {
  if (type == RecordType::kData) {
    if (!DecodeData(body, rec.message)) return false;
    rec.id = rec.message.id;
    return true;
  }
  Reader r(body);
  return r.U64(rec.id) && r.AtEnd();
}

// A good record at `pos`, or false. Cheap header checks come before the CRC.
bool TryRecord(std::string_view log, size_t pos, Record& rec) {
  if (log.size() - pos < kHeaderBytes) return false;
  if (!std::equal(kMarker.begin(), kMarker.end(), log.begin() + static_cast<std::ptrdiff_t>(pos),
                  [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); })) {
    return false;
  }
  const auto type = static_cast<uint8_t>(log[pos + 4]);
  if (type < static_cast<uint8_t>(RecordType::kHead) || type > static_cast<uint8_t>(RecordType::kDrop)) return false;
  if (static_cast<uint8_t>(log[pos + 5]) != kVersion || log[pos + 6] != 0 || log[pos + 7] != 0) return false;
  const size_t len = LoadU32(log, pos + 8);
  if (len > kMaxBodyBytes || len > log.size() - pos - kHeaderBytes) return false;
  const std::string_view body = log.substr(pos + kHeaderBytes, len);
  const uint32_t crc = Crc32c(Crc32c(0, log.substr(pos, 12)), body);
  if (crc != LoadU32(log, pos + 12)) return false;
  rec = Record{};
  rec.type = static_cast<RecordType>(type);
  rec.offset = pos;
  rec.size = kHeaderBytes + len;
  return DecodeBody(rec.type, body, rec);
}

}  // namespace

uint32_t Crc32c(uint32_t crc, std::string_view data) {
  crc = ~crc;
  for (char ch : data) crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

void AppendHead(std::string& out, uint64_t next_id) { AppendIdRecord(out, RecordType::kHead, next_id); }
void AppendAck(std::string& out, uint64_t id) { AppendIdRecord(out, RecordType::kAck, id); }
void AppendDrop(std::string& out, uint64_t id) { AppendIdRecord(out, RecordType::kDrop, id); }

void AppendData(std::string& out, const QueuedMessage& m) {
  std::string body;
  body.reserve(DataRecordBytes(m.message) - kHeaderBytes);
  PutU64(body, m.id);
  PutU64(body, m.seq);
  PutU8(body, static_cast<uint8_t>(m.priority));
  PutU8(body, static_cast<uint8_t>(m.message.qos));
  PutU16(body, 0);
  PutBytes(body, m.message.topic);
  PutBytes(body, m.message.payload);
  PutU32(body, static_cast<uint32_t>(m.message.user_properties.size()));
  for (const auto& [k, v] : m.message.user_properties) {
    PutBytes(body, k);
    PutBytes(body, v);
  }
  AppendRecord(out, RecordType::kData, body);
}

size_t DataRecordBytes(const OutgoingMessage& m) {
  // header, id, seq, priority, qos, reserved, topic/payload lengths, count, 8 per property
  return kHeaderBytes + 8 + 8 + 1 + 1 + 2 + 4 + 4 + 4 + 8 * m.user_properties.size() + MessageBytes(m);
}

Scan ScanLog(std::string_view log) {
  const std::string_view marker(reinterpret_cast<const char*>(kMarker.data()), kMarker.size());
  Scan scan;
  size_t pos = 0;
  size_t bad_start = std::string_view::npos;
  while (pos < log.size()) {
    Record rec;
    if (TryRecord(log, pos, rec)) {
      if (bad_start != std::string_view::npos) {
        scan.bad.push_back({bad_start, pos - bad_start});
        bad_start = std::string_view::npos;
      }
      pos += rec.size;
      scan.records.push_back(std::move(rec));
      continue;
    }
    if (bad_start == std::string_view::npos) bad_start = pos;
    const size_t next = log.find(marker, pos + 1);
    pos = next == std::string_view::npos ? log.size() : next;
  }
  if (bad_start != std::string_view::npos) scan.bad.push_back({bad_start, log.size() - bad_start});
  return scan;
}

Replay ReplayLog(const Scan& scan) {
  Replay out;
  std::map<uint64_t, const QueuedMessage*> live;
  std::set<uint64_t> gone;
  uint64_t max_id = 0;
  for (const Record& rec : scan.records) {
    if (rec.type == RecordType::kHead) {
      out.next_id = std::max(out.next_id, rec.id);
      continue;
    }
    max_id = std::max(max_id, rec.id);
    if (rec.type == RecordType::kData) {
      if (gone.count(rec.id) == 0) live.emplace(rec.id, &rec.message);
    } else {
      live.erase(rec.id);
      gone.insert(rec.id);
    }
  }
  if (max_id == std::numeric_limits<uint64_t>::max()) {
    out.next_id = max_id;  // a crafted id: saturate rather than wrap to 0
  } else {
    out.next_id = std::max(out.next_id, max_id + 1);
  }
  out.live.reserve(live.size());
  for (const auto& [id, m] : live) out.live.push_back(*m);
  return out;
}

std::string EncodeQuarantine(std::string_view log, const std::vector<ByteRange>& bad) {
  std::string out;
  for (const ByteRange& r : bad) {
    PutU64(out, r.offset);
    PutU64(out, r.size);
    out.append(log.substr(r.offset, r.size));
  }
  return out;
}

}  // namespace outbox_log
}  // namespace edgeforge::link
