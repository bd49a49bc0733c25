#include "hal/linux/shared_log_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "hal/linux/fs.h"

namespace edgeforge {
namespace {

std::string TempDir() {
  std::string t = testing::TempDir() + "logstoreXXXXXX";
  return mkdtemp(t.data());
}

std::unique_ptr<SharedLogStore> MustOpen(const std::string& path, StoreOptions options = {}) {
  auto store = SharedLogStore::Open(path, std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<AppendLog> MustTenant(SharedLogStore& store, const std::string& name) {
  auto t = store.OpenTenant(name);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

std::string ReadAll(AppendLog& log) {
  auto r = log.ReadAll();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "<error>";
}

void Truncate(const std::string& path, uint64_t size) { ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0); }

TEST(SharedLogStoreTest, TenantsAreIsolatedAndRoundTrip) {
  auto store = MustOpen(TempDir());
  ASSERT_NE(store, nullptr);
  auto a = MustTenant(*store, "dev-a");
  auto b = MustTenant(*store, "dev-b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->name(), store->path() + "#dev-a");
  ASSERT_TRUE(a->Append("a1").ok());
  ASSERT_TRUE(b->Append("b1-long").ok());
  ASSERT_TRUE(a->Append("a2").ok());
  EXPECT_EQ(ReadAll(*a), "a1a2");
  EXPECT_EQ(ReadAll(*b), "b1-long");
  EXPECT_EQ(a->Size(), 4u);
  EXPECT_EQ(b->Size(), 7u);

  ASSERT_TRUE(a->Replace("fresh").ok());
  EXPECT_EQ(ReadAll(*a), "fresh");
  EXPECT_EQ(ReadAll(*b), "b1-long");
  ASSERT_TRUE(a->Append("+x").ok());
  EXPECT_EQ(ReadAll(*a), "fresh+x");

  EXPECT_EQ(a->ReadRecord("floor").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(a->ReplaceRecord("floor", "f1").ok());
  ASSERT_TRUE(a->ReplaceRecord("floor", "f2").ok());
  auto rec = a->ReadRecord("floor");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(*rec, "f2");
  EXPECT_EQ(b->ReadRecord("floor").status().code(), StatusCode::kNotFound);

  auto side = a->WriteSideFile("quarantine", "bad");
  ASSERT_TRUE(side.ok()) << side.status().ToString();
  EXPECT_NE(side->find("/dev-a-quarantine-1.bin"), std::string::npos) << *side;
  auto side_content = fs::ReadFileToString(*side);
  ASSERT_TRUE(side_content.ok());
  EXPECT_EQ(*side_content, "bad");
}

TEST(SharedLogStoreTest, BadNamesAndDoubleOpenAreRefused) {
  auto store = MustOpen(TempDir());
  ASSERT_NE(store, nullptr);
  auto bad = store->OpenTenant("a/b");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'a/b'"), std::string::npos) << bad.status().message();
  EXPECT_EQ(store->OpenTenant("").status().code(), StatusCode::kInvalidArgument);
  auto t = MustTenant(*store, "dev");
  EXPECT_EQ(store->OpenTenant("dev").status().code(), StatusCode::kFailedPrecondition);
  t.reset();
  EXPECT_TRUE(store->OpenTenant("dev").ok());
}

TEST(SharedLogStoreTest, ReopenRecoversEveryTenantExactly) {
  const std::string dir = TempDir();
  {
    auto store = MustOpen(dir);
    ASSERT_NE(store, nullptr);
    std::vector<std::unique_ptr<AppendLog>> logs;
    for (int i = 0; i < 20; ++i) logs.push_back(MustTenant(*store, "dev" + std::to_string(i)));
    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(logs[static_cast<size_t>(i)]->Append("r" + std::to_string(round) + "d" + std::to_string(i) + ";").ok());
    }
    ASSERT_TRUE(logs[3]->Replace("replaced;").ok());
    ASSERT_TRUE(logs[3]->Append("after;").ok());
    ASSERT_TRUE(logs[4]->ReplaceRecord("floor", "seq 7").ok());
    ASSERT_TRUE(store->SyncAll().ok());
  }
  auto store = MustOpen(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().torn_tail_bytes, 0u);
  EXPECT_EQ(store->stats().corrupt_regions, 0u);
  for (int i = 0; i < 20; ++i) {
    auto log = MustTenant(*store, "dev" + std::to_string(i));
    std::string want;
    if (i == 3) {
      want = "replaced;after;";
    } else {
      for (int round = 0; round < 5; ++round) want += "r" + std::to_string(round) + "d" + std::to_string(i) + ";";
    }
    EXPECT_EQ(ReadAll(*log), want) << i;
    EXPECT_EQ(log->Size(), want.size()) << i;
  }
  auto record = MustTenant(*store, "dev4")->ReadRecord("floor");
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(*record, "seq 7");
  auto unknown = MustTenant(*store, "dev40");
  EXPECT_EQ(ReadAll(*unknown), "");
}

TEST(SharedLogStoreTest, TornTailIsCutCountedAndLogged) {
  const std::string dir = TempDir();
  uint64_t good_end = 0;
  {
    auto store = MustOpen(dir);
    auto a = MustTenant(*store, "a");
    ASSERT_TRUE(a->Append("one").ok());
    good_end = store->stats().file_bytes;
    ASSERT_TRUE(a->Append("two-two-two").ok());
  }
  Truncate(dir + "/store.log", good_end + 7);  // the second frame torn
  std::vector<std::string> logged;
  StoreOptions options;
  options.log = [&](const std::string& m) { logged.push_back(m); };
  auto store = MustOpen(dir, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().torn_tail_bytes, 7u);
  EXPECT_EQ(store->stats().file_bytes, good_end);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("torn tail of 7 bytes"), std::string::npos) << logged[0];
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/store.log").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), good_end);
  auto a = MustTenant(*store, "a");
  EXPECT_EQ(ReadAll(*a), "one");
  ASSERT_TRUE(a->Append("three").ok());  // appends continue on a whole frame boundary
  EXPECT_EQ(ReadAll(*a), "onethree");
}

TEST(SharedLogStoreTest, CorruptMiddleFrameIsSkippedCountedAndQuarantined) {
  const std::string dir = TempDir();
  uint64_t second_at = 0;
  {
    auto store = MustOpen(dir);
    auto a = MustTenant(*store, "a");
    auto b = MustTenant(*store, "b");
    ASSERT_TRUE(a->Append("a-one").ok());
    second_at = store->stats().file_bytes;
    ASSERT_TRUE(b->Append("b-one").ok());
    ASSERT_TRUE(a->Append("a-two").ok());
  }
  // Flip one body byte of b's frame: its CRC fails, a's frames around it stay.
  const std::string path = dir + "/store.log";
  auto image = fs::ReadFileToString(path);
  ASSERT_TRUE(image.ok());
  (*image)[static_cast<size_t>(second_at) + 21] ^= 0x40;
  ASSERT_TRUE(fs::WriteFileAtomically(path, *image, 0600).ok());

  std::vector<std::string> logged;
  StoreOptions options;
  options.log = [&](const std::string& m) { logged.push_back(m); };
  auto store = MustOpen(dir, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().corrupt_regions, 1u);
  EXPECT_EQ(store->stats().corrupt_bytes, 20u + 1u + 5u);
  EXPECT_EQ(store->stats().frames_recovered, 2u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("corrupt bytes at offset " + std::to_string(second_at)), std::string::npos) << logged[0];
  auto quarantined = fs::ReadFileToString(path + ".corrupt-" + std::to_string(second_at) + ".bin");
  ASSERT_TRUE(quarantined.ok());
  EXPECT_EQ(quarantined->size(), 26u);
  auto a = MustTenant(*store, "a");
  auto b = MustTenant(*store, "b");
  EXPECT_EQ(ReadAll(*a), "a-onea-two");
  EXPECT_EQ(ReadAll(*b), "");
}

TEST(SharedLogStoreTest, CompactionKeepsContentAndShrinksTheFile) {
  const std::string dir = TempDir();
  StoreOptions options;
  options.compact_min_dead_bytes = 1024;
  {
    auto store = MustOpen(dir, options);
    auto a = MustTenant(*store, "a");
    auto b = MustTenant(*store, "b");
    const std::string chunk(100, 'x');
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(a->Append(chunk).ok());
    ASSERT_TRUE(b->Append("keep-b").ok());
    ASSERT_TRUE(b->ReplaceRecord("floor", "fl").ok());
    ASSERT_TRUE(a->Replace("small").ok());  // 50 frames dead now
    ASSERT_TRUE(a->Append("+1").ok());
    const uint64_t before = store->stats().file_bytes;
    ASSERT_TRUE(store->SyncAll().ok());  // dead > live and > 1 KiB: compacts
    const StoreStats s = store->stats();
    EXPECT_EQ(s.compactions, 1u);
    EXPECT_LT(s.file_bytes, before / 10);
    EXPECT_EQ(s.file_bytes, s.live_bytes);
    EXPECT_EQ(ReadAll(*a), "small+1");
    ASSERT_TRUE(a->Append("+2").ok());  // appends go to the new file
    EXPECT_EQ(ReadAll(*a), "small+1+2");
    EXPECT_EQ(ReadAll(*b), "keep-b");
  }
  auto store = MustOpen(dir, options);
  auto a = MustTenant(*store, "a");
  auto b = MustTenant(*store, "b");
  EXPECT_EQ(ReadAll(*a), "small+1+2");
  EXPECT_EQ(ReadAll(*b), "keep-b");
  auto rec = b->ReadRecord("floor");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(*rec, "fl");
  EXPECT_EQ(store->stats().corrupt_regions + store->stats().torn_tail_bytes, 0u);
}

TEST(SharedLogStoreTest, SyncAllMakesManyTenantsDurableWithOneFdatasync) {
  auto store = MustOpen(TempDir());
  std::vector<std::unique_ptr<AppendLog>> logs;
  for (int i = 0; i < 100; ++i) logs.push_back(MustTenant(*store, "d" + std::to_string(i)));
  for (auto& log : logs) ASSERT_TRUE(log->Append("msg").ok());
  const uint64_t before = store->stats().fdatasyncs;
  ASSERT_TRUE(store->SyncAll().ok());
  EXPECT_EQ(store->stats().fdatasyncs, before + 1);
  // Every tenant's own Sync is free now: nothing newer than the store sync.
  for (auto& log : logs) ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(store->stats().fdatasyncs, before + 1);
  // Nothing appended: SyncAll does not sync again.
  ASSERT_TRUE(store->SyncAll().ok());
  EXPECT_EQ(store->stats().fdatasyncs, before + 1);
  // One tenant appends: its Sync costs one, which also covers the others.
  ASSERT_TRUE(logs[5]->Append("more").ok());
  ASSERT_TRUE(logs[6]->Append("more").ok());
  ASSERT_TRUE(logs[5]->Sync().ok());
  ASSERT_TRUE(logs[6]->Sync().ok());
  EXPECT_EQ(store->stats().fdatasyncs, before + 2);
}

TEST(SharedLogStoreTest, SecondOpenerIsRefusedWithTheLockPath) {
  const std::string dir = TempDir();
  auto first = MustOpen(dir);
  ASSERT_NE(first, nullptr);
  auto second = SharedLogStore::Open(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(dir + "/store.log.lock"), std::string::npos) << second.status().message();
  first.reset();
  EXPECT_TRUE(SharedLogStore::Open(dir).ok());
}

TEST(SharedLogStoreTest, FilePathFormCreatesItsDirectory) {
  const std::string path = TempDir() + "/w1/fleet.log";
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->path(), path);
  auto t = MustTenant(*store, "x");
  ASSERT_TRUE(t->Append("1").ok());
  EXPECT_TRUE(fs::IsRegularFile(path));
}

TEST(SharedLogStoreScanTest, GarbageNeverCrashesAndValidEndIsAFrameBoundary) {
  EXPECT_EQ(ScanStoreImage("").valid_end, 0u);
  EXPECT_EQ(ScanStoreImage("EFS1EFS1EFS1").frames.size(), 0u);
  const StoreScan s = ScanStoreImage(std::string(64, '\0'));
  EXPECT_EQ(s.valid_end, 0u);
  EXPECT_TRUE(s.corrupt.empty());
}

}  // namespace
}  // namespace edgeforge
