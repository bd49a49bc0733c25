// Test support: an I2C peripheral that sits between the simulated bus and a
// register-level model, so a test can corrupt or fail chosen register reads.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "hal/bytes.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/status.h"

namespace edgeforge::testing_support {

/// Passes transactions to `inner`, then hands each register read (one pointer
/// byte written, bytes read back) to `hook` as (register, what the model
/// answered); the hook may rewrite the bytes or return an error instead.
class Tamper final : public I2cPeripheral {
 public:
  using Hook = std::function<Status(uint8_t reg, MutBytes rx)>;
  Tamper(I2cPeripheral& inner, Hook hook) : inner_(inner), hook_(std::move(hook)) {}

 private:
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override {
    Status s = inner_.Transfer(tx, rx);
    if (!s.ok() || tx.size() != 1 || rx.empty()) return s;
    return hook_(tx[0], rx);
  }
  I2cPeripheral& inner_;
  Hook hook_;
};

}  // namespace edgeforge::testing_support
