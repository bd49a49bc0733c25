#include "firmware/link/crash_loss.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>

namespace edgeforge::link::crash_loss {
namespace {

constexpr std::string_view kFloorMagic = "edgeforge-outbox-floor v1";
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Sorted by `first`, overlapping or adjacent ranges merged.
SeqRanges Normalize(SeqRanges r) {
  std::sort(r.begin(), r.end(), [](const SeqRange& a, const SeqRange& b) { return a.first < b.first; });
  SeqRanges out;
  for (const SeqRange& x : r) {
    if (!out.empty() && (out.back().last == kMax || x.first <= out.back().last + 1)) {
      out.back().last = std::max(out.back().last, x.last);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ParseRange(std::string_view s, SeqRange& out) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseU64(s, out.first)) return false;
    out.last = out.first;
    return true;
  }
  return ParseU64(s.substr(0, dash), out.first) && ParseU64(s.substr(dash + 1), out.last) && out.first <= out.last;
}

std::string RangeText(const SeqRange& r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

}  // namespace

SeqRanges ToRanges(std::vector<uint64_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  SeqRanges out;
  for (uint64_t s : seqs) {
    if (!out.empty() && s <= out.back().last + 1 && out.back().last != kMax) {
      out.back().last = std::max(out.back().last, s);
    } else if (out.empty() || s > out.back().last) {
      out.push_back({s, s});
    }
  }
  return out;
}

SeqRanges Union(SeqRanges a, const SeqRanges& b) {
  a.insert(a.end(), b.begin(), b.end());
  return Normalize(std::move(a));
}

SeqRanges Bound(SeqRanges ranges, size_t max) {
  ranges = Normalize(std::move(ranges));
  max = std::max<size_t>(max, 1);
  if (ranges.size() <= max) return ranges;
  // Merge the (n - max) smallest gaps; ties go to the lower seqs.
  std::vector<size_t> gaps(ranges.size() - 1);
  for (size_t i = 0; i < gaps.size(); ++i) gaps[i] = i;
  auto gap = [&](size_t i) { return ranges[i + 1].first - ranges[i].last; };
  std::stable_sort(gaps.begin(), gaps.end(), [&](size_t x, size_t y) { return gap(x) < gap(y); });
  std::vector<bool> merge(gaps.size(), false);
  for (size_t k = 0; k < ranges.size() - max; ++k) merge[gaps[k]] = true;
  SeqRanges out{ranges[0]};
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (merge[i - 1]) {
      out.back().last = ranges[i].last;
    } else {
      out.push_back(ranges[i]);
    }
  }
  return out;
}

uint64_t Count(const SeqRanges& ranges) {
  uint64_t n = 0;
  for (const SeqRange& r : ranges) {
    const uint64_t size = r.last - r.first;  // one less than the count: cannot overflow
    if (size >= kMax - n) return kMax;
    n += size + 1;
  }
  return n;
}

std::string Format(const SeqRanges& ranges, size_t max_shown) {
  std::string out;
  for (size_t i = 0; i < ranges.size() && i < max_shown; ++i) {
    if (i > 0) out += ", ";
    out += RangeText(ranges[i]);
  }
  if (ranges.size() > max_shown) out += ", ... (" + std::to_string(ranges.size() - max_shown) + " more ranges)";
  return out;
}

std::string EncodeFloor(const Floor& floor) {
  std::string out(kFloorMagic);
  out += "\nbelow " + std::to_string(floor.below) + "\n";
  for (const SeqRange& r : Bound(floor.live, kMaxFloorRanges)) out += "live " + RangeText(r) + "\n";
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08" PRIx32, outbox_log::Crc32c(0, out));
  return out + "crc " + crc + "\n";
}

Result<Floor> DecodeFloor(std::string_view content) {
  const size_t crc_at = content.rfind("crc ");
  if (crc_at == std::string_view::npos || (crc_at > 0 && content[crc_at - 1] != '\n')) {
    return DataLoss("no crc line (torn or not a floor file)");
  }
  char want[16];
  std::snprintf(want, sizeof want, "%08" PRIx32, outbox_log::Crc32c(0, content.substr(0, crc_at)));
  if (content.substr(crc_at) != "crc " + std::string(want) + "\n") return DataLoss("crc mismatch (corrupt)");
  Floor floor;
  std::string_view body = content.substr(0, crc_at);
  size_t line_no = 0;
  bool have_below = false;
  while (!body.empty()) {
    const size_t eol = body.find('\n');
    const std::string_view line = body.substr(0, eol);
    body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
    ++line_no;
    const std::string bad = "line " + std::to_string(line_no) + " ('" + std::string(line.substr(0, 40)) + "')";
    if (line_no == 1) {
      if (line != kFloorMagic) return DataLoss(bad + ": want '" + std::string(kFloorMagic) + "'");
    } else if (line_no == 2) {
      if (line.substr(0, 6) != "below " || !ParseU64(line.substr(6), floor.below))
        return DataLoss(bad + ": want 'below N'");
      have_below = true;
    } else {
      SeqRange r;
      if (line.substr(0, 5) != "live " || !ParseRange(line.substr(5), r)) return DataLoss(bad + ": want 'live A-B'");
      if (!floor.live.empty() && (floor.live.back().last == kMax || r.first <= floor.live.back().last + 1)) {
        return DataLoss(bad + ": ranges not ascending and disjoint");
      }
      if (floor.live.size() == kMaxFloorRanges)
        return DataLoss(bad + ": over " + std::to_string(kMaxFloorRanges) + " ranges");
      floor.live.push_back(r);
    }
  }
  if (!have_below) return DataLoss("no 'below N' line");
  return floor;
}

std::vector<uint64_t> SurvivingSeqs(const outbox_log::Scan& scan) {
  std::vector<uint64_t> out;
  for (const outbox_log::Record& rec : scan.records) {
    if (rec.type == outbox_log::RecordType::kData && rec.message.priority != Priority::kState) {
      out.push_back(rec.message.seq);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Loss ComputeLoss(const Floor& floor, const std::vector<uint64_t>& surviving, uint64_t issued_below) {
  SeqRanges candidates = floor.live;
  if (floor.below < issued_below) candidates.push_back({floor.below, issued_below - 1});
  candidates = Normalize(std::move(candidates));
  std::vector<uint64_t> have = surviving;
  std::sort(have.begin(), have.end());
  Loss loss;
  for (const SeqRange& r : candidates) {
    uint64_t from = r.first;  // next seq of r not yet decided
    bool done = false;
    for (auto it = std::lower_bound(have.begin(), have.end(), r.first); it != have.end() && *it <= r.last; ++it) {
      if (*it > from) loss.lost.push_back({from, *it - 1});
      if (*it == r.last) {
        done = true;
        break;
      }
      from = std::max(from, *it + 1);
    }
    if (!done) loss.lost.push_back({from, r.last});
  }
  loss.count = Count(loss.lost);
  return loss;
}

}  // namespace edgeforge::link::crash_loss
