// Table-driven validation of the physical models' specs (MachineSpec,
// RoadSpec): each Validate() is an ordered table of rules whose first failure
// is the error, so the table reads as the list of constraints the model needs.
#pragma once

#include <cstddef>
#include <string>

#include "hal/status.h"

namespace edgeforge::physics {

/// One constraint on a spec. Captureless lambdas convert to the function
/// pointers, so a table of rules is a constexpr array.
template <typename Spec>
struct SpecRule {
  const char* field;             // the field the error names
  double (*value)(const Spec&);  // the value the error shows (a derived one for cross-field rules)
  bool (*ok)(const Spec&);       // true: the spec satisfies the rule
  const char* want;              // what would pass, as the error says it
};

/// OK, or INVALID_ARGUMENT "<what>: <field> = <value>, <want>" for the first
/// rule in `rules` that `spec` fails.
template <typename Spec, size_t N>
Status CheckRules(const char* what, const Spec& spec, const SpecRule<Spec> (&rules)[N]) {
  for (const SpecRule<Spec>& rule : rules) {
    if (rule.ok(spec)) continue;
    return InvalidArgument(std::string(what) + ": " + rule.field + " = " + std::to_string(rule.value(spec)) + ", " +
                           rule.want);
  }
  return Status::Ok();
}

}  // namespace edgeforge::physics
