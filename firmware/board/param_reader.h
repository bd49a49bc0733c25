// Strict, typed reading of one JSON object (a device's "params", or any part
// of a board file) with errors that name the file and the field path:
//   "boards/factory-node.json: devices[2].params.channels[0].shunt_ohm: must be > 0, got 0".
//
// The getters never fail on their own: the first error is latched and every
// getter keeps returning its fallback (or zero), so a driver validates its
// params with one line per field and checks Finish() once:
//
//   board::ParamReader p = board::ReadParams(board, device);
//   cfg.odr_hz = p.NumberOr("odr_hz", 100, board::Range::Between(0.1, 3200));
//   cfg.units = p.EnumOr("units", "km/h", {"km/h", "mph", "m/s"});
//   EF_RETURN_IF_ERROR(p.Finish());  // values are meaningful only if this is OK
//
// Finish() also rejects keys nobody asked for, so a typo is never ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hal/status.h"

namespace edgeforge::board {

using Json = nlohmann::ordered_json;

/// Bounds for a number. Describe() is the rule as errors print it ("> 0", "in 10..3600000").
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // min itself is excluded
  bool max_open = false;  // max itself is excluded

  static Range Any() { return {}; }
  static Range AtLeast(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
  static Range Above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
  static Range AtMost(double hi) { return {-std::numeric_limits<double>::infinity(), hi, false, false}; }
  static Range Between(double lo, double hi) { return {lo, hi, false, false}; }

  bool Contains(double v) const;
  std::string Describe() const;
};

/// Shortest decimal for messages: 1000, 1.024, 0.1.
std::string FormatNumber(double v);
/// A JSON-quoted, escaped string for messages: "bosch,bme281".
std::string Quote(std::string_view s);

class ParamReader {
 public:
  /// Reads `object` (which must outlive the reader and its children). `source`
  /// prefixes every error (a file name; may be empty); `path` is the JSON path
  /// of `object` ("devices[2].params"; empty for the document root).
  ParamReader(const Json& object, std::string source, std::string path);

  /// Path of `key` inside this object: "devices[2].params.odr_hz".
  std::string PathOf(std::string_view key) const;
  const std::string& path() const;
  /// True while no error has been latched (by this reader or any relative).
  bool ok() const;

  /// Whether `key` is present (does not count as reading it).
  bool Has(std::string_view key) const;
  /// The raw value, or nullptr if absent; marks `key` as known.
  const Json* Raw(std::string_view key);

  double Number(std::string_view key, Range range = {});
  double NumberOr(std::string_view key, double fallback, Range range = {});
  int64_t Integer(std::string_view key, int64_t min, int64_t max);
  int64_t IntegerOr(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  bool Bool(std::string_view key);
  bool BoolOr(std::string_view key, bool fallback);
  /// A string; empty strings are an error.
  std::string String(std::string_view key);
  std::string StringOr(std::string_view key, std::string fallback);
  /// A string that must be one of `allowed`.
  std::string Enum(std::string_view key, std::initializer_list<std::string_view> allowed);
  std::string EnumOr(std::string_view key, std::string fallback, std::initializer_list<std::string_view> allowed);
  /// An array of min_count..max_count numbers, each in `range`.
  std::vector<double> Numbers(std::string_view key, size_t min_count, size_t max_count, Range range = {});

  /// A nested object (required). On error the child reads as empty.
  ParamReader Object(std::string_view key);
  /// A nested object if present.
  bool HasObject(std::string_view key) const;
  /// An array of min_count..max_count objects, one reader per element ("channels[0]").
  std::vector<ParamReader> Objects(std::string_view key, size_t min_count = 1,
                                   size_t max_count = std::numeric_limits<size_t>::max());
  /// Every member of this object as (name, reader); each value must be an object
  /// (maps such as "buses"). Marks all keys as known.
  std::vector<std::pair<std::string, ParamReader>> Members();

  /// Latches "<path>.<key>: <message>" (a check the getters cannot express).
  void Fail(std::string_view key, const std::string& message);
  /// Latches "<key>: missing (<why>)", and lets a near-miss typo of `key` take precedence.
  void Missing(std::string_view key, const std::string& why);
  /// Latches "<path>: <message>" for this object as a whole.
  void FailHere(const std::string& message);

  /// INVALID_ARGUMENT with the first problem, or OK. Order: an unknown key that
  /// looks like a typo of a missing one ("adress" for "address"), then the first
  /// latched error, then any unknown key. Covers this reader and all readers
  /// derived from it (children, parents, siblings).
  Status Finish() const;

 private:
  struct Node;
  struct State;
  ParamReader(std::shared_ptr<State> state, size_t node);
  ParamReader Child(const Json* object, std::string path);
  const Json* Lookup(std::string_view key) const;
  const Json* Take(std::string_view key);
  const Json* Need(std::string_view key);
  void TypeError(std::string_view key, const char* want, const Json& got);

  std::shared_ptr<State> state_;
  size_t node_ = 0;
};

}  // namespace edgeforge::board
