// `btrq results` against the real sink gRPC service over a real result store: several
// pages, both formats, the bearer token.

#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

// Ours before gRPC's (see sink/sink_service.h).
#include "results/export.h"
#include "sink/result_store.h"
#include "sink/sink_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/config.h"
#include "submitter/cli.h"
#include "submitter/commands.h"
#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::submitter {
namespace {

using ::testing::HasSubstr;

constexpr int kResults = 1200;  // more than one page of the service (512)

class ResultsFromSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink::ResultStoreOptions store_options;
    store_options.path = dir_.File("results.db");
    ASSERT_OK_AND_ASSIGN(store_, sink::ResultStore::Open(store_options, &clock_));
    std::vector<TaskResult> batch;
    for (int i = 0; i < kResults; ++i) {
      TaskResult r;
      r.task.key.job = 7;
      r.task.key.stream = Uuid::Random();
      r.task.key.start = int64_t{1'704'067'200'000'000'000} + i;
      r.task.attempt = 1;
      r.end = r.task.key.start + 1000;
      r.version = 3;
      r.worker_id = "w1";
      r.fields = {{"count", int64_t{i}}, {"score", 1.0 / (i + 1)}, {"label", std::string("a,b")}};
      batch.push_back(r);
    }
    ASSERT_OK(store_->PutBatch(batch).status());

    sink::SinkServiceOptions service_options;
    service_options.token = "s3cret";
    service_ = std::make_unique<sink::SinkServiceImpl>(service_options, store_.get(), nullptr);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  int Run(std::vector<std::string> args, const std::string& token, std::string* err) {
    args.insert(args.begin(), "btrq");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, errs;
    const int code = RunCli(static_cast<int>(argv.size()), argv.data(), out, errs,
                            Env::FromMap({{"BTRQ_SINK", address_}, {"BTRQ_CONTROL_TOKEN", token}}));
    *err = errs.str();
    return code;
  }

  // Every result of job 7, as the store pages them.
  std::vector<results::StoredResult> AllResults() {
    std::vector<results::StoredResult> all;
    std::optional<TaskKey> after;
    for (;;) {
      auto page = store_->ReadPage(7, /*nonce=*/0, after, 500);
      EXPECT_TRUE(page.ok());
      if (!page.ok() || page->empty()) break;
      all.insert(all.end(), page->begin(), page->end());
      after = page->back().result.task.key;
    }
    return all;
  }

  static std::string ReadFile(const std::string& path) {
    return ReadFileToString(path).value_or("");
  }

  btrq::testing::TempDir dir_;
  btrq::testing::FakeClock clock_;
  std::unique_ptr<sink::ResultStore> store_;
  std::unique_ptr<sink::SinkServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(ResultsFromSinkTest, JsonLinesOfEveryPageInKeyOrder) {
  const std::string out = dir_.File("r.jsonl");
  std::string err;
  // The stored results are a legacy job's (nonce 0); there is no broker here to ask.
  ASSERT_EQ(Run({"results", "7", "--nonce", "0", "--out", out}, "s3cret", &err), 0) << err;
  std::string want;
  for (const auto& r : AllResults()) results::AppendJsonLine(r, &want);
  EXPECT_EQ(AllResults().size(), static_cast<size_t>(kResults));
  EXPECT_EQ(ReadFile(out), want);
  EXPECT_EQ(err, "wrote 1200 results of job 7 to " + out + "\n");
}

TEST_F(ResultsFromSinkTest, CsvWithLimit) {
  const std::string out = dir_.File("r.csv");
  std::string err;
  ASSERT_EQ(Run({"results", "7", "--nonce", "0", "--format", "csv", "--limit", "600", "--out",
                 out},
                "s3cret", &err),
            0)
      << err;
  std::vector<results::StoredResult> all = AllResults();
  all.resize(600);
  results::CsvWriter csv(all);
  std::string want;
  csv.AppendHeader(&want);
  for (const auto& r : all) csv.AppendRow(r, &want);
  EXPECT_EQ(ReadFile(out), want);
}

TEST_F(ResultsFromSinkTest, AWrongTokenIsRefusedClearly) {
  std::string err;
  EXPECT_EQ(Run({"results", "7", "--nonce", "0"}, "wrong", &err), kExitError);
  EXPECT_EQ(err, "btrq: results of job 7: the sink at " + address_ +
                     " refused the request: bad bearer token (set control.token or "
                     "BTRQ_CONTROL_TOKEN)\n");
}

}  // namespace
}  // namespace btrq::submitter
