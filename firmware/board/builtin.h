// The reference boards (boards/*.json) compiled into the binaries, so
// `--board factory-node` works on a gateway or in CI without the source tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "firmware/board/board.h"
#include "hal/status.h"

namespace edgeforge::board {

struct BuiltinBoard {
  std::string_view name;  // file name without .json: "factory-node"
  std::string_view json;  // the file's bytes at build time
};

/// Generated at configure time from boards/*.json (CMakeLists.txt).
const std::vector<BuiltinBoard>& BuiltinBoards();

/// `spec` names a built-in board ("factory-node") or a board file path (it
/// contains a '/' or ends in ".json"). A built-in board's errors and telemetry
/// name it "boards/<name>.json (built in)". NOT_FOUND lists the built-in names.
Result<Board> LoadBoardSpec(const std::string& spec);

/// Whether LoadBoardSpec reads `spec` as a path (it contains a '/' or ends in ".json").
bool LooksLikePath(const std::string& spec);

/// "factory-node, traffic-node": for usage texts and errors.
std::string BuiltinBoardNames();

}  // namespace edgeforge::board
