#include "sim/verify/verifier.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <nlohmann/json.hpp>

#include "firmware/telemetry/telemetry.h"
#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using testing_support::Jwks;
using testing_support::MakePki;
using testing_support::SignerFor;

class VerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new std::string(MakePki({"dev-a", "dev-b"}, "verifier")); }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    signer_a_ = SignerFor(*pki_, "dev-a");
    signer_b_ = SignerFor(*pki_, "dev-b");
    verifier_ = std::make_unique<TelemetryVerifier>(Jwks(*pki_), jws::Backend::kOpenSsl);
  }

  // A v2 telemetry window, as devices emit it; `next_key` announces a signing-key rotation.
  static std::string Payload(const std::string& dev, uint64_t seq, uint64_t boot = 1, double t = 20.0,
                             const jws::Signer* next_key = nullptr) {
    telemetry::Telemetry m;
    m.dev = dev;
    m.kind = "factory";
    m.seq = seq;
    m.boot = boot;
    m.ts = 1'700'000'000'000 + static_cast<int64_t>(seq);
    m.window_start = m.ts - 10'000;
    m.window_ms = 10'000;
    telemetry::ChannelWindow c;
    c.name = "temperature";
    c.unit = "Cel";
    c.n = 10;
    c.value = c.mean = c.min = c.max = t;
    m.readings = {c};
    if (next_key != nullptr) m.status.next_key = jws::Jwk{next_key->kid(), "", next_key->public_key()};
    return telemetry::Serialize(m);
  }
  // A v1 message, as older firmware sent it (captures).
  static std::string V1Payload(const std::string& dev, uint64_t seq, uint64_t boot = 1) {
    telemetry::Message m;
    m.dev = dev;
    m.seq = seq;
    m.boot = boot;
    m.ts = 1'700'000'000'000 + static_cast<int64_t>(seq);
    m.readings = {{"temperature", 20.5, "Cel", ""}};
    return telemetry::Serialize(m);
  }
  static std::string AlarmPayload(const std::string& dev, uint64_t seq, telemetry::AlarmState state,
                                  uint64_t boot = 1) {
    telemetry::AlarmMessage m;
    m.dev = dev;
    m.kind = "factory";
    m.seq = seq;
    m.boot = boot;
    m.ts = 1'700'000'000'000 + static_cast<int64_t>(seq);
    m.alarm = {"temperature", state, telemetry::AlarmCondition::kAbove, 40, 1, 41.2, "critical"};
    return telemetry::Serialize(m);
  }
  static std::string Topic(const std::string& thing) { return "dt/edgeforge/site-1/" + thing + "/telemetry"; }
  static std::string AlarmTopic(const std::string& thing) { return "dt/edgeforge/site-1/" + thing + "/alarm"; }

  Verdict Send(const std::string& topic, const std::string& payload, jws::Signer& signer) {
    auto sig = signer.Sign(payload);
    EXPECT_TRUE(sig.ok());
    return verifier_->Check(topic, payload, &*sig).verdict;
  }

  static std::string* pki_;
  std::unique_ptr<jws::Signer> signer_a_, signer_b_;
  std::unique_ptr<TelemetryVerifier> verifier_;
};
std::string* VerifierTest::pki_ = nullptr;

TEST_F(VerifierTest, VerifiesAuthenticMessages) {
  for (uint64_t s = 0; s < 5; ++s) EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", s), *signer_a_), Verdict::kVerified);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.verified, 5u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.devices, 1u);
  EXPECT_TRUE(r.Clean());
}

// A device's last will is unsigned by design (the broker publishes it when
// the connection dies): counted as a status notice, never as invalid or as a
// gap in the telemetry sequence.
TEST_F(VerifierTest, LastWillStatusIsCountedNotInvalid) {
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 0), *signer_a_), Verdict::kVerified);
  const auto c = verifier_->Check("dt/edgeforge/site-1/dev-a/status",
                                  R"({"v":2,"type":"status","dev":"dev-a","state":"offline"})", nullptr);
  EXPECT_EQ(c.verdict, Verdict::kStatus);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1), *signer_a_), Verdict::kVerified);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.status_messages, 1u);
  EXPECT_EQ(r.verified, 2u);
  EXPECT_EQ(r.invalid, 0u);
  EXPECT_TRUE(r.Clean());
}

TEST_F(VerifierTest, CountsGapsAsLostAndExpectedTailToo) {
  for (uint64_t s : {0, 1, 4, 5}) Send(Topic("dev-a"), Payload("dev-a", s), *signer_a_);
  EXPECT_EQ(verifier_->Report().lost, 2u);  // 2 and 3
  verifier_->Expect("dev-a", 1, 0, 8);      // the device says it published up to 8
  EXPECT_EQ(verifier_->Report().lost, 5u);
  EXPECT_FALSE(verifier_->Report().Clean());
}

TEST_F(VerifierTest, SeqRestartingInANewBootIsNotLossOrConflict) {
  for (uint64_t s : {0, 1, 2}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  // Crash: the next boot resumes at the persisted lease (1000), not at 3.
  for (uint64_t s : {1000, 1001}) Send(Topic("dev-a"), Payload("dev-a", s, 2), *signer_a_);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.verified, 5u);
}

TEST_F(VerifierTest, ByteIdenticalRepeatIsDuplicateDifferentBytesIsConflict) {
  const std::string p = Payload("dev-a", 7);
  EXPECT_EQ(Send(Topic("dev-a"), p, *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), p, *signer_a_), Verdict::kDuplicate);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 7, 1, 99.0), *signer_a_), Verdict::kConflict);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.conflicts, 1u);
  EXPECT_FALSE(r.Clean());
}

TEST_F(VerifierTest, RejectsTamperedPayload) {
  std::string p = Payload("dev-a", 1);
  auto sig = signer_a_->Sign(p);
  p[p.find("20")] = '9';
  const auto c = verifier_->Check(Topic("dev-a"), p, &*sig);
  EXPECT_EQ(c.verdict, Verdict::kInvalid);
  EXPECT_EQ(verifier_->Report().invalid_reasons.count("bad signature"), 1u) << c.why;
}

TEST_F(VerifierTest, RejectsAnotherDevicesKey) {
  // dev-b signs a message claiming to be dev-a, on dev-a's topic.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1), *signer_b_), Verdict::kInvalid);
  EXPECT_EQ(verifier_->Report().invalid_reasons.count("wrong key"), 1u);
}

TEST_F(VerifierTest, RejectsDevThatDiffersFromTopic) {
  EXPECT_EQ(Send(Topic("dev-b"), Payload("dev-a", 1), *signer_a_), Verdict::kInvalid);
  EXPECT_EQ(verifier_->Report().invalid_reasons.count("dev/topic mismatch"), 1u);
}

TEST_F(VerifierTest, RejectsMissingSignatureUnknownKidAndAlgNone) {
  const std::string p = Payload("dev-a", 1);
  EXPECT_EQ(verifier_->Check(Topic("dev-a"), p, nullptr).verdict, Verdict::kInvalid);
  // A signer whose key is not in the JWK set.
  const std::string other = MakePki({"dev-a"}, "otherpki");
  auto stranger = SignerFor(other, "dev-a");
  EXPECT_EQ(Send(Topic("dev-a"), p, *stranger), Verdict::kInvalid);
  // alg "none" with an empty signature.
  const std::string none_header =
      jws::Base64UrlEncode(AsBytes(R"({"alg":"none","b64":false,"crit":["b64"],"kid":")" + signer_a_->kid() + "\"}"));
  const std::string none = none_header + "..";
  EXPECT_EQ(verifier_->Check(Topic("dev-a"), p, &none).verdict, Verdict::kInvalid);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.invalid, 3u);
  EXPECT_EQ(r.invalid_reasons.at("no signature"), 1u);
  EXPECT_EQ(r.invalid_reasons.at("unknown kid"), 1u);
  EXPECT_EQ(r.invalid_reasons.at("alg not ES256"), 1u);
  EXPECT_EQ(r.verified, 0u);
}

TEST_F(VerifierTest, RejectsAuthenticButMalformedPayloadAndBadTopic) {
  EXPECT_EQ(Send(Topic("dev-a"), "{\"v\":1}", *signer_a_), Verdict::kInvalid);
  EXPECT_EQ(Send("dt/edgeforge/dev-a", Payload("dev-a", 1), *signer_a_), Verdict::kInvalid);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.invalid_reasons.at("bad payload"), 1u);
  EXPECT_EQ(r.invalid_reasons.at("bad topic"), 1u);
}

TEST_F(VerifierTest, MbedTlsSignedMessagesVerify) {
  auto mbed = SignerFor(*pki_, "dev-a", jws::Backend::kMbedTls);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1), *mbed), Verdict::kVerified);
}

// Alarms and telemetry share the device's one seq counter: the verifier tracks
// them as one sequence per (dev, boot), so interleaving is not loss.
TEST_F(VerifierTest, AlarmAndTelemetryInterleavedShareOneSeqSpace) {
  using telemetry::AlarmState;
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 0), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), AlarmPayload("dev-a", 1, AlarmState::kRaised), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 2), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), AlarmPayload("dev-a", 3, AlarmState::kCleared), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 4), *signer_a_), Verdict::kVerified);
  auto r = verifier_->Report();
  EXPECT_EQ(r.verified, 5u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.devices, 1u);
  EXPECT_TRUE(r.Clean());
  // An alarm that never arrives is a gap in the same sequence.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 6), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(verifier_->Report().lost, 1u);
}

TEST_F(VerifierTest, AlarmReusingATelemetrySeqIsAConflict) {
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 5), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), AlarmPayload("dev-a", 5, telemetry::AlarmState::kRaised), *signer_a_),
            Verdict::kConflict);
}

TEST_F(VerifierTest, PayloadTypeMustMatchTopicType) {
  const std::string alarm = AlarmPayload("dev-a", 1, telemetry::AlarmState::kRaised);
  EXPECT_EQ(Send(Topic("dev-a"), alarm, *signer_a_), Verdict::kInvalid);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), Payload("dev-a", 2), *signer_a_), Verdict::kInvalid);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), V1Payload("dev-a", 3), *signer_a_), Verdict::kInvalid);
  EXPECT_EQ(verifier_->Report().invalid_reasons.at("type/topic mismatch"), 3u);
}

TEST_F(VerifierTest, AuthenticButMalformedAlarmIsInvalid) {
  std::string alarm = AlarmPayload("dev-a", 1, telemetry::AlarmState::kRaised);
  alarm.replace(alarm.find("\"critical\""), 10, "\"urgent\"");
  const auto c = [&] {
    auto sig = signer_a_->Sign(alarm);
    return verifier_->Check(AlarmTopic("dev-a"), alarm, &*sig);
  }();
  EXPECT_EQ(c.verdict, Verdict::kInvalid);
  EXPECT_NE(c.why.find("alarm.severity"), std::string::npos) << c.why;
  EXPECT_EQ(verifier_->Report().invalid_reasons.at("bad payload"), 1u);
}

TEST_F(VerifierTest, OldV1TelemetryStillVerifies) {
  EXPECT_EQ(Send(Topic("dev-a"), V1Payload("dev-a", 0), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1), *signer_a_), Verdict::kVerified);
  EXPECT_TRUE(verifier_->Report().Clean());
}

// Issue 8 (3): the tail of a boot that never arrived was invisible; a later
// message's prev_boot note makes it count, apart from the device's own count.
TEST_F(VerifierTest, NoteBootEndCountsTheMissingTailAsLost) {
  for (uint64_t s : {10, 11, 12}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  EXPECT_EQ(verifier_->Report().lost, 0u);  // nothing shows the tail yet
  // Boot 2 says: boot 1 issued seqs up to 18, and the device itself found 2
  // of them undeliverable after its crash.
  verifier_->NoteBootEnd("dev-a", 1, 18, 2);
  auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 6u);  // 13..18
  EXPECT_EQ(r.tail_lost, 6u);
  EXPECT_EQ(r.device_reported_lost, 2u);
  EXPECT_FALSE(r.Passed());
  // Every later message repeats the note: counted once.
  verifier_->NoteBootEnd("dev-a", 1, 18, 2);
  r = verifier_->Report();
  EXPECT_EQ(r.lost, 6u);
  EXPECT_EQ(r.device_reported_lost, 2u);
  // The tail arriving late (a retransmit after reconnect) clears it.
  for (uint64_t s = 13; s <= 18; ++s) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.tail_lost, 0u);
}

TEST_F(VerifierTest, APrevBootInATelemetryWindowShowsTheEarlierBootsLostTail) {
  // What a capture holds after a crash: boot 1's seqs 0..2 arrived, 3..5 did
  // not, and boot 2's first window says boot 1 issued up to 5 and the device
  // itself found 1 of them undeliverable (issue 8, item 3).
  for (uint64_t s : {0, 1, 2}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  EXPECT_EQ(verifier_->Report().lost, 0u);
  auto t = telemetry::ParseTelemetry(Payload("dev-a", 1000, 2));
  ASSERT_TRUE(t.ok());
  t->status.prev_boot = telemetry::PrevBoot{1, 5, true, 1};
  EXPECT_EQ(Send(Topic("dev-a"), telemetry::Serialize(*t), *signer_a_), Verdict::kVerified);
  auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 3u);
  EXPECT_EQ(r.tail_lost, 3u);
  EXPECT_EQ(r.device_reported_lost, 1u);
  EXPECT_FALSE(r.Passed());
}

TEST_F(VerifierTest, APrevBootNamingASeqOfAnEarlierBootThatArrivedIsNoLoss) {
  // Boot 2 issued nothing, so boot 3 names boot 2 with boot 1's last seq.
  for (uint64_t s : {0, 1, 2}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  auto t = telemetry::ParseTelemetry(Payload("dev-a", 1000, 3));
  ASSERT_TRUE(t.ok());
  t->status.prev_boot = telemetry::PrevBoot{2, 2, true, 0};
  EXPECT_EQ(Send(Topic("dev-a"), telemetry::Serialize(*t), *signer_a_), Verdict::kVerified);
  auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_TRUE(r.Passed()) << r.FailureReasons().size();
}

TEST_F(VerifierTest, NoteBootEndGapAndTailAreReportedApart) {
  for (uint64_t s : {0, 2}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  verifier_->NoteBootEnd("dev-a", 1, 4, 0);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 3u);       // 1, 3, 4
  EXPECT_EQ(r.tail_lost, 2u);  // 3, 4
  EXPECT_EQ(r.device_reported_lost, 0u);
}

TEST_F(VerifierTest, NoteBootEndForABootOfWhichNothingArrived) {
  for (uint64_t s : {0, 1, 2}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  // Boot 2 issued 3..7 (seq continues across boots) and none arrived.
  verifier_->NoteBootEnd("dev-a", 2, 7, 0);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 5u);
  EXPECT_EQ(r.tail_lost, 5u);
  EXPECT_EQ(r.devices, 1u);
}

TEST_F(VerifierTest, NoteBootEndForABootThisVerifierNeverWatchedIsNotJudged) {
  // A verifier that starts during boot 2 (a second sim run, a live verify
  // started later) never saw boot 1: its tail is none of its business.
  auto t = telemetry::ParseTelemetry(Payload("dev-a", 40, 2));
  ASSERT_TRUE(t.ok());
  t->status.prev_boot = telemetry::PrevBoot{1, 39, true, 3};
  EXPECT_EQ(Send(Topic("dev-a"), telemetry::Serialize(*t), *signer_a_), Verdict::kVerified);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.device_reported_lost, 0u);
  EXPECT_TRUE(r.Passed());
}

TEST_F(VerifierTest, NoteBootEndInsideWhatArrivedChangesNothing) {
  for (uint64_t s : {0, 1, 2, 3}) Send(Topic("dev-a"), Payload("dev-a", s, 1), *signer_a_);
  verifier_->NoteBootEnd("dev-a", 1, 3, 0);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.tail_lost, 0u);
  EXPECT_TRUE(r.Passed());
}

// Issue 8 (4): received 0 ... PASS.
TEST_F(VerifierTest, NothingReceivedIsNotAPass) {
  const auto r = verifier_->Report();
  EXPECT_TRUE(r.Clean());    // no loss counted...
  EXPECT_FALSE(r.Passed());  // ...but nothing to vouch for
  ASSERT_FALSE(r.FailureReasons().empty());
  EXPECT_NE(r.FailureReasons()[0].find("nothing arrived"), std::string::npos);
}

TEST_F(VerifierTest, OnlyInvalidMessagesAreNotAPass) {
  verifier_->Check(Topic("dev-a"), Payload("dev-a", 1), nullptr);
  EXPECT_FALSE(verifier_->Report().Passed());
}

TEST_F(VerifierTest, OutageIsReportedAndAnUnresolvedOneFails) {
  Send(Topic("dev-a"), Payload("dev-a", 0), *signer_a_);
  verifier_->NoteOutage(std::chrono::milliseconds(3200), "");
  auto r = verifier_->Report();
  EXPECT_EQ(r.disconnects, 1u);
  EXPECT_DOUBLE_EQ(r.disconnected_s, 3.2);
  EXPECT_TRUE(r.Passed());  // reconnected, nothing missing
  verifier_->NoteOutage(std::chrono::milliseconds(800), "still disconnected at the end");
  r = verifier_->Report();
  EXPECT_EQ(r.disconnects, 2u);
  EXPECT_FALSE(r.Passed());
}

TEST_F(VerifierTest, LossAfterAnOutageNamesTheOutage) {
  for (uint64_t s : {0, 3}) Send(Topic("dev-a"), Payload("dev-a", s), *signer_a_);
  verifier_->NoteOutage(std::chrono::milliseconds(5000), "");
  const auto why = verifier_->Report().FailureReasons();
  ASSERT_EQ(why.size(), 1u);
  EXPECT_NE(why[0].find("2 lost"), std::string::npos) << why[0];
  EXPECT_NE(why[0].find("disconnected 1 time(s), 5000 ms"), std::string::npos) << why[0];
}

TEST_F(VerifierTest, SeenAnswersPerDeviceBootAndSeq) {
  Send(Topic("dev-a"), Payload("dev-a", 5, 2), *signer_a_);
  EXPECT_TRUE(verifier_->Seen("dev-a", 2, 5));
  EXPECT_FALSE(verifier_->Seen("dev-a", 2, 4));
  EXPECT_FALSE(verifier_->Seen("dev-a", 1, 5));
  EXPECT_FALSE(verifier_->Seen("dev-b", 2, 5));
}

// --- The signature attack matrix (the security issue) --------------------------
//
// Every attack starts from a message the real signer made with the real keys of
// the test PKI; only the bytes are tampered with afterwards. Each is refused
// (or, for a byte-identical replay, de-duplicated) as docs/telemetry.md "What a
// verifier checks" says, and counted under its own reason class.

/// The header JSON of a compact detached JWS.
nlohmann::json HeaderOf(const std::string& compact) {
  auto raw = jws::Base64UrlDecode(compact.substr(0, compact.find('.')));
  EXPECT_TRUE(raw.ok());
  return nlohmann::json::parse(std::string(raw->begin(), raw->end()));
}

/// `compact` with its header replaced by `header` (member order as given) and
/// its signature part kept: what an attacker who cannot sign does.
std::string WithHeader(const std::string& compact, const nlohmann::ordered_json& header) {
  return jws::Base64UrlEncode(AsBytes(header.dump())) + compact.substr(compact.find(".."));
}

/// The device's own header, one member changed or removed (null removes).
nlohmann::ordered_json Tampered(const std::string& compact, const std::string& member, const nlohmann::json& value) {
  const nlohmann::json h = HeaderOf(compact);
  nlohmann::ordered_json out;
  for (const char* name : {"alg", "b64", "crit", "kid"}) {
    if (name == member) {
      if (!value.is_null()) out[name] = value;
    } else if (h.contains(name)) {
      out[name] = h.at(name);
    }
  }
  return out;
}

/// HS256 over the JWS signing input, keyed with the device's public key (x || y):
/// the classic algorithm-confusion forgery against a verifier that lets the
/// header pick the algorithm.
std::string Hs256KeyedWithThePublicKey(const std::string& header_b64, const std::string& payload,
                                       const jws::EcP256PublicKey& pub) {
  std::vector<uint8_t> secret(pub.x.begin(), pub.x.end());
  secret.insert(secret.end(), pub.y.begin(), pub.y.end());
  const std::string input = header_b64 + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return header_b64 + ".." + jws::Base64UrlEncode(ConstBytes(mac, len));
}

TEST_F(VerifierTest, AttackMatrixEachRefusedUnderItsOwnClass) {
  const std::string payload = Payload("dev-a", 7);
  const std::string genuine = *signer_a_->Sign(payload);
  const std::string kid_b = signer_b_->kid();

  struct Attack {
    std::string name;
    std::string topic;
    std::string payload;
    std::string jws;
    std::string reason_class;  // what docs/telemetry.md names it
  };
  std::string flipped = payload;
  flipped[flipped.size() / 2] ^= 0x01;  // one bit, in the middle of the readings
  const std::string none_header =
      jws::Base64UrlEncode(AsBytes(Tampered(genuine, "alg", "none").dump()));  // alg:none, empty signature
  const std::string hs_header = jws::Base64UrlEncode(AsBytes(Tampered(genuine, "alg", "HS256").dump()));
  const std::vector<Attack> attacks = {
      {"flipped payload bit", Topic("dev-a"), flipped, genuine, "bad signature"},
      {"another device's kid swapped into the header", Topic("dev-a"), payload,
       WithHeader(genuine, Tampered(genuine, "kid", kid_b)), "kid of another thing"},
      {"alg:none without a signature", Topic("dev-a"), payload, none_header + "..", "alg not ES256"},
      {"alg:none keeping the signature", Topic("dev-a"), payload, WithHeader(genuine, Tampered(genuine, "alg", "none")),
       "alg not ES256"},
      {"HS256 keyed with the public key", Topic("dev-a"), payload,
       Hs256KeyedWithThePublicKey(hs_header, payload, signer_a_->public_key()), "alg not ES256"},
      {"b64 missing from crit", Topic("dev-a"), payload,
       WithHeader(genuine, Tampered(genuine, "crit", nlohmann::json::array())), "b64 not critical"},
      {"crit missing", Topic("dev-a"), payload, WithHeader(genuine, Tampered(genuine, "crit", nullptr)),
       "b64 not critical"},
      {"b64:true", Topic("dev-a"), payload, WithHeader(genuine, Tampered(genuine, "b64", true)), "b64 not false"},
      {"b64 missing", Topic("dev-a"), payload, WithHeader(genuine, Tampered(genuine, "b64", nullptr)), "b64 not false"},
      {"an extension in crit", Topic("dev-a"), payload,
       WithHeader(genuine, Tampered(genuine, "crit", nlohmann::json::array({"b64", "exp"}))), "unknown crit member"},
      {"not a JWS", Topic("dev-a"), payload,
       genuine.substr(0, genuine.find('.')) + ".e30." + genuine.substr(genuine.find("..") + 2), "bad jws header"},
      {"device A's message replayed on device B's topic", Topic("dev-b"), payload, genuine, "dev/topic mismatch"},
  };
  std::map<std::string, uint64_t> expected;
  for (const Attack& a : attacks) {
    const auto c = verifier_->Check(a.topic, a.payload, &a.jws);
    EXPECT_EQ(c.verdict, Verdict::kInvalid) << a.name;
    const auto r = verifier_->Report();
    ++expected[a.reason_class];
    EXPECT_EQ(r.invalid_reasons, expected) << a.name << ": " << c.why;
  }
  // Nothing of it entered the sequence: the genuine message is new, not a
  // conflict; its byte-identical replay (a QoS 1 redelivery, or an attacker
  // replaying it) is a duplicate, accepted once and counted.
  EXPECT_EQ(verifier_->Check(Topic("dev-a"), payload, &genuine).verdict, Verdict::kVerified);
  EXPECT_EQ(verifier_->Check(Topic("dev-a"), payload, &genuine).verdict, Verdict::kDuplicate);
  const auto r = verifier_->Report();
  EXPECT_EQ(r.invalid, attacks.size());
  EXPECT_EQ(r.verified, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.conflicts, 0u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.invalid_reasons, expected);
}

TEST_F(VerifierTest, ASignatureFromARevokedKeyIsRefusedAsRevoked) {
  // dev-b's key leaked: revoked, whatever the message says or when.
  const std::string list =
      R"({"revoked":[{"kid":")" + signer_b_->kid() + R"(","at":"2025-03-01T12:00:00Z","reason":"leaked"}]})";
  auto revoked = jws::RevocationListFromJson(list);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  TelemetryVerifier v(Jwks(*pki_), jws::Backend::kOpenSsl, *revoked);
  const std::string p = Payload("dev-b", 1);
  const std::string sig = *signer_b_->Sign(p);
  const auto c = v.Check(Topic("dev-b"), p, &sig);
  EXPECT_EQ(c.verdict, Verdict::kInvalid);
  EXPECT_NE(c.why.find("revoked at 2025-03-01T12:00:00Z (leaked)"), std::string::npos) << c.why;
  // dev-a is untouched.
  const std::string pa = Payload("dev-a", 1);
  const std::string siga = *signer_a_->Sign(pa);
  EXPECT_EQ(v.Check(Topic("dev-a"), pa, &siga).verdict, Verdict::kVerified);
  const auto r = v.Report();
  EXPECT_EQ(r.invalid_reasons, (std::map<std::string, uint64_t>{{"revoked kid", 1}}));
  EXPECT_EQ(r.verified, 1u);
}

// --- Signing-key rotation (docs/telemetry.md "Signing-key rotation") -----------

std::unique_ptr<jws::Signer> FreshSigner() {
  auto pem = jws::GenerateSigningKeyPem();
  EXPECT_TRUE(pem.ok()) << pem.status().ToString();
  auto s = jws::MakeSigner(jws::Backend::kOpenSsl, *pem);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

TEST_F(VerifierTest, RotationLearnsTheAnnouncedKeyAcceptsBothInTheOverlapAndRetiresTheOld) {
  using telemetry::AlarmState;
  auto next = FreshSigner();
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 0), *signer_a_), Verdict::kVerified);
  // The announcement, signed with the current key, in the next windows until one is acknowledged.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1, 1, 20.0, next.get()), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(verifier_->Report().keys_learned, 1u);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), AlarmPayload("dev-a", 2, AlarmState::kRaised), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 3, 1, 20.0, next.get()), *signer_a_), Verdict::kVerified);
  // The switch: seq 5 is the first the new key signs; 4 (old key) was still
  // in flight and arrives after it: both keys are good in the overlap.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 5), *next), Verdict::kVerified);
  EXPECT_EQ(Send(AlarmTopic("dev-a"), AlarmPayload("dev-a", 4, AlarmState::kCleared), *signer_a_), Verdict::kVerified);
  auto r = verifier_->Report();
  EXPECT_EQ(r.keys_retired, 1u);
  EXPECT_EQ(r.invalid, 0u) << (r.examples.empty() ? "" : r.examples[0]);
  EXPECT_EQ(r.lost, 0u);
  // After the overlap the old key is refused, under its own class; the seq
  // stays free for the real message.
  const std::string late = Payload("dev-a", 6);
  const std::string old_sig = *signer_a_->Sign(late);
  const auto c = verifier_->Check(Topic("dev-a"), late, &old_sig);
  EXPECT_EQ(c.verdict, Verdict::kInvalid);
  EXPECT_NE(c.why.find("retired from seq 5"), std::string::npos) << c.why;
  EXPECT_EQ(Send(Topic("dev-a"), late, *next), Verdict::kVerified);
  // A later boot still cannot use it (seq is monotonic across boots).
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1000, 2), *signer_a_), Verdict::kInvalid);
  r = verifier_->Report();
  EXPECT_EQ(r.invalid_reasons, (std::map<std::string, uint64_t>{{"retired kid", 2}}));
  EXPECT_EQ(r.verified, 7u);
  EXPECT_EQ(r.lost, 0u);
  ASSERT_EQ(r.key_events.size(), 2u);
  EXPECT_NE(r.key_events[0].find("learned kid " + next->kid()), std::string::npos) << r.key_events[0];
  EXPECT_NE(r.key_events[1].find("retired from seq 5"), std::string::npos) << r.key_events[1];
}

TEST_F(VerifierTest, AKeyIsLearnedOnlyFromAnAuthenticAnnouncementByTheSameThing) {
  auto next = FreshSigner();
  // Unannounced: unknown.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1), *next), Verdict::kInvalid);
  // Announced by itself (signed with the new key): still unknown.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1, 1, 20.0, next.get()), *next), Verdict::kInvalid);
  // Announced for dev-a but signed by dev-b: not dev-a's announcement.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1, 1, 20.0, next.get()), *signer_b_), Verdict::kInvalid);
  // Announced with dev-a's key, but the bytes were changed on the way.
  std::string forged = Payload("dev-a", 1, 1, 20.0, next.get());
  const std::string sig = *signer_a_->Sign(Payload("dev-a", 1));
  EXPECT_EQ(verifier_->Check(Topic("dev-a"), forged, &sig).verdict, Verdict::kInvalid);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 2), *next), Verdict::kInvalid);
  // A device announcing another thing's key, or the key it signs with.
  auto b_announces_a = verifier_->Check(Topic("dev-b"), Payload("dev-b", 1, 1, 20.0, signer_a_.get()),
                                        &*signer_b_->Sign(Payload("dev-b", 1, 1, 20.0, signer_a_.get())));
  EXPECT_EQ(b_announces_a.verdict, Verdict::kInvalid);
  EXPECT_NE(b_announces_a.why.find("is the key of 'dev-a'"), std::string::npos) << b_announces_a.why;
  EXPECT_EQ(Send(Topic("dev-b"), Payload("dev-b", 2, 1, 20.0, signer_b_.get()), *signer_b_), Verdict::kInvalid);
  auto r = verifier_->Report();
  EXPECT_EQ(r.keys_learned, 0u);
  EXPECT_EQ(r.invalid_reasons,
            (std::map<std::string, uint64_t>{
                {"unknown kid", 3}, {"wrong key", 1}, {"bad signature", 1}, {"bad key announcement", 2}}));
  // dev-b announces the key for itself: learned as dev-b's, so dev-a cannot use it.
  EXPECT_EQ(Send(Topic("dev-b"), Payload("dev-b", 3, 1, 20.0, next.get()), *signer_b_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-b"), Payload("dev-b", 4), *next), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 3), *next), Verdict::kInvalid);
  r = verifier_->Report();
  EXPECT_EQ(r.keys_learned, 1u);
  EXPECT_EQ(r.invalid_reasons.at("wrong key"), 2u);
}

TEST_F(VerifierTest, ARevokedKeyCannotBeAnnouncedNorUsed) {
  auto next = FreshSigner();
  auto revoked =
      jws::RevocationListFromJson(R"({"revoked":[{"kid":")" + next->kid() + R"(","at":"2025-03-01T12:00:00+01:00"}]})");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  TelemetryVerifier v(Jwks(*pki_), jws::Backend::kOpenSsl, *revoked);
  const std::string p = Payload("dev-a", 1, 1, 20.0, next.get());
  const std::string sig = *signer_a_->Sign(p);
  EXPECT_EQ(v.Check(Topic("dev-a"), p, &sig).verdict, Verdict::kInvalid);
  const std::string q = Payload("dev-a", 2);
  const std::string qsig = *next->Sign(q);
  EXPECT_EQ(v.Check(Topic("dev-a"), q, &qsig).verdict, Verdict::kInvalid);
  EXPECT_EQ(v.Report().invalid_reasons,
            (std::map<std::string, uint64_t>{{"bad key announcement", 1}, {"revoked kid", 1}}));
}

TEST_F(VerifierTest, AnOldKeyMessageAboveTheHandoverMeansAnotherCopyOfTheKey) {
  auto next = FreshSigner();
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 1, 1, 20.0, next.get()), *signer_a_), Verdict::kVerified);
  // Seq 9 with the old key arrives first; then the new key's first message
  // says the device switched at 8: the device never signed 9 with the old key.
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 9), *signer_a_), Verdict::kVerified);
  EXPECT_EQ(Send(Topic("dev-a"), Payload("dev-a", 8), *next), Verdict::kVerified);
  const auto r = verifier_->Report();
  EXPECT_FALSE(r.Passed());
  bool named = false;
  for (const auto& w : r.FailureReasons()) named = named || w.find("another copy of the old key") != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace edgeforge::sim
