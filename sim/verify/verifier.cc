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
                                                    std::string* reason_class, std::string* alarm) {
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
  } else if (Status body = telemetry::Parse(payload).status(); !body.ok()) {
    return fail("bad payload", body);
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
  auto dev = Authenticate(topic, payload, jws_value, &c.seq, &c.boot, &reason_class, &alarm);
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
    if (missing < s.hi - s.lo + 1) devices.insert(key.first);
    if (missing > 0 && r.examples.size() < kMaxExamples) {
      r.examples.push_back(key.first + " boot " + std::to_string(key.second) + ": " + std::to_string(missing) +
                           " of seq " + std::to_string(s.lo) + ".." + std::to_string(s.hi) + " never arrived");
    }
    r.lost += missing;
  }
  r.devices = devices.size();
  return r;
}

uint64_t TelemetryVerifier::verified() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.verified;
}

}  // namespace edgeforge::sim
