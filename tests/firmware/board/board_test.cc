#include "firmware/board/board.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "firmware/board/compatible.h"
#include "firmware/board/param_reader.h"

namespace edgeforge::board {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kSource = "boards/x.json";

std::string ReadText(const std::string& relative) {
  std::ifstream in(std::string(EDGEFORGE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json Factory() { return Json::parse(ReadText("boards/factory-node.json")); }
Json Traffic() { return Json::parse(ReadText("boards/traffic-node.json")); }

Result<Board> Parse(const Json& j) { return ParseBoard(j.dump(), kSource); }

// The message must name the file and then the field path: "boards/x.json: <path>: ...".
void ExpectError(const Result<Board>& r, const std::string& path_and_message) {
  ASSERT_FALSE(r.ok()) << "parsed, expected: " << path_and_message;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(kSource + ": " + path_and_message));
}

// ---- the reference boards ----

TEST(ReferenceBoards, FactoryNodeIsWhatTheDocsSay) {
  auto b = LoadBoard(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/factory-node.json");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->name, "factory-node");
  EXPECT_EQ(b->kind, "factory");
  EXPECT_EQ(b->report_ms, 10000u);
  ASSERT_EQ(b->buses.size(), 2u);
  const Bus& i2c = b->buses.at("i2c1");
  EXPECT_EQ(i2c.type, BusType::kI2c);
  EXPECT_EQ(i2c.linux_device, "/dev/i2c-1");
  const Bus& spi = b->buses.at("spi0");
  EXPECT_EQ(spi.type, BusType::kSpi);
  EXPECT_EQ(spi.max_speed_hz, 5'000'000u);
  EXPECT_EQ(spi.mode, 3);

  ASSERT_EQ(b->devices.size(), 3u);
  const Device& env = b->devices[0];
  EXPECT_EQ(env.name, "env0");
  EXPECT_EQ(env.compatible, "bosch,bme280");
  EXPECT_EQ(env.address, 0x76);
  EXPECT_FALSE(env.cs.has_value());
  EXPECT_EQ(env.sample_ms, 1000u);
  EXPECT_EQ(b->BusOf(env).LinuxDevicePath(env.cs), "/dev/i2c-1");
  const Device& vib = b->devices[1];
  EXPECT_EQ(vib.compatible, "adi,adxl345");
  EXPECT_EQ(vib.cs, 0);
  EXPECT_FALSE(vib.address.has_value());
  EXPECT_EQ(vib.sample_ms, 250u);
  EXPECT_EQ(b->BusOf(vib).LinuxDevicePath(vib.cs), "/dev/spidev0.0");
  EXPECT_EQ(vib.params.at("odr_hz"), 100);
  const Device& adc = b->devices[2];
  EXPECT_EQ(adc.compatible, "ti,ads1115");
  EXPECT_EQ(adc.address, 0x48);
  EXPECT_EQ(adc.path, "devices[2]");
  EXPECT_EQ(adc.params_path, "devices[2].params");
  EXPECT_EQ(adc.params.at("channels").size(), 2u);

  ASSERT_EQ(b->alarms.size(), 2u);
  EXPECT_EQ(b->alarms[0].channel, "vibration_rms_z");
  EXPECT_EQ(b->alarms[0].condition, AlarmCondition::kAbove);
  EXPECT_DOUBLE_EQ(b->alarms[0].threshold, 0.8);
  EXPECT_DOUBLE_EQ(b->alarms[0].hysteresis, 0.1);
  EXPECT_EQ(b->alarms[0].severity, Severity::kCritical);
  EXPECT_EQ(b->alarms[1].channel, "temperature");
  EXPECT_EQ(b->alarms[1].severity, Severity::kWarning);
  EXPECT_EQ(b->alarms[1].path, "alarms[1]");
}

TEST(ReferenceBoards, TrafficNodeIsWhatTheDocsSay) {
  auto b = LoadBoard(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/traffic-node.json");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->name, "traffic-node");
  EXPECT_EQ(b->kind, "traffic");
  EXPECT_EQ(b->report_ms, 10000u);
  EXPECT_EQ(b->buses.at("gpio0").type, BusType::kGpio);
  EXPECT_EQ(b->buses.at("gpio0").linux_device, "/dev/gpiochip0");
  EXPECT_EQ(b->buses.at("uart0").type, BusType::kUart);
  EXPECT_EQ(b->buses.at("uart0").baud, 19200u);

  const Device* loop = b->FindDevice("loop0");
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->compatible, "generic,dual-loop-detector");
  EXPECT_EQ(loop->lines.at("upstream"), 17u);
  EXPECT_EQ(loop->lines.at("downstream"), 27u);
  EXPECT_TRUE(loop->active_low);
  EXPECT_DOUBLE_EQ(loop->params.at("spacing_m").get<double>(), 4.0);
  const Device* radar = b->FindDevice("radar0");
  ASSERT_NE(radar, nullptr);
  EXPECT_EQ(radar->compatible, "omnipresense,ops243-a");
  EXPECT_EQ(b->BusOf(*radar).linux_device, "/dev/ttyAMA0");
  EXPECT_EQ(radar->params.at("units"), "km/h");
  const Device* env = b->FindDevice("env0");
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->compatible, "bosch,bme280");

  ASSERT_EQ(b->alarms.size(), 3u);
  EXPECT_EQ(b->alarms[0].channel, "occupancy");
  EXPECT_DOUBLE_EQ(b->alarms[0].threshold, 35);
  EXPECT_EQ(b->alarms[1].channel, "speed");
  EXPECT_EQ(b->alarms[1].condition, AlarmCondition::kBelow);
  EXPECT_DOUBLE_EQ(b->alarms[1].threshold, 20);
}

TEST(ReferenceBoards, DocsListEveryCompatibleAndBothBoards) {
  const std::string docs = ReadText("docs/boards.md");
  ASSERT_FALSE(docs.empty());
  for (const Compatible* c : Compatibles()) EXPECT_THAT(docs, HasSubstr("`" + std::string(c->name) + "`"));
  for (const char* file : {"boards/factory-node.json", "boards/traffic-node.json"}) {
    auto b = ParseBoard(ReadText(file), file);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_THAT(docs, HasSubstr(file));
    for (const Device& d : b->devices) EXPECT_THAT(docs, HasSubstr("`" + d.name + "`")) << file;
  }
}

TEST(CompatibleTable, SortedUniqueAndEachOnSomeBus) {
  const std::vector<const Compatible*>& parts = Compatibles();  // every registered part's facts
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_NE(parts[i]->buses, 0) << parts[i]->name;
    EXPECT_FALSE(parts[i]->description.empty());
    if (i > 0) {
      EXPECT_LT(parts[i - 1]->name, parts[i]->name);
    }
    EXPECT_EQ(FindCompatible(parts[i]->name), parts[i]);
  }
  EXPECT_EQ(FindCompatible("bosch,bme281"), nullptr);
}

// ---- loading ----

TEST(LoadBoard, MissingFileIsNotFoundAndNamesThePath) {
  auto b = LoadBoard("/nonexistent/board.json");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(b.status().message(), StartsWith("/nonexistent/board.json: "));
}

TEST(LoadBoard, DirectoryIsRefusedWithThePath) {
  auto b = LoadBoard(::testing::TempDir());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), StartsWith(::testing::TempDir() + ": cannot read: "));
}

TEST(LoadBoard, ErrorsArePrefixedWithThePath) {
  const std::string path = ::testing::TempDir() + "/bad-board.json";
  Json j = Factory();
  j["devices"][0]["sample_ms"] = 5;
  std::ofstream(path) << j.dump(2);
  auto b = LoadBoard(path);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), StartsWith(path + ": devices[0].sample_ms: must be in 10..3600000, got 5"));
}

// ---- syntax ----

TEST(BoardSyntax, NotJsonNamesFileLineAndColumn) {
  auto b = ParseBoard("{\n  \"board\": \"x\",\n  oops\n}", kSource);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), StartsWith(kSource + ":3:3: not valid JSON: "));
}

TEST(BoardSyntax, TopLevelMustBeAnObject) {
  auto b = ParseBoard("[1, 2]", kSource);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr(kSource + ": must be a JSON object, got array"));
}

TEST(BoardSyntax, RepeatedKeyNamesItsPath) {
  std::string text = Factory().dump();
  const std::string needle = "\"address\":\"0x48\"";
  text.replace(text.find(needle), needle.size(), needle + ",\"address\":\"0x49\"");
  ExpectError(ParseBoard(text, kSource), "devices[2].address: key appears twice");
}

TEST(BoardSyntax, DeepNestingIsRefused) {
  Json j = Factory();
  std::string deep = std::string(100, '[') + std::string(100, ']');
  std::string text = j.dump();
  text.replace(text.find("\"odr_hz\":100") + 9, 3, deep);
  ExpectError(ParseBoard(text, kSource), "");
  EXPECT_THAT(ParseBoard(text, kSource).status().message(), HasSubstr("nested deeper than 32 levels"));
}

TEST(BoardSyntax, OversizedInputIsRefused) {
  std::string text = Factory().dump();
  text.insert(text.size() - 1, ",\"pad\":\"" + std::string(kMaxBoardBytes, 'a') + "\"");
  ExpectError(ParseBoard(text, kSource), "board file is");
}

// ---- types, missing and unknown fields ----

TEST(BoardFields, MissingRequiredField) {
  Json j = Factory();
  j.erase("report_ms");
  ExpectError(Parse(j), "report_ms: missing");
  j = Factory();
  j["devices"][1].erase("compatible");
  ExpectError(Parse(j), "devices[1].compatible: missing");
}

TEST(BoardFields, WrongType) {
  Json j = Factory();
  j["devices"][0]["sample_ms"] = "1000";
  ExpectError(Parse(j), "devices[0].sample_ms: must be an integer, got \"1000\"");
  j = Factory();
  j["devices"][0]["sample_ms"] = 1000.5;
  ExpectError(Parse(j), "devices[0].sample_ms: must be an integer, got 1000.5");
  j = Factory();
  j["buses"]["i2c1"] = "i2c";
  ExpectError(Parse(j), "buses.i2c1: must be an object, got \"i2c\"");
  j = Factory();
  j["devices"][1]["params"] = Json::array({800});
  ExpectError(Parse(j), "devices[1].params: must be an object, got array");
  j = Factory();
  j["devices"] = Json::object();
  ExpectError(Parse(j), "devices: must be an array of objects, got object");
}

TEST(BoardFields, UnknownKeyIsNotIgnored) {
  Json j = Factory();
  j["devices"][1]["colour"] = "red";
  ExpectError(Parse(j), "devices[1].colour: unknown key (known: ");
  j = Factory();
  j["buses"]["i2c1"]["baud"] = 9600;
  ExpectError(Parse(j), "buses.i2c1.baud: unknown key (");
  j = Factory();
  j["buses"]["i2c1"]["linux"]["path"] = "/dev/i2c-1";
  ExpectError(Parse(j), "buses.i2c1.linux.path: unknown key (");
}

TEST(BoardFields, TypoOfRequiredKeyIsNamedAsTheTypo) {
  Json j = Factory();
  j["devices"][0]["adress"] = j["devices"][0]["address"];
  j["devices"][0].erase("address");
  ExpectError(Parse(j), "devices[0].adress: unknown key (did you mean \"address\"?)");
  j = Factory();
  j["report_sm"] = 10000;
  j.erase("report_ms");
  ExpectError(Parse(j), "report_sm: unknown key (did you mean \"report_ms\"?)");
}

TEST(BoardFields, NamePatterns) {
  Json j = Factory();
  j["board"] = "Factory Node";
  ExpectError(Parse(j), "board: \"Factory Node\" must be 1..64 characters of [a-z0-9-]");
  j = Factory();
  j["kind"] = "fac.tory";
  ExpectError(Parse(j), "kind: \"fac.tory\" must be");
  j = Factory();
  j["devices"][0]["name"] = "0env";
  ExpectError(Parse(j), "devices[0].name: \"0env\" must be");
  j = Factory();
  j["buses"]["I2C"] = j["buses"]["i2c1"];
  ExpectError(Parse(j), "buses.I2C: bus name must be");
}

TEST(BoardFields, DuplicateDeviceName) {
  Json j = Factory();
  j["devices"][1]["name"] = "env0";
  ExpectError(Parse(j), "devices[1].name: \"env0\" already names devices[0]");
}

TEST(BoardFields, NeedsAtLeastOneDevice) {
  Json j = Factory();
  j["devices"] = Json::array();
  ExpectError(Parse(j), "devices: must have at least 1 element(s), got 0");
}

TEST(BoardFields, SampleAndReportPeriodRanges) {
  Json j = Factory();
  j["devices"][1]["sample_ms"] = 9;
  ExpectError(Parse(j), "devices[1].sample_ms: must be in 10..3600000, got 9");
  j["devices"][1]["sample_ms"] = 3'600'001;
  ExpectError(Parse(j), "devices[1].sample_ms: must be in 10..3600000, got 3600001");
  j = Factory();
  j["report_ms"] = 999;
  ExpectError(Parse(j), "report_ms: must be in 1000..3600000, got 999");
  j["report_ms"] = 3'600'000;
  EXPECT_TRUE(Parse(j).ok());
  j["report_ms"] = 18446744073709551615ull;
  ExpectError(Parse(j), "report_ms: must be in 1000..3600000, got 18446744073709551615");
}

// ---- compatible and bus ----

TEST(BoardDevices, UnknownCompatibleListsTheKnownOnes) {
  Json j = Factory();
  j["devices"][2]["compatible"] = "bosch,bme281";
  ExpectError(Parse(j),
              "devices[2].compatible: unknown \"bosch,bme281\" (known: adi,adxl345, bosch,bme280, "
              "generic,dual-loop-detector, omnipresense,ops243-a, ti,ads1115)");
}

TEST(BoardDevices, NoSuchBusListsTheBuses) {
  Json j = Factory();
  j["devices"][0]["bus"] = "i2c9";
  ExpectError(Parse(j), "devices[0].bus: no bus \"i2c9\" (buses: i2c1, spi0)");
}

TEST(BoardDevices, PartOnTheWrongBusType) {
  Json j = Factory();
  j["buses"]["gpio0"] = {{"type", "gpio"}, {"linux", {{"device", "/dev/gpiochip0"}}}};
  j["devices"][1]["bus"] = "gpio0";
  ExpectError(Parse(j), "devices[1].bus: adi,adxl345 needs an i2c or spi bus, \"gpio0\" is gpio");
  j = Traffic();
  j["devices"][2]["bus"] = "i2c1";
  ExpectError(Parse(j), "devices[2].bus: omnipresense,ops243-a needs a uart bus, \"i2c1\" is i2c");
}

TEST(BoardDevices, UnknownBusType) {
  Json j = Factory();
  j["buses"]["i2c1"]["type"] = "i3c";
  ExpectError(Parse(j), "buses.i2c1.type: must be one of \"i2c\", \"spi\", \"gpio\", \"uart\", got \"i3c\"");
}

TEST(BoardDevices, LinuxDeviceMustBeAbsolute) {
  Json j = Factory();
  j["buses"]["i2c1"]["linux"]["device"] = "i2c-1";
  ExpectError(Parse(j), "buses.i2c1.linux.device: must be an absolute path, got \"i2c-1\"");
  j["buses"]["i2c1"].erase("linux");
  ExpectError(Parse(j), "buses.i2c1.linux: missing");
}

// ---- i2c ----

TEST(BoardI2c, AddressAcceptsHexStringAndInteger) {
  Json j = Factory();
  j["devices"][0]["address"] = 118;
  auto b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->devices[0].address, 0x76);
  j["devices"][0]["address"] = "0X77";
  b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->devices[0].address, 0x77);
}

TEST(BoardI2c, AddressAlreadyUsedOnTheBus) {
  Json j = Factory();
  j["devices"].push_back(
      {{"name", "env1"}, {"compatible", "bosch,bme280"}, {"bus", "i2c1"}, {"address", 118}, {"sample_ms", 1000}});
  ExpectError(Parse(j), "devices[3].address: 0x76 already used on i2c1 by env0");
}

TEST(BoardI2c, SameAddressOnAnotherBusIsFine) {
  Json j = Factory();
  j["buses"]["i2c0"] = {{"type", "i2c"}, {"linux", {{"device", "/dev/i2c-0"}}}};
  j["devices"].push_back(
      {{"name", "env1"}, {"compatible", "bosch,bme280"}, {"bus", "i2c0"}, {"address", "0x76"}, {"sample_ms", 1000}});
  EXPECT_TRUE(Parse(j).ok());
}

TEST(BoardI2c, AddressOutside7BitRangeIsPrintedInHex) {
  Json j = Factory();
  j["devices"][0]["address"] = "0x78";
  ExpectError(Parse(j), "devices[0].address: 0x78 is outside 0x08..0x77");
  j["devices"][0]["address"] = 3;
  ExpectError(Parse(j), "devices[0].address: 0x03 is outside 0x08..0x77");
  j["devices"][0]["address"] = 300;
  ExpectError(Parse(j), "devices[0].address: 300 is not a 7-bit address");
}

TEST(BoardI2c, AddressMustBeOneThePartAnswersAt) {
  Json j = Factory();
  j["devices"][0]["address"] = "0x48";
  ExpectError(Parse(j), "devices[0].address: bosch,bme280 answers only at 0x76, 0x77, not 0x48");
}

TEST(BoardI2c, AddressSpelling) {
  Json j = Factory();
  j["devices"][0]["address"] = "76";
  ExpectError(Parse(j), "devices[0].address: must be a hex string like \"0x76\" or an integer, got \"76\"");
  j["devices"][0]["address"] = "0x7g";
  ExpectError(Parse(j), "devices[0].address: must be a hex string");
  j["devices"][0]["address"] = -1;
  ExpectError(Parse(j), "devices[0].address: must be a hex string");
}

TEST(BoardI2c, I2cPartNeedsAnAddress) {
  Json j = Factory();
  j["devices"][0].erase("address");
  ExpectError(Parse(j), "devices[0].address: missing (bosch,bme280 on i2c bus i2c1 needs its 7-bit address)");
}

TEST(BoardI2c, PlacementKeysOfOtherBusTypesAreRejected) {
  Json j = Factory();
  j["devices"][0]["cs"] = 1;
  ExpectError(Parse(j), "devices[0].cs: only for spi parts; env0 is on i2c bus i2c1");
  j = Factory();
  j["devices"][1]["address"] = "0x53";
  ExpectError(Parse(j), "devices[1].address: only for i2c parts; vib0 is on spi bus spi0");
  j = Factory();
  j["devices"][0]["active_low"] = true;
  ExpectError(Parse(j), "devices[0].active_low: only for gpio parts; env0 is on i2c bus i2c1");
}

TEST(BoardI2c, Adxl345OnI2cUsesItsI2cAddresses) {
  Json j = Factory();
  j["devices"][1] = {
      {"name", "vib0"}, {"compatible", "adi,adxl345"}, {"bus", "i2c1"}, {"address", "0x53"}, {"sample_ms", 250}};
  auto b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->devices[1].address, 0x53);
}

// The driver drains the 32-sample FIFO once per sample period: a longer period
// would lose samples of every window silently, so the board is refused.
TEST(BoardAdxl345, SamplePeriodLongerThanTheFifoHoldsIsRefused) {
  Json j = Factory();
  j["devices"][1]["sample_ms"] = 500;  // 500 ms at 100 Hz = 50 samples
  ExpectError(Parse(j),
              "devices[1].sample_ms: 500 ms at params.odr_hz 100 is 50 samples, more than the ADXL345 "
              "FIFO holds (32; it fills in 320 ms)");
  j["devices"][1]["sample_ms"] = 320;  // exactly full
  EXPECT_TRUE(Parse(j).ok());
  j["devices"][1]["params"]["odr_hz"] = 200;  // 64 samples
  ExpectError(Parse(j), "devices[1].sample_ms: 320 ms at params.odr_hz 200 is 64 samples");
  j["devices"][1]["params"].erase("odr_hz");  // the driver's default, 100 Hz
  EXPECT_TRUE(Parse(j).ok());
  j["devices"][1]["sample_ms"] = 1000;
  ExpectError(Parse(j), "devices[1].sample_ms: 1000 ms at params.odr_hz 100 is 100 samples");
}

// ---- spi ----

TEST(BoardSpi, ChipSelectRange) {
  Json j = Factory();
  j["devices"][1]["cs"] = 4;
  ExpectError(Parse(j), "devices[1].cs: must be in 0..3, got 4");
  j["devices"][1]["cs"] = -1;
  ExpectError(Parse(j), "devices[1].cs: must be in 0..3, got -1");
}

TEST(BoardSpi, ChipSelectAlreadyUsed) {
  Json j = Factory();
  j["devices"].push_back(
      {{"name", "vib1"}, {"compatible", "adi,adxl345"}, {"bus", "spi0"}, {"cs", 0}, {"sample_ms", 250}});
  ExpectError(Parse(j), "devices[3].cs: 0 already used on spi0 by vib0");
  j["devices"][3]["cs"] = 1;
  auto b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->BusOf(b->devices[3]).LinuxDevicePath(b->devices[3].cs), "/dev/spidev0.1");
}

TEST(BoardSpi, SpiPartNeedsAChipSelect) {
  Json j = Factory();
  j["devices"][1].erase("cs");
  ExpectError(Parse(j), "devices[1].cs: missing (adi,adxl345 on spi bus spi0 needs its chip select)");
}

TEST(BoardSpi, DeviceNodeNeedsTheCsPlaceholder) {
  Json j = Factory();
  j["buses"]["spi0"]["linux"]["device"] = "/dev/spidev0.0";
  ExpectError(Parse(j), "buses.spi0.linux.device: \"/dev/spidev0.0\" needs the {cs} placeholder");
  j = Factory();
  j["buses"]["i2c1"]["linux"]["device"] = "/dev/i2c-{cs}";
  ExpectError(Parse(j), "buses.i2c1.linux.device: the {cs} placeholder is only for spi buses");
}

TEST(BoardSpi, BusModeAndSpeedMustSuitThePart) {
  Json j = Factory();
  j["buses"]["spi0"]["mode"] = 0;
  ExpectError(Parse(j), "devices[1].bus: adi,adxl345 needs spi mode 3; spi0 has mode 0");
  j = Factory();
  j["buses"]["spi0"]["max_speed_hz"] = 8'000'000;
  ExpectError(Parse(j), "devices[1].bus: adi,adxl345 takes at most 5000000 Hz; spi0 has max_speed_hz 8000000");
  j = Factory();
  j["buses"]["spi0"]["mode"] = 4;
  ExpectError(Parse(j), "buses.spi0.mode: must be in 0..3, got 4");
  j = Factory();
  j["buses"]["spi0"].erase("max_speed_hz");
  ExpectError(Parse(j), "buses.spi0.max_speed_hz: missing");
}

// ---- gpio ----

TEST(BoardGpio, LoopDetectorNeedsBothLines) {
  Json j = Traffic();
  j["devices"][1]["lines"].erase("downstream");
  ExpectError(Parse(j), "devices[1].lines.downstream: missing");
  j = Traffic();
  j["devices"][1].erase("lines");
  ExpectError(Parse(j), "devices[1].lines: missing (generic,dual-loop-detector needs its GPIO line offsets)");
}

TEST(BoardGpio, UnknownLineRole) {
  Json j = Traffic();
  j["devices"][1]["lines"]["middle"] = 22;
  ExpectError(Parse(j), "devices[1].lines.middle: unknown key (known: downstream, upstream)");
}

TEST(BoardGpio, LineUsedTwiceOnOneChip) {
  Json j = Traffic();
  j["devices"][1]["lines"]["downstream"] = 17;
  ExpectError(Parse(j), "devices[1].lines.downstream: line 17 on gpio0 already used by loop0.lines.upstream");
  j = Traffic();
  j["devices"].push_back({{"name", "loop1"},
                          {"compatible", "generic,dual-loop-detector"},
                          {"bus", "gpio0"},
                          {"lines", {{"upstream", 22}, {"downstream", 27}}},
                          {"sample_ms", 1000}});
  ExpectError(Parse(j), "devices[3].lines.downstream: line 27 on gpio0 already used by loop0.lines.downstream");
}

TEST(BoardGpio, LineOffsetAndActiveLowTypes) {
  Json j = Traffic();
  j["devices"][1]["lines"]["upstream"] = -3;
  ExpectError(Parse(j), "devices[1].lines.upstream: must be in 0..4294967295, got -3");
  j = Traffic();
  j["devices"][1]["active_low"] = "yes";
  ExpectError(Parse(j), "devices[1].active_low: must be true or false, got \"yes\"");
}

// ---- uart ----

TEST(BoardUart, BusNeedsAStandardBaud) {
  Json j = Traffic();
  j["buses"]["uart0"].erase("baud");
  ExpectError(Parse(j), "buses.uart0.baud: missing");
  j["buses"]["uart0"]["baud"] = 12345;
  ExpectError(Parse(j), "buses.uart0.baud: must be a standard rate (1200, 2400");
}

TEST(BoardUart, PartMustTalkAtTheBusBaud) {
  Json j = Traffic();
  j["buses"]["uart0"]["baud"] = 4800;
  ExpectError(Parse(j),
              "devices[2].bus: omnipresense,ops243-a talks at 9600, 19200, 57600, 115200 or 230400 baud; "
              "uart0 is at 4800");
  j["buses"]["uart0"]["baud"] = 115200;
  EXPECT_TRUE(Parse(j).ok());
}

TEST(BoardUart, OneDevicePerUart) {
  Json j = Traffic();
  j["devices"].push_back(
      {{"name", "radar1"}, {"compatible", "omnipresense,ops243-a"}, {"bus", "uart0"}, {"sample_ms", 1000}});
  ExpectError(Parse(j), "devices[3].bus: uart0 already carries radar0 (a UART has one device)");
}

// ---- alarms ----

TEST(BoardAlarms, ExactlyOneOfAboveOrBelow) {
  Json j = Factory();
  j["alarms"][0]["below"] = 0.1;
  ExpectError(Parse(j), "alarms[0]: needs exactly one of \"above\" or \"below\"");
  j = Factory();
  j["alarms"][1].erase("above");
  ExpectError(Parse(j), "alarms[1]: needs exactly one of \"above\" or \"below\"");
}

TEST(BoardAlarms, FieldTypesAndValues) {
  Json j = Factory();
  j["alarms"][0]["above"] = "high";
  ExpectError(Parse(j), "alarms[0].above: must be a number, got \"high\"");
  j = Factory();
  j["alarms"][0]["hysteresis"] = -0.1;
  ExpectError(Parse(j), "alarms[0].hysteresis: must be >= 0, got -0.1");
  j = Factory();
  j["alarms"][1]["severity"] = "fatal";
  ExpectError(Parse(j), "alarms[1].severity: must be one of \"info\", \"warning\", \"critical\", got \"fatal\"");
  j = Factory();
  j["alarms"][1]["channel"] = "Temperature";
  ExpectError(Parse(j), "alarms[1].channel: \"Temperature\" must be");
  j = Factory();
  j["alarms"][1]["channel_name"] = "x";
  ExpectError(Parse(j), "alarms[1].channel_name: unknown key (");
}

TEST(BoardAlarms, OptionalHysteresisAndNoAlarms) {
  Json j = Factory();
  j["alarms"][1].erase("hysteresis");
  auto b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->alarms[1].hysteresis, 0);
  j.erase("alarms");
  b = Parse(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->alarms.empty());
}

// ---- ParamReader ----

TEST(ParamReader, ReadsTheAds1115ChannelsOfTheFactoryBoard) {
  auto b = ParseBoard(ReadText("boards/factory-node.json"), "boards/factory-node.json");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ParamReader p = ReadParams(*b, *b->FindDevice("adc0"));
  std::vector<ParamReader> channels = p.Objects("channels", 1, 4);
  ASSERT_EQ(channels.size(), 2u);
  ParamReader& ct = channels[0];
  EXPECT_EQ(ct.String("name"), "motor_current");
  EXPECT_EQ(ct.Enum("input", {"ain0-ain1", "ain2", "ain3"}), "ain0-ain1");
  EXPECT_DOUBLE_EQ(ct.Number("pga_v", Range::Above(0)), 1.024);
  EXPECT_EQ(ct.Enum("transducer", {"current_transformer", "loop_4_20ma"}), "current_transformer");
  EXPECT_DOUBLE_EQ(ct.Number("turns_ratio", Range::Above(0)), 2000);
  EXPECT_DOUBLE_EQ(ct.Number("burden_ohm", Range::Above(0)), 33);
  EXPECT_EQ(ct.Integer("mains_hz", 50, 60), 50);
  EXPECT_EQ(ct.IntegerOr("cycles", 1, 1, 100), 2);
  ParamReader& loop = channels[1];
  EXPECT_EQ(loop.String("name"), "line_pressure");
  EXPECT_EQ(loop.Enum("input", {"ain0-ain1", "ain2", "ain3"}), "ain2");
  EXPECT_DOUBLE_EQ(loop.Number("pga_v", Range::Above(0)), 4.096);
  EXPECT_EQ(loop.Enum("transducer", {"current_transformer", "loop_4_20ma"}), "loop_4_20ma");
  EXPECT_DOUBLE_EQ(loop.Number("shunt_ohm", Range::Above(0)), 165);
  EXPECT_EQ(loop.Numbers("range", 2, 2), (std::vector<double>{0, 10}));
  EXPECT_EQ(loop.StringOr("unit", "mA"), "bar");
  EXPECT_TRUE(p.Finish().ok()) << p.Finish().ToString();
}

TEST(ParamReader, RangeErrorNamesFileAndFullPath) {
  Json j = Factory();
  j["devices"][2]["params"]["channels"][1]["shunt_ohm"] = 0;
  auto b = Parse(j);
  ASSERT_TRUE(b.ok());
  ParamReader p = ReadParams(*b, b->devices[2]);
  std::vector<ParamReader> channels = p.Objects("channels");
  ASSERT_EQ(channels.size(), 2u);
  channels[1].Number("shunt_ohm", Range::Above(0));
  Status s = p.Finish();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "boards/x.json: devices[2].params.channels[1].shunt_ohm: must be > 0, got 0");
}

TEST(ParamReader, UnknownKeyWithSuggestionOrList) {
  Json j = Factory();
  j["devices"][1]["params"] = {{"odr", 800}};
  auto b = Parse(j);
  ASSERT_TRUE(b.ok());
  ParamReader p = ReadParams(*b, b->devices[1]);
  EXPECT_EQ(p.NumberOr("odr_hz", 100, Range::Between(0.1, 3200)), 100);
  EXPECT_THAT(p.Finish().message(),
              HasSubstr("boards/x.json: devices[1].params.odr: unknown key (did you mean \"odr_hz\"?)"));

  ParamReader q = ReadParams(*b, b->devices[0]);  // env0 has no params: an empty object is fine
  EXPECT_TRUE(q.Finish().ok());
}

TEST(ParamReader, ValueErrorComesBeforeKeysItLeftUnread) {
  // A bad "transducer" means the driver never asks for the transducer's keys;
  // the report must be about the transducer, not those keys.
  Json params = {{"transducer", "loop_4_20mA"}, {"shunt_ohm", 165}};
  ParamReader p(params, "b.json", "devices[0].params");
  const std::string t = p.Enum("transducer", {"current_transformer", "loop_4_20ma"});
  if (t == "loop_4_20ma") p.Number("shunt_ohm");
  EXPECT_THAT(p.Finish().message(), HasSubstr("b.json: devices[0].params.transducer: must be one of"));
}

TEST(ParamReader, RequiredOptionalAndRangeVariants) {
  Json params = {{"a", 5}, {"b", true}, {"c", "x"}, {"d", {1, 2, 3}}, {"e", {{"f", 2.5}}}, {"g", 1e300}};
  ParamReader p(params, "", "params");
  EXPECT_EQ(p.Integer("a", 0, 10), 5);
  EXPECT_TRUE(p.Bool("b"));
  EXPECT_FALSE(p.BoolOr("absent", false));
  EXPECT_EQ(p.StringOr("c", "y"), "x");
  EXPECT_EQ(p.Numbers("d", 1, 3, Range::AtLeast(1)).size(), 3u);
  ParamReader e = p.Object("e");
  EXPECT_DOUBLE_EQ(e.Number("f", Range::Between(2, 3)), 2.5);
  EXPECT_DOUBLE_EQ(p.NumberOr("h", 7), 7);
  EXPECT_DOUBLE_EQ(p.Number("g"), 1e300);
  EXPECT_TRUE(p.Finish().ok()) << p.Finish().ToString();

  ParamReader q(params, "", "params");
  q.Numbers("d", 2, 2);
  EXPECT_EQ(q.Finish().message(), "params.d: must have 2 numbers, got 3");
  ParamReader r(params, "", "params");
  r.Integer("a", 6, 10);
  EXPECT_EQ(r.Finish().message(), "params.a: must be in 6..10, got 5");
  ParamReader s(params, "", "params");
  s.Object("e").Number("f", Range{0, 2.5, false, true});
  EXPECT_EQ(s.Finish().message(), "params.e.f: must be >= 0 and < 2.5, got 2.5");
  ParamReader t(params, "", "params");
  t.Number("zz");
  EXPECT_EQ(t.Finish().message(), "params.zz: missing");
  ParamReader u(params, "", "params");
  u.Fail("a", "must be odd when b is true");
  EXPECT_EQ(u.Finish().message(), "params.a: must be odd when b is true");
}

TEST(ParamReader, OddKeysArePrintedQuoted) {
  Json params = {{"we ird\n", 1}};
  ParamReader p(params, "f.json", "params");
  EXPECT_EQ(p.Finish().message(), "f.json: params.\"we ird\\n\": unknown key (no keys are expected here)");
}

}  // namespace
}  // namespace edgeforge::board
