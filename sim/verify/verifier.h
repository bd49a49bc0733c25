// The cloud side of signed telemetry: what an IoT rule -> Lambda verifier does,
// here in-process. Checks every message's detached JWS against the fleet's JWK
// set over the exact received bytes, that the payload is a valid v1/v2
// telemetry or v2 alarm message of the topic's type, that `dev` equals the
// topic's thing and the key's thing, and tracks `seq` per (device, boot) across
// all message types (they share one counter) to count lost, duplicated
// (byte-identical: QoS 1 retransmits, accepted) and conflicting (same seq,
// different bytes: flagged) messages.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firmware/telemetry/jws.h"

namespace edgeforge::sim {

enum class Verdict {
  kVerified,   // new, authentic message
  kDuplicate,  // authentic, byte-identical to one already received
  kConflict,   // authentic, but its seq was already used with other bytes
  kInvalid,    // not authentic or malformed: counted, never trusted
  kStatus,     // a device's last will (dt/.../<thing>/status): unsigned by design, no seq; counted
};
const char* VerdictName(Verdict v);

struct VerifyReport {
  uint64_t received = 0;
  uint64_t verified = 0;
  uint64_t duplicates = 0;
  uint64_t conflicts = 0;
  uint64_t invalid = 0;
  uint64_t lost = 0;                                // seqs missing inside each (device, boot) range
  uint64_t devices = 0;                             // devices with at least one verified message
  std::map<std::string, uint64_t> invalid_reasons;  // reason class -> count
  uint64_t status_messages = 0;  // last-will "offline" notices (not in verified)
  uint64_t alarm_messages = 0;                      // verified alarm messages (included in verified)
  std::map<std::string, uint64_t> alarms;           // "<channel> <state>" -> verified alarm messages
  std::vector<std::string> examples;                // first few invalid/lost details
  bool Clean() const { return invalid == 0 && lost == 0 && conflicts == 0; }
};

class TelemetryVerifier {
 public:
  /// Hashes of the last kHashWindow messages per stream are kept to tell
  /// duplicates from conflicts; an older repeat is counted as a duplicate.
  static constexpr size_t kHashWindow = 4096;

  TelemetryVerifier(std::vector<jws::Jwk> keys, jws::Backend backend);

  struct Checked {
    Verdict verdict = Verdict::kInvalid;
    std::string dev;  // set unless invalid
    uint64_t boot = 0;
    uint64_t seq = 0;
    std::string why;  // set if invalid or conflicting
  };
  /// Thread-safe. `jws` is the value of the message's jws user property, or
  /// nullptr if it had none.
  Checked Check(std::string_view topic, std::string_view payload, const std::string* jws);

  /// Declares that `dev` published seqs [first, last] in boot `boot`, so that
  /// messages missing at either end also count as lost.
  void Expect(const std::string& dev, uint64_t boot, uint64_t first, uint64_t last);

  VerifyReport Report() const;
  /// Authentic distinct messages received so far (cheap; for progress and drains).
  uint64_t verified() const;

 private:
  struct Stream {
    uint64_t base = 0;         // seq of seen[0]
    std::vector<bool> seen;    // one bit per seq from base
    uint64_t lo = UINT64_MAX;  // expected or seen range
    uint64_t hi = 0;
    std::map<uint64_t, uint64_t> hashes;  // seq -> payload hash, last kHashWindow
  };
  struct Invalid {
    std::string reason_class;
    std::string detail;
  };

  /// `alarm` is set to "<channel> <state>" for an authentic alarm message.
  Result<std::string> Authenticate(std::string_view topic, std::string_view payload, const std::string* jws,
                                   uint64_t* seq, uint64_t* boot, std::string* reason_class, std::string* alarm);
  Verdict Track(Checked& c, std::string_view payload);
  static void Cover(Stream& s, uint64_t seq);

  std::unique_ptr<jws::Verifier> verifier_;
  std::unordered_map<std::string, jws::Jwk> keys_by_kid_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, Stream> streams_;
  VerifyReport counts_;
};

}  // namespace edgeforge::sim
