#include "hal/linux/file_append_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "hal/linux/fs.h"

namespace edgeforge {
namespace {

std::string TempDir() {
  std::string t = testing::TempDir() + "appendlogXXXXXX";
  return mkdtemp(t.data());
}

std::unique_ptr<FileAppendLog> MustOpen(const std::string& dir) {
  auto log = FileAppendLog::Open(dir, "test.log", "test.lock");
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(*log) : nullptr;
}

TEST(FileAppendLogTest, AppendsReplacesAndReopensOnTheRealFile) {
  const std::string dir = TempDir() + "/sub";
  {
    auto log = MustOpen(dir);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->name(), dir + "/test.log");
    EXPECT_EQ(*log->ReadAll(), "");
    ASSERT_TRUE(log->Append("abc").ok());
    ASSERT_TRUE(log->Append("def").ok());
    ASSERT_TRUE(log->Sync().ok());
    EXPECT_EQ(log->Size(), 6u);
    EXPECT_EQ(*fs::ReadFileToString(dir + "/test.log"), "abcdef");
    ASSERT_TRUE(log->Replace("XY").ok());
    EXPECT_FALSE(fs::IsRegularFile(dir + "/test.log.tmp")) << "temp file left behind";
    ASSERT_TRUE(log->Append("z").ok()) << "appends go to the new file, not the unlinked one";
    EXPECT_EQ(log->Size(), 3u);
    EXPECT_EQ(*fs::ReadFileToString(dir + "/test.log"), "XYz");
  }
  auto again = MustOpen(dir);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->Size(), 3u);
  EXPECT_EQ(*again->ReadAll(), "XYz");
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/test.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileAppendLogTest, SecondWriterOnTheDirectoryIsRefusedUntilTheFirstCloses) {
  const std::string dir = TempDir();
  auto first = MustOpen(dir);
  ASSERT_NE(first, nullptr);
  auto second = FileAppendLog::Open(dir, "test.log", "test.lock");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(dir + "/test.lock"), std::string::npos) << second.status().ToString();
  first.reset();
  EXPECT_TRUE(FileAppendLog::Open(dir, "test.log", "test.lock").ok());
}

TEST(FileAppendLogTest, SideFilesAreNumberedAndDurable) {
  const std::string dir = TempDir();
  auto log = MustOpen(dir);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(*log->WriteSideFile("quarantine", "one"), dir + "/quarantine-1.bin");
  EXPECT_EQ(*log->WriteSideFile("quarantine", "two"), dir + "/quarantine-2.bin");
  EXPECT_EQ(*fs::ReadFileToString(dir + "/quarantine-2.bin"), "two");
}

TEST(FileAppendLogTest, LogNameTakenByADirectoryIsAnErrorNamingThePath) {
  const std::string dir = TempDir();
  ASSERT_TRUE(fs::MakeDirs(dir + "/test.log", 0700).ok());
  auto log = FileAppendLog::Open(dir, "test.log", "test.lock");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(dir + "/test.log"), std::string::npos) << log.status().ToString();
}

// A write that crosses RLIMIT_FSIZE is short, the next one fails (EFBIG): the
// same shape as a disk that fills mid-record. The torn prefix must be cut off.
TEST(FileAppendLogTest, ShortWriteThenErrorLeavesTheFileAsItWas) {
  const std::string dir = TempDir();
  auto log = MustOpen(dir);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append(std::string(100, 'a')).ok());
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &previous), 0);
  struct rlimit small = old;
  small.rlim_cur = 150;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const Status st = log->Append(std::string(100, 'b'));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &previous, nullptr), 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir + "/test.log"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("File too large"), std::string::npos) << st.ToString();
  EXPECT_EQ(log->Size(), 100u);
  EXPECT_EQ(*fs::ReadFileToString(dir + "/test.log"), std::string(100, 'a'));
  ASSERT_TRUE(log->Append("c").ok()) << "works again once the limit is gone";
  EXPECT_EQ(log->Size(), 101u);
}

}  // namespace
}  // namespace edgeforge
