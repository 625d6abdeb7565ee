#include "common/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ReadFileToString, ReadsEveryByte) {
  testing::TempDir dir;
  std::string data(200000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Write(dir.File("f"), data);
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(dir.File("f")));
  EXPECT_EQ(read, data);
  Write(dir.File("empty"), "");
  ASSERT_OK_AND_ASSIGN(read, ReadFileToString(dir.File("empty")));
  EXPECT_EQ(read, "");
}

TEST(ReadFileToString, MissingIsNotFoundAndNamesThePath) {
  testing::TempDir dir;
  const Result<std::string> r = ReadFileToString(dir.File("missing"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(dir.File("missing")), std::string::npos);
  EXPECT_EQ(ReadFileToString(dir.path() + "/no/such/dir/f").status().code(),
            StatusCode::kNotFound);
}

TEST(ReadFileToString, LargerThanTheLimitIsOutOfRange) {
  testing::TempDir dir;
  Write(dir.File("f"), std::string(100, 'x'));
  EXPECT_EQ(ReadFileToString(dir.File("f"), 99).status().code(), StatusCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(dir.File("f"), 100));
  EXPECT_EQ(read.size(), 100u);
}

TEST(WriteFileAtomically, CreatesAndReplaces) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  ASSERT_OK(WriteFileAtomically(path, "one"));
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(path));
  EXPECT_EQ(read, "one");
  ASSERT_OK(WriteFileAtomically(path, "two, longer"));
  ASSERT_OK_AND_ASSIGN(read, ReadFileToString(path));
  EXPECT_EQ(read, "two, longer");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(WriteFileAtomically, AppliesTheMode) {
  testing::TempDir dir;
  const std::string path = dir.File("secret");
  ASSERT_OK(WriteFileAtomically(path, "s", 0600));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFileWriter, TheOldFileStaysUntilCommit) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  Write(path, "old");
  {
    ASSERT_OK_AND_ASSIGN(auto writer, AtomicFileWriter::Create(path));
    ASSERT_OK(writer->Append("new "));
    ASSERT_OK(writer->Append("content"));
    ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(path));
    EXPECT_EQ(read, "old");
    ASSERT_OK(writer->Commit());
  }
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(path));
  EXPECT_EQ(read, "new content");
}

TEST(AtomicFileWriter, AbandonedWriteLeavesTheOldFileAndNoTemp) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  Write(path, "old");
  {
    ASSERT_OK_AND_ASSIGN(auto writer, AtomicFileWriter::Create(path));
    ASSERT_OK(writer->Append("half of the new"));
    // Destroyed without Commit: a failure in the middle of writing.
  }
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(path));
  EXPECT_EQ(read, "old");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(AtomicFileWriter, AFailedWriteLeavesTheOldFile) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  Write(path, "old");
  // The rename cannot replace a directory: the commit fails after the temp file is written.
  const std::string blocked = dir.File("blocked");
  std::filesystem::create_directories(blocked + "/inside");
  EXPECT_FALSE(WriteFileAtomically(blocked, "new").ok());
  EXPECT_TRUE(std::filesystem::is_directory(blocked + "/inside"));
  EXPECT_FALSE(std::filesystem::exists(blocked + ".tmp"));
  // A full disk fails the write itself (where /dev/full exists, via a symlinked temp).
  if (::access("/dev/full", W_OK) == 0) {
    std::filesystem::create_symlink("/dev/full", path + ".tmp");
    const Status s = WriteFileAtomically(path, std::string(1 << 16, 'x'));
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  }
  ASSERT_OK_AND_ASSIGN(std::string read, ReadFileToString(path));
  EXPECT_EQ(read, "old");
}

TEST(AtomicFileWriter, MissingDirectoryFailsAtCreate) {
  testing::TempDir dir;
  EXPECT_EQ(AtomicFileWriter::Create(dir.path() + "/no/such/f").status().code(),
            StatusCode::kNotFound);
}

TEST(SyncDir, SyncsADirectoryAndRefusesAMissingOne) {
  testing::TempDir dir;
  EXPECT_OK(SyncDir(dir.path()));
  EXPECT_EQ(SyncDir(dir.File("missing")).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace btrq
