// Transducers read through an ADC: a current transformer (AC motor current)
// and a 4-20 mA loop across a shunt. Pure functions over volts, no I/O.
#pragma once

#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge {

/// A current transformer with a burden resistor: the secondary current
/// I_primary / turns_ratio develops V = I_secondary * burden_ohm.
///
/// Wiring assumed (and why): the burden sits between two ADC inputs measured
/// differentially (AIN0-AIN1), with AIN1 held at a mid-supply bias so both
/// pins stay inside GND..VDD while the AC swings both ways. The differential
/// reading cancels the bias and its supply ripple, so the PGA can be sized to
/// the AC peak alone (a single-ended reading against GND would carry ~VDD/2 of
/// DC and need a range several times larger, losing resolution). The residual
/// offset (bias-divider mismatch, ADC offset error) is removed as the mean of
/// the burst, which over whole mains cycles is the DC component exactly.
struct CurrentTransformer {
  double turns_ratio = 2000;  // secondary turns per primary turn (e.g. 2000:1)
  double burden_ohm = 33;
  double mains_hz = 50;  // 50 or 60
  // Cycles per burst. 10 at 50 Hz (12 at 60 Hz) is the 200 ms window of
  // IEC 61000-4-30 for RMS quantities.
  int cycles = 10;
};

/// INVALID_ARGUMENT naming the field for a non-positive ratio, burden or
/// cycle count, or a mains frequency outside 40..70 Hz.
Status Validate(const CurrentTransformer& ct);
/// Duration of `cycles` mains periods, rounded to the microsecond.
Micros BurstSpan(const CurrentTransformer& ct);

/// RMS of the samples after removing their mean (the DC offset), in volts.
/// INVALID_ARGUMENT for fewer than 2 samples or a non-finite value.
Result<double> AcRmsVolts(const std::vector<double>& volts);
/// I_rms = V_rms * turns_ratio / burden_ohm, V_rms per AcRmsVolts. The
/// samples must span whole mains cycles at a roughly even rate (the mean is
/// then the offset and the sum of squares weighs every phase equally).
Result<double> CtRmsAmps(const std::vector<double>& volts, const CurrentTransformer& ct);

/// A 4-20 mA transmitter across a shunt (165 ohm: 4 mA = 0.66 V, 20 mA = 3.3 V).
struct Loop4To20mA {
  double shunt_ohm = 165;
  double range_min = 0;      // process value at 4 mA
  double range_max = 10;     // process value at 20 mA
  std::string unit = "bar";  // UCUM
};

/// INVALID_ARGUMENT for a non-positive shunt, range_min == range_max (a
/// reversed range is allowed), non-finite values or an empty unit.
Status Validate(const Loop4To20mA& loop);

/// NAMUR NE 43 signal levels, mA.
inline constexpr double kNe43FailureLowMa = 3.6;    // <= : failure (open loop, dead transmitter)
inline constexpr double kNe43MeasureLowMa = 3.8;    // <  : below the measuring range
inline constexpr double kNe43MeasureHighMa = 20.5;  // >  : above the measuring range
inline constexpr double kNe43FailureHighMa = 21.0;  // >= : failure (short, transmitter alarm)

struct LoopReading {
  double milliamps = 0;
  double value = 0;  // range_min + (mA - 4) / 16 * (range_max - range_min)
};

/// mA = V / R and the process value by linear scaling; 3.8..4 mA and
/// 20..20.5 mA are valid and extrapolate past the range (NE 43). Outside
/// 3.8..20.5 mA: OUT_OF_RANGE; at or below 3.6 mA or at or above 21 mA
/// (NE 43 failure information): UNAVAILABLE. Messages carry the mA.
Result<LoopReading> LoopToValue(double volts, const Loop4To20mA& loop);

}  // namespace edgeforge
