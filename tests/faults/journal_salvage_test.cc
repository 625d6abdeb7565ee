// A journal corrupted in the middle, with the real broker: it refuses to start (naming
// the file and offset, the file untouched), `btrq-broker --salvage-journal` keeps every
// valid record and says what it dropped, and the broker then starts with the jobs whose
// records survived. The case: one corrupt length field, which used to be cut as
// a torn tail (taking every later job with it).

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "broker/journal_records.h"
#include "common/record_log.h"
#include "tests/faults/cluster.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace btrq::faults {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The offset of the frame of `job`'s kJob record; 0 when there is none.
uint64_t JobRecordOffset(const std::string& log, JobId job) {
  record_log::Reader reader(log);
  std::string_view payload;
  for (uint64_t at = 0; reader.Next(&payload); at = reader.offset()) {
    Result<broker::JournalRecord> rec = broker::DecodeRecord(payload);
    if (rec.ok() && rec->type == broker::RecordType::kJob && rec->job == job) return at;
  }
  return 0;
}

TEST(JournalSalvage, ACorruptJournalIsRefusedThenSalvagedAndTheSurvivingJobsAreThere) {
  ClusterOptions options;
  options.workers = 0;  // the jobs stay in the journal, unfinished
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster, Cluster::Start(options));
  const GenerateSpec spec;
  ASSERT_OK(cluster->Generate(spec).status());
  const std::vector<std::string> job_args = {"--collection", spec.collection, "--prefix",
                                             "--chunk",      spec.chunk,      "--analytic",
                                             "stats"};
  for (JobId expected : {JobId{1}, JobId{2}, JobId{3}}) {
    ASSERT_OK_AND_ASSIGN(JobId id, cluster->Submit(job_args));
    ASSERT_EQ(id, expected);
  }
  ASSERT_OK(cluster->Kill(Role::kBroker));  // every job was acknowledged: it is durable

  const std::string journal = cluster->dir() + "/broker/journal.log";
  std::string log = ReadAll(journal);
  const uint64_t at = JobRecordOffset(log, 2);
  ASSERT_GT(at, 0u);
  log[at + 3] = '\x7f';  // job 2's length now points far past the end
  std::ofstream(journal, std::ios::binary | std::ios::trunc) << log;

  const Status refused = cluster->Restart(Role::kBroker);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("journal " + journal + ": corrupt record at offset " +
                                           std::to_string(at)));
  EXPECT_THAT(refused.message(), HasSubstr("--salvage-journal"));
  EXPECT_EQ(ReadAll(journal), log);  // untouched

  ASSERT_OK_AND_ASSIGN(auto salvage,
                       testing::Subprocess::Spawn({BTRQ_BROKER_BINARY, "--config",
                                                   cluster->dir() + "/config.yaml",
                                                   "--salvage-journal"}));
  ASSERT_OK_AND_ASSIGN(int code, salvage->Wait(std::chrono::seconds(30)));
  ASSERT_OK(salvage->WaitForLine("^kept ", std::chrono::seconds(5)).status());
  EXPECT_EQ(code, 0) << salvage->Stderr();
  EXPECT_THAT(salvage->Stdout(), HasSubstr("offset " + std::to_string(at) + ": "));
  std::error_code ec;
  bool backup_found = false;
  for (const auto& e : std::filesystem::directory_iterator(cluster->dir() + "/broker", ec)) {
    if (e.path().filename().string().rfind("journal.log.bak-", 0) == 0) {
      backup_found = true;
      EXPECT_EQ(ReadAll(e.path().string()), log);
    }
  }
  EXPECT_TRUE(backup_found);

  ASSERT_OK(cluster->Restart(Role::kBroker));
  for (JobId kept : {JobId{1}, JobId{3}}) {
    ASSERT_OK_AND_ASSIGN(testing::Json job, cluster->Job(kept));
    EXPECT_EQ(job["state"].AsString() == "failed", false) << kept;
  }
  ASSERT_OK_AND_ASSIGN(CliRun gone, cluster->Cli({"status", "2", "--json"}));
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_OK(cluster->Stop());
}

}  // namespace
}  // namespace btrq::faults
