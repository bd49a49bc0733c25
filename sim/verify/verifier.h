// The cloud side of signed telemetry: what an IoT rule -> Lambda verifier does,
// here in-process. Checks every message's detached JWS against the fleet's JWK
// set over the exact received bytes, that the payload is a valid v1/v2
// telemetry or v2 alarm message of the topic's type, that `dev` equals the
// topic's thing and the key's thing, and tracks `seq` per (device, boot) across
// all message types (they share one counter) to count lost, duplicated
// (byte-identical: QoS 1 retransmits, accepted) and conflicting (same seq,
// different bytes: flagged) messages.
//
// Keys: the JWK set given at construction, minus a revocation list (a revoked
// kid is refused outright), plus keys learned at run time from signing-key
// rotations: an authentic telemetry window whose status.next_key announces
// the device's next key (signed with its current one) teaches that key; the
// first message the new key signs retires the old one for every seq from
// there on (docs/telemetry.md "Signing-key rotation").
//
// Loss is seen in three ways: a gap inside a (device, boot) range; a range
// extended by what the sender knows (Expect(): the fleet saw each device
// publish; NoteBootEnd(): a later message of the device names the last seq
// its earlier boot issued, so a missing tail counts); and nothing at all
// arriving, which is never a PASS (FailureReasons()).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/telemetry.h"

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
  uint64_t status_messages = 0;                     // last-will "offline" notices (not in verified)
  uint64_t alarm_messages = 0;                      // verified alarm messages (included in verified)
  std::map<std::string, uint64_t> alarms;           // "<channel> <state>" -> verified alarm messages
  std::vector<std::string> examples;                // first few invalid/lost details
  /// Signing-key rotations seen (docs/telemetry.md "Signing-key rotation"):
  /// keys learned from authentic announcements, keys retired by their
  /// successor's first message, and one line per such event (the first few),
  /// naming the thing and both kids, so an operator can add learned keys to
  /// the JWK set for verifiers that start later.
  uint64_t keys_learned = 0;
  uint64_t keys_retired = 0;
  std::vector<std::string> key_events;
  /// Of `lost`: seqs after the last one received of a boot, up to the last
  /// seq that boot issued (known from NoteBootEnd or Expect).
  uint64_t tail_lost = 0;
  /// Seqs the devices themselves reported undeliverable (NoteBootEnd's
  /// device_lost, summed over (device, boot)): the device's own accounting,
  /// reported apart; the same seqs also show up in `lost` if they never arrived.
  uint64_t device_reported_lost = 0;
  /// Live verifiers: connections to the broker lost, and for how long in
  /// total the verifier was not subscribed (NoteOutage).
  uint64_t disconnects = 0;
  double disconnected_s = 0;
  /// Set by the live verifier when a reconnect did not resume the broker
  /// session (or had not succeeded when the run ended): what was published
  /// meanwhile may be missing without a gap to show it.
  std::vector<std::string> failure_notes;
  bool Clean() const { return invalid == 0 && lost == 0 && conflicts == 0; }
  /// Why this verification is not a PASS; empty when it is. Nothing verified
  /// is a failure ("nothing arrived"), and so is any outage note.
  std::vector<std::string> FailureReasons() const;
  bool Passed() const { return FailureReasons().empty(); }
};

class TelemetryVerifier {
 public:
  /// Hashes of the last kHashWindow messages per stream are kept to tell
  /// duplicates from conflicts; an older repeat is counted as a duplicate.
  static constexpr size_t kHashWindow = 4096;

  /// `revoked`: kids refused whatever they sign (a revocation list,
  /// jws::RevocationListFromJson); they need not be in `keys`.
  TelemetryVerifier(std::vector<jws::Jwk> keys, jws::Backend backend, std::vector<jws::RevokedKey> revoked = {});

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

  /// A later message of `dev` says that its boot `boot` issued seqs up to
  /// `last_seq` and that the device itself found `device_lost` of them
  /// undeliverable (e.g. after a crash). Extends that stream's expected range
  /// to `last_seq`, so a missing tail counts as lost (reported as tail_lost),
  /// and records device_lost (the largest value noted per stream: every later
  /// message may repeat it). A boot of which nothing arrived starts its range
  /// after the highest seq received from an earlier boot of `dev` (seqs never
  /// go back across boots), or at `last_seq` if there is none.
  void NoteBootEnd(const std::string& dev, uint64_t boot, uint64_t last_seq, uint64_t device_lost);

  /// A live verifier was not subscribed for `duration` (one lost connection).
  /// `note` (may be empty) says why something published meanwhile may be
  /// missing without a gap showing it; a non-empty note fails the report.
  void NoteOutage(std::chrono::milliseconds duration, const std::string& note);
  /// A reason this verification cannot PASS that the counters do not show
  /// (an empty capture, a --save that failed).
  void NoteFailure(const std::string& why);

  /// Whether an authentic message (dev, boot, seq) arrived.
  bool Seen(const std::string& dev, uint64_t boot, uint64_t seq) const;

  VerifyReport Report() const;
  /// Authentic distinct messages received so far (cheap; for progress and drains).
  uint64_t verified() const;

 private:
  struct Stream {
    uint64_t base = 0;         // seq of seen[0]
    std::vector<bool> seen;    // one bit per seq from base
    uint64_t lo = UINT64_MAX;  // expected or seen range
    uint64_t hi = 0;
    bool any_seen = false;     // a message of this stream arrived
    uint64_t seen_hi = 0;      // highest seq that arrived
    uint64_t device_lost = 0;  // NoteBootEnd: the device's own count
    bool end_noted = false;    // NoteBootEnd or Expect gave the last seq
    uint64_t noted_last = 0;
    std::map<uint64_t, uint64_t> hashes;  // seq -> payload hash, last kHashWindow
  };
  /// A signing key the verifier trusts, and where it is in a rotation.
  struct Key {
    jws::Jwk jwk;
    std::string predecessor;             // the kid that signed this key's announcement; empty if never announced
    uint64_t retired_from = UINT64_MAX;  // seqs of jwk.thing >= this are refused ("retired kid")
    std::string successor;               // the kid whose first message retired this one
    bool any_seq = false;                // an authentic new message signed with it arrived
    uint64_t highest_seq = 0;            // the highest seq of those
    bool copy_reported = false;          // it signed above its retirement: reported once
  };
  /// What Authenticate found in an authentic message beyond dev/boot/seq.
  struct Authentic {
    std::string dev;
    uint64_t boot = 0;
    uint64_t seq = 0;
    std::string kid;                               // the key it was signed with
    std::string alarm;                             // "<channel> <state>" for an alarm message
    std::optional<telemetry::PrevBoot> prev_boot;  // a telemetry window's status.prev_boot
    std::optional<jws::Jwk> next_key;              // a telemetry window's status.next_key
  };

  Result<Authentic> Authenticate(std::string_view topic, std::string_view payload, const std::string* jws,
                                 std::string* reason_class);
  /// Checks a rotation announcement before the message is trusted: not the
  /// signing key itself, not another thing's, not revoked or retired.
  Status CheckAnnouncement(const jws::Jwk& next, const Key& signer, const std::string& dev) const;
  /// After an authentic new message: learns an announced key, and retires the
  /// signing key's predecessor from this seq on.
  void NoteKeyUse(const Authentic& a);
  void KeyEvent(std::string line);
  void NoteBootEndLocked(const std::string& dev, uint64_t boot, uint64_t last_seq, uint64_t device_lost);
  Verdict Track(Checked& c, std::string_view payload);
  static void Cover(Stream& s, uint64_t seq);

  std::unique_ptr<jws::Verifier> verifier_;
  std::unordered_map<std::string, Key> keys_by_kid_;          // guarded by mu_ (rotations add and retire keys)
  std::unordered_map<std::string, jws::RevokedKey> revoked_;  // by kid
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, Stream> streams_;
  VerifyReport counts_;
};

}  // namespace edgeforge::sim
