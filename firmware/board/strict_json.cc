#include "firmware/board/strict_json.h"

#include <algorithm>

namespace edgeforge::board {

int MaxNesting(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

bool RepeatedKeyFinder::OnEvent(Json::parse_event_t event, const Json& parsed) {
  switch (event) {
    case Json::parse_event_t::object_start:
      stack_.push_back(Frame{false, {}, 0, {}});
      break;
    case Json::parse_event_t::array_start:
      stack_.push_back(Frame{true, {}, 0, {}});
      break;
    case Json::parse_event_t::key:
      if (!stack_.empty() && parsed.is_string()) {
        Frame& top = stack_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && !found_) {
          found_ = true;
          first_repeat_ = Path();
        }
      }
      break;
    case Json::parse_event_t::object_end:
    case Json::parse_event_t::array_end:
      if (!stack_.empty()) stack_.pop_back();
      NextElement();
      break;
    case Json::parse_event_t::value:
      NextElement();
      break;
  }
  return true;
}

void RepeatedKeyFinder::NextElement() {
  if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
}

std::string RepeatedKeyFinder::Path() const {
  std::string out;
  for (const Frame& f : stack_) {
    if (f.array) {
      out += "[" + std::to_string(f.index) + "]";
    } else {
      out += (out.empty() ? "" : ".") + f.key;
    }
  }
  return out;
}

}  // namespace edgeforge::board
