// The outbox's on-disk log (firmware/link/outbox.h): a pure record codec and
// the recovery scan. No I/O here, so the scan is fuzzed byte for byte
// (tests/fuzz/outbox_recovery_fuzz.cc).
//
// File `outbox.log`: an append-only sequence of records. All integers are
// little-endian.
//
//   offset size  field
//   0      4     sync marker EF 9A 0B 0C (not valid UTF-8: 0x0B cannot follow
//                the lead byte 0xEF and continuation 0x9A, so it never occurs
//                inside UTF-8 topics or JSON payloads; binary payloads may
//                hold it, the CRC rejects such false starts)
//   4      1     record type: 1 head, 2 data, 3 ack, 4 drop
//   5      1     format version, 1
//   6      2     reserved, 0
//   8      4     body length N (<= kMaxBodyBytes)
//   12     4     CRC-32C (Castagnoli) of bytes 0..11 followed by the body
//   16     N     body
//
// Bodies:
//   head  u64 next_id: ids below it were issued (the first record of every
//         rewritten log, so ids are never reused after compaction)
//   data  u64 id, u64 seq, u8 priority, u8 qos, u16 reserved 0,
//         u32 topic length, topic, u32 payload length, payload,
//         u32 property count, then per property u32 length, name, u32 length, value
//   ack   u64 id: PUBACK received, the data record with this id is gone
//   drop  u64 id: removed by the drop policy (counted), gone likewise
//
// Recovery (ScanLog): a record is good when its marker, version, reserved
// bytes, type, length and CRC check out and its body decodes exactly. After a
// bad byte, the scan resumes at the next marker; every maximal run of bytes
// that is not a good record (a bit flip, a torn tail, garbage) becomes one bad
// range. Good records and bad ranges partition the file exactly and the scan
// advances at least one byte per step, so any input ends. A false start costs
// a CRC over its claimed body only if its 8 header bytes after the marker are
// also plausible (version, zero reserved bytes, known type, length in range).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/link/session.h"

namespace edgeforge::link {

/// Drain order: a lower value is sent first and dropped last.
enum class Priority : uint8_t {
  kAlarm = 0,  // threshold alarms: dropped only when nothing else is queued
  kState = 1,  // shadow reports and other state: dropped after bulk
  kBulk = 2,   // periodic telemetry windows: dropped first when the outbox is full
};
inline constexpr size_t kPriorityCount = 3;
const char* PriorityName(Priority p);

/// One message as the outbox holds it.
struct QueuedMessage {
  uint64_t id = 0;  // the outbox's own handle (Ack/Nack), increasing in Append order
  Priority priority = Priority::kBulk;
  uint64_t seq = 0;  // the device's sequence number, carried as is
  OutgoingMessage message;
};

/// Bytes counted against OutboxOptions::max_bytes: topic + payload + every
/// property name and value. Framing (record headers, length fields) is not counted.
size_t MessageBytes(const OutgoingMessage& m);

namespace outbox_log {

inline constexpr std::array<uint8_t, 4> kMarker = {0xEF, 0x9A, 0x0B, 0x0C};
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 16;
/// Far above IoT Core's 128 KB payload limit; a larger length field is corrupt.
inline constexpr size_t kMaxBodyBytes = size_t{64} << 20;

enum class RecordType : uint8_t {
  kHead = 1,  // next id to issue
  kData = 2,  // a queued message
  kAck = 3,   // PUBACK: the message left the queue
  kDrop = 4,  // dropped by the full-queue policy
};

/// CRC-32C, Castagnoli polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial
/// value and final XOR 0xFFFFFFFF (RFC 3720 section 12.1 and appendix B.4).
/// Chainable: Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b). Check value:
/// Crc32c(0, "123456789") == 0xE3069283.
uint32_t Crc32c(uint32_t crc, std::string_view data);

void AppendHead(std::string& out, uint64_t next_id);
void AppendData(std::string& out, const QueuedMessage& m);
void AppendAck(std::string& out, uint64_t id);
void AppendDrop(std::string& out, uint64_t id);
/// Size of the record AppendData writes for `m`.
size_t DataRecordBytes(const OutgoingMessage& m);

struct Record {
  RecordType type = RecordType::kHead;
  size_t offset = 0;      // in the scanned log
  size_t size = 0;        // header + body
  uint64_t id = 0;        // data/ack/drop: the message id; head: next_id
  QueuedMessage message;  // data only
};

struct ByteRange {
  size_t offset = 0;
  size_t size = 0;
};

struct Scan {
  std::vector<Record> records;  // good records, in file order
  std::vector<ByteRange> bad;   // corrupt or torn ranges, in file order
};

/// Splits a log into good records and bad ranges (see the file comment).
/// Never fails: any input, including empty, is some mix of the two.
Scan ScanLog(std::string_view log);

/// The queue a scan describes.
struct Replay {
  std::vector<QueuedMessage> live;  // data records without an ack/drop, by id
  uint64_t next_id = 1;             // above every id seen and every head's next_id
};

/// Applies records in file order: data adds its id (a repeated id keeps the
/// first), ack and drop remove it for good (a later data record with that id
/// stays removed), an ack for an unknown id is ignored.
Replay ReplayLog(const Scan& scan);

/// Quarantine file body: per bad range u64 offset, u64 size, then its bytes.
std::string EncodeQuarantine(std::string_view log, const std::vector<ByteRange>& bad);

}  // namespace outbox_log
}  // namespace edgeforge::link
