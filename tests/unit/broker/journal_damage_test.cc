// The journal against damage: what Open cuts (a true torn tail only), what it refuses
// (corruption with valid records after it, the file left untouched), what
// --salvage-journal keeps and reports, and the journal files' permissions.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "broker/journal.h"
#include "broker/journal_records.h"
#include "broker/journal_salvage.h"
#include "common/record_log.h"
#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::StatusIs;
using ::testing::HasSubstr;

class JournalDamageTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Journal>> Open() {
    JournalOptions o;
    o.dir = dir_.path();
    return Journal::Open(o, &clock_, &env_);
  }
  // Writes a journal of `payloads`; returns the offset of each record's frame.
  std::vector<uint64_t> Write(const std::vector<std::string>& payloads) {
    std::vector<uint64_t> offsets;
    auto j = Open();
    EXPECT_OK(j.status());
    for (const std::string& p : payloads) {
      EXPECT_OK((*j)->Sync());
      offsets.push_back((*j)->file_bytes());
      (*j)->Append(p);
    }
    EXPECT_OK((*j)->Sync());
    return offsets;
  }
  std::vector<std::string> Recovered(const Journal& j) { return RecoveredPayloads(j); }
  std::string LogPath() const { return dir_.path() + "/journal.log"; }
  std::string Contents() const {
    std::ifstream f(LogPath(), std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  void Overwrite(uint64_t offset, std::string_view bytes) {
    std::fstream f(LogPath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  void AppendBytes(std::string_view bytes) {
    std::ofstream f(LogPath(), std::ios::binary | std::ios::app);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  mode_t Mode(const std::string& path) const {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }

  TempDir dir_;
  FakeClock clock_;
  FaultEnv env_;
};

// The issue: one corrupt length field in the middle was read as a torn tail and the
// journal cut to 228 bytes. Now Open refuses, names the file and offset, and writes
// nothing.
TEST_F(JournalDamageTest, ACorruptLengthInTheMiddleRefusesToOpenAndLeavesTheFile) {
  const std::vector<uint64_t> at = Write({"one", "two", "three", "four"});
  Overwrite(at[1] + 3, "\x7f");  // "two"'s length now points far past the end
  const std::string before = Contents();
  Result<std::unique_ptr<Journal>> j = Open();
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(),
              HasSubstr("journal " + LogPath() + ": corrupt record at offset " +
                        std::to_string(at[1]) + " (2 valid records follow)"));
  EXPECT_THAT(j.status().message(), HasSubstr("btrq-broker --salvage-journal"));
  EXPECT_EQ(Contents(), before);
}

TEST_F(JournalDamageTest, ABadChecksumInTheMiddleRefusesToOpen) {
  const std::vector<uint64_t> at = Write({"one", "two", "three"});
  Overwrite(at[0] + 9, "X");
  const std::string before = Contents();
  Result<std::unique_ptr<Journal>> j = Open();
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(), HasSubstr("corrupt record at offset " + std::to_string(at[0]) +
                                              " (2 valid records follow)"));
  EXPECT_EQ(Contents(), before);
}

// The issue: a zero-filled tail (a power loss) stopped the broker ("unknown record type
// 0"). It is a torn tail: cut, and the records before it kept.
TEST_F(JournalDamageTest, AZeroFilledTailIsATornTail) {
  Write({"one", "two"});
  const uint64_t size = std::filesystem::file_size(LogPath());
  AppendBytes(std::string(4096, '\0'));
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(j->recovery().truncated_bytes, 4096u);
  EXPECT_EQ(std::filesystem::file_size(LogPath()), size);
}

TEST_F(JournalDamageTest, AHalfWrittenLastRecordIsATornTail) {
  Write({"one", "two"});
  std::string frame;
  record_log::AppendRecord(&frame, "three");
  AppendBytes(frame.substr(0, frame.size() - 2));
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(j->recovery().truncated_bytes, frame.size() - 2);
}

// A record that frames but does not decode stops the replay with where it is.
TEST_F(JournalDamageTest, AReplayErrorNamesTheFileAndOffset) {
  const std::vector<uint64_t> at = Write({"one", "two"});
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  const Status s = j->ForEachRecovered([](std::string_view p) {
    return p == "two" ? Status::InvalidMessage("bad record") : Status::OK();
  });
  EXPECT_THAT(s.message(), HasSubstr("journal " + LogPath() + ": record at offset " +
                                     std::to_string(at[1])));
  EXPECT_THAT(s.message(), HasSubstr("bad record"));
  EXPECT_THAT(s.message(), HasSubstr("--salvage-journal"));
}

TEST_F(JournalDamageTest, SalvageKeepsEveryValidRecordAndReportsWhatItDropped) {
  std::vector<std::string> payloads;
  std::string job;
  EncodeCancel(&job, 1, 5);
  for (int i = 0; i < 6; ++i) payloads.push_back(job);
  std::string undecodable = "\xff not a record";
  payloads.push_back(undecodable);
  payloads.push_back(job);
  const std::vector<uint64_t> at = Write(payloads);
  Overwrite(at[2] + 3, "\x7f");  // record 2's frame is lost
  AppendBytes(std::string(100, '\0'));
  const std::string original = Contents();
  ASSERT_FALSE(Open().ok());

  ASSERT_OK_AND_ASSIGN(SalvageReport r,
                       SalvageJournal(dir_.path(), DecodeRecordValidator(), 1234, &env_));
  EXPECT_EQ(r.kept_records, 6u);  // 0, 1, 3, 4, 5, 7
  ASSERT_EQ(r.drops.size(), 3u);
  EXPECT_EQ(r.drops[0].offset, at[2]);
  EXPECT_EQ(r.drops[0].bytes, at[3] - at[2]);
  EXPECT_EQ(r.drops[0].records, 0u);  // framing lost: not countable
  EXPECT_EQ(r.drops[1].offset, at[6]);
  EXPECT_EQ(r.drops[1].records, 1u);
  EXPECT_THAT(r.drops[1].reason, HasSubstr("does not decode"));
  EXPECT_EQ(r.drops[2].bytes, 100u);  // the zero-filled tail
  EXPECT_EQ(r.backup_path, LogPath() + ".bak-1234");

  std::ifstream backup(r.backup_path, std::ios::binary);
  std::stringstream b;
  b << backup.rdbuf();
  EXPECT_EQ(b.str(), original);
  EXPECT_EQ(Mode(r.backup_path), 0600u);
  EXPECT_EQ(Mode(LogPath()), 0600u);

  const std::string text = FormatSalvageReport(r);
  EXPECT_THAT(text, HasSubstr("kept 6 records"));
  EXPECT_THAT(text, HasSubstr("offset " + std::to_string(at[2])));

  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), std::vector<std::string>(6, job));
}

TEST_F(JournalDamageTest, SalvageOfAnIntactJournalChangesNothing) {
  std::string job;
  EncodeCancel(&job, 1, 5);
  Write({job, job});
  const std::string before = Contents();
  ASSERT_OK_AND_ASSIGN(SalvageReport r,
                       SalvageJournal(dir_.path(), DecodeRecordValidator(), 1, &env_));
  EXPECT_EQ(r.kept_records, 2u);
  EXPECT_TRUE(r.drops.empty());
  EXPECT_TRUE(r.backup_path.empty());
  EXPECT_EQ(Contents(), before);
  EXPECT_THAT(FormatSalvageReport(r), HasSubstr("nothing to salvage"));
}

TEST_F(JournalDamageTest, SalvageWithALostHeaderWritesAFreshOne) {
  std::string job;
  EncodeCancel(&job, 1, 5);
  Write({job, job});
  Overwrite(9, "X");  // inside the header's payload
  ASSERT_FALSE(Open().ok());
  ASSERT_OK_AND_ASSIGN(SalvageReport r,
                       SalvageJournal(dir_.path(), DecodeRecordValidator(), 1, &env_));
  EXPECT_EQ(r.kept_records, 2u);
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{job, job}));
}

TEST_F(JournalDamageTest, SalvageRefusesAFileThatIsNotAJournal) {
  std::string frame;
  record_log::AppendRecord(&frame, "some other format");
  std::ofstream(LogPath(), std::ios::binary) << frame;
  EXPECT_THAT(SalvageJournal(dir_.path(), DecodeRecordValidator(), 1, &env_).status(),
              StatusIs(StatusCode::kInvalidArgument));
}

// The journal holds job params: owner-only, whether created now or found wider.
TEST_F(JournalDamageTest, TheJournalIsOwnerOnly) {
  Write({"one"});
  EXPECT_EQ(Mode(LogPath()), 0600u);
  ASSERT_EQ(::chmod(LogPath().c_str(), 0644), 0);
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Mode(LogPath()), 0600u);
  ASSERT_OK(j->Rewrite({"snapshot"}));
  EXPECT_EQ(Mode(LogPath()), 0600u);
}

// Two writers on one journal interleave their appends: a second broker on the same data
// directory (or a salvage under a running broker) is refused while the first holds it.
TEST_F(JournalDamageTest, OneJournalPerDirectory) {
  ASSERT_OK_AND_ASSIGN(auto first, Open());
  EXPECT_THAT(Open().status(), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(SalvageJournal(dir_.path(), DecodeRecordValidator(), 1, &env_).status(),
              StatusIs(StatusCode::kFailedPrecondition));
  first.reset();
  EXPECT_OK(Open().status());
}

}  // namespace
}  // namespace btrq::broker
