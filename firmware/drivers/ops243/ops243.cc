#include "firmware/drivers/ops243/ops243.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace edgeforge {
namespace {

std::string Fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The offending text for an error message: at most 40 bytes, non-printable
// bytes as \xNN (a corrupt line may hold anything).
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += s.size() > kMax ? "\"..." : "\"";
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The module prints fixed-point decimals: -?digits(.digits)?, at most 12
// characters (enough for 99999.99999). No exponent, no '+', no bare '.'.
std::optional<double> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  const size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == int_start) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    const size_t frac_start = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == frac_start) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// JSON number grammar (RFC 8259 section 6), for answer values.
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    const size_t f = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == f) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t e = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

// A flat JSON object as the module prints it: string keys, and string,
// number or boolean values; no nesting, no escapes (the module sends none).
class FlatObjectParser {
 public:
  explicit FlatObjectParser(std::string_view s) : s_(s) {}

  Result<std::vector<Ops243Field>> Parse() {
    std::vector<Ops243Field> fields;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    SkipSpace();
    if (Eat('}')) return Error("empty object");
    for (;;) {
      Ops243Field f;
      SkipSpace();
      Result<std::string> key = String();
      if (!key.ok()) return key.status();
      f.key = std::move(*key);
      if (f.key.empty()) return Error("empty key");
      for (const Ops243Field& other : fields) {
        if (other.key == f.key) return Error("duplicate key \"" + f.key + "\"");
      }
      SkipSpace();
      if (!Eat(':')) return Error("expected ':' after \"" + f.key + "\"");
      SkipSpace();
      Status s = Value(f);
      if (!s.ok()) return s;
      fields.push_back(std::move(f));
      SkipSpace();
      if (Eat(',')) continue;
      if (Eat('}')) break;
      return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != s_.size()) return Error("text after the object");
    return fields;
  }

 private:
  Status Error(const std::string& what) const {
    return DataLoss("malformed JSON line " + Quote(s_) + ": " + what + " at byte " + std::to_string(pos_));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Result<std::string> String() {
    if (!Eat('"')) return Error("expected '\"'");
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c < 0x20 || c >= 0x7f || c == '\\') return Error("unexpected byte in a string");
      ++pos_;
    }
    if (pos_ >= s_.size()) return Error("unterminated string");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }
  Status Value(Ops243Field& f) {
    if (pos_ < s_.size() && s_[pos_] == '"') {
      Result<std::string> v = String();
      if (!v.ok()) return v.status();
      f.value = std::move(*v);
      f.quoted = true;
      return Status::Ok();
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && !IsSpace(s_[pos_])) ++pos_;
    const std::string_view token = s_.substr(start, pos_ - start);
    if (token != "true" && token != "false" && !IsJsonNumber(token)) {
      pos_ = start;
      return Error("value of \"" + f.key + "\" is not a string, number or boolean");
    }
    f.value = std::string(token);
    return Status::Ok();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Result<RadarReport> CheckRange(RadarReport r, std::string_view line, const Ops243ParseOptions& options) {
  const double max_mps = options.max_speed_mps > 0 ? options.max_speed_mps : Ops243MaxSpeedMps(Ops243SampleRate::k10k);
  if (r.speed_mps() > max_mps) {
    return OutOfRange("speed " + Fixed(r.speed, 2) + " " + Ops243UnitLabel(r.unit) + " in " + Quote(line) +
                      " is above the sensor's maximum " + Fixed(max_mps, 1) + " m/s");
  }
  return r;
}

Result<RadarReport> ParsePlain(std::string_view line, const Ops243ParseOptions& options) {
  const std::optional<double> v = ParseDecimal(line);
  if (!v) return DataLoss("malformed report " + Quote(line) + ": expected one decimal number");
  RadarReport r;
  r.format = Ops243Format::kPlain;
  r.unit = options.unit;
  // ASSUMED (see the header): the sign is the direction, positive inbound.
  r.direction = *v < 0 ? RadarDirection::kOutbound : RadarDirection::kInbound;
  r.speed = std::fabs(*v);
  return CheckRange(r, line, options);
}

Result<RadarReport> ParseJson(std::string_view line, const Ops243ParseOptions& options) {
  Result<std::vector<Ops243Field>> fields = FlatObjectParser(line).Parse();
  if (!fields.ok()) return fields.status();
  RadarReport r;
  r.format = Ops243Format::kJson;
  r.unit = options.unit;
  std::optional<double> speed;
  std::optional<RadarDirection> direction;
  for (const Ops243Field& f : *fields) {
    if (f.key == "speed") {
      speed = ParseDecimal(f.value);
      if (!speed) return DataLoss("malformed report " + Quote(line) + ": speed is not a decimal number");
    } else if (f.key == "direction") {
      if (!f.quoted || (f.value != "inbound" && f.value != "outbound")) {
        return DataLoss("malformed report " + Quote(line) + ": direction must be \"inbound\" or \"outbound\"");
      }
      direction = f.value == "inbound" ? RadarDirection::kInbound : RadarDirection::kOutbound;
    } else if (f.key == "unit") {
      const std::optional<Ops243Unit> u = f.quoted ? Ops243UnitFromLabel(f.value) : std::nullopt;
      if (!u) return DataLoss("malformed report " + Quote(line) + ": unknown unit");
      r.unit = *u;
      r.unit_in_line = true;
    } else if (f.key == "time" || f.key == "tick" || f.key == "magnitude") {
      if (f.quoted || !ParseDecimal(f.value)) {
        return DataLoss("malformed report " + Quote(line) + ": " + f.key + " is not a decimal number");
      }
    } else if (f.key.front() >= 'A' && f.key.front() <= 'Z') {
      return DataLoss("not a speed report: " + Quote(line));
    }
    // Other lower-case keys are fields a newer firmware adds: ignored.
  }
  if (!speed) return DataLoss("malformed report " + Quote(line) + ": no \"speed\"");
  const RadarDirection by_sign = *speed < 0 ? RadarDirection::kOutbound : RadarDirection::kInbound;
  if (direction && *speed < 0 && *direction != by_sign) {
    return DataLoss("malformed report " + Quote(line) + ": negative speed with direction inbound");
  }
  r.direction = direction.value_or(by_sign);
  r.speed = std::fabs(*speed);
  return CheckRange(r, line, options);
}

}  // namespace

// ---------------------------------------------------------------------------
// Units and sample rates ([UM] "Speed Output Units", "Sampling Rate").

const char* Ops243UnitCommand(Ops243Unit unit) {
  switch (unit) {
    case Ops243Unit::kCentimetersPerSecond:
      return "UC";
    case Ops243Unit::kFeetPerSecond:
      return "UF";
    case Ops243Unit::kKilometersPerHour:
      return "UK";
    case Ops243Unit::kMilesPerHour:
      return "US";
    case Ops243Unit::kMetersPerSecond:
      break;
  }
  return "UM";
}

const char* Ops243UnitLabel(Ops243Unit unit) {
  switch (unit) {
    case Ops243Unit::kCentimetersPerSecond:
      return "cm-per-sec";
    case Ops243Unit::kFeetPerSecond:
      return "ft-per-sec";
    case Ops243Unit::kKilometersPerHour:
      return "km-per-hr";
    case Ops243Unit::kMilesPerHour:
      return "mph";
    case Ops243Unit::kMetersPerSecond:
      break;
  }
  return "m-per-sec";
}

const char* Ops243UnitUcum(Ops243Unit unit) {
  switch (unit) {
    case Ops243Unit::kCentimetersPerSecond:
      return "cm/s";
    case Ops243Unit::kFeetPerSecond:
      return "[ft_i]/s";
    case Ops243Unit::kKilometersPerHour:
      return "km/h";
    case Ops243Unit::kMilesPerHour:
      return "[mi_i]/h";
    case Ops243Unit::kMetersPerSecond:
      break;
  }
  return "m/s";
}

double Ops243UnitToMps(Ops243Unit unit) {
  switch (unit) {
    case Ops243Unit::kCentimetersPerSecond:
      return 0.01;
    case Ops243Unit::kFeetPerSecond:
      return 0.3048;
    case Ops243Unit::kKilometersPerHour:
      return 1.0 / 3.6;
    case Ops243Unit::kMilesPerHour:
      return 1609.344 / 3600.0;  // international mile [UM]
    case Ops243Unit::kMetersPerSecond:
      break;
  }
  return 1.0;
}

std::optional<Ops243Unit> Ops243UnitFromLabel(std::string_view label) {
  for (Ops243Unit u : {Ops243Unit::kMetersPerSecond, Ops243Unit::kCentimetersPerSecond, Ops243Unit::kFeetPerSecond,
                       Ops243Unit::kKilometersPerHour, Ops243Unit::kMilesPerHour}) {
    if (label == Ops243UnitLabel(u)) return u;
  }
  return std::nullopt;
}

const char* Ops243SampleRateCommand(Ops243SampleRate rate) {
  switch (rate) {
    case Ops243SampleRate::k1k:
      return "SI";
    case Ops243SampleRate::k5k:
      return "SV";
    case Ops243SampleRate::k20k:
      return "S2";
    case Ops243SampleRate::k50k:
      return "SL";
    case Ops243SampleRate::k100k:
      return "SC";
    case Ops243SampleRate::k10k:
      break;
  }
  return "SX";
}

int Ops243SampleRateHz(Ops243SampleRate rate) {
  switch (rate) {
    case Ops243SampleRate::k1k:
      return 1'000;
    case Ops243SampleRate::k5k:
      return 5'000;
    case Ops243SampleRate::k20k:
      return 20'000;
    case Ops243SampleRate::k50k:
      return 50'000;
    case Ops243SampleRate::k100k:
      return 100'000;
    case Ops243SampleRate::k10k:
      break;
  }
  return 10'000;
}

double Ops243MaxSpeedMps(Ops243SampleRate rate) { return Ops243SampleRateHz(rate) * kOps243WavelengthM / 4; }

double Ops243ResolutionMps(Ops243SampleRate rate) {
  return Ops243SampleRateHz(rate) / static_cast<double>(kOps243BufferSamples) * kOps243WavelengthM / 2;
}

Micros Ops243ReportInterval(Ops243SampleRate rate) {
  return Micros(int64_t{kOps243BufferSamples} * 1'000'000 / Ops243SampleRateHz(rate));
}

const char* RadarDirectionName(RadarDirection d) { return d == RadarDirection::kInbound ? "inbound" : "outbound"; }

// ---------------------------------------------------------------------------
// Parsers.

bool IsOps243Answer(std::string_view line) {
  line = Trim(line);
  if (line.size() < 3 || line[0] != '{') return false;
  size_t i = 1;
  while (i < line.size() && IsSpace(line[i])) ++i;
  return i + 1 < line.size() && line[i] == '"' && line[i + 1] >= 'A' && line[i + 1] <= 'Z';
}

Result<std::vector<Ops243Field>> ParseOps243Answer(std::string_view line) {
  line = Trim(line);
  if (line.size() > kOps243MaxLine) return DataLoss("answer line of " + std::to_string(line.size()) + " bytes");
  return FlatObjectParser(line).Parse();
}

Result<RadarReport> ParseOps243Line(std::string_view line, const Ops243ParseOptions& options) {
  line = Trim(line);
  if (line.empty()) return DataLoss("empty report line");
  if (line.size() > kOps243MaxLine) return DataLoss("report line of " + std::to_string(line.size()) + " bytes");
  if (IsOps243Answer(line)) return DataLoss("not a speed report: " + Quote(line));
  return line.front() == '{' ? ParseJson(line, options) : ParsePlain(line, options);
}

// ---------------------------------------------------------------------------
// Ops243

Ops243::Ops243(Uart& uart, Clock& clock, Ops243Config config) : uart_(uart), clock_(clock), config_(std::move(config)) {
  parse_.unit = config_.unit;
  parse_.max_speed_mps = Ops243MaxSpeedMps(config_.sample_rate);
}

Status Ops243::Send(std::string_view command) {
  Status s = uart_.Write(AsBytes(command), kWriteTimeout);
  if (!s.ok()) return s.WithContext(Context() + "send " + std::string(command));
  return Status::Ok();
}

Result<std::string> Ops243::Query(std::string_view command, const std::string& key) {
  answers_.erase(key);
  EF_RETURN_IF_ERROR(Send(command));
  const Micros start = clock_.Monotonic();
  const Micros timeout = config_.answer_timeout;
  // Bounded by a count too, in case the clock does not advance.
  const int64_t max_polls = timeout / kAnswerPollStep + 1;
  for (int64_t i = 0;; ++i) {
    EF_RETURN_IF_ERROR(ReadAvailable());
    auto it = answers_.find(key);
    if (it != answers_.end()) return it->second;
    if (i >= max_polls || clock_.Monotonic() - start >= timeout) break;
    clock_.SleepFor(kAnswerPollStep);
  }
  return DeadlineExceeded(Context() + "no answer to " + std::string(command));
}

Status Ops243::Init() {
  if (config_.decimals < 0 || config_.decimals > 5) {
    return InvalidArgument(Context() + "decimals must be 0..5, got " + std::to_string(config_.decimals));
  }
  line_.clear();
  discarding_ = false;
  EF_RETURN_IF_ERROR(ReadAvailable());  // whatever the module sent before: stale
  const std::string decimals = "F" + std::to_string(config_.decimals);
  for (const char* command : {Ops243UnitCommand(config_.unit), Ops243SampleRateCommand(config_.sample_rate),
                              decimals.c_str(), "R|", config_.json ? "OJ" : "Oj"}) {
    EF_RETURN_IF_ERROR(Send(command));
  }
  Result<std::string> product = Query("??", "Product");
  if (!product.ok()) return product.status();
  // OPS241/242/243 share the API [AN]; older parts answer "OMPS242A" [UM2].
  if (product->rfind("OPS24", 0) != 0 && product->rfind("OMPS24", 0) != 0) {
    return FailedPrecondition(Context() + "module reports product \"" + *product +
                              "\", expected an OmniPreSense OPS24x");
  }
  product_ = *product;
  Result<std::string> units = Query("U?", "Units");
  if (!units.ok()) return units.status();
  if (*units != Ops243UnitLabel(config_.unit)) {
    return FailedPrecondition(Context() + "module reports units \"" + *units + "\" after " +
                              Ops243UnitCommand(config_.unit) + ", expected \"" + Ops243UnitLabel(config_.unit) + "\"");
  }
  ResetPeriod();  // reports and errors seen while configuring do not count
  return Status::Ok();
}

Status Ops243::ReadAvailable() {
  uint8_t buf[kReadChunk];
  for (int i = 0; i < kMaxReadsPerPoll; ++i) {
    Result<size_t> n = uart_.Read(MutBytes(buf), Millis{0});
    if (!n.ok()) return n.status().WithContext(Context() + "read");
    for (size_t k = 0; k < *n; ++k) OnByte(buf[k]);
    if (*n < sizeof buf) break;
  }
  return Status::Ok();
}

Status Ops243::Poll() { return ReadAvailable(); }

void Ops243::OnByte(uint8_t b) {
  if (b == '\n') {
    if (!discarding_) HandleLine(line_);
    discarding_ = false;
    line_.clear();
    return;
  }
  if (discarding_) return;
  if (line_.size() >= kOps243MaxLine) {
    ++overlong_lines_;  // a lost line ending (noise) or not the module talking
    if (first_error_.ok()) {
      first_error_ = DataLoss(Context() + "line longer than " + std::to_string(kOps243MaxLine) +
                              " bytes discarded: " + Quote(line_));
    }
    discarding_ = true;
    line_.clear();
    return;
  }
  line_.push_back(static_cast<char>(b));
}

void Ops243::BadLine(const Status& s) {
  ++bad_lines_;
  if (first_error_.ok()) first_error_ = s.WithContext(config_.name);
}

void Ops243::HandleLine(std::string_view line) {
  line = Trim(line);
  if (line.empty()) return;  // blank-line reporting (BL) or a bare CR LF
  if (IsOps243Answer(line)) {
    Result<std::vector<Ops243Field>> fields = ParseOps243Answer(line);
    if (!fields.ok()) return BadLine(fields.status());
    for (Ops243Field& f : *fields) answers_[f.key] = std::move(f.value);
    return;
  }
  Result<RadarReport> r = ParseOps243Line(line, parse_);
  if (!r.ok()) return BadLine(r.status());
  const Ops243Format want = config_.json ? Ops243Format::kJson : Ops243Format::kPlain;
  if (r->format != want || r->unit != config_.unit) {
    // A power-cycled module is back to its defaults (plain output, m/s).
    settings_lost_ = true;
    return BadLine(DataLoss("report " + Quote(line) + " is not in the configured format (" +
                            (config_.json ? "JSON" : "plain") + ", " + Ops243UnitLabel(config_.unit) +
                            "): the module lost its settings"));
  }
  if (reports_.size() >= kMaxReports) {
    ++dropped_reports_;
    return;
  }
  reports_.push_back(*r);
}

void Ops243::ResetPeriod() {
  reports_.clear();
  bad_lines_ = 0;
  overlong_lines_ = 0;
  dropped_reports_ = 0;
  settings_lost_ = false;
  first_error_ = Status::Ok();
}

Ops243Period Ops243::TakePeriod() {
  Ops243Period p;
  p.reports = std::move(reports_);
  p.bad_lines = bad_lines_;
  p.overlong_lines = overlong_lines_;
  p.dropped_reports = dropped_reports_;
  p.settings_lost = settings_lost_;
  if (!first_error_.ok()) {
    p.status = Status(first_error_.code(), std::to_string(bad_lines_) + " bad and " + std::to_string(overlong_lines_) +
                                               " over-long line(s) in the period, first: " + first_error_.message());
  }
  ResetPeriod();
  return p;
}

}  // namespace edgeforge
