// An ADS1115 as a sensor source: each configured channel is a transducer on
// one mux setting (a current transformer, a 4-20 mA loop) and yields one
// reading per sample. Channels fail independently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/drivers/ads1115/ads1115.h"
#include "firmware/drivers/ads1115/analog_inputs.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

struct Ads1115Channel {
  enum class Kind : uint8_t {
    kCurrentTransformer,  // AC RMS over a burst of whole mains cycles at 860 SPS, in A
    kLoop4To20mA,         // one conversion at 128 SPS, scaled to loop.unit
  };
  std::string name;  // telemetry channel, snake_case: "motor_current", "pressure"
  Ads1115Mux mux = Ads1115Mux::kAin0Ain1;
  Ads1115Pga pga = Ads1115Pga::kFsr1024mV;
  Kind kind = Kind::kCurrentTransformer;
  CurrentTransformer ct;  // kind == kCurrentTransformer
  Loop4To20mA loop;       // kind == kLoop4To20mA
};

/// Data rates per kind. A CT burst uses the fastest rate: ~1.2 ms per
/// single-shot conversion, ~16 samples per 50 Hz cycle, enough for the RMS of
/// the fundamental and low harmonics. A loop is a DC level: the power-on
/// default rate (7.8 ms) averages more noise at no cost that matters.
inline constexpr Ads1115DataRate kCtDataRate = Ads1115DataRate::kSps860;
inline constexpr Ads1115DataRate kLoopDataRate = Ads1115DataRate::kSps128;

/// INVALID_ARGUMENT naming the channel: empty or non-snake_case or duplicate
/// names, bad transducer parameters, or a loop whose PGA range saturates
/// below 20.5 mA through its shunt.
Status Validate(const std::vector<Ads1115Channel>& channels);

class Ads1115Source final : public pipeline::SensorSource {
 public:
  Ads1115Source(std::string name, Ads1115& adc, std::vector<Ads1115Channel> channels);

  const std::vector<Ads1115Channel>& channels() const { return channels_; }

 private:
  Status DoInit() override;
  /// One reading per channel, in configuration order. Returns the first
  /// failing channel's status (prefixed with its name); an ADC failure other
  /// than a saturated input re-runs Init() before the next channel.
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  Result<double> SampleChannel(const Ads1115Channel& channel);
  Result<double> SampleCurrent(const Ads1115Channel& channel);
  Result<double> SampleLoop(const Ads1115Channel& channel);
  /// Marks the source not ready when `s` came from the chip or the bus.
  void NoteAdcStatus(const Status& s);

  Ads1115& adc_;
  std::vector<Ads1115Channel> channels_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
