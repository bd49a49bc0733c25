// The list of sensor parts: one line per part, in any order (the registries
// sort by compatible name). EDGEFORGE_PART(Name) stands for the part's
// firmware entry app::NamePart() (firmware/drivers/<part>/<part>_part.h) and,
// in the simulator, its model entry sim::NamePartModel()
// (sim/node/<part>_part_model.h): the list is written once, as Zephyr's
// DT_INST_FOREACH does for devicetree nodes, and each side expands it.
//
// Only the two lists include this file (firmware/drivers/parts.cc,
// sim/node/part_models.cc): a part depends on the registry's types, never
// the registry on a part's folder.
#pragma once

#define EDGEFORGE_PARTS(EDGEFORGE_PART) \
  EDGEFORGE_PART(Adxl345)               \
  EDGEFORGE_PART(Bme280)                \
  EDGEFORGE_PART(LoopDetector)          \
  EDGEFORGE_PART(Ops243)                \
  EDGEFORGE_PART(Ads1115)
