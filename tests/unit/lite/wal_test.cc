#include "lite/wal.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/record_log.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::lite {
namespace {

using ::testing::ElementsAre;

std::string Framed(std::string_view payload) {
  std::string out;
  record_log::AppendRecord(&out, payload);
  return out;
}

Result<std::vector<std::string>> ReadAll(const std::string& path, LogReadResult* result) {
  std::vector<std::string> seen;
  BTRQ_ASSIGN_OR_RETURN(*result, ReadLog(path, [&](std::string_view p) {
                          seen.emplace_back(p);
                          return Status::OK();
                        }));
  return seen;
}

TEST(Wal, ReaderStopsAtTheFirstBadRecord) {
  testing::TempDir dir;
  const std::string path = dir.File("x.log");
  {
    std::ofstream f(path, std::ios::binary);
    f << Framed("one") << Framed("two") << std::string("\x05\x00\x00", 3);
  }
  std::vector<std::string> seen;
  ASSERT_OK_AND_ASSIGN(LogReadResult r, ReadLog(path, [&](std::string_view p) {
                         seen.emplace_back(p);
                         return Status::OK();
                       }));
  EXPECT_THAT(seen, ElementsAre("one", "two"));
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(r.file_bytes - r.valid_bytes, 3u);
  EXPECT_EQ(r.end.kind, record_log::EndKind::kTornTail);
}

TEST(Wal, WrittenRecordsReadBackInOrder) {
  testing::TempDir dir;
  const std::string path = dir.File("w.log");
  {
    ASSERT_OK_AND_ASSIGN(auto w, LogWriter::Open(path));
    EXPECT_EQ(w->Append("a"), 1u);
    const uint64_t second = w->Append("bb");
    ASSERT_OK(w->Sync(second));
    w->Append("c");  // flushed by the destructor
    EXPECT_EQ(w->size_bytes(), 3 * record_log::kHeaderBytes + 4);
  }
  LogReadResult r;
  ASSERT_OK_AND_ASSIGN(auto seen, ReadAll(path, &r));
  EXPECT_THAT(seen, ElementsAre("a", "bb", "c"));
  EXPECT_EQ(r.valid_bytes, r.file_bytes);
  EXPECT_EQ(r.end.kind, record_log::EndKind::kClean);
}

TEST(Wal, TheFileHoldsLittleEndianFrames) {
  testing::TempDir dir;
  const std::string path = dir.File("w.log");
  {
    ASSERT_OK_AND_ASSIGN(auto w, LogWriter::Open(path));
    w->Append("123456789");
    ASSERT_OK(w->SyncAll());
  }
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(path));
  // Length 9, then CRC-32C("123456789") = 0xE3069283, low byte first.
  EXPECT_EQ(bytes, std::string("\x09\x00\x00\x00\x83\x92\x06\xE3", 8) + "123456789");
}

TEST(Wal, ReopenAppendsAfterTheExistingRecords) {
  testing::TempDir dir;
  const std::string path = dir.File("w.log");
  for (const char* payload : {"first", "second"}) {
    ASSERT_OK_AND_ASSIGN(auto w, LogWriter::Open(path));
    w->Append(payload);
    ASSERT_OK(w->SyncAll());
  }
  LogReadResult r;
  ASSERT_OK_AND_ASSIGN(auto seen, ReadAll(path, &r));
  EXPECT_THAT(seen, ElementsAre("first", "second"));
}

TEST(Wal, ConcurrentSyncsAllComplete) {
  testing::TempDir dir;
  const std::string path = dir.File("w.log");
  {
    ASSERT_OK_AND_ASSIGN(auto w, LogWriter::Open(path));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&w] {
        for (int i = 0; i < 25; ++i) EXPECT_OK(w->Sync(w->Append("x")));
      });
    }
    for (auto& t : threads) t.join();
  }
  LogReadResult r;
  ASSERT_OK_AND_ASSIGN(auto seen, ReadAll(path, &r));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Wal, AFullDiskIsResourceExhausted) {
  // /dev/full accepts the open and fails every write with ENOSPC.
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  ASSERT_OK_AND_ASSIGN(auto w, LogWriter::Open("/dev/full"));
  const Status s = w->Sync(w->Append("payload"));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  // The error sticks: later syncs report it too.
  EXPECT_EQ(w->Sync(w->Append("more")).code(), StatusCode::kResourceExhausted);
}

TEST(Wal, AMissingFileIsNotFound) {
  testing::TempDir dir;
  LogReadResult r;
  EXPECT_EQ(ReadAll(dir.File("absent.log"), &r).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace btrq::lite
