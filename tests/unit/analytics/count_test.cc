#include "analytics/count.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/unit/analytics/vector_point_source.h"

namespace btrq::analytics {
namespace {

TEST(Count, CountsThePointsInTheTaskRange) {
  std::vector<RawPoint> points;
  for (int i = 0; i < 50; ++i) points.push_back({i * 10, 1.0});
  testing::VectorPointSource source(points, 7);
  TaskSpec task;
  task.key.start = 100;
  task.end = 300;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> count, NewCount({}));
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, count->Run(task, source, &counters));
  EXPECT_EQ(f, (Fields{{"count", int64_t{20}}}));
  EXPECT_EQ(counters.points_read, 20);
}

TEST(Count, PassesReaderErrorsThrough) {
  testing::VectorPointSource source({{0, 1.0}});
  source.FailAfter(0, Status::Unavailable("down"));
  TaskSpec task;
  task.end = 10;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> count, NewCount({}));
  RunCounters counters;
  EXPECT_EQ(count->Run(task, source, &counters).status(), Status::Unavailable("down"));
}

TEST(Count, RejectsUnknownParams) {
  EXPECT_EQ(NewCount({{"window", "1h"}}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::analytics
