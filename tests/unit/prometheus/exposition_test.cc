#include "tests/support/prometheus.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics.h"
#include "tests/support/status_matchers.h"

namespace btrq::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] =
    "# HELP btrq_tasks_total Task events, by status.\n"
    "# TYPE btrq_tasks_total counter\n"
    "btrq_tasks_total{status=\"done\"} 12\n"
    "btrq_tasks_total{status=\"dead\"} 0\n"
    "# HELP btrq_workers Workers.\n"
    "# TYPE btrq_workers gauge\n"
    "btrq_workers 2\n"
    "# HELP btrq_x_seconds A \\\\ histogram\\nwith escapes.\n"
    "# TYPE btrq_x_seconds histogram\n"
    "btrq_x_seconds_bucket{m=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 1\n"
    "btrq_x_seconds_bucket{m=\"a\\\"b\\\\c\\nd\",le=\"1\"} 3\n"
    "btrq_x_seconds_bucket{m=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 4\n"
    "btrq_x_seconds_sum{m=\"a\\\"b\\\\c\\nd\"} 7.5\n"
    "btrq_x_seconds_count{m=\"a\\\"b\\\\c\\nd\"} 4\n";

TEST(ExpositionTest, ParsesFamiliesSamplesAndEscapes) {
  ASSERT_OK_AND_ASSIGN(Exposition e, Exposition::Parse(kGood));
  ASSERT_EQ(e.families().size(), 3u);
  EXPECT_EQ(e.Value("btrq_tasks_total", {{"status", "done"}}), 12);
  EXPECT_EQ(e.Value("btrq_workers"), 2);
  EXPECT_EQ(e.Sum("btrq_tasks_total"), 12);
  EXPECT_EQ(e.Family("btrq_x_seconds")->help, "A \\ histogram\nwith escapes.");
  EXPECT_EQ(e.Value("btrq_x_seconds_count", {{"m", "a\"b\\c\nd"}}), 4);
  EXPECT_FALSE(e.Value("btrq_workers", {{"x", "y"}}).has_value());
}

// Each case breaks one rule of kGood-like text.
struct BadCase {
  const char* text;
  const char* why;
};

TEST(ExpositionTest, RejectsEveryBrokenRule) {
  const BadCase cases[] = {
      {"# HELP a A.\n# TYPE a gauge\na 1", "newline"},
      {"# HELP a A.\n# TYPE a gauge\n\na 1\n", "empty line"},
      {"# TYPE a gauge\na 1\n", "HELP"},
      {"# HELP a A.\na 1\n", "outside"},
      {"# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\na 1\n", "TYPE"},
      {"# HELP a A.\n# TYPE a gauge\na 1\n# HELP a A.\n# TYPE a gauge\n", "twice"},
      {"# HELP a A.\n# TYPE a counter\na 1\n", "_total"},
      {"# HELP a_total A.\n# TYPE a_total counter\na_total -1\n", "negative"},
      {"# HELP a A.\n# TYPE a gauge\nb 1\n", "belong"},
      {"# HELP a A.\n# TYPE a gauge\na{x=\"1\",} 1\n", "trailing comma"},
      {"# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "twice"},
      {"# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n", "escape"},
      {"# HELP a A.\n# TYPE a gauge\na{__x=\"1\"} 1\n", "reserved"},
      {"# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n", "label name"},
      {"# HELP a A.\n# TYPE a gauge\na  1\n", "value"},
      {"# HELP a A.\n# TYPE a gauge\na one\n", "value"},
      {"# HELP a A.\n# TYPE a gauge\na 1\na 2\n", "twice"},
      {"# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", "twice"},
      {"# HELP a A\\q.\n# TYPE a gauge\na 1\n", "escape"},
      {"# HELP a A.\n# TYPE a widget\na 1\n", "type"},
      {"# HELP h H.\n# TYPE h histogram\nh 1\n", "belong"},
      {"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
       "h_sum 1\nh_count 4\n",
       "_count"},
      {"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"0.5\"} 2\n"
       "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
       "increasing"},
      {"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\n"
       "h_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n",
       "decrease"},
      {"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf"},
      {"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "_sum"},
  };
  for (const BadCase& c : cases) {
    auto parsed = Exposition::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.why)) << c.text;
  }
}

TEST(ExpositionTest, AcceptsWhatTheMetricsRegistryRenders) {
  metrics::Registry registry;
  ASSERT_OK_AND_ASSIGN(metrics::Counter * done,
                       registry.AddCounter("btrq_things_total", "Things.\nDone \\ counted.",
                                           {{"status", "ok"}, {"peer", "a\"b\\c\nd"}}));
  done->Inc(3);
  ASSERT_OK_AND_ASSIGN(metrics::Histogram * h,
                       registry.AddHistogram("btrq_wait_seconds", "Waits.",
                                             metrics::ExponentialBuckets(0.001, 2, 8),
                                             {{"method", "RawValues"}}));
  h->Observe(0.0005);
  h->Observe(0.1);
  h->Observe(100);
  ASSERT_OK(registry.AddCallbackGauge("btrq_ready", "Ready.", {}, [] { return 1.0; }));
  ASSERT_OK_AND_ASSIGN(Exposition e, Exposition::Parse(registry.Render()));
  EXPECT_EQ(e.Value("btrq_things_total", {{"status", "ok"}, {"peer", "a\"b\\c\nd"}}), 3);
  EXPECT_EQ(e.Value("btrq_wait_seconds_count", {{"method", "RawValues"}}), 3);
  EXPECT_EQ(e.Value("btrq_wait_seconds_bucket", {{"method", "RawValues"}, {"le", "+Inf"}}), 3);
  EXPECT_EQ(e.Value("btrq_ready"), 1);
}

}  // namespace
}  // namespace btrq::testing
