// Register-level model of an Analog Devices ADXL345 (data sheet Rev. G), to
// attach under a SimSpiBus chip select or a SimI2cBus address (0x53 / 0x1D).
// The firmware's Adxl345 driver talks to it with the same bytes as to the
// real chip; SetVibration() is the "physics" knob. Samples are generated at
// the configured output data rate from the device's clock, lazily: each bus
// access first produces what the chip would have produced since the last
// one, at most a FIFO's worth (bounded work however long the gap).
//
// Modelled: DEVID; BW_RATE rate codes (Table 7) and the turn-on time
// (1.1 ms + 1/ODR, Table 1 footnote); POWER_CTL Measure (standby keeps the
// FIFO, generates nothing); DATA_FORMAT FULL_RES / Range / Justify, with
// saturation at the range and the always-0 LSB at 1600/3200 Hz ("Data
// Formatting of Upper Data Rates"); OFSX/OFSY/OFSZ (15.6 mg/LSB); FIFO_CTL
// bypass / FIFO / stream (trigger behaves as stream: no trigger events);
// FIFO_STATUS entries; INT_SOURCE DATA_READY, Watermark, Overrun; a read of
// the data registers pops one entry when it ends (the address moving past
// 0x37 or CS / STOP), per "Retrieving Data from FIFO"; SPI R/W and MB bits;
// I2C register pointer with auto-increment.
// Not modelled: tap, activity, free fall, sleep / auto-sleep (Sleep = 1 just
// stops sampling), LOW_POWER noise, self-test, 3-wire SPI, interrupt pins.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/status.h"

namespace edgeforge {

class Adxl345Model final : public SpiPeripheral, public I2cPeripheral {
 public:
  /// What the chip feels, per axis x, y, z: a(t) = gravity_g + sqrt(2) *
  /// rms_g * sin(2 pi frequency_hz t) + noise, noise white Gaussian with
  /// standard deviation noise_g per sample and axis.
  struct Vibration {
    double gravity_g[3] = {0.0, 0.0, 1.0};  // DC: gravity and static tilt
    double rms_g[3] = {0.0, 0.0, 0.0};      // AC RMS per axis
    double frequency_hz = 0.0;
    double noise_g = 0.0;
  };

  /// `clock` is the device's clock (the one its driver uses); `seed` makes
  /// the noise deterministic: a sample's noise depends only on the seed and
  /// the sample's instant, not on how often the chip is read.
  explicit Adxl345Model(const Clock& clock, uint64_t seed = 1);

  /// From now on (samples due before this call keep the previous setting).
  void SetVibration(const Vibration& vibration);
  /// What DEVID reads (0xE5 by default): a different part on the bus.
  void SetDeviceId(uint8_t id) { device_id_ = id; }
  /// A power cycle: registers back to their reset values (Table 19), FIFO
  /// empty, standby.
  void PowerCycle();

  /// A register as a read would return it, without a read's side effects
  /// (no FIFO pop). State as of the last bus access or knob call.
  uint8_t Register(uint8_t reg) const;
  /// Samples waiting in the FIFO, as of the last bus access.
  size_t fifo_entries() const { return count_; }
  /// Samples produced since construction, and those discarded because the
  /// FIFO was full (stream mode drops the oldest, FIFO mode the newest).
  uint64_t samples_generated() const { return samples_generated_; }
  uint64_t samples_discarded() const { return samples_discarded_; }

 private:
  using Entry = std::array<int16_t, 3>;  // data register words as formatted

  Status OnTransfer(ConstBytes mosi, MutBytes miso) override;  // SPI
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override;     // I2C

  /// Produces the samples due between the last access and now.
  void Advance();
  uint64_t SamplesDueBy(Micros t) const;
  Entry MakeSample(uint64_t k) const;
  int16_t Quantize(double g) const;
  void Push(const Entry& e);
  void StartGrid(Micros origin);

  uint8_t ReadRegister(uint8_t reg);
  void WriteRegister(uint8_t reg, uint8_t value);
  /// The address after `reg` in a burst; completes a data read when leaving 0x37.
  uint8_t Next(uint8_t reg, uint8_t mask);
  void EndTransaction();
  void FinishDataRead();

  uint8_t FifoMode() const;
  bool Measuring() const;
  const Entry& Head() const;
  uint8_t IntSource() const;

  const Clock& clock_;
  uint64_t seed_;
  Vibration vibration_;
  uint8_t device_id_ = 0xE5;
  std::array<uint8_t, 64> regs_{};
  uint8_t i2c_pointer_ = 0;

  // FIFO: a ring of kDepth entries; output_ is the output stage (data
  // registers): the newest sample in bypass, the last popped one otherwise.
  static constexpr size_t kDepth = 32;
  std::array<Entry, kDepth> ring_{};
  size_t head_ = 0;
  size_t count_ = 0;
  Entry output_{};
  bool unread_ = false;     // bypass: output_ not read yet (DATA_READY)
  bool overrun_ = false;    // INT_SOURCE Overrun
  bool data_read_ = false;  // this transaction read a data register: pop at its end

  // Sample k (k >= 1) of the current grid is due at grid_origin_ + k / ODR.
  Micros grid_origin_{0};
  uint8_t grid_rate_ = 0;
  uint64_t grid_generated_ = 0;
  bool grid_running_ = false;

  uint64_t samples_generated_ = 0;
  uint64_t samples_discarded_ = 0;
};

}  // namespace edgeforge
