#include "firmware/board/builtin.h"

namespace edgeforge::board {

bool LooksLikePath(const std::string& spec) {
  return spec.find('/') != std::string::npos || (spec.size() > 5 && spec.compare(spec.size() - 5, 5, ".json") == 0);
}

std::string BuiltinBoardNames() {
  std::string names;
  for (const BuiltinBoard& b : BuiltinBoards()) names += (names.empty() ? "" : ", ") + std::string(b.name);
  return names;
}

Result<Board> LoadBoardSpec(const std::string& spec) {
  if (LooksLikePath(spec)) return LoadBoard(spec);
  for (const BuiltinBoard& b : BuiltinBoards()) {
    if (b.name == spec) return ParseBoard(b.json, "boards/" + spec + ".json (built in)");
  }
  return NotFound("board \"" + spec + "\": not a built-in board (" + BuiltinBoardNames() +
                  ") and not a path (a path contains '/' or ends in .json)");
}

}  // namespace edgeforge::board
