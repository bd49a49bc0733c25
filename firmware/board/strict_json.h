// Strict JSON for the device's configuration inputs (board files, shadow
// deltas, persisted config): two checks the JSON library does not make.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/board/param_reader.h"
#include "hal/status.h"

namespace edgeforge::board {

/// The parse edge for a configuration document (board file, scenario): at
/// most `max_bytes`, nested at most `max_nesting` levels, no key twice in one
/// object, an object at the top. Errors start with `source` (a file name):
/// "file:line:col: not valid JSON: <reason>", "file: groups[1].name: key
/// appears twice ...", "file: <noun> is N bytes, over the K KiB limit".
Result<Json> ParseStrictObject(std::string_view text, const std::string& source, size_t max_bytes, int max_nesting,
                               std::string_view noun);

/// A configuration file's bytes, at most `max_bytes`: NOT_FOUND "<path>:
/// cannot open: ..." or INVALID_ARGUMENT "<path>: <noun> is over the K KiB
/// limit" / "<path>: cannot read: ..." (e.g. a directory).
Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes, std::string_view noun);

/// Bracket depth outside strings, counted on the raw text, so that a hostile
/// document is refused before the library (which recurses once per level when
/// it parses, copies or destroys a value) sees it.
int MaxNesting(std::string_view text);

/// A parse callback that tracks the JSON path and remembers the first key
/// that appears twice in one object: JSON allows it and the library silently
/// keeps one, but in a configuration two "address" or "report_ms" lines are a
/// mistake, not a choice.
class RepeatedKeyFinder {
 public:
  /// Feed every parse event (Json::parser_callback_t); always returns true.
  bool OnEvent(Json::parse_event_t event, const Json& parsed);
  /// The path of the first repeated key ("devices[1].address"), or empty.
  const std::string& first_repeat() const { return first_repeat_; }
  /// True once a repeated key was seen.
  bool found() const { return found_; }

 private:
  struct Frame {
    bool array;
    std::string key;  // objects: the key being read
    size_t index;     // arrays: the element being read
    std::set<std::string> keys;
  };
  void NextElement();
  std::string Path() const;

  std::vector<Frame> stack_;
  std::string first_repeat_;
  bool found_ = false;
};

}  // namespace edgeforge::board
