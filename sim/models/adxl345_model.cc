#include "sim/models/adxl345_model.h"

#include <algorithm>
#include <cmath>

#include "firmware/drivers/adxl345/adxl345.h"

namespace edgeforge {
namespace {

namespace reg = adxl345_reg;

// Table 1 footnote: turn-on and wake-up take about 1.1 ms + 1/ODR.
constexpr Micros kTurnOn{1100};
// Registers 0x1E..0x20: 15.6 mg/LSB (0x7F = 2 g).
constexpr double kOffsetGPerLsb = 0.0156;
constexpr double kPi = 3.14159265358979323846;
// Table 19 reset values that are not 0x00 (INT_SOURCE's 0x02 is computed).
constexpr uint8_t kBwRateReset = 0x0A;
constexpr uint8_t kRate1600Hz = 0x0E;

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1), never 0 (Box-Muller takes its log).
double Uniform(uint64_t key) { return (static_cast<double>(Mix(key) >> 11) + 0.5) * 0x1p-53; }

double Gaussian(uint64_t key) {
  const double u1 = Uniform(key);
  const double u2 = Uniform(key ^ 0x5555555555555555ull);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

bool IsDataRegister(uint8_t r) { return r >= reg::kDataX0 && r <= reg::kDataZ1; }

}  // namespace

Adxl345Model::Adxl345Model(const Clock& clock, uint64_t seed) : clock_(clock), seed_(seed) { PowerCycle(); }

void Adxl345Model::PowerCycle() {
  regs_.fill(0x00);
  regs_[reg::kBwRate] = kBwRateReset;
  i2c_pointer_ = 0;
  head_ = 0;
  count_ = 0;
  output_ = {};
  unread_ = false;
  overrun_ = false;
  data_read_ = false;
  grid_running_ = false;
}

void Adxl345Model::SetVibration(const Vibration& vibration) {
  Advance();
  vibration_ = vibration;
}

// ---------------------------------------------------------------------------
// Sample generation.

bool Adxl345Model::Measuring() const {
  const uint8_t power = regs_[reg::kPowerCtl];
  return (power & reg::kPowerCtlMeasure) != 0 && (power & reg::kPowerCtlSleep) == 0;
}

uint8_t Adxl345Model::FifoMode() const { return regs_[reg::kFifoCtl] >> reg::kFifoModeShift; }

void Adxl345Model::StartGrid(Micros origin) {
  grid_origin_ = origin;
  grid_rate_ = regs_[reg::kBwRate] & reg::kBwRateRateMask;
  grid_generated_ = 0;
  grid_running_ = true;
}

uint64_t Adxl345Model::SamplesDueBy(Micros t) const {
  if (t <= grid_origin_) return 0;
  // ODR = 3200 / 2^(15 - code) Hz: whole samples in (t - origin), exactly.
  const auto elapsed_us = static_cast<uint64_t>((t - grid_origin_).count());
  return elapsed_us * 3200u / (uint64_t{1'000'000} << (15u - grid_rate_));
}

void Adxl345Model::Advance() {
  if (!grid_running_) return;
  const uint64_t due = SamplesDueBy(clock_.Monotonic());
  if (due <= grid_generated_) return;
  const uint64_t fresh = due - grid_generated_;
  samples_generated_ += fresh;
  const uint8_t mode = FifoMode();
  if (mode == reg::kFifoModeBypass) {
    // Only the newest reaches the data registers; any other unread one is
    // replaced: Overrun (Register 0x30).
    if (unread_ || fresh > 1) overrun_ = true;
    samples_discarded_ += fresh - 1 + (unread_ ? 1 : 0);
    output_ = MakeSample(due);
    unread_ = true;
  } else if (mode == reg::kFifoModeFifo) {
    // FIFO mode stops collecting when full.
    const uint64_t space = kDepth - count_;
    const uint64_t take = std::min(fresh, space);
    for (uint64_t k = grid_generated_ + 1; k <= grid_generated_ + take; ++k) Push(MakeSample(k));
    samples_discarded_ += fresh - take;
  } else {
    // Stream (and trigger, whose trigger event is not modelled): the newest
    // 32 are kept, older ones dropped, so at most 32 are computed.
    const uint64_t keep = std::min<uint64_t>(fresh, kDepth);
    samples_discarded_ += fresh - keep;
    for (uint64_t k = due - keep + 1; k <= due; ++k) Push(MakeSample(k));
  }
  grid_generated_ = due;
}

void Adxl345Model::Push(const Entry& e) {
  if (count_ == kDepth) {  // stream mode: the oldest goes
    head_ = (head_ + 1) % kDepth;
    --count_;
    ++samples_discarded_;
  }
  ring_[(head_ + count_) % kDepth] = e;
  ++count_;
  // In FIFO, stream and trigger modes Overrun is set when the FIFO is full.
  if (count_ == kDepth) overrun_ = true;
}

Adxl345Model::Entry Adxl345Model::MakeSample(uint64_t k) const {
  const double odr = Adxl345OdrHz(grid_rate_);
  const double t = static_cast<double>(grid_origin_.count()) * 1e-6 + static_cast<double>(k) / odr;
  const double phase = std::sin(2.0 * kPi * vibration_.frequency_hz * t);
  // The noise of a sample depends on its instant, not on the read pattern.
  const uint64_t key = Mix(seed_ ^ Mix(static_cast<uint64_t>(grid_origin_.count()) ^ Mix(k)));
  Entry e{};
  for (size_t axis = 0; axis < 3; ++axis) {
    double g = vibration_.gravity_g[axis] + std::sqrt(2.0) * vibration_.rms_g[axis] * phase;
    if (vibration_.noise_g > 0) g += vibration_.noise_g * Gaussian(Mix(key + axis));
    g += static_cast<int8_t>(regs_[reg::kOfsX + axis]) * kOffsetGPerLsb;
    e[axis] = Quantize(g);
  }
  return e;
}

int16_t Adxl345Model::Quantize(double g) const {
  // Register 0x31: 10 bits in fixed mode; in full resolution 10..13 bits at
  // 256 LSB/g (Table 1) for +-2..+-16 g.
  const uint8_t format = regs_[reg::kDataFormat];
  const bool full_res = (format & reg::kFormatFullRes) != 0;
  const unsigned range = format & reg::kFormatRangeMask;
  const unsigned bits = full_res ? 10 + range : 10;
  const double lsb_per_g = full_res ? kAdxl345FullResLsbPerG : kAdxl345FullResLsbPerG / (1u << range);
  const long max = (1L << (bits - 1)) - 1;
  long raw = std::lround(std::clamp(g * lsb_per_g, -1e6, 1e6));
  raw = std::clamp(raw, -max - 1, max);
  // "Data Formatting of Upper Data Rates": at 3200 and 1600 Hz the LSB is
  // always 0 in full resolution and in 10-bit +-2 g.
  if (grid_rate_ >= kRate1600Hz && (full_res || range == 0)) raw -= raw & 1;
  if ((format & reg::kFormatJustifyLeft) != 0) raw *= 1L << (16 - bits);  // MSB in bit 15
  return static_cast<int16_t>(raw);
}

// ---------------------------------------------------------------------------
// Registers.

const Adxl345Model::Entry& Adxl345Model::Head() const {
  if (FifoMode() != reg::kFifoModeBypass && count_ > 0) return ring_[head_];
  return output_;
}

uint8_t Adxl345Model::IntSource() const {
  const bool bypass = FifoMode() == reg::kFifoModeBypass;
  uint8_t v = 0;
  if (bypass ? unread_ : count_ > 0) v |= reg::kIntDataReady;
  // Watermark: entries >= Samples; with Samples = 0 it is set at reset (0x02).
  if (count_ >= (regs_[reg::kFifoCtl] & reg::kFifoSamplesMask)) v |= reg::kIntWatermark;
  if (overrun_) v |= reg::kIntOverrun;
  return v;
}

uint8_t Adxl345Model::Register(uint8_t r) const {
  if (r > reg::kLastRegister) return 0x00;
  switch (r) {
    case reg::kDevId:
      return device_id_;
    case reg::kIntSource:
      return IntSource();
    case reg::kFifoStatus:
      return static_cast<uint8_t>(count_);  // FIFO_TRIG (bit 7) never set: no trigger events
    default:
      break;
  }
  if (IsDataRegister(r)) {
    const unsigned i = r - reg::kDataX0;
    const auto word = static_cast<uint16_t>(Head()[i / 2]);
    return static_cast<uint8_t>(i % 2 == 0 ? word & 0xFFu : word >> 8);
  }
  return regs_[r];
}

uint8_t Adxl345Model::ReadRegister(uint8_t r) {
  if (IsDataRegister(r)) data_read_ = true;
  return Register(r);
}

void Adxl345Model::WriteRegister(uint8_t r, uint8_t value) {
  switch (r) {
    case reg::kBwRate: {
      const uint8_t old_rate = regs_[r] & reg::kBwRateRateMask;
      regs_[r] = value & 0x1F;  // D7..D5 are 0
      // A new rate takes effect now, on a new sample grid.
      if (grid_running_ && (value & reg::kBwRateRateMask) != old_rate) StartGrid(clock_.Monotonic());
      return;
    }
    case reg::kPowerCtl: {
      const bool was = Measuring();
      regs_[r] = value & 0x3F;
      if (!was && Measuring()) StartGrid(clock_.Monotonic() + kTurnOn);
      if (!Measuring()) grid_running_ = false;
      return;
    }
    case reg::kDataFormat:
      regs_[r] = value & 0xEF;  // D4 is 0
      return;
    case reg::kFifoCtl:
      regs_[r] = value;
      if (FifoMode() == reg::kFifoModeBypass) {  // "Bypass Mode": the FIFO stays empty
        head_ = 0;
        count_ = 0;
      }
      return;
    default:
      break;
  }
  // THRESH_TAP..TAP_AXES (0x1D..0x2A), INT_ENABLE, INT_MAP: stored. DEVID,
  // reserved 0x01..0x1C, ACT_TAP_STATUS, INT_SOURCE, data and FIFO_STATUS
  // are read-only: writes are ignored.
  const bool writable = (r >= 0x1D && r <= 0x2A) || r == reg::kIntEnable || r == 0x2F;
  if (writable) regs_[r] = value;
}

uint8_t Adxl345Model::Next(uint8_t r, uint8_t mask) {
  // "The end of reading a data register is signified by the transition from
  // Register 0x37 to Register 0x38 or by the CS pin going high."
  if (r == reg::kDataZ1 && data_read_) FinishDataRead();
  return static_cast<uint8_t>((r + 1) & mask);
}

void Adxl345Model::EndTransaction() {
  if (data_read_) FinishDataRead();
}

void Adxl345Model::FinishDataRead() {
  data_read_ = false;
  // "Each FIFO level is cleared after any read (single- or multiple-byte)
  // of FIFO" (Register 0x39); DATA_READY / Overrun clear on a data read
  // (Register 0x30).
  if (FifoMode() != reg::kFifoModeBypass && count_ > 0) {
    output_ = ring_[head_];
    head_ = (head_ + 1) % kDepth;
    --count_;
  }
  unread_ = false;
  overrun_ = false;
}

// ---------------------------------------------------------------------------
// Wires.

Status Adxl345Model::OnTransfer(ConstBytes mosi, MutBytes miso) {
  Advance();
  if (mosi.empty()) return Status::Ok();
  // Figures 37..39: R/W[7] MB[6] A[5:0], then data. miso[0] is shifted out
  // while the command comes in: SDO is not driven, the bus's idle level stays.
  const uint8_t command = mosi[0];
  const bool read = (command & reg::kSpiRead) != 0;
  const bool multi = (command & reg::kSpiMultiByte) != 0;
  uint8_t address = command & reg::kSpiAddressMask;
  for (size_t i = 1; i < mosi.size(); ++i) {
    if (read) {
      miso[i] = ReadRegister(address);
    } else {
      WriteRegister(address, mosi[i]);
    }
    // Without MB the address does not advance: extra bytes repeat the register.
    if (multi) address = Next(address, reg::kSpiAddressMask);
  }
  EndTransaction();  // CS high
  return Status::Ok();
}

Status Adxl345Model::OnWriteRead(ConstBytes tx, MutBytes rx) {
  Advance();
  // "I2C": the first byte written is the register address; further bytes are
  // written from there on, and reads continue from the (incremented) address.
  if (!tx.empty()) {
    i2c_pointer_ = tx[0];
    for (size_t i = 1; i < tx.size(); ++i) {
      WriteRegister(i2c_pointer_, tx[i]);
      i2c_pointer_ = Next(i2c_pointer_, 0xFF);
    }
  }
  for (uint8_t& byte : rx) {
    byte = ReadRegister(i2c_pointer_);
    i2c_pointer_ = Next(i2c_pointer_, 0xFF);
  }
  EndTransaction();  // STOP
  return Status::Ok();
}

}  // namespace edgeforge
