// The BTrDB side of an executor thread: cancellable sinks, the lazy connection with its
// reconnect backoff, and the mapping of btrq's BTrDB options.

#include "worker/btrdb_source.h"

#include <atomic>
#include <chrono>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using std::chrono::milliseconds;

TEST(CancellableSinkTest, DeliversUntilCancelledThenFailsWithoutDelivering) {
  std::atomic<bool> cancelled{false};
  int delivered = 0;
  const analytics::RawSink inner = [&](std::span<const btrdb::RawPoint> batch) {
    delivered += static_cast<int>(batch.size());
    return Status::OK();
  };
  const analytics::RawSink sink = CancellableRawSink(inner, &cancelled);
  const btrdb::RawPoint points[3] = {{1, 1}, {2, 2}, {3, 3}};
  EXPECT_OK(sink(points));
  cancelled = true;
  const Status s = sink(points);
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_FALSE(s.IsTransient());
  EXPECT_EQ(delivered, 3);
}

TEST(CancellableSinkTest, StatSinksToo) {
  std::atomic<bool> cancelled{true};
  bool called = false;
  const analytics::StatSink inner = [&](std::span<const btrdb::StatPoint>) {
    called = true;
    return Status::OK();
  };
  const btrdb::StatPoint windows[1] = {};
  EXPECT_EQ(CancellableStatSink(inner, &cancelled)(windows).code(), StatusCode::kCancelled);
  EXPECT_FALSE(called);
}

TEST(CancellableSinkTest, TheInnerSinksErrorPassesThrough) {
  std::atomic<bool> cancelled{false};
  const analytics::RawSink inner = [](std::span<const btrdb::RawPoint>) {
    return Status::InvalidArgument("nope");
  };
  const btrdb::RawPoint points[1] = {{1, 1}};
  EXPECT_EQ(CancellableRawSink(inner, &cancelled)(points), Status::InvalidArgument("nope"));
}

class BtrdbConnectionTest : public ::testing::Test {
 protected:
  BtrdbConnection MakeConnection(Status error) {
    return BtrdbConnection(
        [this, error]() -> Result<std::unique_ptr<btrdb::Client>> {
          ++attempts_;
          return error;
        },
        &clock_);
  }
  testing::FakeClock clock_;
  int attempts_ = 0;
};

TEST_F(BtrdbConnectionTest, ConnectsLazilyAndFailsTransiently) {
  BtrdbConnection connection = MakeConnection(Status::Unavailable("refused"));
  EXPECT_EQ(attempts_, 0) << "nothing happens before the first Get";
  auto client = connection.Get();
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(client.status().IsTransient());
  EXPECT_THAT(client.status().message(), HasSubstr("refused"));
  EXPECT_EQ(attempts_, 1);
  EXPECT_FALSE(connection.connected());
}

TEST_F(BtrdbConnectionTest, BacksOffBetweenFailedConnectsDoublingToFiveSeconds) {
  BtrdbConnection connection = MakeConnection(Status::Unavailable("refused"));
  ASSERT_FALSE(connection.Get().ok());
  std::vector<int64_t> waits_ms;
  for (int64_t expected_ms : {100, 200, 400, 800, 1600, 3200, 5000, 5000}) {
    const int before = attempts_;
    clock_.Advance(milliseconds(expected_ms - 1));
    auto during = connection.Get();
    EXPECT_FALSE(during.ok());
    EXPECT_TRUE(during.status().IsTransient());
    EXPECT_THAT(during.status().message(), HasSubstr("backing off"));
    EXPECT_EQ(attempts_, before) << "no attempt inside the " << expected_ms << "ms backoff";
    clock_.Advance(milliseconds(1));
    EXPECT_FALSE(connection.Get().ok());
    EXPECT_EQ(attempts_, before + 1) << "an attempt after the " << expected_ms << "ms backoff";
  }
  EXPECT_EQ(connection.connect_attempts(), static_cast<uint64_t>(attempts_));
}

TEST_F(BtrdbConnectionTest, APermanentConnectErrorStillFailsTheTaskTransiently) {
  BtrdbConnection connection = MakeConnection(Status::FailedPrecondition("not a v5 server"));
  auto client = connection.Get();
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(client.status().IsTransient());
  EXPECT_THAT(client.status().message(), HasSubstr("not a v5 server"));
}

// A read that cannot reach the server marks its source dependency_down: the executor
// then hands the task back unattempted instead of spending an attempt on it.
TEST(BtrdbTaskSourceTest, ASourceThatCannotReachBtrdbSaysSo) {
  btrdb::ConnectOptions options;
  options.endpoints = {"127.0.0.1:1"};  // nothing listens on port 1
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  options.connect_timeout_ns = 2'000'000'000;
  testing::FakeClock clock;
  std::unique_ptr<SourceProvider> provider = NewBtrdbSourceProvider(options, &clock);
  std::atomic<bool> cancelled{false};
  TaskSpec task;
  task.end = 1000;
  std::unique_ptr<TaskSource> source = provider->Open(task, &cancelled);
  EXPECT_FALSE(source->dependency_down());
  const Status s = source->ReadRaw(0, 1000, 0, [](std::span<const btrdb::RawPoint>) {
    return Status::OK();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsTransient()) << s.ToString();
  EXPECT_TRUE(source->dependency_down());
  // The next task on this thread fails fast while the reconnect backs off: still down.
  std::unique_ptr<TaskSource> next = provider->Open(task, &cancelled);
  EXPECT_FALSE(next->ReadRaw(0, 1000, 0, [](std::span<const btrdb::RawPoint>) {
                      return Status::OK();
                    }).ok());
  EXPECT_TRUE(next->dependency_down());
}

TEST(MakeConnectOptionsTest, MapsEndpointsTlsKeyAndTimeout) {
  BtrdbOptions options;
  options.endpoints = "a:4410, b:4411";
  options.api_key = "sekrit";
  options.tls = TlsMode::kOff;
  options.call_timeout = 7'000'000'000;
  options.read_idle_timeout = 3'000'000'000;
  ASSERT_OK_AND_ASSIGN(btrdb::ConnectOptions out, MakeConnectOptions(options));
  EXPECT_EQ(out.stream_idle_timeout_ns, 3'000'000'000);
  EXPECT_THAT(out.endpoints, ElementsAre("a:4410", "b:4411"));
  EXPECT_EQ(out.api_key, "sekrit");
  EXPECT_EQ(out.tls, btrdb::ConnectOptions::Tls::kOff);
  EXPECT_EQ(out.call_timeout_ns, 7'000'000'000);
}

TEST(MakeConnectOptionsTest, NoEndpointIsAnError) {
  BtrdbOptions options;
  options.endpoints = " , ";
  EXPECT_EQ(MakeConnectOptions(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::worker
