#include "broker/sampler.h"

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kChunk = 10;

// A Scheduler without a journal (durable at once) with streams of 4 chunks each.
class SamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedulerOptions options;
    options.window_per_job = 64;
    options.seed = 1;
    for (uint32_t i = 1; i <= 2; ++i) catalog_.AddStream(TestUuid(i), 0, 4 * kChunk - 1);
    ASSERT_OK_AND_ASSIGN(scheduler_, Scheduler::Create(options, &clock_, &catalog_, nullptr));
  }

  std::unique_ptr<Sampler> MakeSampler(SamplerOptions options = {}) {
    auto sampler = Sampler::Create(options, &clock_, &registry_);
    EXPECT_OK(sampler);
    return sampler.ok() ? std::move(sampler).value() : nullptr;
  }

  JobId Submit(std::string name) {
    JobSpec spec;
    spec.name = std::move(name);
    spec.collection = "c";
    spec.chunk = kChunk;
    spec.analytic = "quality";
    spec.max_attempts = 3;
    spec.task_timeout = std::chrono::nanoseconds(seconds(10)).count();
    auto id = scheduler_->SubmitJob(spec, [](const Status&) {});
    EXPECT_OK(id);
    for (int i = 0; i < 4; ++i) scheduler_->Expand();  // streams, then their chunks
    return id.ok() ? *id : 0;
  }

  void Hello(const std::string& worker, uint32_t credit) {
    HelloMsg hello;
    hello.worker_id = worker;
    hello.host = "h";
    hello.threads = 2;
    hello.analytics = {"quality"};
    scheduler_->OnWorkerHello(hello);
    ASSERT_OK(scheduler_->OnWorkerCredit(worker, credit));
  }

  FakeClock clock_;
  FakeStreamCatalog catalog_;
  metrics::Registry registry_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SamplerTest, GaugesAndJobDepthReadTheLastSample) {
  std::unique_ptr<Sampler> sampler = MakeSampler();
  ASSERT_NE(sampler, nullptr);
  // Before any sample: registered, at 0, and no per-job lines.
  EXPECT_THAT(registry_.Render(), HasSubstr("btrq_queue_depth_all 0"));
  EXPECT_THAT(sampler->RenderJobMetrics(), Not(HasSubstr("job_id=")));

  const JobId job = Submit("first");
  Hello("w1", 3);
  sampler->Sample(clock_.Now(), *scheduler_);
  const std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("btrq_queue_depth_all 8"));
  EXPECT_THAT(text, HasSubstr("btrq_workers 1"));
  EXPECT_THAT(text, HasSubstr("btrq_credit_outstanding 3"));
  EXPECT_THAT(text, HasSubstr("btrq_tasks_inflight 0"));
  EXPECT_THAT(text, HasSubstr("btrq_tasks_total{status=\"dispatched\"} 0"));
  EXPECT_THAT(sampler->RenderJobMetrics(),
              HasSubstr("btrq_queue_depth{job_id=\"" + std::to_string(job) + "\"} 8\n"));

  ASSERT_EQ(scheduler_->NextDispatch("w1", 3).size(), 3u);
  sampler->Sample(clock_.Now(), *scheduler_);
  EXPECT_THAT(registry_.Render(), HasSubstr("btrq_tasks_inflight 3"));
  EXPECT_THAT(registry_.Render(), HasSubstr("btrq_tasks_total{status=\"dispatched\"} 3"));
  EXPECT_THAT(registry_.Render(), HasSubstr("btrq_queue_depth_all 5"));
}

TEST_F(SamplerTest, TheDashboardIsRebuiltOnlyWhenDue) {
  SamplerOptions options;
  options.dashboard_interval = seconds(1);
  std::unique_ptr<Sampler> sampler = MakeSampler(options);
  ASSERT_NE(sampler, nullptr);
  sampler->Sample(clock_.Now(), *scheduler_);
  EXPECT_TRUE(sampler->DashboardView().jobs.empty());

  Submit("first");
  Hello("w1", 3);
  clock_.Advance(milliseconds(500));
  sampler->Sample(clock_.Now(), *scheduler_);
  EXPECT_TRUE(sampler->DashboardView().jobs.empty()) << "rebuilt before it was due";

  clock_.Advance(milliseconds(500));
  sampler->Sample(clock_.Now(), *scheduler_);
  const dashboard::DashboardSnapshot view = sampler->DashboardView();
  ASSERT_EQ(view.jobs.size(), 1u);
  EXPECT_EQ(view.jobs[0].name, "first");
  EXPECT_EQ(view.jobs[0].analytic, "quality");
  ASSERT_EQ(view.workers.size(), 1u);
  EXPECT_EQ(view.workers[0].id, "w1");
  EXPECT_EQ(view.workers[0].credit, 3u);
  EXPECT_EQ(view.stats.queue_depth, 8u);
  EXPECT_EQ(view.stats.workers, 1u);
}

TEST_F(SamplerTest, TheDashboardShowsTheNewestJobsOldestFirst) {
  SamplerOptions options;
  options.dashboard_jobs = 2;
  std::unique_ptr<Sampler> sampler = MakeSampler(options);
  ASSERT_NE(sampler, nullptr);
  Submit("a");
  Submit("b");
  Submit("c");
  sampler->Sample(clock_.Now(), *scheduler_);
  const dashboard::DashboardSnapshot view = sampler->DashboardView();
  ASSERT_EQ(view.jobs.size(), 2u);
  EXPECT_EQ(view.jobs[0].name, "b");
  EXPECT_EQ(view.jobs[1].name, "c");
}

TEST_F(SamplerTest, SamplesGoIntoTheHistory) {
  dashboard::DashboardHistory history;
  SamplerOptions options;
  options.history = &history;
  std::unique_ptr<Sampler> sampler = MakeSampler(options);
  ASSERT_NE(sampler, nullptr);
  Submit("first");
  sampler->Sample(clock_.Now(), *scheduler_);
  ASSERT_EQ(history.Samples().size(), 1u);
}

}  // namespace
}  // namespace btrq::broker
