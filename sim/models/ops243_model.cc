#include "sim/models/ops243_model.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace edgeforge {
namespace {

bool IsSpace(uint8_t c) { return c == '\r' || c == '\n' || c == ' '; }

}  // namespace

Ops243Model::Ops243Model(SimUart& uart, const Clock& clock) : uart_(uart), clock_(clock) { uart_.Attach(this); }

Ops243Model::~Ops243Model() { uart_.Attach(nullptr); }

void Ops243Model::PowerCycle() {
  unit_ = Ops243Unit::kMetersPerSecond;
  json_ = false;
  rate_ = Ops243SampleRate::k10k;
  decimals_ = 2;
  filter_ = Filter::kBoth;
  min_speed_ = 0;
  max_speed_ = 0;
  command_.clear();
}

void Ops243Model::OnHostWrite(ConstBytes data) {
  for (uint8_t b : data) {
    if (command_.size() >= kMaxCommand) {
      ignored_ += command_.size();
      command_.clear();
    }
    command_.push_back(static_cast<char>(b));
  }
  ProcessCommands();
}

void Ops243Model::ProcessCommands() {
  for (;;) {
    size_t skip = 0;
    while (skip < command_.size() && IsSpace(static_cast<uint8_t>(command_[skip]))) ++skip;
    command_.erase(0, skip);
    if (command_.size() < 2) return;
    const char c0 = command_[0];
    const char c1 = command_[1];
    const bool numeric = c0 == 'R' && (c1 == '>' || c1 == '<');
    if (numeric) {
      const size_t end = command_.find_first_of("\r\n", 2);
      if (end == std::string::npos) return;  // the number ends with a carriage return
      if (ExecuteNumeric(c0, c1, std::string_view(command_).substr(2, end - 2))) {
        ++commands_;
      } else {
        ignored_ += end + 1;
      }
      command_.erase(0, end + 1);
      continue;
    }
    if (Execute(c0, c1)) {
      ++commands_;
      command_.erase(0, 2);
    } else {
      ++ignored_;  // resynchronise one byte further
      command_.erase(0, 1);
    }
  }
}

bool Ops243Model::ExecuteNumeric(char /*c0*/, char c1, std::string_view number) {
  double v = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || end != number.data() + number.size() || !(v >= 0)) return false;
  const double mps = v * Ops243UnitToMps(unit_);
  if (c1 == '>') {
    min_speed_ = mps;
  } else {
    max_speed_ = mps;
  }
  return true;
}

bool Ops243Model::Execute(char c0, char c1) {
  switch (c0) {
    case '?':
      if (c1 == '?') {
        char info[96];
        std::snprintf(info, sizeof info, "{\"SamplingRate\":%d, \"resolution\":%.4f}", Ops243SampleRateHz(rate_),
                      Ops243ResolutionMps(rate_));
        Answer(std::string("{\"Product\":\"OPS243\"}\r\n{\"Version\":\"1.3.1\"}\r\n") + info +
               "\r\n{\"PowerMode\":\"Continuous\"}");
        return true;
      }
      if (c1 == 'P') {
        Answer("{\"Product\":\"OPS243 Doppler\"}");
        return true;
      }
      if (c1 == 'V') {
        Answer("{\"Version\":\"1.3.1\"}");
        return true;
      }
      return false;
    case 'U': {
      static constexpr struct {
        char c;
        Ops243Unit unit;
      } kUnits[] = {{'M', Ops243Unit::kMetersPerSecond},
                    {'C', Ops243Unit::kCentimetersPerSecond},
                    {'F', Ops243Unit::kFeetPerSecond},
                    {'K', Ops243Unit::kKilometersPerHour},
                    {'S', Ops243Unit::kMilesPerHour}};
      bool known = c1 == '?';
      for (const auto& u : kUnits) {
        if (u.c != c1) continue;
        unit_ = u.unit;
        known = true;
      }
      // A query and a change both answer with the units now in force [UM].
      if (known) Answer(std::string("{\"Units\":\"") + Ops243UnitLabel(unit_) + "\"}");
      return known;
    }
    case 'O':
      if (c1 != 'J' && c1 != 'j') return false;
      json_ = c1 == 'J';
      return true;
    case 'S': {
      static constexpr struct {
        char c;
        Ops243SampleRate rate;
      } kRates[] = {{'I', Ops243SampleRate::k1k},  {'V', Ops243SampleRate::k5k},  {'X', Ops243SampleRate::k10k},
                    {'1', Ops243SampleRate::k10k}, {'2', Ops243SampleRate::k20k}, {'L', Ops243SampleRate::k50k},
                    {'C', Ops243SampleRate::k100k}};
      for (const auto& r : kRates) {
        if (r.c != c1) continue;
        rate_ = r.rate;
        return true;
      }
      return false;
    }
    case 'F':
      if (c1 < '0' || c1 > '5') return false;
      decimals_ = c1 - '0';
      return true;
    case 'R':
      if (c1 == '+') filter_ = Filter::kInbound;
      if (c1 == '-') filter_ = Filter::kOutbound;
      if (c1 == '|') filter_ = Filter::kBoth;
      return c1 == '+' || c1 == '-' || c1 == '|';
    default:
      return false;
  }
}

Status Ops243Model::FeedAt(const std::string& text, Micros at) {
  const std::string line = text + "\r\n";
  EF_RETURN_IF_ERROR(uart_.Feed(AsBytes(line), at));
  last_fed_ = at;
  return Status::Ok();
}

void Ops243Model::Answer(const std::string& lines) {
  Micros at = clock_.Monotonic() + kAnswerLatency;
  if (at < last_fed_) at = last_fed_;  // behind what is already on the wire
  (void)FeedAt(lines, at);             // cannot fail: `at` is not before last_fed_
}

std::string Ops243Model::FormatReport(double speed_in_unit, bool inbound) const {
  char buf[96];
  if (json_) {
    // The documented JSON report (OPS-UM-001-C "OJ"); ASSUMED: an outbound
    // target keeps a positive speed and says "outbound".
    std::snprintf(buf, sizeof buf, "{\"speed\":%.*f, \"direction\":\"%s\"}", decimals_, std::fabs(speed_in_unit),
                  inbound ? "inbound" : "outbound");
  } else {
    // ASSUMED: plain reports sign the speed, negative = outbound.
    std::snprintf(buf, sizeof buf, "%.*f", decimals_, inbound ? std::fabs(speed_in_unit) : -std::fabs(speed_in_unit));
  }
  return buf;
}

Status Ops243Model::AddDetection(Micros at, double speed_mps, bool inbound) {
  if (!std::isfinite(speed_mps) || speed_mps < 0) {
    return InvalidArgument("ops243 model: speed must be finite and >= 0, got " + std::to_string(speed_mps));
  }
  if (at < last_fed_) {
    return InvalidArgument("ops243 model: detection at " + std::to_string(at.count()) +
                           " us is before bytes already scheduled at " + std::to_string(last_fed_.count()) + " us");
  }
  // Complex (I/Q) sampling: Doppler shifts wrap modulo fs, speeds modulo 2 * v_max.
  const double v_max = Ops243MaxSpeedMps(rate_);
  double v = inbound ? speed_mps : -speed_mps;
  v -= 2 * v_max * std::round(v / (2 * v_max));
  const bool in = v >= 0;
  const double magnitude = std::fabs(v);
  if ((filter_ == Filter::kInbound && !in) || (filter_ == Filter::kOutbound && in)) return Status::Ok();
  if (magnitude < min_speed_ || (max_speed_ > 0 && magnitude > max_speed_)) return Status::Ok();
  EF_RETURN_IF_ERROR(FeedAt(FormatReport(magnitude / Ops243UnitToMps(unit_), in), at));
  ++reports_;
  return Status::Ok();
}

Status Ops243Model::AddVehicle(Micros enters, Micros leaves, double speed_mps, bool inbound) {
  const Micros step = Ops243ReportInterval(rate_);
  if (leaves < enters || (leaves - enters) / step > 100'000) {
    return InvalidArgument("ops243 model: vehicle must leave after it enters, within 100000 reports");
  }
  for (Micros t = enters; t <= leaves; t += step) EF_RETURN_IF_ERROR(AddDetection(t, speed_mps, inbound));
  return Status::Ok();
}

}  // namespace edgeforge
