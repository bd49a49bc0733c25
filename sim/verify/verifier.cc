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

TelemetryVerifier::TelemetryVerifier(std::vector<jws::Jwk> keys, jws::Backend backend)
    : verifier_(jws::MakeVerifier(backend)) {
  for (auto& k : keys) keys_by_kid_.emplace(k.kid, std::move(k));
}

Result<std::string> TelemetryVerifier::Authenticate(std::string_view topic, std::string_view payload,
                                                    const std::string* jws_value, uint64_t* seq, uint64_t* boot,
                                                    std::string* reason_class, std::string* alarm,
                                                    std::optional<telemetry::PrevBoot>* prev_boot) {
  auto fail = [&](const char* cls, const Status& s) {
    *reason_class = cls;
    return s;
  };
  auto parts = topic::ParseTelemetryTopic(topic);
  if (!parts.ok()) return fail("bad topic", parts.status());
  if (jws_value == nullptr) return fail("no signature", Unauthenticated("no 'jws' user property"));
  auto header = jws::ParseHeader(*jws_value);
  if (!header.ok()) return fail("bad jws header", header.status());
  auto key = keys_by_kid_.find(header->kid);
  if (key == keys_by_kid_.end()) {
    return fail("unknown kid", Unauthenticated("kid '" + header->kid + "' is not in the JWK set"));
  }
  Status sig = verifier_->Verify(*jws_value, payload, key->second.key);
  if (!sig.ok()) return fail("bad signature", sig);
  // Only authentic bytes are parsed further: the envelope, then the whole
  // message strictly by its type, which must be the topic's.
  auto msg = telemetry::ParseEnvelope(payload);
  if (!msg.ok()) return fail("bad payload", msg.status());
  if (msg->type == telemetry::MessageType::kAlarm) {
    auto a = telemetry::ParseAlarm(payload);
    if (!a.ok()) return fail("bad payload", a.status());
    *alarm = a->alarm.channel + " " + telemetry::AlarmStateName(a->alarm.state);
  } else {
    auto body = telemetry::Parse(payload);
    if (!body.ok()) return fail("bad payload", body.status());
    *prev_boot = body->status.prev_boot;
  }
  if (parts->type != telemetry::MessageTypeName(msg->type)) {
    return fail("type/topic mismatch",
                InvalidArgument(std::string("payload type '") + telemetry::MessageTypeName(msg->type) +
                                "' != topic type '" + parts->type + "'"));
  }
  if (msg->dev != parts->thing) {
    return fail("dev/topic mismatch", Unauthenticated("dev '" + msg->dev + "' != topic thing '" + parts->thing + "'"));
  }
  if (key->second.thing != msg->dev) {
    return fail("wrong key",
                Unauthenticated("signed with the key of '" + key->second.thing + "', not of dev '" + msg->dev + "'"));
  }
  *seq = msg->seq;
  *boot = msg->boot;
  return msg->dev;
}

TelemetryVerifier::Checked TelemetryVerifier::Check(std::string_view topic, std::string_view payload,
                                                    const std::string* jws_value) {
  Checked c;
  std::string reason_class;
  // One lock for all of it: jws::Verifier is single-threaded by contract.
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
  std::string alarm;
  std::optional<telemetry::PrevBoot> prev_boot;
  auto dev = Authenticate(topic, payload, jws_value, &c.seq, &c.boot, &reason_class, &alarm, &prev_boot);
  ++counts_.received;
  if (!dev.ok()) {
    ++counts_.invalid;
    ++counts_.invalid_reasons[reason_class];
    c.why = std::string(topic) + ": " + dev.status().message();
    if (counts_.examples.size() < kMaxExamples) counts_.examples.push_back(c.why);
    c.verdict = Verdict::kInvalid;
    return c;
  }
  c.dev = std::move(*dev);
  c.verdict = Track(c, payload);
  // An authentic window of a later boot says where the earlier boot's seqs
  // ended and what the device itself lost in a crash (docs/telemetry.md,
  // status.prev_boot): a missing tail of that boot now counts as lost.
  if (prev_boot && c.verdict != Verdict::kConflict) {
    NoteBootEndLocked(c.dev, prev_boot->boot, prev_boot->last_seq, prev_boot->lost);
  }
  if (c.verdict == Verdict::kVerified && !alarm.empty()) {
    ++counts_.alarm_messages;
    ++counts_.alarms[alarm];
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
