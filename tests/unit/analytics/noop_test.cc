#include "analytics/noop.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/unit/analytics/vector_point_source.h"

namespace btrq::analytics {
namespace {

TEST(Noop, ReturnsOkWithoutReading) {
  testing::VectorPointSource source({{0, 1.0}});
  TaskSpec task;
  task.end = 10;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> noop, NewNoop({}));
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, noop->Run(task, source, &counters));
  EXPECT_EQ(f, (Fields{{"ok", int64_t{1}}}));
  EXPECT_EQ(source.raw_reads(), 0);
  EXPECT_EQ(source.window_reads(), 0);
  EXPECT_EQ(counters.points_read, 0);
}

TEST(Noop, RejectsUnknownParams) {
  EXPECT_EQ(NewNoop({{"sleep", int64_t{1}}}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::analytics
