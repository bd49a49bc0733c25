// The simulator's part model registry, expanded from the list of parts
// (firmware/drivers/parts.h): every part the firmware has, the simulator
// models.
#include "firmware/drivers/parts.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

// Each entry is declared by its own header as well; declaring it here from
// the list keeps a new part at one line.
#define EDGEFORGE_DECLARE_PART_MODEL(Name) const PartModelEntry& Name##PartModel();
EDGEFORGE_PARTS(EDGEFORGE_DECLARE_PART_MODEL)
#undef EDGEFORGE_DECLARE_PART_MODEL

const PartModelEntry* FindPartModel(std::string_view compatible) {
#define EDGEFORGE_LIST_PART_MODEL(Name) &Name##PartModel(),
  static const PartModelEntry* const kEntries[] = {EDGEFORGE_PARTS(EDGEFORGE_LIST_PART_MODEL)};
#undef EDGEFORGE_LIST_PART_MODEL
  for (const PartModelEntry* e : kEntries) {
    if (e->compatible == compatible) return e;
  }
  return nullptr;
}

}  // namespace edgeforge::sim
