#include "sim/verify/verifier.h"

#include <set>

#include "firmware/telemetry/telemetry.h"
#include "firmware/telemetry/topic.h"

namespace edgeforge::sim {
namespace {

constexpr size_t kMaxExamples = 20;

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kVerified:
      return "verified";
    case Verdict::kDuplicate:
      return "duplicate";
    case Verdict::kConflict:
      return "conflict";
    case Verdict::kStatus:
      return "status";
    case Verdict::kInvalid:
      return "invalid";
  }
  return "?";
}

TelemetryVerifier::TelemetryVerifier(std::vector<jws::Jwk> keys, jws::Backend backend,
                                     std::vector<jws::RevokedKey> revoked)
    : verifier_(jws::MakeVerifier(backend)) {
  for (auto& k : keys) {
    std::string kid = k.kid;
    keys_by_kid_.emplace(std::move(kid), Key{std::move(k), {}, UINT64_MAX, {}});
  }
  for (auto& r : revoked) {
    std::string kid = r.kid;
    revoked_.emplace(std::move(kid), std::move(r));
  }
}

namespace {

// Reason classes of a refused header (docs/telemetry.md, "What a verifier
// checks"): a downgrade attempt is told apart from a merely broken header.
const char* HeaderReasonClass(jws::HeaderDefect d) {
  switch (d) {
    case jws::HeaderDefect::kAlg:
      return "alg not ES256";
    case jws::HeaderDefect::kB64:
      return "b64 not false";
    case jws::HeaderDefect::kB64NotCritical:
      return "b64 not critical";
    case jws::HeaderDefect::kUnknownCrit:
      return "unknown crit member";
    case jws::HeaderDefect::kNone:
    case jws::HeaderDefect::kMalformed:
      break;
  }
  return "bad jws header";
}

}  // namespace

Result<TelemetryVerifier::Authentic> TelemetryVerifier::Authenticate(std::string_view topic, std::string_view payload,
                                                                     const std::string* jws_value,
                                                                     std::string* reason_class) {
  auto fail = [&](const char* cls, const Status& s) {
    *reason_class = cls;
    return s;
  };
  auto parts = topic::ParseTelemetryTopic(topic);
  if (!parts.ok()) return fail("bad topic", parts.status());
  if (jws_value == nullptr) return fail("no signature", Unauthenticated("no 'jws' user property"));
  jws::HeaderDefect defect = jws::HeaderDefect::kNone;
  auto header = jws::ParseHeader(*jws_value, &defect);
  if (!header.ok()) return fail(HeaderReasonClass(defect), header.status());
  // Revocation first: a revoked kid is refused whatever it signed, and
  // whether or not it is (still) in the JWK set.
  if (auto r = revoked_.find(header->kid); r != revoked_.end()) {
    return fail("revoked kid", Unauthenticated("kid '" + header->kid + "' was revoked at " + r->second.at +
                                               (r->second.reason.empty() ? "" : " (" + r->second.reason + ")")));
  }
  auto found = keys_by_kid_.find(header->kid);
  if (found == keys_by_kid_.end()) {
    return fail("unknown kid",
                Unauthenticated("kid '" + header->kid + "' is not in the JWK set nor announced by a key rotation"));
  }
  const Key& key = found->second;
  Status sig = verifier_->Verify(*jws_value, payload, key.jwk.key);
  if (!sig.ok()) {
    // The header names another thing's key on this thing's topic and the
    // signature does not verify under it: a kid swapped into someone's
    // message, or a forgery aimed at another device. Counted apart from a
    // corrupted message; either way nothing in it is trusted.
    if (!key.jwk.thing.empty() && key.jwk.thing != parts->thing) {
      return fail("kid of another thing", Unauthenticated("kid '" + header->kid + "' is the key of '" + key.jwk.thing +
                                                          "', not of topic thing '" + parts->thing +
                                                          "', and the signature does not verify: " + sig.message()));
    }
    return fail("bad signature", sig);
  }
  // Only authentic bytes are parsed further: the envelope, then the whole
  // message strictly by its type, which must be the topic's.
  auto msg = telemetry::ParseEnvelope(payload);
  if (!msg.ok()) return fail("bad payload", msg.status());
  Authentic a;
  if (msg->type == telemetry::MessageType::kAlarm) {
    auto al = telemetry::ParseAlarm(payload);
    if (!al.ok()) return fail("bad payload", al.status());
    a.alarm = al->alarm.channel + " " + telemetry::AlarmStateName(al->alarm.state);
  } else {
    auto body = telemetry::Parse(payload);
    if (!body.ok()) return fail("bad payload", body.status());
    a.prev_boot = body->status.prev_boot;
    a.next_key = body->status.next_key;
  }
  if (parts->type != telemetry::MessageTypeName(msg->type)) {
    return fail("type/topic mismatch",
                InvalidArgument(std::string("payload type '") + telemetry::MessageTypeName(msg->type) +
                                "' != topic type '" + parts->type + "'"));
  }
  if (msg->dev != parts->thing) {
    return fail("dev/topic mismatch", Unauthenticated("dev '" + msg->dev + "' != topic thing '" + parts->thing + "'"));
  }
  if (key.jwk.thing != msg->dev) {
    return fail("wrong key",
                Unauthenticated("signed with the key of '" + key.jwk.thing + "', not of dev '" + msg->dev + "'"));
  }
  // Seq is monotonic per device across boots, so one number says where the
  // successor key took over (docs/telemetry.md "Signing-key rotation").
  if (msg->seq >= key.retired_from) {
    return fail("retired kid", Unauthenticated("kid '" + header->kid + "' of '" + msg->dev + "' was retired from seq " +
                                               std::to_string(key.retired_from) + " by its successor '" +
                                               key.successor + "'; this message has seq " + std::to_string(msg->seq)));
  }
  if (a.next_key) {
    if (Status s = CheckAnnouncement(*a.next_key, key, msg->dev); !s.ok()) return fail("bad key announcement", s);
  }
  a.dev = msg->dev;
  a.boot = msg->boot;
  a.seq = msg->seq;
  a.kid = header->kid;
  return a;
}

Status TelemetryVerifier::CheckAnnouncement(const jws::Jwk& next, const Key& signer, const std::string& dev) const {
  const std::string what = "status.next_key kid '" + next.kid + "'";
  if (next.kid == signer.jwk.kid) return InvalidArgument(what + " is the key the message is signed with");
  if (revoked_.count(next.kid) > 0) return Unauthenticated(what + " is revoked");
  auto known = keys_by_kid_.find(next.kid);
  if (known == keys_by_kid_.end()) return Status::Ok();
  if (known->second.jwk.thing != dev) {
    return Unauthenticated(what + " is the key of '" + known->second.jwk.thing + "', not of '" + dev + "'");
  }
  if (known->second.retired_from != UINT64_MAX) {
    return Unauthenticated(what + " was retired: a key is never reinstated");
  }
  return Status::Ok();
}

void TelemetryVerifier::KeyEvent(std::string line) {
  if (counts_.key_events.size() < kMaxExamples) counts_.key_events.push_back(std::move(line));
}

void TelemetryVerifier::NoteKeyUse(const Authentic& a) {
  if (a.next_key) {
    auto [it, inserted] = keys_by_kid_.try_emplace(a.next_key->kid);
    Key& next = it->second;
    if (inserted) {
      next.jwk = *a.next_key;
      next.jwk.thing = a.dev;  // the announcement binds the key to the thing that signed it
      ++counts_.keys_learned;
      KeyEvent(a.dev + ": learned kid " + next.jwk.kid + " (announced in boot " + std::to_string(a.boot) + " seq " +
               std::to_string(a.seq) + ", signed with kid " + a.kid + ")");
    }
    // Also a key already in the JWK set (a set regenerated after a rotation):
    // its first message still retires the key that announced it.
    if (next.predecessor.empty()) next.predecessor = a.kid;
  }
  auto signer = keys_by_kid_.find(a.kid);
  if (signer == keys_by_kid_.end()) return;
  Key& used = signer->second;
  used.highest_seq = used.any_seq ? std::max(used.highest_seq, a.seq) : a.seq;
  used.any_seq = true;
  if (used.predecessor.empty()) return;
  auto old = keys_by_kid_.find(used.predecessor);
  if (old == keys_by_kid_.end() || a.seq >= old->second.retired_from) return;
  Key& prev = old->second;
  if (prev.retired_from == UINT64_MAX) {
    ++counts_.keys_retired;
    KeyEvent(a.dev + ": kid " + prev.jwk.kid + " retired from seq " + std::to_string(a.seq) +
             " (the first message signed with its successor " + a.kid + ")");
  }
  // The lowest seq the successor signed: an earlier message of it arriving
  // late (alarms overtake telemetry) moves the boundary down, never up.
  prev.retired_from = a.seq;
  prev.successor = a.kid;
  // The device signs every old-key message before its first new-key one
  // (seq order is signing order), so an old-key message already accepted at
  // or above the boundary was signed by someone else holding the old key.
  if (prev.any_seq && prev.highest_seq >= a.seq && !prev.copy_reported) {
    prev.copy_reported = true;
    counts_.failure_notes.push_back(
        a.dev + ": kid " + prev.jwk.kid + " signed seq " + std::to_string(prev.highest_seq) + ", after its successor " +
        a.kid + " took over at seq " + std::to_string(a.seq) + ": another copy of the old key is in use (revoke it)");
  }
}

TelemetryVerifier::Checked TelemetryVerifier::Check(std::string_view topic, std::string_view payload,
                                                    const std::string* jws_value) {
  Checked c;
  std::string reason_class;
  // One lock for all of it: jws::Verifier is single-threaded by contract, and
  // rotations change the key table.
  std::lock_guard<std::mutex> lock(mu_);
  // A last will is composed at CONNECT and published by the broker when the
  // connection dies: it cannot carry a signature over a sample or a seq.
  if (auto t = topic::ParseTelemetryTopic(topic); t.ok() && t->type == "status") {
    ++counts_.received;
    ++counts_.status_messages;
    c.dev = t->thing;
    c.verdict = Verdict::kStatus;
    return c;
  }
  auto authentic = Authenticate(topic, payload, jws_value, &reason_class);
  ++counts_.received;
  if (!authentic.ok()) {
    ++counts_.invalid;
    ++counts_.invalid_reasons[reason_class];
    c.why = std::string(topic) + ": " + authentic.status().message();
    if (counts_.examples.size() < kMaxExamples) counts_.examples.push_back(c.why);
    c.verdict = Verdict::kInvalid;
    return c;
  }
  c.dev = authentic->dev;
  c.boot = authentic->boot;
  c.seq = authentic->seq;
  c.verdict = Track(c, payload);
  // Keys change only on a new authentic message: a conflicting one (a reused
  // seq) teaches nothing, a duplicate already taught it.
  if (c.verdict == Verdict::kVerified) NoteKeyUse(*authentic);
  // An authentic window of a later boot says where the earlier boot's seqs
  // ended and what the device itself lost in a crash (docs/telemetry.md,
  // status.prev_boot): a missing tail of that boot now counts as lost.
  if (authentic->prev_boot && c.verdict != Verdict::kConflict) {
    const telemetry::PrevBoot& p = *authentic->prev_boot;
    NoteBootEndLocked(c.dev, p.boot, p.last_seq, p.lost);
  }
  if (c.verdict == Verdict::kVerified && !authentic->alarm.empty()) {
    ++counts_.alarm_messages;
    ++counts_.alarms[authentic->alarm];
  }
  return c;
}

void TelemetryVerifier::Cover(Stream& s, uint64_t seq) {
  if (s.seen.empty()) {
    s.base = seq;
    s.seen.assign(1, false);
  } else if (seq < s.base) {
    s.seen.insert(s.seen.begin(), s.base - seq, false);
    s.base = seq;
  } else if (seq - s.base >= s.seen.size()) {
    s.seen.resize(seq - s.base + 1, false);
  }
  s.lo = std::min(s.lo, seq);
  s.hi = std::max(s.hi, seq);
}

Verdict TelemetryVerifier::Track(Checked& c, std::string_view payload) {
  const std::string& dev = c.dev;
  const uint64_t boot = c.boot;
  const uint64_t seq = c.seq;
  Stream& s = streams_[{dev, boot}];
  Cover(s, seq);
  const uint64_t h = Fnv1a64(payload);
  const size_t idx = seq - s.base;
  if (s.seen[idx]) {
    auto it = s.hashes.find(seq);
    if (it != s.hashes.end() && it->second != h) {
      ++counts_.conflicts;
      c.why = dev + " boot " + std::to_string(boot) + " seq " + std::to_string(seq) + ": reused with different bytes";
      if (counts_.examples.size() < kMaxExamples) counts_.examples.push_back(c.why);
      return Verdict::kConflict;
    }
    ++counts_.duplicates;
    return Verdict::kDuplicate;
  }
  s.seen[idx] = true;
  s.seen_hi = s.any_seen ? std::max(s.seen_hi, seq) : seq;
  s.any_seen = true;
  s.hashes.emplace(seq, h);
  if (s.hashes.size() > kHashWindow) s.hashes.erase(s.hashes.begin());
  ++counts_.verified;
  return Verdict::kVerified;
}

void TelemetryVerifier::Expect(const std::string& dev, uint64_t boot, uint64_t first, uint64_t last) {
  if (last < first) return;
  std::lock_guard<std::mutex> lock(mu_);
  Stream& s = streams_[{dev, boot}];
  Cover(s, first);
  Cover(s, last);
  s.noted_last = s.end_noted ? std::max(s.noted_last, last) : last;
  s.end_noted = true;
}

void TelemetryVerifier::NoteBootEnd(const std::string& dev, uint64_t boot, uint64_t last_seq, uint64_t device_lost) {
  std::lock_guard<std::mutex> lock(mu_);
  NoteBootEndLocked(dev, boot, last_seq, device_lost);
}

void TelemetryVerifier::NoteBootEndLocked(const std::string& dev, uint64_t boot, uint64_t last_seq,
                                          uint64_t device_lost) {
  // A boot that issued nothing names the last seq of an earlier boot (seq is
  // monotonic across boots): if that seq already arrived, there is no tail to
  // look for, only the device's own count to keep.
  for (auto e = streams_.lower_bound({dev, 0}); e != streams_.end() && e->first.first == dev; ++e) {
    Stream& s = e->second;
    if (e->first.second == boot || s.seen.empty() || last_seq < s.base || last_seq - s.base >= s.seen.size()) continue;
    if (s.seen[last_seq - s.base]) {
      s.device_lost = std::max(s.device_lost, device_lost);
      return;
    }
  }
  auto it = streams_.find({dev, boot});
  if (it == streams_.end() || it->second.lo > it->second.hi) {
    // Nothing of this boot arrived: its seqs follow the earlier boots' (seq is
    // monotonic across boots, DESIGN.md "Signed telemetry").
    uint64_t after = 0;
    bool earlier = false;
    for (auto e = streams_.lower_bound({dev, 0}); e != streams_.end() && e->first.first == dev; ++e) {
      if (e->first.second < boot && e->second.any_seen) {
        after = std::max(after, e->second.seen_hi + 1);
        earlier = true;
      }
    }
    // A verifier that saw nothing of this device before that boot never
    // watched it (it started later): it has nothing to judge there.
    if (!earlier) return;
    const uint64_t first = after <= last_seq ? after : last_seq;
    Stream& s = streams_[{dev, boot}];
    Cover(s, first);
  }
  Stream& s = streams_[{dev, boot}];
  Cover(s, last_seq);
  s.noted_last = s.end_noted ? std::max(s.noted_last, last_seq) : last_seq;
  s.end_noted = true;
  s.device_lost = std::max(s.device_lost, device_lost);
}

void TelemetryVerifier::NoteOutage(std::chrono::milliseconds duration, const std::string& note) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.disconnects;
  counts_.disconnected_s += std::chrono::duration<double>(duration).count();
  if (!note.empty()) counts_.failure_notes.push_back(note);
}

VerifyReport TelemetryVerifier::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  VerifyReport r = counts_;
  std::set<std::string> devices;
  for (const auto& [key, s] : streams_) {
    uint64_t missing = 0;
    for (uint64_t q = s.lo; s.lo <= s.hi && q <= s.hi; ++q) {
      if (!s.seen[q - s.base]) ++missing;
    }
    uint64_t tail = 0;
    if (s.end_noted && s.lo <= s.hi) {
      for (uint64_t q = s.any_seen ? s.seen_hi + 1 : s.lo; q <= s.noted_last && q <= s.hi; ++q) {
        if (!s.seen[q - s.base]) ++tail;
      }
    }
    if (s.any_seen) devices.insert(key.first);
    if (missing > 0 && r.examples.size() < kMaxExamples) {
      std::string e = key.first + " boot " + std::to_string(key.second) + ": " + std::to_string(missing) + " of seq " +
                      std::to_string(s.lo) + ".." + std::to_string(s.hi) + " never arrived";
      if (tail > 0) e += " (" + std::to_string(tail) + " at the tail, after seq " + std::to_string(s.seen_hi) + ")";
      r.examples.push_back(std::move(e));
    }
    if (s.device_lost > 0 && r.examples.size() < kMaxExamples) {
      r.examples.push_back(key.first + " boot " + std::to_string(key.second) + ": the device reported " +
                           std::to_string(s.device_lost) + " seqs undeliverable");
    }
    r.lost += missing;
    r.tail_lost += tail;
    r.device_reported_lost += s.device_lost;
  }
  r.devices = devices.size();
  return r;
}

std::vector<std::string> VerifyReport::FailureReasons() const {
  std::vector<std::string> why;
  if (verified == 0) {
    why.push_back(received == 0
                      ? "nothing arrived: no message was received"
                      : "nothing arrived: no authentic message among " + std::to_string(received) + " received");
  }
  if (lost > 0) {
    std::string w = std::to_string(lost) + " lost";
    if (tail_lost > 0) w += " (" + std::to_string(tail_lost) + " at the tail of a boot)";
    if (disconnects > 0) {
      w += "; the verifier was disconnected " + std::to_string(disconnects) + " time(s), " +
           std::to_string(static_cast<long long>(disconnected_s * 1000)) + " ms in total";
    }
    why.push_back(std::move(w));
  }
  if (device_reported_lost > 0) {
    why.push_back(std::to_string(device_reported_lost) + " reported undeliverable by the devices themselves");
  }
  if (invalid > 0) why.push_back(std::to_string(invalid) + " received but invalid");
  if (conflicts > 0) why.push_back(std::to_string(conflicts) + " conflicting");
  for (const auto& n : failure_notes) why.push_back(n);
  return why;
}

void TelemetryVerifier::NoteFailure(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.failure_notes.push_back(why);
}

bool TelemetryVerifier::Seen(const std::string& dev, uint64_t boot, uint64_t seq) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find({dev, boot});
  if (it == streams_.end()) return false;
  const Stream& s = it->second;
  return !s.seen.empty() && seq >= s.base && seq - s.base < s.seen.size() && s.seen[seq - s.base];
}

uint64_t TelemetryVerifier::verified() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.verified;
}

}  // namespace edgeforge::sim
