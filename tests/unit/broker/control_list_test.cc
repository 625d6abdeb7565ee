// ListJobs answers within a byte budget (kMaxListResponseBytes, under the CLI's 64 MiB
// receive size): with many jobs of large specs it sends the newest that fit, oldest
// first, and says how many older ones it left out, instead of failing for everyone.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "analytics/registry.h"
#include "broker/control_service.h"
#include "broker/dispatcher.h"
#include "broker/scheduler.h"
#include "common/limits.h"
#include "common/metrics.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeStreamCatalog;

TEST(ControlListJobsTest, ManyLargeSpecsAreListedWithinTheBudgetWithAMarker) {
  SystemClock clock;
  FakeStreamCatalog catalog;
  catalog.AddStream(btrq::testing::TestUuid(1), 0, 999);  // one task each: jobs stay running
  metrics::Registry registry;
  analytics::Registry analytics;
  ASSERT_OK(analytics::RegisterBuiltins(&analytics));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler,
                       Scheduler::Create(SchedulerOptions(), &clock, &catalog, nullptr));
  // Each spec holds the most params a job may have in bytes (1 MiB): 40 of them are
  // more than the budget.
  constexpr int kJobs = 40;
  JobSpec spec;
  spec.collection = "c";
  spec.analytic = "noop";
  spec.chunk = 1000;
  const size_t per_param = limits::kMaxParamValueBytes - 64;
  for (size_t i = 0; (i + 1) * (per_param + 8) <= limits::kMaxParamsBytes; ++i) {
    spec.params.emplace_back("p" + std::to_string(i), std::string(per_param, 'x'));
  }
  for (int i = 0; i < kJobs; ++i) {
    spec.name = "job-" + std::to_string(i + 1);
    ASSERT_OK(scheduler->SubmitJob(spec, [](const Status&) {}).status());
  }
  DispatcherOptions options;
  options.listen = "tcp://127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Dispatcher> dispatcher,
                       Dispatcher::Create(options, &clock, std::move(scheduler), &registry));
  std::thread loop([&] { EXPECT_OK(dispatcher->Run()); });
  BrokerControlService service(ControlServiceOptions(), dispatcher.get(), &analytics);

  auto list = [&](uint32_t limit, v1::ListJobsResponse* response) {
    grpc::ServerContext context;
    v1::ListJobsRequest request;
    request.set_limit(limit);
    return service.ListJobs(&context, &request, response);
  };
  v1::ListJobsResponse all;
  const grpc::Status status = list(0, &all);
  v1::ListJobsResponse few;
  const grpc::Status few_status = list(3, &few);
  dispatcher->Stop();
  loop.join();

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_LE(all.ByteSizeLong(), limits::kMaxListResponseBytes);
  ASSERT_GT(all.jobs_size(), 0);
  EXPECT_LT(all.jobs_size(), kJobs);
  EXPECT_EQ(all.jobs_size() + static_cast<int>(all.omitted()), kJobs);
  // The newest, oldest first.
  EXPECT_EQ(all.jobs(all.jobs_size() - 1).id(), static_cast<uint64_t>(kJobs));
  for (int i = 1; i < all.jobs_size(); ++i) EXPECT_EQ(all.jobs(i).id(), all.jobs(i - 1).id() + 1);

  // A limit that fits: the newest three, nothing left out of what was asked.
  ASSERT_TRUE(few_status.ok()) << few_status.error_message();
  ASSERT_EQ(few.jobs_size(), 3);
  EXPECT_EQ(few.jobs(0).id(), static_cast<uint64_t>(kJobs - 2));
  EXPECT_EQ(few.omitted(), 0u);
}

}  // namespace
}  // namespace btrq::broker
