// Model of an OmniPreSense OPS243-A Doppler radar at the far end of a SimUart.
// It parses the commands the firmware writes and answers them as the module
// does (firmware/drivers/ops243/ops243.h lists the sources), keeps the settings
// they make (units, output format, sample rate, decimals, direction and speed
// filters) and emits a speed report per detection in the current format.
// AddDetection() / AddVehicle() are the "physics" knob.
//
// Timing: answers arrive kAnswerLatency after the command; reports at their
// detection instant. SimUart delivers bytes in the order they were fed, so an
// answer never overtakes reports already scheduled: schedule detections after
// configuring, and no further ahead than the firmware's answer timeout when it
// may re-initialise meanwhile.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "firmware/drivers/ops243/ops243.h"
#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/sim/sim_uart.h"
#include "hal/status.h"

namespace edgeforge {

class Ops243Model final : public UartPeripheral {
 public:
  /// Time from the end of a command to its answer (processing; the bytes are
  /// fed at one instant).
  static constexpr Micros kAnswerLatency{2'000};
  /// Unterminated command bytes kept (more: the buffer is discarded).
  static constexpr size_t kMaxCommand = 64;

  /// Attaches itself to `uart` (and detaches on destruction).
  Ops243Model(SimUart& uart, const Clock& clock);
  ~Ops243Model() override;
  Ops243Model(const Ops243Model&) = delete;
  Ops243Model& operator=(const Ops243Model&) = delete;

  /// One report at `at` of a target moving at `speed_mps`, towards the sensor
  /// when `inbound`. Filtered out (OK, no report) by the direction and speed
  /// filters. Faster than the sample rate resolves, the Doppler shift aliases
  /// like the real module's FFT: the report shows v - 2 * v_max with the
  /// opposite direction. INVALID_ARGUMENT for a negative or non-finite speed
  /// or an `at` before bytes already scheduled.
  Status AddDetection(Micros at, double speed_mps, bool inbound);
  /// A vehicle in the beam from `enters` to `leaves`: one detection per
  /// report interval (one FFT buffer) at its speed.
  Status AddVehicle(Micros enters, Micros leaves, double speed_mps, bool inbound);
  /// Back to the power-on settings (m/s, plain output, 10 kS/s, 2 decimals,
  /// both directions, no speed filter), as after a power cycle.
  void PowerCycle();

  Ops243Unit unit() const { return unit_; }
  bool json() const { return json_; }
  Ops243SampleRate sample_rate() const { return rate_; }
  int decimals() const { return decimals_; }
  /// Commands understood, and bytes that were not a command the model knows.
  uint64_t commands() const { return commands_; }
  uint64_t ignored_bytes() const { return ignored_; }
  /// Reports scheduled.
  uint64_t reports() const { return reports_; }

  /// The report line (without line ending) the module prints for a target at
  /// `speed_in_unit` (current unit) in the current output format.
  std::string FormatReport(double speed_in_unit, bool inbound) const;

 private:
  enum class Filter : uint8_t {
    kBoth,      // R|
    kInbound,   // R+
    kOutbound,  // R-
  };
  void OnHostWrite(ConstBytes data) override;
  void ProcessCommands();
  /// Runs a two-character command; false if the model does not know it.
  bool Execute(char c0, char c1);
  bool ExecuteNumeric(char c0, char c1, std::string_view number);
  void Answer(const std::string& lines);
  Status FeedAt(const std::string& text, Micros at);

  SimUart& uart_;
  const Clock& clock_;
  std::string command_;
  Ops243Unit unit_ = Ops243Unit::kMetersPerSecond;
  bool json_ = false;
  Ops243SampleRate rate_ = Ops243SampleRate::k10k;
  int decimals_ = 2;
  Filter filter_ = Filter::kBoth;
  double min_speed_ = 0;  // R>n, in the unit current when it was set (kept as m/s)
  double max_speed_ = 0;  // R<n; 0: none
  Micros last_fed_{0};
  uint64_t commands_ = 0;
  uint64_t ignored_ = 0;
  uint64_t reports_ = 0;
};

}  // namespace edgeforge
