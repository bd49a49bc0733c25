// A node: the sensors a board file describes, built into drivers and sensor
// sources on whatever buses a BusProvider hands out. The device binary passes
// Linux device nodes; the simulator passes simulated buses with register
// models attached (DESIGN.md principles 1 and 4: one firmware, boards as data).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firmware/board/board.h"
#include "firmware/pipeline/alarm.h"
#include "firmware/pipeline/pipeline.h"
#include "firmware/pipeline/sensor_source.h"
#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/i2c.h"
#include "hal/spi.h"
#include "hal/status.h"
#include "hal/uart.h"

namespace edgeforge::app {

/// Where a board's buses come from. Returned objects are owned by the
/// provider and must outlive the Node built on them. Errors name the Linux
/// node (or simulated bus) that could not be opened.
class BusProvider {
 public:
  virtual ~BusProvider() = default;
  virtual Result<I2cBus*> I2c(const board::Bus& bus) = 0;
  virtual Result<SpiDevice*> Spi(const board::Bus& bus, uint8_t cs) = 0;
  /// An input line with edge events on both edges; `event_buffer` edges are
  /// held between reads (Linux: 16 per line by default, at most 1024), so a
  /// driver that reads once per sample period asks for what a period brings.
  virtual Result<GpioLine*> GpioInput(const board::Bus& bus, uint32_t offset, bool active_low,
                                      const std::string& consumer, uint32_t event_buffer) = 0;
  virtual Result<Uart*> UartPort(const board::Bus& bus) = 0;
};

/// One built device of the board: its source and the channels it produces.
struct NodePart {
  const board::Device* device = nullptr;     // in the Node's board
  pipeline::SensorSource* source = nullptr;  // owned by the Node
  std::vector<std::string> channels;         // telemetry channel names it emits
};

class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  const board::Board& board() const { return board_; }
  const std::vector<NodePart>& parts() const { return parts_; }
  /// Each source on its board sample period.
  std::vector<pipeline::SourceSlot> Slots() const;
  /// The board's alarms as pipeline rules (validated against the channels).
  const std::vector<pipeline::AlarmRule>& alarm_rules() const { return rules_; }
  Micros report_period() const { return Millis(board_.report_ms); }

 private:
  friend Result<std::unique_ptr<Node>> BuildNode(const board::Board& board, BusProvider& buses, Clock& clock);
  // Drivers, transports and sources, type-erased; released newest first.
  explicit Node(board::Board board);

  board::Board board_;
  std::vector<std::shared_ptr<void>> owned_;
  std::vector<NodePart> parts_;
  std::vector<pipeline::AlarmRule> rules_;
};

/// Builds every device of `board` (drivers are constructed, not yet
/// initialised: the pipeline's Init does that, and a part that fails to come
/// up is reported, not fatal). Errors are configuration errors naming the
/// board file and field (bad params, an alarm on a channel no part emits) or
/// a bus that cannot be opened (naming the device and the node).
Result<std::unique_ptr<Node>> BuildNode(const board::Board& board, BusProvider& buses, Clock& clock);

}  // namespace edgeforge::app
