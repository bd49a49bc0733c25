#include "firmware/board/param_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgeforge::board {

struct ParamReader::Node {
  const Json* object = nullptr;  // nullptr: unusable, its parent already latched why
  std::string path;
  std::vector<std::string> known;    // keys a getter asked for
  std::vector<std::string> missing;  // required keys that were absent
};

struct ParamReader::State {
  std::string source;
  std::string first_error;  // without the source prefix
  std::vector<Node> nodes;

  void Latch(const std::string& path, const std::string& message) {
    if (!first_error.empty()) return;
    first_error = path.empty() ? message : path + ": " + message;
  }
  Status Error(const std::string& message) const {
    return InvalidArgument(source.empty() ? message : source + ": " + message);
  }
};

namespace {

// Keys are printed bare when they are plain words, quoted (escaped) otherwise.
std::string Join(const std::string& path, std::string_view key) {
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  const std::string k = plain ? std::string(key) : Quote(key);
  return path.empty() ? k : path + "." + k;
}

std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// A typo is a small edit relative to the word (1 for short keys, 2 from six
// letters), or a key cut short or extended ("odr" for "odr_hz").
bool LooksLikeTypo(std::string_view typed, std::string_view meant) {
  if (typed == meant) return false;
  const std::string_view shorter = typed.size() < meant.size() ? typed : meant;
  const std::string_view longer = typed.size() < meant.size() ? meant : typed;
  if (shorter.size() >= 3 && longer.compare(0, shorter.size(), shorter) == 0) return true;
  const size_t limit = meant.size() >= 6 ? 2 : 1;
  return EditDistance(typed, meant) <= limit;
}

const std::string* ClosestTo(const std::string& typed, const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (LooksLikeTypo(typed, c)) return &c;
  }
  return nullptr;
}

std::string Describe(const Json& v) {
  if (v.is_number()) return FormatNumber(v.get<double>());
  if (v.is_string()) return Quote(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.type_name();
}

}  // namespace

bool Range::Contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (min_open ? !(v > min) : !(v >= min)) return false;
  if (max_open ? !(v < max) : !(v <= max)) return false;
  return true;
}

std::string Range::Describe() const {
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  if (has_min && has_max && !min_open && !max_open) return "in " + FormatNumber(min) + ".." + FormatNumber(max);
  std::string lo = has_min ? std::string(min_open ? "> " : ">= ") + FormatNumber(min) : "";
  std::string hi = has_max ? std::string(max_open ? "< " : "<= ") + FormatNumber(max) : "";
  if (has_min && has_max) return lo + " and " + hi;
  if (has_min) return lo;
  if (has_max) return hi;
  return "a finite number";
}

std::string FormatNumber(double v) {
  if (std::isfinite(v) && std::fabs(v) < 1e15 && v == std::trunc(v)) {
    return std::to_string(static_cast<long long>(v));
  }
  return Json(v).dump();
}

std::string Quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

ParamReader::ParamReader(const Json& object, std::string source, std::string path)
    : state_(std::make_shared<State>()), node_(0) {
  state_->source = std::move(source);
  Node n;
  n.path = std::move(path);
  if (object.is_object()) {
    n.object = &object;
  } else {
    state_->Latch(n.path, std::string("must be an object, got ") + object.type_name());
  }
  state_->nodes.push_back(std::move(n));
}

ParamReader::ParamReader(std::shared_ptr<State> state, size_t node) : state_(std::move(state)), node_(node) {}

ParamReader ParamReader::Child(const Json* object, std::string path) {
  Node n;
  n.object = object;
  n.path = std::move(path);
  state_->nodes.push_back(std::move(n));
  return ParamReader(state_, state_->nodes.size() - 1);
}

std::string ParamReader::PathOf(std::string_view key) const { return Join(path(), key); }

const std::string& ParamReader::path() const { return state_->nodes[node_].path; }

bool ParamReader::ok() const { return state_->first_error.empty(); }

const Json* ParamReader::Lookup(std::string_view key) const {
  const Json* obj = state_->nodes[node_].object;
  if (obj == nullptr) return nullptr;
  auto it = obj->find(std::string(key));
  return it == obj->end() ? nullptr : &*it;
}

bool ParamReader::Has(std::string_view key) const { return Lookup(key) != nullptr; }

const Json* ParamReader::Take(std::string_view key) {
  state_->nodes[node_].known.emplace_back(key);
  return Lookup(key);
}

const Json* ParamReader::Raw(std::string_view key) { return Take(key); }

const Json* ParamReader::Need(std::string_view key) {
  const Json* v = Take(key);
  if (v == nullptr && state_->nodes[node_].object != nullptr) Missing(key, "");
  return v;
}

void ParamReader::TypeError(std::string_view key, const char* want, const Json& got) {
  Fail(key, std::string("must be ") + want + ", got " + Describe(got));
}

void ParamReader::Fail(std::string_view key, const std::string& message) { state_->Latch(PathOf(key), message); }

void ParamReader::Missing(std::string_view key, const std::string& why) {
  state_->nodes[node_].missing.emplace_back(key);
  Fail(key, why.empty() ? "missing" : "missing (" + why + ")");
}

void ParamReader::FailHere(const std::string& message) { state_->Latch(path(), message); }

double ParamReader::Number(std::string_view key, Range range) {
  const Json* v = Need(key);
  if (v == nullptr) return 0;
  if (!v->is_number()) {
    TypeError(key, "a number", *v);
    return 0;
  }
  const double d = v->get<double>();
  if (!range.Contains(d)) {
    Fail(key, "must be " + range.Describe() + ", got " + FormatNumber(d));
    return 0;
  }
  return d;
}

double ParamReader::NumberOr(std::string_view key, double fallback, Range range) {
  if (!Has(key)) {
    Take(key);
    return fallback;
  }
  const double d = Number(key, range);
  return ok() ? d : fallback;
}

int64_t ParamReader::Integer(std::string_view key, int64_t min, int64_t max) {
  const Json* v = Need(key);
  if (v == nullptr) return 0;
  if (!v->is_number_integer()) {
    TypeError(key, "an integer", *v);
    return 0;
  }
  const std::string rule = "must be in " + std::to_string(min) + ".." + std::to_string(max) + ", got ";
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    Fail(key, rule + std::to_string(v->get<uint64_t>()));
    return 0;
  }
  const int64_t i = v->get<int64_t>();
  if (i < min || i > max) {
    Fail(key, rule + std::to_string(i));
    return 0;
  }
  return i;
}

int64_t ParamReader::IntegerOr(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  if (!Has(key)) {
    Take(key);
    return fallback;
  }
  const int64_t i = Integer(key, min, max);
  return ok() ? i : fallback;
}

bool ParamReader::Bool(std::string_view key) {
  const Json* v = Need(key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) {
    TypeError(key, "true or false", *v);
    return false;
  }
  return v->get<bool>();
}

bool ParamReader::BoolOr(std::string_view key, bool fallback) {
  if (!Has(key)) {
    Take(key);
    return fallback;
  }
  const bool b = Bool(key);
  return ok() ? b : fallback;
}

std::string ParamReader::String(std::string_view key) {
  const Json* v = Need(key);
  if (v == nullptr) return {};
  if (!v->is_string()) {
    TypeError(key, "a string", *v);
    return {};
  }
  std::string s = v->get<std::string>();
  if (s.empty()) Fail(key, "must not be empty");
  return s;
}

std::string ParamReader::StringOr(std::string_view key, std::string fallback) {
  if (!Has(key)) {
    Take(key);
    return fallback;
  }
  std::string s = String(key);
  return ok() ? s : fallback;
}

std::string ParamReader::Enum(std::string_view key, std::initializer_list<std::string_view> allowed) {
  std::string s = String(key);
  if (s.empty()) return s;
  if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return s;
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + Quote(a);
  Fail(key, "must be one of " + list + ", got " + Quote(s));
  return {};
}

std::string ParamReader::EnumOr(std::string_view key, std::string fallback,
                                std::initializer_list<std::string_view> allowed) {
  if (!Has(key)) {
    Take(key);
    return fallback;
  }
  std::string s = Enum(key, allowed);
  return ok() ? s : fallback;
}

std::vector<double> ParamReader::Numbers(std::string_view key, size_t min_count, size_t max_count, Range range) {
  std::vector<double> out;
  const Json* v = Need(key);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    TypeError(key, "an array of numbers", *v);
    return out;
  }
  if (v->size() < min_count || v->size() > max_count) {
    const std::string want = min_count == max_count ? std::to_string(min_count)
                                                    : std::to_string(min_count) + ".." + std::to_string(max_count);
    Fail(key, "must have " + want + " numbers, got " + std::to_string(v->size()));
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    const std::string at = Index(PathOf(key), i);
    if (!e.is_number()) {
      state_->Latch(at, "must be a number, got " + Describe(e));
      return {};
    }
    if (!range.Contains(e.get<double>())) {
      state_->Latch(at, "must be " + range.Describe() + ", got " + FormatNumber(e.get<double>()));
      return {};
    }
    out.push_back(e.get<double>());
  }
  return out;
}

ParamReader ParamReader::Object(std::string_view key) {
  const Json* v = Need(key);
  if (v != nullptr && !v->is_object()) {
    TypeError(key, "an object", *v);
    v = nullptr;
  }
  return Child(v, PathOf(key));
}

bool ParamReader::HasObject(std::string_view key) const {
  const Json* v = Lookup(key);
  return v != nullptr && v->is_object();
}

std::vector<ParamReader> ParamReader::Objects(std::string_view key, size_t min_count, size_t max_count) {
  std::vector<ParamReader> out;
  const Json* v = Need(key);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    TypeError(key, "an array of objects", *v);
    return out;
  }
  if (v->size() < min_count) {
    Fail(key, "must have at least " + std::to_string(min_count) + " element(s), got " + std::to_string(v->size()));
  } else if (v->size() > max_count) {
    Fail(key, "must have at most " + std::to_string(max_count) + " element(s), got " + std::to_string(v->size()));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    const std::string at = Index(PathOf(key), i);
    if (!e.is_object()) state_->Latch(at, std::string("must be an object, got ") + Describe(e));
    out.push_back(Child(e.is_object() ? &e : nullptr, at));
  }
  return out;
}

std::vector<std::pair<std::string, ParamReader>> ParamReader::Members() {
  std::vector<std::pair<std::string, ParamReader>> out;
  const Json* obj = state_->nodes[node_].object;
  if (obj == nullptr) return out;
  for (const auto& [name, value] : obj->items()) {
    state_->nodes[node_].known.push_back(name);
    if (!value.is_object()) TypeError(name, "an object", value);
    out.emplace_back(name, Child(value.is_object() ? &value : nullptr, PathOf(name)));
  }
  return out;
}

Status ParamReader::Finish() const {
  // A typo of a required key reads as "missing"; naming the typo is more useful.
  for (const Node& n : state_->nodes) {
    if (n.object == nullptr) continue;
    for (const auto& [key, value] : n.object->items()) {
      if (std::find(n.known.begin(), n.known.end(), key) != n.known.end()) continue;
      if (const std::string* meant = ClosestTo(key, n.missing)) {
        return state_->Error(Join(n.path, key) + ": unknown key (did you mean " + Quote(*meant) + "?)");
      }
    }
  }
  if (!state_->first_error.empty()) return state_->Error(state_->first_error);
  for (const Node& n : state_->nodes) {
    if (n.object == nullptr) continue;
    for (const auto& [key, value] : n.object->items()) {
      if (std::find(n.known.begin(), n.known.end(), key) != n.known.end()) continue;
      std::string hint;
      if (const std::string* meant = ClosestTo(key, n.known)) {
        hint = "did you mean " + Quote(*meant) + "?";
      } else if (n.known.empty()) {
        hint = "no keys are expected here";
      } else {
        std::vector<std::string> known = n.known;
        std::sort(known.begin(), known.end());
        known.erase(std::unique(known.begin(), known.end()), known.end());
        hint = "known: ";
        for (size_t i = 0; i < known.size(); ++i) hint += (i ? ", " : "") + known[i];
      }
      return state_->Error(Join(n.path, key) + ": unknown key (" + hint + ")");
    }
  }
  return Status::Ok();
}

}  // namespace edgeforge::board
