// ProgressTracker: the rates and ETA the control API reports (pure; times passed in).

#include "broker/progress.h"

#include <gtest/gtest.h>

namespace btrq::broker {
namespace {

SteadyTime At(int seconds) { return SteadyTime(std::chrono::seconds(seconds)); }

JobInfo Running(JobId id, uint64_t total, uint64_t done, bool final = true) {
  JobInfo j;
  j.id = id;
  j.state = JobState::kRunning;
  j.counts.total = total;
  j.counts.total_final = final;
  j.counts.done = done;
  j.counts.pending = total - done;
  return j;
}

TEST(ProgressTracker, RateIsOverTheSlidingWindow) {
  ProgressTracker p(std::chrono::seconds(10));
  EXPECT_EQ(p.JobTasksPerSecond(1), 0);
  p.SampleJobs(At(0), 100, {Running(1, 1000, 0)});
  EXPECT_EQ(p.JobTasksPerSecond(1), 0);  // one sample: no rate yet
  p.SampleJobs(At(5), 200, {Running(1, 1000, 50)});
  EXPECT_DOUBLE_EQ(p.JobTasksPerSecond(1), 10);
  p.SampleJobs(At(10), 300, {Running(1, 1000, 100)});
  // Old samples leave the window: only 20 s .. 30 s counts.
  p.SampleJobs(At(20), 400, {Running(1, 1000, 100)});
  p.SampleJobs(At(30), 500, {Running(1, 1000, 300)});
  EXPECT_DOUBLE_EQ(p.JobTasksPerSecond(1), 20);
  EXPECT_EQ(p.StartedAt(1), 200);  // first sampled with work done
}

TEST(ProgressTracker, EtaFromRateAndRemainingTasks) {
  ProgressTracker p;
  p.SampleJobs(At(0), 0, {Running(1, 100, 0), Running(2, 100, 0, /*final=*/false)});
  p.SampleJobs(At(2), 0, {Running(1, 100, 20), Running(2, 100, 20, false)});
  EXPECT_DOUBLE_EQ(p.EtaSeconds(Running(1, 100, 20)), 8);   // 80 left at 10/s
  EXPECT_EQ(p.EtaSeconds(Running(2, 100, 20, false)), -1);  // total not final
  EXPECT_EQ(p.EtaSeconds(Running(3, 100, 20)), -1);         // no rate known
  JobInfo done = Running(1, 100, 100);
  done.state = JobState::kDone;
  EXPECT_EQ(p.EtaSeconds(done), 0);
}

TEST(ProgressTracker, WorkersNotSampledAreForgotten) {
  ProgressTracker p;
  p.SampleWorker(At(0), "a", 0);
  p.SampleWorker(At(0), "b", 0);
  p.EndWorkerSample(At(0));
  p.SampleWorker(At(1), "a", 4);
  p.EndWorkerSample(At(1));
  EXPECT_DOUBLE_EQ(p.WorkerTasksPerSecond("a"), 4);
  EXPECT_EQ(p.WorkerTasksPerSecond("b"), 0);
}

}  // namespace
}  // namespace btrq::broker
