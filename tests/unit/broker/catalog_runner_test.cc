#include "broker/catalog_runner.h"

#include <gtest/gtest.h>

#include <memory>

#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::BorrowedCatalog;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;

CatalogRequest Pin(JobId job, uint32_t index, const Uuid& stream, uint64_t version = 0) {
  CatalogRequest r;
  r.kind = CatalogRequest::Kind::kPin;
  r.job = job;
  r.stream_index = index;
  r.stream = stream;
  r.version = version;
  return r;
}

TEST(CatalogRunner, InlineAnswersBeforeSubmitReturns) {
  FakeStreamCatalog catalog;
  catalog.AddStream(TestUuid(1), 0, 9, /*version=*/3);
  catalog.SetParams(TestUuid(1), {{"rate", 2.0}});
  std::unique_ptr<CatalogRunner> runner = CatalogRunner::Inline(&catalog);
  CatalogRequest list;
  list.kind = CatalogRequest::Kind::kList;
  list.job = 7;
  runner->Submit(list);
  runner->Submit(Pin(7, 0, TestUuid(1), /*version=*/2));
  runner->Submit(Pin(7, 1, TestUuid(9)));
  EXPECT_EQ(runner->outstanding(), 3u);
  const std::vector<CatalogAnswer> answers = runner->TakeAnswers();
  EXPECT_EQ(runner->outstanding(), 0u);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_OK(answers[0].status);
  ASSERT_EQ(answers[0].streams.size(), 1u);
  EXPECT_EQ(answers[0].request.job, 7u);
  EXPECT_OK(answers[1].status);
  EXPECT_EQ(answers[1].pin.version, 2u);
  EXPECT_EQ(answers[1].pin.params, (Fields{{"rate", 2.0}}));
  EXPECT_EQ(answers[2].request.stream_index, 1u);
  EXPECT_EQ(answers[2].status.code(), StatusCode::kNotFound);
}

TEST(CatalogRunner, ThreadsAnswerEveryRequestAndWakeTheLoop) {
  FakeStreamCatalog catalog;  // one thread below: never used concurrently
  for (uint32_t i = 0; i < 20; ++i) catalog.AddStream(TestUuid(i), 0, 9);
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CatalogRunner> runner,
      CatalogRunner::Start(1, [&catalog]() -> Result<std::unique_ptr<StreamCatalog>> {
        return std::unique_ptr<StreamCatalog>(new BorrowedCatalog(&catalog));
      }));
  WakeupCounter wakeups;
  runner->SetWakeup(wakeups.Hook());
  for (uint32_t i = 0; i < 20; ++i) runner->Submit(Pin(1, i, TestUuid(i)));
  std::vector<CatalogAnswer> all;
  while (all.size() < 20) {
    const uint64_t seen = wakeups.count();
    for (CatalogAnswer& a : runner->TakeAnswers()) all.push_back(std::move(a));
    if (all.size() < 20) {
      ASSERT_TRUE(wakeups.WaitBeyond(seen));
    }
  }
  EXPECT_EQ(runner->outstanding(), 0u);
  for (uint32_t i = 0; i < 20; ++i) {
    EXPECT_OK(all[i].status);
    EXPECT_EQ(all[i].request.stream_index, i);  // one thread: in order
  }
}

TEST(CatalogRunner, AFactoryErrorFailsTheStart) {
  const auto r = CatalogRunner::Start(2, []() -> Result<std::unique_ptr<StreamCatalog>> {
    return Status::InvalidArgument("no endpoint");
  });
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(CatalogRunner::Start(0, {}).ok());
}

}  // namespace
}  // namespace btrq::broker
