#include "firmware/board/strict_json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

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

namespace {

Status SourceError(const std::string& source, const std::string& message) {
  return InvalidArgument(source.empty() ? message : source + ": " + message);
}

// "file:line:col: not valid JSON: <reason>"; `byte` is 1-based, as the library reports it.
Status SyntaxError(const std::string& source, std::string_view text, size_t byte, const std::string& what) {
  size_t line = 1;
  size_t col = 0;
  for (size_t i = 0; i < std::min(byte, text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 0;
    } else {
      ++col;
    }
  }
  std::string reason = what;
  const size_t at = what.find("column ");
  const size_t colon = at == std::string::npos ? std::string::npos : what.find(": ", at);
  if (colon != std::string::npos) reason = what.substr(colon + 2);
  return InvalidArgument((source.empty() ? std::string("document") : source) + ":" + std::to_string(line) + ":" +
                         std::to_string(col) + ": not valid JSON: " + reason);
}

}  // namespace

Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes, std::string_view noun) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return InvalidArgument(path + ": " + std::string(noun) + " is over the " + std::to_string(max_bytes / 1024) +
                             " KiB limit");
    }
  }
  if (in.bad()) {
    const int err = errno;  // EISDIR for a directory
    return InvalidArgument(path + ": cannot read: " + (err != 0 ? std::strerror(err) : "I/O error"));
  }
  return text;
}

Result<Json> ParseStrictObject(std::string_view text, const std::string& source, size_t max_bytes, int max_nesting,
                               std::string_view noun) {
  if (text.size() > max_bytes) {
    return SourceError(source, std::string(noun) + " is " + std::to_string(text.size()) + " bytes, over the " +
                                   std::to_string(max_bytes / 1024) + " KiB limit");
  }
  if (MaxNesting(text) > max_nesting) {
    return SourceError(source, "nested deeper than " + std::to_string(max_nesting) + " levels");
  }
  RepeatedKeyFinder repeats;
  Json::parser_callback_t callback = [&repeats](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    return repeats.OnEvent(event, parsed);
  };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    return SyntaxError(source, text, e.byte, e.what());
  } catch (const std::exception& e) {
    return SourceError(source, std::string("not valid JSON: ") + e.what());
  }
  if (repeats.found()) {
    return SourceError(source, repeats.first_repeat() + ": key appears twice (JSON would keep only one)");
  }
  if (!root.is_object()) return SourceError(source, std::string("must be a JSON object, got ") + root.type_name());
  return root;
}

}  // namespace edgeforge::board
