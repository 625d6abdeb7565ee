#include "submitter/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <utility>

#include "common/time_util.h"
#include "submitter/render.h"

namespace btrq::submitter {
namespace {

constexpr size_t kWorstShown = 5;
constexpr size_t kMismatchesShown = 10;

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

double Num(const Fields& fields, const std::string& name) {
  return FieldNumber(fields, name).value_or(0);
}

std::string StreamName(const DemoReportInput& in, const results::StoredResult& r) {
  const std::string uuid = r.result.task.key.stream.ToString();
  if (in.manifest != nullptr) {
    auto it = in.manifest->streams.find(uuid);
    if (it != in.manifest->streams.end()) return it->second.name;
  }
  return uuid;
}

void RenderTotals(const DemoReportInput& in, std::ostream& out) {
  const v1::Job& job = *in.job;
  const v1::JobCounts& counts = job.counts();
  const uint64_t done = counts.done(), dead = counts.dead(), cancelled = counts.cancelled();
  const int64_t first_submit = job.submitted_at(), last_finish = job.finished_at();
  int64_t points = 0;
  for (const results::StoredResult& r : *in.results) points += r.result.points_read;
  // The broker's own clock from submit to finish; the demo's otherwise.
  double seconds = in.follow_seconds;
  if (first_submit > 0 && last_finish > first_submit) {
    seconds = static_cast<double>(last_finish - first_submit) / 1e9;
  }
  const double secs = std::max(seconds, 1e-3);

  out << "\nSummary\n";
  out << "  chunks processed  " << done << " of " << counts.total();
  if (dead > 0) out << ", " << dead << " dead-lettered (btrq show JOB lists them)";
  if (cancelled > 0) out << ", " << cancelled << " cancelled";
  out << " (job " << job.id() << ")\n";
  out << "  points read       " << Grouped(points)
      << (points == 0 ? " (the analytic read no raw points)" : "") << "\n";
  out << "  wall time         " << Fixed(seconds, 2) << " s (submit to last result)\n";
  out << "  throughput        ";
  if (points > 0) out << FormatCount(static_cast<double>(points) / secs) << " points/s, ";
  out << Fixed(static_cast<double>(done) / secs, 1) << " chunks/s with " << in.workers << " x "
      << in.threads << " worker " << (in.threads == 1 ? "thread" : "threads") << "\n";
}

// One stream's chunks added up: defects summed, the longest stuck run kept.
struct StreamAgg {
  std::string name;
  double score_sum = 0;
  int64_t chunks = 0;
  Fields totals;

  double mean() const { return score_sum / static_cast<double>(chunks); }
  void Add(const Fields& f) {
    score_sum += Num(f, "score");
    ++chunks;
    for (const char* name : {"expected", "unique", "gaps", "missing_seconds", "duplicates",
                             "stuck_runs", "out_of_range", "nonfinite", "longest_stuck"}) {
      const double v = Num(f, name);
      auto it = std::find_if(totals.begin(), totals.end(),
                             [name](const auto& kv) { return kv.first == name; });
      if (it == totals.end()) {
        totals.emplace_back(name, v);
      } else if (std::string_view(name) == "longest_stuck") {
        it->second = std::max(std::get<double>(it->second), v);
      } else {
        it->second = std::get<double>(it->second) + v;
      }
    }
  }
};

void RenderWorstStreams(const DemoReportInput& in, std::ostream& out) {
  std::map<std::string, StreamAgg> streams;
  for (const results::StoredResult& r : *in.results) {
    StreamAgg& s = streams[r.result.task.key.stream.ToString()];
    s.name = StreamName(in, r);
    s.Add(r.result.fields);
  }
  std::vector<const StreamAgg*> by_score;
  for (const auto& [uuid, s] : streams) by_score.push_back(&s);
  std::sort(by_score.begin(), by_score.end(), [](const StreamAgg* a, const StreamAgg* b) {
    return a->mean() != b->mean() ? a->mean() < b->mean() : a->name < b->name;
  });
  out << "\nWorst streams (mean chunk score; 1 is perfect)\n";
  const size_t clean = std::count_if(by_score.begin(), by_score.end(), [](const StreamAgg* s) {
    return s->score_sum >= static_cast<double>(s->chunks);
  });
  size_t shown = 0;
  for (const StreamAgg* s : by_score) {
    if (shown == kWorstShown || s->mean() >= 1) break;
    char row[160];
    std::snprintf(row, sizeof(row), "  %.6f  %-20s  ", s->mean(), s->name.c_str());
    out << row << WhyScoreLost(s->totals) << "\n";
    ++shown;
  }
  if (shown == 0) out << "  every stream scored 1\n";
  out << "  (" << clean << " of " << streams.size() << " streams are perfect)\n";
}

void RenderWorstChunks(const DemoReportInput& in, std::ostream& out) {
  std::vector<const results::StoredResult*> chunks;
  for (const results::StoredResult& r : *in.results) chunks.push_back(&r);
  std::stable_sort(chunks.begin(), chunks.end(), [](const auto* a, const auto* b) {
    return Num(a->result.fields, "score") < Num(b->result.fields, "score");
  });
  out << "\nWorst chunks (score, stream, chunk start, why)\n";
  size_t shown = 0;
  for (const results::StoredResult* r : chunks) {
    const double score = Num(r->result.fields, "score");
    if (shown == kWorstShown || score >= 1) break;
    char row[200];
    std::snprintf(row, sizeof(row), "  %.6f  %-20s  %s  ", score, StreamName(in, *r).c_str(),
                  FormatTimestamp(r->result.task.key.start, 0).c_str());
    out << row << WhyScoreLost(r->result.fields) << "\n";
    ++shown;
  }
  if (shown == 0) out << "  every chunk scored 1\n";
}

}  // namespace

std::string RenderDemoSummary(const DemoReportInput& in) {
  std::ostringstream out;
  RenderTotals(in, out);
  const bool scored = std::any_of(in.results->begin(), in.results->end(), [](const auto& r) {
    return FieldNumber(r.result.fields, "score").has_value();
  });
  if (scored) {
    RenderWorstStreams(in, out);
    RenderWorstChunks(in, out);
  }
  return out.str();
}

std::string RenderTruthCheck(const TruthCheck& check, size_t chunk_count) {
  std::ostringstream out;
  out << "\nGround truth\n";
  if (check.ok()) {
    out << "  results match the generator's ground truth: " << check.matched << "/"
        << chunk_count << " chunks\n";
    return out.str();
  }
  out << "  results DIFFER from the generator's ground truth: " << check.matched << "/"
      << chunk_count << " chunks match\n";
  for (size_t i = 0; i < check.problems.size() && i < kMismatchesShown; ++i) {
    out << "  " << check.problems[i] << "\n";
  }
  if (check.problems.size() > kMismatchesShown) {
    out << "  ... and " << check.problems.size() - kMismatchesShown << " more\n";
  }
  return out.str();
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string WhyScoreLost(const Fields& f) {
  std::vector<std::pair<double, std::string>> reasons;  // (points affected, text)
  const double missing_points = std::max(0.0, Num(f, "expected") - Num(f, "unique"));
  const int64_t gaps = static_cast<int64_t>(Num(f, "gaps"));
  if (missing_points > 0 || gaps > 0) {
    std::string text = Fixed(Num(f, "missing_seconds"), 1) + " s missing";
    if (gaps > 0) text += " in " + Plural(gaps, "gap", "gaps");
    reasons.emplace_back(missing_points, text);
  }
  const int64_t duplicates = static_cast<int64_t>(Num(f, "duplicates"));
  if (duplicates > 0) {
    reasons.emplace_back(duplicates, Plural(duplicates, "duplicate", "duplicates"));
  }
  const int64_t stuck_runs = static_cast<int64_t>(Num(f, "stuck_runs"));
  if (stuck_runs > 0) {
    const int64_t longest = static_cast<int64_t>(Num(f, "longest_stuck"));
    reasons.emplace_back(longest, Plural(stuck_runs, "stuck run", "stuck runs") + " (longest " +
                                      std::to_string(longest) + " points)");
  }
  const int64_t out_of_range = static_cast<int64_t>(Num(f, "out_of_range"));
  if (out_of_range > 0) {
    reasons.emplace_back(out_of_range, Plural(out_of_range, "value", "values") + " out of range");
  }
  const int64_t nonfinite = static_cast<int64_t>(Num(f, "nonfinite"));
  if (nonfinite > 0) {
    reasons.emplace_back(nonfinite, Plural(nonfinite, "NaN/Inf value", "NaN/Inf values"));
  }
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out;
  for (const auto& [weight, text] : reasons) out += (out.empty() ? "" : ", ") + text;
  return out.empty() ? "-" : out;
}

}  // namespace btrq::submitter
