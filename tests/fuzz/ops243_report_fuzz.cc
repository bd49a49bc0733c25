// Fuzz target: the OPS243 radar's line parsers (bytes off a UART) and the
// driver's line splitting over the same bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include "firmware/drivers/ops243/ops243.h"
#include "hal/clock.h"
#include "hal/uart.h"

namespace {

using namespace edgeforge;

// Below the HAL: a port that delivers the fuzz input once, in small reads.
class ReplayUart final : public Uart {
 public:
  explicit ReplayUart(std::string_view data) : data_(data) {}

 private:
  Status DoWrite(ConstBytes, Millis) override { return Status::Ok(); }
  Result<size_t> DoRead(MutBytes out, Millis) override {
    const size_t n = std::min({out.size(), data_.size() - pos_, size_t{7}});
    std::memcpy(out.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

void CheckReport(const Result<RadarReport>& r, double max_mps) {
  if (!r.ok()) {
    const StatusCode c = r.status().code();
    if (c != StatusCode::kDataLoss && c != StatusCode::kOutOfRange) __builtin_trap();
    return;
  }
  if (!std::isfinite(r->speed) || r->speed < 0 || r->speed_mps() > max_mps) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  CheckReport(ParseOps243Line(in), Ops243MaxSpeedMps(Ops243SampleRate::k10k));
  Ops243ParseOptions kmh;
  kmh.unit = Ops243Unit::kKilometersPerHour;
  kmh.max_speed_mps = Ops243MaxSpeedMps(Ops243SampleRate::k20k);
  CheckReport(ParseOps243Line(in, kmh), kmh.max_speed_mps);

  auto fields = ParseOps243Answer(in);
  if (fields.ok()) {
    std::set<std::string> keys;
    for (const Ops243Field& f : *fields) {
      if (f.key.empty() || !keys.insert(f.key).second) __builtin_trap();
    }
  }

  // The same bytes as a stream from the module: lines, answers, reports.
  ManualClock clock;
  ReplayUart uart(in);
  Ops243 radar(uart, clock);
  for (int i = 0; i < 4; ++i) {
    if (!radar.Poll().ok()) __builtin_trap();  // the port never fails here
  }
  const Ops243Period p = radar.TakePeriod();
  if (p.reports.size() > Ops243::kMaxReports) __builtin_trap();
  for (const RadarReport& r : p.reports) {
    if (r.speed_mps() > Ops243MaxSpeedMps(Ops243SampleRate::k20k)) __builtin_trap();
  }
  if ((p.bad_lines > 0 || p.overlong_lines > 0) == p.status.ok()) __builtin_trap();
  return 0;
}
