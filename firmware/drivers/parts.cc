// The firmware's part registry, expanded from the list in parts.h. Built
// into the firmware core (not edgeforge_drivers): the entries make sources.
// An explicit list, not self-registering statics: the linker drops objects
// of a static library that nothing references.
#include "firmware/drivers/parts.h"

#include <algorithm>

#include "firmware/app/part.h"
#include "firmware/board/compatible.h"

namespace edgeforge {
namespace app {

// Each entry is declared by its part's header as well; declaring it here from
// the list keeps a new part at one line.
#define EDGEFORGE_DECLARE_PART(Name) const Part& Name##Part();
EDGEFORGE_PARTS(EDGEFORGE_DECLARE_PART)
#undef EDGEFORGE_DECLARE_PART

const std::vector<const Part*>& Parts() {
  static const std::vector<const Part*> kParts = [] {
#define EDGEFORGE_LIST_PART(Name) &Name##Part(),
    std::vector<const Part*> parts = {EDGEFORGE_PARTS(EDGEFORGE_LIST_PART)};
#undef EDGEFORGE_LIST_PART
    std::sort(parts.begin(), parts.end(), [](const Part* a, const Part* b) { return a->facts.name < b->facts.name; });
    return parts;
  }();
  return kParts;
}

const Part* FindPart(std::string_view compatible) {
  for (const Part* p : Parts()) {
    if (p->facts.name == compatible) return p;
  }
  return nullptr;
}

}  // namespace app

namespace board {

const std::vector<const Compatible*>& Compatibles() {
  static const std::vector<const Compatible*> kCompatibles = [] {
    std::vector<const Compatible*> out;
    for (const app::Part* p : app::Parts()) out.push_back(&p->facts);
    return out;
  }();
  return kCompatibles;
}

}  // namespace board
}  // namespace edgeforge
