#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "hal/storage.h"
#include "hal/linux/fs.h"

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

// Overwrite: in place, no fsync; read back exactly by another object in the
// same machine boot (what a process restart after kill -9 sees).
TEST(FileStorageTest, OverwriteReplacesInPlaceAndReadsBackExactly) {
  const std::string dir = TempDir();
  {
    FileStorage s(dir);
    ASSERT_TRUE(s.Overwrite("mark", "0123456789").ok());
    ASSERT_TRUE(s.Overwrite("mark", "abc").ok());  // shorter: no stale tail
    EXPECT_EQ(*s.ReadOverwritten("mark"), "abc");
  }
  FileStorage again(dir);
  EXPECT_EQ(*again.ReadOverwritten("mark"), "abc");
  EXPECT_EQ(again.ReadOverwritten("never").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(again.Overwrite("../x", "y").code(), StatusCode::kInvalidArgument);
}

TEST(FileStorageTest, OverwrittenRecordFromAnotherMachineBootIsRefusedNamingIt) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/mark") << "00000000-0000-0000-0000-000000000000\nabc";
  FileStorage s(dir);
  auto r = s.ReadOverwritten("mark");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(dir + "/mark"), std::string::npos) << r.status().message();
  std::ofstream(dir + "/torn") << "";  // a power cut right after creation
  EXPECT_EQ(s.ReadOverwritten("torn").status().code(), StatusCode::kFailedPrecondition);
}

TEST(FileStorageTest, WriteAtomicAfterOverwriteIsNotLostToTheOpenDescriptor) {
  const std::string dir = TempDir();
  FileStorage s(dir);
  ASSERT_TRUE(s.Overwrite("r", "one").ok());
  ASSERT_TRUE(s.WriteAtomic("r", "two").ok());
  ASSERT_TRUE(s.Overwrite("r", "three").ok());
  EXPECT_EQ(*s.ReadOverwritten("r"), "three");
}

// A fleet of 10,000 simulated devices cannot hold a descriptor per device
// for its issued mark: kReopen holds none between calls, with the same
// content, shorter-write truncation and read-back as kKeepOpen.
TEST(FileStorageTest, ReopenModeHoldsNoDescriptorBetweenOverwrites) {
  const std::string dir = TempDir();
  const size_t before = fs::OpenDescriptorCount();
  {
    FileStorage keep(dir);
    ASSERT_TRUE(keep.Overwrite("kept", "x").ok());
    EXPECT_EQ(fs::OpenDescriptorCount(), before + 1) << "kKeepOpen keeps the record open";
  }
  FileStorage s(dir, FileStorage::RecordFds::kReopen);
  ASSERT_TRUE(s.Overwrite("mark", "0123456789").ok());
  EXPECT_EQ(fs::OpenDescriptorCount(), before);
  ASSERT_TRUE(s.Overwrite("mark", "abc").ok());  // shorter: no stale tail
  EXPECT_EQ(fs::OpenDescriptorCount(), before);
  EXPECT_EQ(*s.ReadOverwritten("mark"), "abc");
  ASSERT_TRUE(s.WriteAtomic("mark", "two").ok());
  ASSERT_TRUE(s.Overwrite("mark", "three").ok());
  EXPECT_EQ(*FileStorage(dir).ReadOverwritten("mark"), "three");
}

TEST(MemoryStorageTest, OverwriteIsExact) {
  MemoryStorage s;
  ASSERT_TRUE(s.Overwrite("m", "x").ok());
  EXPECT_EQ(*s.ReadOverwritten("m"), "x");
}

}  // namespace
}  // namespace edgeforge
