// Capture files (sim/verify/capture.h): bounded reading, strict lines, and
// whole-line writes. Issue 8 items 4, 5 and 7.
#include "sim/verify/capture.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"

namespace edgeforge::sim {
namespace {

using testing_support::MakeTempDir;
using testing_support::ReadAll;

std::vector<std::string> Lines(const std::string& path, Status* status) {
  std::vector<std::string> lines;
  *status = ForEachCaptureLine(path, [&](size_t n, std::string_view line) {
    EXPECT_EQ(n, lines.size() + 1);
    lines.emplace_back(line);
    return Status::Ok();
  });
  return lines;
}

TEST(CaptureReadTest, ReadsEveryLineAndALastOneWithoutNewline) {
  const std::string path = MakeTempDir("cap") + "/c.jsonl";
  std::ofstream(path) << "a\n\nbb\nccc";
  Status s;
  EXPECT_EQ(Lines(path, &s), (std::vector<std::string>{"a", "", "bb", "ccc"}));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(CaptureReadTest, ADirectoryIsAnErrorNamingIt) {
  const std::string dir = MakeTempDir("capdir");
  Status s;
  Lines(dir, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(dir + " is a directory"), std::string::npos) << s.ToString();
}

TEST(CaptureReadTest, DevNullIsNotARegularFile) {
  Status s;
  Lines("/dev/null", &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/dev/null is not a regular file"), std::string::npos) << s.ToString();
}

TEST(CaptureReadTest, AMissingFileNamesIt) {
  Status s;
  Lines("/nonexistent-edgeforge/c.jsonl", &s);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent-edgeforge/c.jsonl"), std::string::npos) << s.ToString();
}

// The 200 MB line of issue 8 took 23 s and 828 MB: now it stops at the bound.
// The peak RSS of this process stays far below the line's size (a reader
// that buffered the line whole would pass 200 MB).
TEST(CaptureReadTest, AnOverLongLineFailsNamingItsLineWithoutReadingItWhole) {
  const std::string path = MakeTempDir("caplong") + "/c.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"topic\":\"t\",\"payload\":\"ok\"}\n";
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 200; ++i) out << chunk;  // 200 MiB, no newline
    out << "\n";
  }
  size_t calls = 0;
  const Status s = ForEachCaptureLine(path, [&](size_t, std::string_view) {
    ++calls;
    return Status::Ok();
  });
  rusage ru{};
  ASSERT_EQ(::getrusage(RUSAGE_SELF, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 64L * 1024) << "peak RSS in KiB";
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find(path + ":2: line longer than " + std::to_string(kMaxCaptureLineBytes)), std::string::npos)
      << s.ToString();
  ::unlink(path.c_str());
}

TEST(CaptureReadTest, ALineAtTheBoundIsRead) {
  const std::string path = MakeTempDir("capbound") + "/c.jsonl";
  std::ofstream(path, std::ios::binary) << std::string(kMaxCaptureLineBytes, 'y') << "\n";
  Status s;
  const auto lines = Lines(path, &s);
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), kMaxCaptureLineBytes);
}

TEST(CaptureParseTest, StrictObject) {
  auto r = ParseCaptureLine(R"({"topic":"dt/a/b/c/telemetry","payload":"{}","jws":"x..y"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->topic, "dt/a/b/c/telemetry");
  EXPECT_EQ(r->payload, "{}");
  ASSERT_TRUE(r->jws.has_value());
  EXPECT_EQ(*r->jws, "x..y");
  auto no_jws = ParseCaptureLine(R"({"topic":"t","payload":"p"})");
  ASSERT_TRUE(no_jws.ok());
  EXPECT_FALSE(no_jws->jws.has_value());
  EXPECT_FALSE(ParseCaptureLine(R"({"topic":"t"})").ok());
  EXPECT_FALSE(ParseCaptureLine(R"({"topic":1,"payload":"p"})").ok());
  EXPECT_FALSE(ParseCaptureLine("not json").ok());
  EXPECT_FALSE(ParseCaptureLine(R"([[[[[[["deep"]]]]]]])").ok());
}

// Issue 8 (7): a repeated key kept the last value.
TEST(CaptureParseTest, ARepeatedKeyIsRefused) {
  auto r = ParseCaptureLine(R"({"topic":"t","payload":"good","payload":"evil"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("payload: key appears twice"), std::string::npos) << r.status().ToString();
}

TEST(CaptureWriteTest, LinesRoundTrip) {
  const std::string path = MakeTempDir("capw") + "/c.jsonl";
  auto w = CaptureWriter::Open(path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::string jws = "h..s";
  ASSERT_TRUE((*w)->Append(CaptureLine("dt/a/b/c/telemetry", "{\"q\":\"\\n\"}", &jws)).ok());
  ASSERT_TRUE((*w)->Append(CaptureLine("dt/a/b/c/status", "off", nullptr)).ok());
  Status s;
  const auto lines = Lines(path, &s);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(lines.size(), 2u);
  auto a = ParseCaptureLine(lines[0]);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->payload, "{\"q\":\"\\n\"}");
  EXPECT_EQ(*a->jws, "h..s");
  EXPECT_FALSE(ParseCaptureLine(lines[1])->jws.has_value());
  EXPECT_EQ(ReadAll(path).back(), '\n');
}

TEST(CaptureWriteTest, OpenTruncates) {
  const std::string path = MakeTempDir("capt") + "/c.jsonl";
  std::ofstream(path) << "old\n";
  auto w = CaptureWriter::Open(path);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(ReadAll(path), "");
}

// Issue 8 (7): both said PERMISSION_DENIED.
TEST(CaptureWriteTest, ADirectoryIsNamedAsOne) {
  const std::string dir = MakeTempDir("capwd");
  auto w = CaptureWriter::Open(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find(dir + " is a directory"), std::string::npos) << w.status().ToString();
}

TEST(CaptureWriteTest, AMissingDirectoryIsNotFoundNamingIt) {
  auto w = CaptureWriter::Open("/missing-edgeforge-dir/x");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kNotFound);
  EXPECT_NE(w.status().message().find("directory /missing-edgeforge-dir does not exist"), std::string::npos)
      << w.status().ToString();
}

TEST(CaptureWriteTest, AReadOnlyDirectoryIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  const std::string dir = MakeTempDir("capro");
  ASSERT_EQ(::chmod(dir.c_str(), 0500), 0);
  auto w = CaptureWriter::Open(dir + "/x");
  ::chmod(dir.c_str(), 0700);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kPermissionDenied) << w.status().ToString();
}

}  // namespace
}  // namespace edgeforge::sim
