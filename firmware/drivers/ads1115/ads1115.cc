#include "firmware/drivers/ads1115/ads1115.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgeforge {
namespace {

namespace reg = ads1115_reg;

// A transaction is at most 3 bytes: 10 ms covers clock stretching at 100 kHz.
constexpr Millis kBusTimeout{10};
// Section 9.4.2.1: "the device powers up in approximately 25 us" before a
// single-shot conversion starts.
constexpr int64_t kPowerUpUs = 25;
// Section 7.5: data rate variation -10% .. +10%, all data rates.
constexpr double kRateTolerance = 0.10;
// A burst never takes more samples than the fastest part can deliver over its
// span, plus one; also bounds the work for a clock that does not advance.
constexpr double kBurstRateMargin = 1.0 + kRateTolerance;
// Polls after the nominal conversion time, this fraction of it apart.
constexpr int64_t kPollDivisor = 16;
constexpr Micros kMinPollStep{20};

constexpr int kRates[] = {8, 16, 32, 64, 128, 250, 475, 860};
constexpr double kFullScale[] = {6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256};
constexpr const char* kPgaNames[] = {"+-6.144 V", "+-4.096 V", "+-2.048 V", "+-1.024 V",
                                     "+-0.512 V", "+-0.256 V", "+-0.256 V", "+-0.256 V"};
constexpr const char* kMuxNames[] = {"AIN0-AIN1", "AIN0-AIN3", "AIN1-AIN3", "AIN2-AIN3",
                                     "AIN0-GND",  "AIN1-GND",  "AIN2-GND",  "AIN3-GND"};

std::string Hex(unsigned value, int digits) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, value);
  return buf;
}

std::string Ms(Micros us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(us.count()) / 1000.0);
  return buf;
}

unsigned Index(Ads1115Pga pga) { return static_cast<unsigned>(pga) & 0x07u; }
unsigned Index(Ads1115DataRate rate) { return static_cast<unsigned>(rate) & 0x07u; }

Micros CeilMicros(double seconds) { return Micros(static_cast<int64_t>(std::ceil(seconds * 1e6 - 1e-6))); }

}  // namespace

// ---------------------------------------------------------------------------
// Pure functions.

uint16_t EncodeConfig(const Ads1115Config& c) {
  unsigned v = 0;
  if (c.os) v |= reg::kOs;
  v |= (static_cast<unsigned>(c.mux) & 0x07u) << reg::kMuxShift;
  v |= Index(c.pga) << reg::kPgaShift;
  if (c.single_shot) v |= reg::kModeSingleShot;
  v |= Index(c.data_rate) << reg::kDrShift;
  if (c.comp_window) v |= reg::kCompMode;
  if (c.comp_active_high) v |= reg::kCompPol;
  if (c.comp_latching) v |= reg::kCompLat;
  v |= c.comp_queue & reg::kCompQueMask;
  return static_cast<uint16_t>(v);
}

Ads1115Config DecodeConfig(uint16_t v) {
  Ads1115Config c;
  c.os = (v & reg::kOs) != 0;
  c.mux = static_cast<Ads1115Mux>((v >> reg::kMuxShift) & 0x07u);
  c.pga = static_cast<Ads1115Pga>((v >> reg::kPgaShift) & 0x07u);
  c.single_shot = (v & reg::kModeSingleShot) != 0;
  c.data_rate = static_cast<Ads1115DataRate>((v >> reg::kDrShift) & 0x07u);
  c.comp_window = (v & reg::kCompMode) != 0;
  c.comp_active_high = (v & reg::kCompPol) != 0;
  c.comp_latching = (v & reg::kCompLat) != 0;
  c.comp_queue = static_cast<uint8_t>(v & reg::kCompQueMask);
  return c;
}

bool operator==(const Ads1115Config& a, const Ads1115Config& b) { return EncodeConfig(a) == EncodeConfig(b); }

double FullScaleVolts(Ads1115Pga pga) { return kFullScale[Index(pga)]; }

double LsbVolts(Ads1115Pga pga) { return FullScaleVolts(pga) / 32768.0; }

double CodeToVolts(int16_t code, Ads1115Pga pga) { return code * LsbVolts(pga); }

bool IsSaturated(int16_t code) { return code == INT16_MAX || code == INT16_MIN; }

const char* MuxName(Ads1115Mux mux) { return kMuxNames[static_cast<unsigned>(mux) & 0x07u]; }

Status CheckSaturation(int16_t code, Ads1115Mux mux, Ads1115Pga pga, const std::string& part) {
  if (!IsSaturated(code)) return Status::Ok();
  const bool positive = code > 0;
  char fs[16];
  std::snprintf(fs, sizeof fs, "%c%.3f V", positive ? '+' : '-', FullScaleVolts(pga));
  std::string advice;
  if (Index(pga) == 0) {
    advice = "the input exceeds the largest range (+-6.144 V); attenuate it";
  } else {
    // Codes 5..7 are all +-0.256 V: the next larger range is code 4.
    const unsigned larger = std::min(Index(pga), 5u) - 1;
    advice = std::string("use a larger PGA range (") + kPgaNames[larger] + ")";
  }
  return OutOfRange(part + ": " + MuxName(mux) + " at or beyond " + fs + " full scale (code " +
                    Hex(static_cast<uint16_t>(code), 4) + "): " + advice);
}

int SamplesPerSecond(Ads1115DataRate rate) { return kRates[Index(rate)]; }

Micros NominalConversionTime(Ads1115DataRate rate) {
  return Micros(kPowerUpUs) + CeilMicros(1.0 / SamplesPerSecond(rate));
}

Micros WorstCaseConversionTime(Ads1115DataRate rate) {
  return Micros(kPowerUpUs) + CeilMicros(1.0 / ((1.0 - kRateTolerance) * SamplesPerSecond(rate)));
}

Micros FastestConversionTime(Ads1115DataRate rate) {
  return Micros(static_cast<int64_t>(std::floor(1e6 / ((1.0 + kRateTolerance) * SamplesPerSecond(rate)))));
}

uint16_t SingleShotConfig(const Ads1115Input& input) {
  Ads1115Config c;
  c.os = true;
  c.mux = input.mux;
  c.pga = input.pga;
  c.single_shot = true;
  c.data_rate = input.data_rate;
  c.comp_queue = reg::kCompQueDisable;
  return EncodeConfig(c);
}

// ---------------------------------------------------------------------------
// The chip.

Ads1115::Ads1115(I2cBus& bus, uint8_t address, Clock& clock) : bus_(bus), address_(address), clock_(clock) {}

Status Ads1115::Init() {
  initialized_ = false;
  // The power-on configuration without OS: power-down, single-shot, comparator
  // off. A conversion left running (continuous mode) stops after this write.
  const uint16_t config = static_cast<uint16_t>(reg::kConfigReset & ~reg::kOs);
  EF_RETURN_IF_ERROR(WriteRegister(reg::kConfig, config, "writing config"));
  Result<uint16_t> back = ReadRegister(reg::kConfig, "reading config back");
  if (!back.ok()) return back.status();
  if ((*back & ~reg::kOs) != config) {
    // No ID register; a TMP102 / LM75 also answers at 0x48..0x4B with a
    // 16-bit register at pointer 0x01.
    return FailedPrecondition(Context("config reads back " + Hex(*back, 4) + " after writing " + Hex(config, 4) +
                                      ": not an ADS1115, or it ignores writes"));
  }
  initialized_ = true;
  return Status::Ok();
}

Result<int16_t> Ads1115::Convert(const Ads1115Input& input, Micros timeout) {
  if (!initialized_) return FailedPrecondition(Context("conversion before a successful Init()"));
  const uint16_t config = SingleShotConfig(input);
  const Micros start = clock_.Monotonic();
  EF_RETURN_IF_ERROR(WriteRegister(reg::kConfig, config, "starting a conversion"));
  Status s = WaitForConversion(input, config, start, timeout);
  if (s.code() == StatusCode::kDataLoss) initialized_ = false;  // re-Init() before the next attempt
  EF_RETURN_IF_ERROR(s);
  Result<uint16_t> raw = ReadRegister(reg::kConversion, "reading the conversion register");
  if (!raw.ok()) return raw.status();
  return static_cast<int16_t>(*raw);
}

Result<double> Ads1115::ReadVolts(const Ads1115Input& input, Micros timeout) {
  Result<int16_t> code = Convert(input, timeout);
  if (!code.ok()) return code.status();
  EF_RETURN_IF_ERROR(CheckSaturation(*code, input.mux, input.pga, Part()));
  return CodeToVolts(*code, input.pga);
}

Result<std::vector<double>> Ads1115::ReadBurst(const Ads1115Input& input, Micros span) {
  const Micros timeout = 2 * WorstCaseConversionTime(input.data_rate);
  const auto max_samples = static_cast<size_t>(std::ceil(static_cast<double>(span.count()) * 1e-6 *
                                                         SamplesPerSecond(input.data_rate) * kBurstRateMargin)) +
                           1;
  std::vector<double> volts;
  volts.reserve(max_samples);
  const Micros start = clock_.Monotonic();
  do {
    Result<double> v = ReadVolts(input, timeout);
    if (!v.ok()) {
      return Status(v.status().code(), v.status().message() + " (burst sample " + std::to_string(volts.size()) + ")");
    }
    volts.push_back(*v);
  } while (clock_.Monotonic() - start < span && volts.size() < max_samples);
  return volts;
}

Status Ads1115::WaitForConversion(const Ads1115Input& input, uint16_t written, Micros start, Micros timeout) {
  const Micros nominal = NominalConversionTime(input.data_rate);
  const Micros fastest = FastestConversionTime(input.data_rate);
  const Micros step = std::max(kMinPollStep, nominal / kPollDivisor);
  const int64_t max_polls = timeout / step + 3;
  for (int64_t poll = 0;; ++poll) {
    Result<uint16_t> config = ReadRegister(reg::kConfig, "polling config.OS");
    if (!config.ok()) return config.status();
    const Micros elapsed = clock_.Monotonic() - start;
    if ((*config & ~reg::kOs) != (written & ~reg::kOs)) {
      return DataLoss(Context("config reads back " + Hex(*config, 4) + " during a conversion started with " +
                              Hex(written, 4) + " (chip reset or write lost)"));
    }
    if ((*config & reg::kOs) != 0) {
      if (elapsed >= fastest) return Status::Ok();
      return DataLoss(Context("config.OS reads 1 (idle) " + Ms(elapsed) + " after starting a conversion that takes " +
                              Ms(fastest) + " at least: the conversion did not start"));
    }
    if (elapsed >= timeout || poll >= max_polls) {
      return DeadlineExceeded(Context("conversion of " + std::string(MuxName(input.mux)) + " at " +
                                      std::to_string(SamplesPerSecond(input.data_rate)) + " SPS not done after " +
                                      Ms(elapsed) + " (timeout " + Ms(timeout) + ", worst case " +
                                      Ms(WorstCaseConversionTime(input.data_rate)) + ")"));
    }
    // First wait out the nominal conversion time, then poll finely: a part
    // with a slow oscillator (up to 10%) costs a few extra polls.
    const Micros wait = elapsed < nominal ? nominal - elapsed : step;
    clock_.SleepFor(std::min(wait, timeout - elapsed));
  }
}

Status Ads1115::WriteRegister(uint8_t r, uint16_t value, const char* what) {
  // Section 9.5.3: pointer byte, then the register MSB first.
  const uint8_t tx[] = {r, static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value & 0xFFu)};
  return bus_.Write(address_, tx, kBusTimeout).WithContext(Context(what));
}

Result<uint16_t> Ads1115::ReadRegister(uint8_t r, const char* what) {
  // Section 9.5.3: a pointer write, then (repeated start) two bytes MSB first.
  uint8_t rx[2] = {};
  EF_RETURN_IF_ERROR(bus_.WriteRead(address_, ConstBytes(&r, 1), rx, kBusTimeout).WithContext(Context(what)));
  return static_cast<uint16_t>((rx[0] << 8) | rx[1]);
}

std::string Ads1115::Part() const { return "ads1115@" + Hex(address_, 2); }

std::string Ads1115::Context(const std::string& what) const { return Part() + ": " + what; }

}  // namespace edgeforge
