// SinkServiceImpl called directly (no server): the bearer token, the request checks and
// the statistics, over a real store in a temporary directory.

#include "sink/sink_service.h"

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::sink {
namespace {

class SinkServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResultStoreOptions options;
    options.path = dir_.File("results.db");
    ASSERT_OK_AND_ASSIGN(store_, ResultStore::Open(options, SystemClock::Default()));
  }

  std::unique_ptr<SinkServiceImpl> Service(std::string token) {
    SinkServiceOptions options;
    options.token = std::move(token);
    return std::make_unique<SinkServiceImpl>(options, store_.get(), [] {
      return CommitLatency{0.25, 0.5};
    });
  }

  testing::TempDir dir_;
  std::unique_ptr<ResultStore> store_;
};

TEST_F(SinkServiceTest, ACallWithoutTheTokenIsUnauthenticated) {
  std::unique_ptr<SinkServiceImpl> service = Service("s3cret");
  grpc::ServerContext context;
  v1::SinkStats stats;
  const grpc::Status status = service->GetStats(&context, nullptr, &stats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "missing authorization: Bearer token");
}

TEST_F(SinkServiceTest, StatsCountTheStoreAndReportTheLatency) {
  std::unique_ptr<SinkServiceImpl> service = Service("");
  grpc::ServerContext context;
  v1::SinkStats stats;
  const grpc::Status status = service->GetStats(&context, nullptr, &stats);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stats.results_stored(), 0u);
  EXPECT_EQ(stats.jobs(), 0u);
  EXPECT_EQ(stats.commit_seconds_p50(), 0.25);
  EXPECT_EQ(stats.commit_seconds_p99(), 0.5);
}

TEST_F(SinkServiceTest, JobZeroIsInvalid) {
  std::unique_ptr<SinkServiceImpl> service = Service("");
  grpc::ServerContext context;
  v1::GetResultsRequest request;
  const grpc::Status status = service->GetResults(&context, &request, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "job_id 0");
}

}  // namespace
}  // namespace btrq::sink
