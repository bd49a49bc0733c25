#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "hal/storage.h"

namespace edgeforge {
namespace {

std::string TempDir() {
  std::string t = testing::TempDir() + "storageXXXXXX";
  return mkdtemp(t.data());
}

TEST(FileStorageTest, WritesAtomicallyAndReadsBack) {
  const std::string dir = TempDir();
  FileStorage s(dir);
  ASSERT_TRUE(s.WriteAtomic("a.json", "one").ok());
  ASSERT_TRUE(s.WriteAtomic("a.json", "two").ok());
  auto r = s.Read("a.json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "two");
  struct stat st {};
  EXPECT_NE(::stat((dir + "/a.json.tmp").c_str(), &st), 0) << "temp file left behind";
  ASSERT_EQ(::stat((dir + "/a.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileStorageTest, MissingRecordIsNotFound) {
  FileStorage s(TempDir());
  EXPECT_EQ(s.Read("nope").status().code(), StatusCode::kNotFound);
}

TEST(FileStorageTest, BadNamesAndMissingDirectoryAreClearErrors) {
  FileStorage s(TempDir());
  EXPECT_EQ(s.WriteAtomic("../x", "y").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.WriteAtomic("", "y").code(), StatusCode::kInvalidArgument);
  FileStorage missing("/nonexistent/edgeforge");
  Status w = missing.WriteAtomic("a", "b");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("/nonexistent/edgeforge/a.tmp"), std::string::npos) << w.message();
}

}  // namespace
}  // namespace edgeforge
