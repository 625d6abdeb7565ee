// Job identity across a recovery that forgets (issue #14, section 4): the broker loses
// its journal after job A finished, so it hands A's id out again to a new job B over the
// same streams. B must end with its own results, never A's (the review's "new job 12
// returned the old job 12's results"), and A's results must stay in the sink under A's
// incarnation (nonce).

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/faults/cluster.h"
#include "tests/faults/fault_fixture.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

// `btrq results JOB ARGS...` as parsed JSON lines.
Result<std::vector<testing::Json>> Results(Cluster& cluster, JobId job,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> cli = {"results", std::to_string(job)};
  cli.insert(cli.end(), args.begin(), args.end());
  BTRQ_ASSIGN_OR_RETURN(CliRun run, cluster.Cli(cli));
  if (run.exit_code != 0) return Status::Internal("btrq results failed: " + run.err);
  std::vector<testing::Json> rows;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    BTRQ_ASSIGN_OR_RETURN(testing::Json row, testing::Json::Parse(line));
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST(JobIdentity, AJobIdHandedOutAgainAfterTheJournalIsLostGetsOnlyItsOwnResults) {
  ClusterOptions options;
  options.workers = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster, Cluster::Start(options));
  GenerateSpec spec;
  spec.streams = 3;
  spec.duration = "2h";  // 3 streams x 8 chunks
  ASSERT_OK(cluster->Generate(spec).status());
  const auto job_args = [&spec](const char* analytic) {
    return std::vector<std::string>{"--collection", spec.collection, "--prefix", "--chunk",
                                    spec.chunk,     "--analytic",    analytic};
  };

  // Job A: `count` (a single field per result).
  ASSERT_OK_AND_ASSIGN(JobId a, cluster->Submit(job_args("count")));
  ASSERT_OK_AND_ASSIGN(testing::Json a_end, cluster->WaitForJobEnd(a, Millis(60'000)));
  ASSERT_EQ(a_end["state"].AsString(), "done") << cluster->LogTail();
  const int64_t tasks = Count(a_end, "total");
  ASSERT_GT(tasks, 0);
  const std::string a_nonce = a_end["nonce"].AsString();
  ASSERT_OK_AND_ASSIGN(std::vector<testing::Json> a_rows, Results(*cluster, a, {}));
  ASSERT_EQ(static_cast<int64_t>(a_rows.size()), tasks);

  // The broker forgets everything: its journal is gone (deleted by hand, or a salvage
  // that dropped A's records). Its next job gets A's id again.
  ASSERT_OK(cluster->Kill(Role::kBroker));
  ASSERT_TRUE(std::filesystem::remove(cluster->dir() + "/broker/journal.log"));
  ASSERT_OK(cluster->Restart(Role::kBroker));

  // Job B: `stats` over the same streams and chunks, so the same (job, stream, start).
  ASSERT_OK_AND_ASSIGN(JobId b, cluster->Submit(job_args("stats")));
  ASSERT_EQ(b, a) << "the scenario needs the id handed out again";
  ASSERT_OK_AND_ASSIGN(testing::Json b_end, cluster->WaitForJobEnd(b, Millis(60'000)));
  EXPECT_EQ(b_end["state"].AsString(), "done") << cluster->LogTail();
  EXPECT_EQ(Count(b_end, "done"), tasks);
  EXPECT_NE(b_end["nonce"].AsString(), a_nonce);

  // `btrq results` of the id answers with B's results, every one of them B's own.
  ASSERT_OK_AND_ASSIGN(std::vector<testing::Json> b_rows, Results(*cluster, b, {}));
  EXPECT_EQ(static_cast<int64_t>(b_rows.size()), tasks);
  for (const testing::Json& row : b_rows) {
    EXPECT_TRUE(row.Has("windows")) << "a result of job A under job B's id";
  }

  // A's results are still in the sink, under A's nonce, as they were.
  ASSERT_OK_AND_ASSIGN(std::vector<testing::Json> a_again,
                       Results(*cluster, a, {"--nonce", a_nonce}));
  ASSERT_EQ(a_again.size(), a_rows.size());
  for (size_t i = 0; i < a_rows.size(); ++i) {
    EXPECT_FALSE(a_again[i].Has("windows"));
    EXPECT_EQ(a_again[i]["stream"].AsString(), a_rows[i]["stream"].AsString());
    EXPECT_EQ(a_again[i]["count"].AsNumber(), a_rows[i]["count"].AsNumber());
    EXPECT_EQ(a_again[i]["worker"].AsString(), a_rows[i]["worker"].AsString());
  }
  EXPECT_OK(cluster->Stop());
}

}  // namespace
}  // namespace btrq::faults
