#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "tests/support/status_matchers.h"

namespace btrq::metrics {
namespace {

TEST(Metrics, RendersExactTextForASmallRegistry) {
  Registry r;
  ASSERT_OK_AND_ASSIGN(Counter * ok, r.AddCounter("btrq_tasks_total", "Tasks finished.",
                                                  {{"status", "done"}}));
  ASSERT_OK_AND_ASSIGN(Counter * dead, r.AddCounter("btrq_tasks_total", "Tasks finished.",
                                                    {{"status", "dead"}}));
  ASSERT_OK_AND_ASSIGN(Gauge * inflight, r.AddGauge("btrq_tasks_inflight", "Leased tasks."));
  ASSERT_OK_AND_ASSIGN(Histogram * h, r.AddHistogram("btrq_task_duration_seconds",
                                                     "Time per task.", {0.1, 1, 2.5}));
  ASSERT_OK(r.AddCallbackGauge("btrq_workers", "Connected workers.", {}, [] { return 3.0; }));
  ok->Inc(41);
  ok->Inc();
  dead->Inc(0.5);
  inflight->Set(10);
  inflight->Dec(3);
  inflight->Inc(0.25);
  for (double v : {0.05, 0.1, 0.7, 2.0, 9.0}) h->Observe(v);

  EXPECT_EQ(r.Render(),
            "# HELP btrq_tasks_total Tasks finished.\n"
            "# TYPE btrq_tasks_total counter\n"
            "btrq_tasks_total{status=\"done\"} 42\n"
            "btrq_tasks_total{status=\"dead\"} 0.5\n"
            "# HELP btrq_tasks_inflight Leased tasks.\n"
            "# TYPE btrq_tasks_inflight gauge\n"
            "btrq_tasks_inflight 7.25\n"
            "# HELP btrq_task_duration_seconds Time per task.\n"
            "# TYPE btrq_task_duration_seconds histogram\n"
            "btrq_task_duration_seconds_bucket{le=\"0.1\"} 2\n"
            "btrq_task_duration_seconds_bucket{le=\"1\"} 3\n"
            "btrq_task_duration_seconds_bucket{le=\"2.5\"} 4\n"
            "btrq_task_duration_seconds_bucket{le=\"+Inf\"} 5\n"
            "btrq_task_duration_seconds_sum 11.85\n"
            "btrq_task_duration_seconds_count 5\n"
            "# HELP btrq_workers Connected workers.\n"
            "# TYPE btrq_workers gauge\n"
            "btrq_workers 3\n");
}

TEST(Metrics, HistogramLabelsComeBeforeLe) {
  Registry r;
  ASSERT_OK_AND_ASSIGN(Histogram * h,
                       r.AddHistogram("lat_seconds", "L.", {1}, {{"job", "7"}}));
  h->Observe(3);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds L.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{job=\"7\",le=\"1\"} 0\n"
            "lat_seconds_bucket{job=\"7\",le=\"+Inf\"} 1\n"
            "lat_seconds_sum{job=\"7\"} 3\n"
            "lat_seconds_count{job=\"7\"} 1\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry r;
  ASSERT_OK_AND_ASSIGN(Gauge * g, r.AddGauge("g", "line one\nback\\slash \"quoted\"",
                                             {{"path", "C:\\dir\n\"x\""}}));
  g->Set(1);
  EXPECT_EQ(r.Render(),
            "# HELP g line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(Metrics, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(-3), "-3");
}

TEST(Metrics, SameNameAndLabelsReturnTheSameSeries) {
  Registry r;
  ASSERT_OK_AND_ASSIGN(Counter * a, r.AddCounter("c_total", "C.", {{"k", "v"}}));
  ASSERT_OK_AND_ASSIGN(Counter * b, r.AddCounter("c_total", "C.", {{"k", "v"}}));
  EXPECT_EQ(a, b);
}

TEST(Metrics, RejectsBadRegistrations) {
  Registry r;
  EXPECT_FALSE(r.AddCounter("9lives", "x").ok());
  EXPECT_FALSE(r.AddCounter("has-dash", "x").ok());
  EXPECT_FALSE(r.AddCounter("ok", "x", {{"bad-label", "v"}}).ok());
  EXPECT_FALSE(r.AddCounter("ok", "x", {{"__reserved", "v"}}).ok());
  ASSERT_OK(r.AddCounter("taken", "x"));
  EXPECT_FALSE(r.AddGauge("taken", "x").ok());
  EXPECT_FALSE(r.AddHistogram("h", "x", {2, 1}).ok());
  EXPECT_FALSE(r.AddHistogram("h", "x", {1}, {{"le", "1"}}).ok());
  ASSERT_OK(r.AddHistogram("h2", "x", {1, 2}));
  EXPECT_FALSE(r.AddHistogram("h2", "x", {1, 3}).ok());
  ASSERT_OK(r.AddCallbackGauge("cb", "x", {}, [] { return 1.0; }));
  EXPECT_FALSE(r.AddGauge("cb", "x").ok());
}

TEST(Metrics, CounterIgnoresNegativeIncrements) {
  Counter c;
  c.Inc(2);
  c.Inc(-5);
  EXPECT_EQ(c.value(), 2);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  ASSERT_OK_AND_ASSIGN(Counter * c, r.AddCounter("n_total", "N."));
  ASSERT_OK_AND_ASSIGN(Gauge * g, r.AddGauge("g", "G."));
  ASSERT_OK_AND_ASSIGN(Histogram * h, r.AddHistogram("h", "H.", {0.5}));
  constexpr int kThreads = 4, kPer = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPer; ++i) {
        c->Inc();
        g->Inc(0.5);
        h->Observe(1);
      }
    });
  }
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.Render().empty());  // renders while updating
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), kThreads * kPer);
  EXPECT_EQ(g->value(), kThreads * kPer * 0.5);
  EXPECT_EQ(h->count(), static_cast<uint64_t>(kThreads * kPer));
  EXPECT_EQ(h->sum(), kThreads * kPer * 1.0);
}

TEST(Metrics, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(0.001, 10, 4), (std::vector<double>{0.001, 0.01, 0.1, 1}));
  EXPECT_EQ(LinearBuckets(1, 2, 3), (std::vector<double>{1, 3, 5}));
}

}  // namespace
}  // namespace btrq::metrics
