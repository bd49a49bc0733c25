// Fault injection for the simulated HAL backends: one FaultSpec per
// peripheral (an I2C address, an SPI chip select, a GPIO line, a UART) makes
// the simulated wire misbehave the way real ones do, so driver and firmware
// tests can exercise their error paths through the same bytes as always.
//
// Per backend (what one "transaction" is, and what each kind does):
//   I2C (one WriteRead/Write):
//     kNack, kDisconnect: UNAVAILABLE "no ACK"; the model sees nothing.
//     kTimeout: DEADLINE_EXCEEDED; the model sees nothing.
//     kStuck: the model gets the bytes (writes land) but a read returns what
//             the same request (tx bytes, rx length) returned the first time
//             it was seen under this fault.
//     kNoise: read bytes get bits flipped.
//   SPI (one Transfer):
//     kNack, kDisconnect: MISO reads 0xFF, no error (SPI has no ACK); the
//             model sees nothing.
//     kTimeout: DEADLINE_EXCEEDED; the model sees nothing.
//     kStuck, kNoise: as I2C, on the MISO bytes (keyed by the MOSI bytes).
//   GPIO input line (one edge coming due; Get() does not count):
//     kNack, kDisconnect: Get() reads inactive while the fault is in force;
//             the edge is lost (never numbered: the kernel did not see it).
//     kTimeout: the edge is lost (no event, no seqno); Get() reads the level.
//     kStuck: the edge is lost; Get() reads the level the line had when the
//             fault was injected.
//     kNoise: the edge bounces (two extra edges at the same instant) with
//             probability `probability`; each Get() reads the inverted level
//             with probability `probability`.
//     A GPIO output line counts one Set() per transaction: kNack,
//     kDisconnect: the model sees it inactive; kTimeout, kStuck: the model
//     keeps seeing the previous level; kNoise: it sees the inverted level with
//     probability `probability`. Set() itself always succeeds.
//   UART (one Read or Write):
//     kNack, kDisconnect: Read: bytes arriving from the peripheral are lost
//             (bytes received before the fault stay readable); Write: the
//             bytes vanish, OK.
//     kTimeout: Read returns 0 bytes; arriving bytes wait (like a stalled
//             flow control) and are delivered after the fault ends; Write:
//             DEADLINE_EXCEEDED, the peripheral gets nothing.
//     kStuck: the first Read under the fault that gets bytes freezes them;
//             later Reads return that same chunk again (truncated to the
//             buffer) and arriving bytes are lost. Writes reach the peripheral.
//     kNoise: bytes read get bits flipped; writes are clean.
// `transactions` = N counts transactions as above whether or not the
// probability made the fault hit each one. faults_hit() counts the ones it
// hit (kNoise: those with at least one flipped bit or bounce). Injecting
// replaces any previous fault on that peripheral and resets faults_hit();
// ClearFault keeps it. A healthy peripheral pays one branch per transaction.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "hal/bytes.h"
#include "hal/status.h"

namespace edgeforge {

enum class FaultKind : uint8_t {
  kNone,        // healthy
  kNack,        // I2C: address not acknowledged -> UNAVAILABLE (SPI/GPIO/UART: same as kDisconnect)
  kTimeout,     // the transaction never completes -> DEADLINE_EXCEEDED (I2C, SPI); UART reads 0 bytes; GPIO no events
  kStuck,       // the chip answers but its outputs froze (see the table above)
  kNoise,       // each received bit flips with probability `probability` (seeded, deterministic)
  kDisconnect,  // wire cut: I2C no ACK; SPI MISO 0xFF; GPIO reads inactive, edges lost; UART nothing either way
};

struct FaultSpec {
  FaultKind kind = FaultKind::kNone;
  uint32_t transactions = 0;  // 0: until cleared; N: the next N transactions/reads only, then healthy again
  double probability = 1.0;   // kNoise: per-bit flip probability; other kinds: per-transaction probability of a hit
  uint64_t seed = 1;          // deterministic randomness for probability/noise
};

/// "none", "nack", "timeout", "stuck", "noise", "disconnect".
const char* FaultKindName(FaultKind kind);
/// The inverse of FaultKindName (for CLIs and scenario files); INVALID_ARGUMENT naming the value.
Result<FaultKind> ParseFaultKind(std::string_view name);

/// The per-peripheral fault state machine shared by the simulated backends:
/// remaining transaction count, seeded PRNG, stuck-response cache, noise.
/// A backend asks armed() (inline, no work when healthy) and, when armed,
/// Next() once per transaction. Not synchronized (one device thread).
class FaultInjector {
 public:
  /// Replaces the current fault; resets hits(), the PRNG and the stuck cache.
  void Inject(const FaultSpec& spec);
  /// Healthy again; hits() is kept.
  void Clear();

  bool armed() const { return kind_ != FaultKind::kNone; }
  FaultKind kind() const { return kind_; }
  /// Transactions the fault changed since the last Inject.
  uint64_t hits() const { return hits_; }

  /// Starts one transaction: consumes one of spec.transactions (disarming
  /// after the last) and rolls spec.probability. Returns the kind that
  /// applies to this transaction, kNone when it goes through healthy. For
  /// kNoise always returns kNoise (its probability is per bit: AddNoise).
  /// Counts a hit for every kind but kNoise (AddNoise counts those).
  FaultKind Next();
  /// kStuck: the first call for a (request, response.size()) pair remembers
  /// `response`; later calls overwrite `response` with the remembered bytes.
  void Freeze(ConstBytes request, MutBytes response);
  /// kNoise: flips each bit of `bytes` with the spec's probability; counts a
  /// hit when at least one bit flipped. Returns the number of flipped bits.
  size_t AddNoise(MutBytes bytes);
  /// True with the spec's probability (GPIO reads under kNoise); counts a hit.
  bool Roll();

 private:
  uint64_t NextRandom();
  bool Chance(double p);

  FaultKind kind_ = FaultKind::kNone;
  FaultSpec spec_;
  uint32_t remaining_ = 0;  // 0 with spec_.transactions == 0: unbounded
  uint64_t hits_ = 0;
  uint64_t rng_ = 0;  // splitmix64 state
  std::map<std::pair<std::vector<uint8_t>, size_t>, std::vector<uint8_t>> frozen_;
};

}  // namespace edgeforge
