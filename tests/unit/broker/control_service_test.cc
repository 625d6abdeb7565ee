#include "broker/control_service.h"

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;
using ::testing::HasSubstr;

TEST(JobSpecFromProtoTest, CopiesTheSpecAndFillsDefaultsForZeroes) {
  v1::JobSpec proto;
  proto.set_name("n");
  proto.set_collection("c");
  proto.add_streams(std::string(TestUuid(1).AsBytes()));
  proto.set_has_start(true);
  proto.set_start(10);
  proto.set_chunk_ns(100);
  proto.set_analytic("stats");
  v1::Field* i = proto.add_params();
  i->set_name("i");
  i->mutable_value()->set_int_value(3);
  v1::Field* d = proto.add_params();
  d->set_name("d");
  d->mutable_value()->set_double_value(0.5);
  v1::Field* s = proto.add_params();
  s->set_name("s");
  s->mutable_value()->set_string_value("x");
  ControlServiceOptions options;
  options.default_max_attempts = 7;
  options.default_task_timeout = 42;

  ASSERT_OK_AND_ASSIGN(JobSpec spec, JobSpecFromProto(proto, options));
  EXPECT_EQ(spec.name, "n");
  EXPECT_EQ(spec.collection, "c");
  ASSERT_EQ(spec.streams.size(), 1u);
  EXPECT_EQ(spec.streams[0], TestUuid(1));
  EXPECT_EQ(spec.start, std::optional<int64_t>(10));
  EXPECT_FALSE(spec.end.has_value());
  EXPECT_EQ(spec.chunk, 100);
  EXPECT_EQ(spec.analytic, "stats");
  ASSERT_EQ(spec.params.size(), 3u);
  EXPECT_EQ(spec.params[0].second, FieldValue(int64_t{3}));
  EXPECT_EQ(spec.params[1].second, FieldValue(0.5));
  EXPECT_EQ(spec.params[2].second, FieldValue(std::string("x")));
  EXPECT_EQ(spec.max_attempts, 7u);
  EXPECT_EQ(spec.task_timeout, 42);
}

TEST(JobSpecFromProtoTest, ABadUuidIsInvalid) {
  v1::JobSpec proto;
  proto.add_streams("abc");
  Result<JobSpec> spec = JobSpecFromProto(proto, ControlServiceOptions());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "job: streams: expected a 16-byte UUID, got 3 bytes");
}

TEST(JobSpecFromProtoTest, AParamWithoutAValueIsInvalid) {
  v1::JobSpec proto;
  proto.add_params()->set_name("empty");
  Result<JobSpec> spec = JobSpecFromProto(proto, ControlServiceOptions());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), "job: param 'empty' has no value");
}

// The service over a dispatcher whose loop never runs (closed): calls that reach it are
// UNAVAILABLE; calls refused before it never touch it.
class ControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(analytics::RegisterBuiltins(&analytics_));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler,
                         Scheduler::Create(SchedulerOptions(), &clock_, &catalog_, nullptr));
    DispatcherOptions options;
    options.listen = "tcp://127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(
        dispatcher_, Dispatcher::Create(options, &clock_, std::move(scheduler), &registry_));
    dispatcher_->Close();
  }

  std::unique_ptr<BrokerControlService> Service(std::string token) {
    ControlServiceOptions options;
    options.token = std::move(token);
    return std::make_unique<BrokerControlService>(options, dispatcher_.get(), &analytics_);
  }

  SystemClock clock_;
  FakeStreamCatalog catalog_;
  metrics::Registry registry_;
  analytics::Registry analytics_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(ControlServiceTest, ACallWithoutTheTokenIsUnauthenticated) {
  std::unique_ptr<BrokerControlService> service = Service("s3cret");
  grpc::ServerContext context;
  v1::GetJobRequest request;
  v1::Job job;
  const grpc::Status status = service->GetJob(&context, &request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("the broker requires a token"));
}

TEST_F(ControlServiceTest, AnInvalidSpecIsRefusedBeforeTheDispatcher) {
  std::unique_ptr<BrokerControlService> service = Service("");
  grpc::ServerContext context;
  v1::SubmitJobRequest request;
  request.mutable_spec()->set_analytic("quality");
  v1::SubmitJobResponse response;
  const grpc::Status status = service->SubmitJob(&context, &request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "job: give a collection or a list of streams");
}

TEST_F(ControlServiceTest, UnknownParamsAreRefusedBeforeTheDispatcher) {
  std::unique_ptr<BrokerControlService> service = Service("");
  grpc::ServerContext context;
  v1::SubmitJobRequest request;
  request.mutable_spec()->set_collection("c");
  request.mutable_spec()->set_analytic("no-such-analytic");
  v1::SubmitJobResponse response;
  const grpc::Status status = service->SubmitJob(&context, &request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("job: "));
}

TEST_F(ControlServiceTest, AStoppedDispatcherMakesCallsUnavailable) {
  std::unique_ptr<BrokerControlService> service = Service("");
  grpc::ServerContext context;
  v1::GetJobRequest request;
  request.set_job_id(1);
  v1::Job job;
  const grpc::Status status = service->GetJob(&context, &request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "the broker is shutting down");
}

// A loop that does not get to a call (stuck, or busy): the call answers
// DEADLINE_EXCEEDED after loop_timeout instead of waiting for ever, and its command, run
// later, does nothing (it would refer to the call's frame, which is gone).
TEST(ControlServiceDeadlineTest, ACallTheLoopDoesNotGetToAnswersDeadlineExceeded) {
  SystemClock clock;
  FakeStreamCatalog catalog;
  metrics::Registry registry;
  analytics::Registry analytics;
  ASSERT_OK(analytics::RegisterBuiltins(&analytics));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler,
                       Scheduler::Create(SchedulerOptions(), &clock, &catalog, nullptr));
  DispatcherOptions dispatcher_options;
  dispatcher_options.listen = "tcp://127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Dispatcher> dispatcher,
                       Dispatcher::Create(dispatcher_options, &clock, std::move(scheduler),
                                          &registry));
  ControlServiceOptions options;
  options.loop_timeout = 200'000'000;  // 200 ms
  BrokerControlService service(options, dispatcher.get(), &analytics);
  {
    grpc::ServerContext context;
    auto request = std::make_unique<v1::SubmitJobRequest>();
    request->mutable_spec()->set_collection("c");
    request->mutable_spec()->set_analytic("noop");
    auto response = std::make_unique<v1::SubmitJobResponse>();
    const grpc::Status status = service.SubmitJob(&context, request.get(), response.get());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_THAT(status.error_message(), HasSubstr("nothing was done"));
  }
  {
    grpc::ServerContext context;
    v1::ListJobsRequest request;
    v1::ListJobsResponse response;
    EXPECT_EQ(service.ListJobs(&context, &request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // The loop gets to the queued commands now: the abandoned submit never happens.
  dispatcher->Close();
  EXPECT_TRUE(dispatcher->scheduler().ListJobs().empty());
}

}  // namespace
}  // namespace btrq::broker
