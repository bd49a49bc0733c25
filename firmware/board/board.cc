#include "firmware/board/board.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "firmware/board/strict_json.h"

namespace edgeforge::board {
namespace {

std::string Hex(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v & 0xffu);
  return buf;
}

// [a-z0-9] plus `extra`, starting with a letter when `letter_first`; names end
// up in topics, telemetry and file names.
bool IsName(std::string_view s, std::string_view extra, size_t max_len, bool letter_first) {
  if (s.empty() || s.size() > max_len) return false;
  if (letter_first && !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
  });
}

template <typename Container>
std::string JoinValues(const Container& values, const char* last_sep) {
  std::vector<std::string> parts;
  for (auto v : values) {
    if (v != 0) parts.push_back(std::to_string(v));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += (i + 1 == parts.size()) ? last_sep : ", ";
    out += parts[i];
  }
  return out;
}

std::string JoinAddresses(const std::array<uint8_t, 4>& addresses) {
  std::string out;
  for (uint8_t a : addresses) {
    if (a == 0) continue;
    out += (out.empty() ? "" : ", ") + Hex(a);
  }
  return out;
}

// The parse edge: the library reports syntax errors as exceptions, which stop here.
Result<Json> ParseJson(std::string_view text, const std::string& source) {
  return ParseStrictObject(text, source, kMaxBoardBytes, kMaxNesting, "board file");
}

// Reads a whole board in one pass. Every check goes through the reader, which
// keeps the first error; ParamReader::Finish() then reports it (or a typo).
class BoardParser {
 public:
  BoardParser(const Json& root, const std::string& source) : r_(root, source, "") { board_.source = source; }

  Result<Board> Run() {
    ReadHeader();
    ParamReader buses = r_.Object("buses");
    for (auto& [name, bus] : buses.Members()) ReadBus(name, bus);
    std::vector<ParamReader> devices = r_.Objects("devices", 1);
    for (size_t i = 0; i < devices.size(); ++i) ReadDevice(devices[i]);
    board_.report_ms = static_cast<uint32_t>(r_.Integer("report_ms", kMinReportMs, kMaxPeriodMs));
    ReadAlarms();
    EF_RETURN_IF_ERROR(r_.Finish());
    return std::move(board_);
  }

 private:
  void ReadHeader() {
    board_.name = r_.String("board");
    if (!board_.name.empty() && !IsName(board_.name, "-", 64, false)) {
      r_.Fail("board", Quote(board_.name) + " must be 1..64 characters of [a-z0-9-]");
    }
    board_.kind = r_.String("kind");
    if (!board_.kind.empty() && !IsName(board_.kind, "_-", 32, false)) {
      r_.Fail("kind", Quote(board_.kind) + " must be 1..32 characters of [a-z0-9_-]");
    }
    if (const Json* d = r_.Raw("description")) {
      if (d->is_string()) {
        board_.description = d->get<std::string>();
      } else {
        r_.Fail("description", std::string("must be a string, got ") + d->type_name());
      }
    }
  }

  void ReadBus(const std::string& name, ParamReader& r) {
    Bus bus;
    bus.name = name;
    if (!IsName(name, "_-", 32, true)) r.FailHere("bus name must be 1..32 characters of [a-z0-9_-], from a letter");
    const std::string type = r.Enum("type", {"i2c", "spi", "gpio", "uart"});
    ParamReader linux_node = r.Object("linux");
    bus.linux_device = linux_node.String("device");
    if (!bus.linux_device.empty() && bus.linux_device[0] != '/') {
      linux_node.Fail("device", "must be an absolute path, got " + Quote(bus.linux_device));
    }
    const auto parsed = ParseBusType(type);
    if (!parsed) return;
    bus.type = *parsed;
    const bool has_cs = bus.linux_device.find("{cs}") != std::string::npos;
    if (bus.type == BusType::kSpi) {
      if (!has_cs) {
        linux_node.Fail("device", Quote(bus.linux_device) +
                                      " needs the {cs} placeholder for the chip select (e.g. /dev/spidev0.{cs})");
      }
      bus.max_speed_hz = static_cast<uint32_t>(r.Integer("max_speed_hz", 1000, 100'000'000));
      bus.mode = static_cast<uint8_t>(r.Integer("mode", 0, 3));
    } else if (has_cs) {
      linux_node.Fail("device", "the {cs} placeholder is only for spi buses");
    }
    if (bus.type == BusType::kUart) {
      bus.baud = static_cast<uint32_t>(r.Integer("baud", 1, 4'000'000));
      if (bus.baud != 0 && std::find(kStandardBauds.begin(), kStandardBauds.end(), bus.baud) == kStandardBauds.end()) {
        r.Fail("baud",
               "must be a standard rate (" + JoinValues(kStandardBauds, " or ") + "), got " + std::to_string(bus.baud));
      }
    }
    board_.buses.emplace(name, std::move(bus));
  }

  void ReadDevice(ParamReader& r) {
    Device d;
    d.path = r.path();
    d.params_path = r.PathOf("params");
    d.name = r.String("name");
    if (!d.name.empty()) {
      if (!IsName(d.name, "_-", 32, true)) {
        r.Fail("name", Quote(d.name) + " must be 1..32 characters of [a-z0-9_-], from a letter");
      } else if (const Device* other = board_.FindDevice(d.name)) {
        r.Fail("name", Quote(d.name) + " already names " + other->path);
      }
    }
    d.compatible = r.String("compatible");
    const Compatible* part = d.compatible.empty() ? nullptr : FindCompatible(d.compatible);
    if (!d.compatible.empty() && part == nullptr) {
      r.Fail("compatible", "unknown " + Quote(d.compatible) + " (known: " + CompatibleNames() + ")");
    }
    d.bus = r.String("bus");
    const Bus* bus = d.bus.empty() ? nullptr : board_.FindBus(d.bus);
    if (!d.bus.empty() && bus == nullptr) r.Fail("bus", "no bus " + Quote(d.bus) + " (buses: " + BusNames() + ")");
    d.sample_ms = static_cast<uint32_t>(r.Integer("sample_ms", kMinSampleMs, kMaxPeriodMs));
    if (const Json* params = r.Raw("params")) {
      if (params->is_object()) {
        d.params = *params;
      } else {
        r.Fail("params", std::string("must be an object, got ") + params->type_name());
      }
    }
    if (part != nullptr && bus != nullptr && (part->buses & BusBit(bus->type)) == 0) {
      r.Fail("bus", d.compatible + " needs " + Article(part->buses) + BusMaskNames(part->buses) + " bus, " +
                        Quote(bus->name) + " is " + BusTypeName(bus->type));
    }
    ReadPlacement(r, d, part, bus);
    if (const std::string why = SamplePeriodProblem(d, d.sample_ms); d.sample_ms != 0 && !why.empty()) {
      r.Fail("sample_ms", why);
    }
    board_.devices.push_back(std::move(d));
  }

  // The bus type a placement key belongs to.
  static BusType OwnerOf(std::string_view key) {
    if (key == "address") return BusType::kI2c;
    if (key == "cs") return BusType::kSpi;
    return BusType::kGpio;  // "lines", "active_low"
  }

  // Where on its bus a device sits; which keys apply depends on the bus type.
  void ReadPlacement(ParamReader& r, Device& d, const Compatible* part, const Bus* bus) {
    const bool placed = part != nullptr && bus != nullptr && (part->buses & BusBit(bus->type)) != 0;
    for (const char* key : {"address", "cs", "lines", "active_low"}) {
      if (!r.Has(key) || (placed && OwnerOf(key) == bus->type)) continue;
      r.Raw(key);  // without a usable bus the key's meaning is unknown; the bus error says why
      if (placed) {
        r.Fail(key, std::string("only for ") + BusTypeName(OwnerOf(key)) + " parts; " + d.name + " is on " +
                        BusTypeName(bus->type) + " bus " + bus->name);
      }
    }
    if (!placed) return;
    switch (bus->type) {
      case BusType::kI2c:
        ReadAddress(r, d, *part, *bus);
        break;
      case BusType::kSpi:
        ReadChipSelect(r, d, *part, *bus);
        break;
      case BusType::kGpio:
        ReadLines(r, d, *part, *bus);
        break;
      case BusType::kUart:
        CheckUart(r, d, *part, *bus);
        break;
    }
  }

  void ReadAddress(ParamReader& r, Device& d, const Compatible& part, const Bus& bus) {
    const Json* v = r.Raw("address");
    if (v == nullptr) {
      r.Missing("address", d.compatible + " on i2c bus " + bus.name + " needs its 7-bit address");
      return;
    }
    std::optional<unsigned> value;
    if (v->is_number_unsigned()) {
      if (v->get<uint64_t>() > 0xff) {
        return r.Fail("address", std::to_string(v->get<uint64_t>()) + " is not a 7-bit address");
      }
      value = static_cast<unsigned>(v->get<uint64_t>());
    } else if (v->is_string()) {
      value = ParseHexAddress(v->get<std::string>());
    }
    if (!value) {
      return r.Fail("address", "must be a hex string like \"0x76\" or an integer, got " +
                                   v->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    if (*value < kMinI2cAddress || *value > kMaxI2cAddress) {
      return r.Fail("address", Hex(*value) + " is outside " + Hex(kMinI2cAddress) + ".." + Hex(kMaxI2cAddress) +
                                   " (I2C reserves 0x00..0x07 and 0x78..0x7f)");
    }
    const auto& allowed = part.i2c_addresses;
    if (std::find(allowed.begin(), allowed.end(), *value) == allowed.end()) {
      return r.Fail("address", d.compatible + " answers only at " + JoinAddresses(allowed) + ", not " + Hex(*value));
    }
    auto [it, fresh] = i2c_owner_.emplace(std::make_pair(bus.name, *value), d.name);
    if (!fresh) return r.Fail("address", Hex(*value) + " already used on " + bus.name + " by " + it->second);
    d.address = static_cast<uint8_t>(*value);
  }

  static std::optional<unsigned> ParseHexAddress(const std::string& s) {
    if (s.size() < 3 || s.size() > 4 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
    unsigned v = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      const char c = s[i];
      unsigned digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      v = v * 16 + digit;
    }
    return v;
  }

  void ReadChipSelect(ParamReader& r, Device& d, const Compatible& part, const Bus& bus) {
    if (!r.Has("cs")) {
      r.Missing("cs", d.compatible + " on spi bus " + bus.name + " needs its chip select");
      return;
    }
    const int64_t cs = r.Integer("cs", 0, kMaxSpiChipSelect);
    if (!r.ok()) return;
    auto [it, fresh] = cs_owner_.emplace(std::make_pair(bus.name, static_cast<unsigned>(cs)), d.name);
    if (!fresh) return r.Fail("cs", std::to_string(cs) + " already used on " + bus.name + " by " + it->second);
    d.cs = static_cast<uint8_t>(cs);
    if (part.spi_mode >= 0 && bus.mode != part.spi_mode) {
      return r.Fail("bus", d.compatible + " needs spi mode " + std::to_string(part.spi_mode) + "; " + bus.name +
                               " has mode " + std::to_string(bus.mode));
    }
    if (part.spi_max_hz != 0 && bus.max_speed_hz > part.spi_max_hz) {
      r.Fail("bus", d.compatible + " takes at most " + std::to_string(part.spi_max_hz) + " Hz; " + bus.name +
                        " has max_speed_hz " + std::to_string(bus.max_speed_hz));
    }
  }

  void ReadLines(ParamReader& r, Device& d, const Compatible& part, const Bus& bus) {
    d.active_low = r.BoolOr("active_low", false);
    if (!r.Has("lines")) {
      r.Missing("lines", d.compatible + " needs its GPIO line offsets");
      return;
    }
    ParamReader lines = r.Object("lines");
    for (std::string_view role : part.gpio_lines) {
      if (role.empty()) continue;
      const int64_t offset = lines.Integer(role, 0, UINT32_MAX);
      if (!lines.ok()) return;
      const std::string who = d.name + ".lines." + std::string(role);
      auto [it, fresh] = line_owner_.emplace(std::make_pair(bus.name, static_cast<unsigned>(offset)), who);
      if (!fresh) {
        return lines.Fail(role,
                          "line " + std::to_string(offset) + " on " + bus.name + " already used by " + it->second);
      }
      d.lines.emplace(std::string(role), static_cast<uint32_t>(offset));
    }
  }

  void CheckUart(ParamReader& r, Device& d, const Compatible& part, const Bus& bus) {
    auto [it, fresh] = uart_owner_.emplace(bus.name, d.name);
    if (!fresh) return r.Fail("bus", bus.name + " already carries " + it->second + " (a UART has one device)");
    const auto& bauds = part.uart_bauds;
    if (bauds[0] != 0 && std::find(bauds.begin(), bauds.end(), bus.baud) == bauds.end()) {
      r.Fail("bus", d.compatible + " talks at " + JoinValues(bauds, " or ") + " baud; " + bus.name + " is at " +
                        std::to_string(bus.baud));
    }
  }

  void ReadAlarms() {
    if (!r_.Has("alarms")) {
      r_.Raw("alarms");
      return;
    }
    for (ParamReader& a : r_.Objects("alarms", 0)) {
      AlarmSpec spec;
      spec.path = a.path();
      spec.channel = a.String("channel");
      if (!spec.channel.empty() && !IsName(spec.channel, "_.", 64, true)) {
        a.Fail("channel", Quote(spec.channel) + " must be 1..64 characters of [a-z0-9_.], from a letter");
      }
      const bool above = a.Has("above");
      if (above == a.Has("below")) {
        a.Raw("above");
        a.Raw("below");
        a.FailHere("needs exactly one of \"above\" or \"below\" (the threshold)");
      } else {
        spec.condition = above ? AlarmCondition::kAbove : AlarmCondition::kBelow;
        spec.threshold = a.Number(above ? "above" : "below");
      }
      spec.hysteresis = a.NumberOr("hysteresis", 0, Range::AtLeast(0));
      const std::string severity = a.Enum("severity", {"info", "warning", "critical"});
      spec.severity = severity == "info"       ? Severity::kInfo
                      : severity == "critical" ? Severity::kCritical
                                               : Severity::kWarning;
      board_.alarms.push_back(std::move(spec));
    }
  }

  std::string BusNames() const {
    std::string out;
    for (const auto& [name, bus] : board_.buses) out += (out.empty() ? "" : ", ") + name;
    return out.empty() ? "none" : out;
  }

  // Names are listed in BusType order, so the first is i2c or spi whenever either is allowed.
  static std::string Article(BusMask mask) {
    return (mask & (BusBit(BusType::kI2c) | BusBit(BusType::kSpi))) != 0 ? "an " : "a ";
  }

  ParamReader r_;
  Board board_;
  std::map<std::pair<std::string, unsigned>, std::string> i2c_owner_;   // (bus, address) -> device
  std::map<std::pair<std::string, unsigned>, std::string> cs_owner_;    // (bus, cs) -> device
  std::map<std::pair<std::string, unsigned>, std::string> line_owner_;  // (chip, offset) -> device.lines.role
  std::map<std::string, std::string> uart_owner_;                       // bus -> device
};

}  // namespace

std::string Bus::LinuxDevicePath(std::optional<uint8_t> cs) const {
  std::string path = linux_device;
  const size_t at = path.find("{cs}");
  if (type == BusType::kSpi && at != std::string::npos && cs) path.replace(at, 4, std::to_string(*cs));
  return path;
}

const char* AlarmConditionName(AlarmCondition c) { return c == AlarmCondition::kAbove ? "above" : "below"; }

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "?";
}

const Bus* Board::FindBus(std::string_view bus_name) const {
  auto it = buses.find(std::string(bus_name));
  return it == buses.end() ? nullptr : &it->second;
}

const Device* Board::FindDevice(std::string_view device_name) const {
  for (const Device& d : devices) {
    if (d.name == device_name) return &d;
  }
  return nullptr;
}

const Bus& Board::BusOf(const Device& device) const { return buses.at(device.bus); }

Result<Board> ParseBoard(std::string_view json, const std::string& source_name) {
  Result<Json> root = ParseJson(json, source_name);
  if (!root.ok()) return root.status();
  return BoardParser(*root, source_name).Run();
}

Result<Board> LoadBoard(const std::string& path) {
  Result<std::string> text = ReadBoundedFile(path, kMaxBoardBytes, "board file");
  if (!text.ok()) return text.status();
  return ParseBoard(*text, path);
}

std::string SamplePeriodProblem(const Device& device, uint32_t sample_ms) {
  const Compatible* part = FindCompatible(device.compatible);
  if (part == nullptr || part->sample_period_problem == nullptr) return "";
  return part->sample_period_problem(device, sample_ms);
}

ParamReader ReadParams(const Board& board, const Device& device) {
  return ParamReader(device.params, board.source, device.params_path);
}

}  // namespace edgeforge::board
