#include "sim/verify/verifier.h"

#include <gtest/gtest.h>

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

  // A v2 telemetry window, as devices emit it.
  static std::string Payload(const std::string& dev, uint64_t seq, uint64_t boot = 1, double t = 20.0) {
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
  EXPECT_EQ(r.invalid_reasons.at("bad jws header"), 1u);
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

}  // namespace
}  // namespace edgeforge::sim
