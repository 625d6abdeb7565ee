#pragma once

// The executor's test fixture: an Executor on its own threads with a fake source per
// thread and a registry of test analytics (sum, gate, batches, throwing), and helpers to
// await its outcomes.

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/mutex.h"
#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"
#include "worker/executor.h"

namespace btrq::worker {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

inline constexpr auto kWait = std::chrono::seconds(10);

// Ten points delivered in batches of two, or `error` instead.
class FakeSource final : public TaskSource {
 public:
  FakeSource(Status error, bool down, const std::atomic<bool>* cancelled)
      : error_(std::move(error)), down_(down), cancelled_(cancelled) {}
  Status ReadRaw(int64_t start, int64_t, uint64_t, const analytics::RawSink& sink) override {
    if (!error_.ok()) return error_;
    const analytics::RawSink guarded = CancellableRawSink(sink, cancelled_);
    for (int64_t i = 0; i < 10; i += 2) {
      const btrdb::RawPoint batch[2] = {{start + i, 1.0}, {start + i + 1, 2.0}};
      BTRQ_RETURN_IF_ERROR(guarded(batch));
    }
    version_read_ = 42;
    return Status::OK();
  }
  Status ReadAligned(int64_t, int64_t, uint64_t, uint8_t, const analytics::StatSink&) override {
    return Status::Unimplemented("aligned");
  }
  Status ReadWindows(int64_t, int64_t, uint64_t, uint64_t, const analytics::StatSink&) override {
    return Status::Unimplemented("windows");
  }
  uint64_t version_read() const override { return version_read_; }
  bool dependency_down() const override { return down_ && !error_.ok(); }

 private:
  Status error_;
  bool down_;
  const std::atomic<bool>* cancelled_;
  uint64_t version_read_ = 0;
};

// Shared by the test and every provider it makes.
struct SourceWorld {
  Status error;  // returned by every read when not OK
  bool down = false;  // ... as a source that could not reach BTrDB
  std::atomic<int> providers_made{0};
};

class FakeProvider final : public SourceProvider {
 public:
  explicit FakeProvider(SourceWorld* world) : world_(world) {}
  std::unique_ptr<TaskSource> Open(const TaskSpec&, const std::atomic<bool>* cancelled) override {
    return std::make_unique<FakeSource>(world_->error, world_->down, cancelled);
  }

 private:
  SourceWorld* world_;
};

// A latch the test opens; analytics wait on it.
class Gate {
 public:
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  void MarkEntered() {
    MutexLock lock(&mu_);
    ++entered_;
    cv_.SignalAll();
  }
  void WaitOpen() {
    MutexLock lock(&mu_);
    while (!open_) cv_.Wait(&mu_);
  }
  bool WaitEntered(int n) {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (entered_ < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      cv_.WaitFor(&mu_, std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ BTRQ_GUARDED_BY(mu_) = false;
  int entered_ BTRQ_GUARDED_BY(mu_) = 0;
};

// sum: reads the raw points, returns their count and sum; advances the fake clock by
// 5ms so the duration is exact.
class SumAnalytic final : public analytics::Analytic {
 public:
  explicit SumAnalytic(testing::FakeClock* clock) : clock_(clock) {}
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource& source,
                     analytics::RunCounters* counters) const override {
    double sum = 0;
    int64_t n = 0;
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const btrdb::RawPoint> batch) {
                                          for (const auto& p : batch) sum += p.value;
                                          n += static_cast<int64_t>(batch.size());
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          return Status::OK();
                                        }));
    clock_->Advance(std::chrono::milliseconds(5));
    return Fields{{"n", n}, {"sum", sum}};
  }

 private:
  testing::FakeClock* clock_;
};

// gate: waits for the gate before returning.
class GateAnalytic final : public analytics::Analytic {
 public:
  explicit GateAnalytic(Gate* gate) : gate_(gate) {}
  Result<Fields> Run(const TaskSpec&, analytics::PointSource&,
                     analytics::RunCounters*) const override {
    gate_->MarkEntered();
    gate_->WaitOpen();
    return Fields{{"ok", int64_t{1}}};
  }

 private:
  Gate* gate_;
};

// batches: waits for the gate after the first batch, so a cancel lands mid-read.
class BatchesAnalytic final : public analytics::Analytic {
 public:
  explicit BatchesAnalytic(Gate* gate) : gate_(gate) {}
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource& source,
                     analytics::RunCounters* counters) const override {
    bool first = true;
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const btrdb::RawPoint> batch) {
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          if (first) {
                                            first = false;
                                            gate_->MarkEntered();
                                            gate_->WaitOpen();
                                          }
                                          return Status::OK();
                                        }));
    return Fields{{"ok", int64_t{1}}};
  }

 private:
  Gate* gate_;
};

class ThrowingAnalytic final : public analytics::Analytic {
 public:
  Result<Fields> Run(const TaskSpec&, analytics::PointSource&,
                     analytics::RunCounters*) const override {
    throw std::runtime_error("boom");
  }
};

inline TaskSpec MakeTask(JobId job, int64_t start, std::string analytic, uint64_t version = 0) {
  TaskSpec t;
  t.key.job = job;
  t.key.stream.bytes[15] = 7;
  t.key.start = start;
  t.attempt = 2;
  t.end = start + 1000;
  t.version = version;
  t.analytic = std::move(analytic);
  return t;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(registry_.Register("sum", [this](const Fields& params) -> Result<std::unique_ptr<analytics::Analytic>> {
      ++sum_factory_calls_;
      for (const auto& [name, value] : params) {
        if (name != "scale") return Status::InvalidArgument("sum: unknown param '" + name + "'");
      }
      return std::unique_ptr<analytics::Analytic>(std::make_unique<SumAnalytic>(&clock_));
    }));
    ASSERT_OK(registry_.Register("gate", [this](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<GateAnalytic>(&gate_));
    }));
    ASSERT_OK(registry_.Register("batches", [this](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(
          std::make_unique<BatchesAnalytic>(&gate_));
    }));
    ASSERT_OK(registry_.Register("throws", [](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<ThrowingAnalytic>());
    }));
  }

  void TearDown() override {
    gate_.Open();
    if (executor_) executor_->Stop();
  }

  void Start(uint32_t threads) {
    ExecutorOptions options;
    options.threads = threads;
    auto made = Executor::Create(
        options, &registry_,
        [this] {
          ++world_.providers_made;
          return std::unique_ptr<SourceProvider>(std::make_unique<FakeProvider>(&world_));
        },
        &clock_, [this] {
          MutexLock lock(&mu_);
          ++notifications_;
          cv_.SignalAll();
        });
    ASSERT_OK(made);
    executor_ = std::move(made).value();
  }

  // Takes outcomes until `n` have arrived; fails the test after kWait.
  std::vector<TaskOutcome> Await(size_t n) {
    std::vector<TaskOutcome> out;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (out.size() < n) {
      for (TaskOutcome& o : executor_->TakeFinished()) out.push_back(std::move(o));
      if (out.size() >= n) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "only " << out.size() << " of " << n << " outcomes arrived";
        break;
      }
      MutexLock lock(&mu_);
      cv_.WaitFor(&mu_, std::chrono::milliseconds(20));
    }
    return out;
  }

  // Waits until `done()` holds; false after kWait. Outcomes are left in the executor.
  template <typename Pred>
  bool WaitUntil(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      MutexLock lock(&mu_);
      cv_.WaitFor(&mu_, std::chrono::milliseconds(5));
    }
    return true;
  }

  int notifications() {
    MutexLock lock(&mu_);
    return notifications_;
  }

  testing::FakeClock clock_;
  analytics::Registry registry_;
  SourceWorld world_;
  Gate gate_;
  std::atomic<int> sum_factory_calls_{0};
  Mutex mu_;
  CondVar cv_;
  int notifications_ BTRQ_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Executor> executor_;
};

}  // namespace btrq::worker
