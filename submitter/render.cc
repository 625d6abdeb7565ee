#include "submitter/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "common/ids.h"
#include "common/time_util.h"

namespace btrq::submitter {
namespace {

std::string Printf(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

std::string UuidText(const std::string& bytes) {
  Result<Uuid> uuid = Uuid::FromBytes(bytes);
  return uuid.ok() ? uuid->ToString() : "(bad uuid)";
}

// Columns separated by two spaces; numeric columns right-aligned.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right_aligned)
      : right_(std::move(right_aligned)) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> widths(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string pad(widths[i] - row[i].size(), ' ');
        const bool last = i + 1 == row.size();
        if (i > 0) line += "  ";
        if (right_[i]) {
          line += pad + row[i];
        } else {
          line += row[i];
          if (!last) line += pad;
        }
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

std::string TotalText(const v1::JobCounts& c) {
  return std::to_string(c.total()) + (c.total_final() ? "" : "+");
}

std::string Percent(const v1::JobCounts& c) {
  if (c.total() == 0) return "-";
  return Printf("%.1f%%", 100.0 * static_cast<double>(FinishedTasks(c)) /
                              static_cast<double>(c.total()));
}

std::string SelectionText(const v1::JobSpec& spec) {
  if (spec.streams_size() > 0) return std::to_string(spec.streams_size()) + " streams";
  return spec.collection() + (spec.collection_prefix() ? "*" : "");
}

std::string ValueText(const v1::Value& v) {
  switch (v.kind_case()) {
    case v1::Value::kIntValue: return std::to_string(v.int_value());
    case v1::Value::kDoubleValue: {
      JsonWriter w;
      w.Double(v.double_value());
      return w.str();
    }
    case v1::Value::kStringValue: return JsonQuote(v.string_value());
    default: return "?";
  }
}

std::string TagsText(const google::protobuf::RepeatedPtrField<v1::TagFilter>& tags) {
  std::string out;
  for (const v1::TagFilter& t : tags) {
    if (!out.empty()) out += " ";
    out += t.key() + (t.has_value() ? "=" + t.value() : "");
  }
  return out;
}

void WriteTimestamp(JsonWriter* json, std::string_view key, int64_t ns) {
  json->Key(key);
  if (ns == 0) {
    json->Null();
  } else {
    json->String(FormatTimestamp(ns));
  }
}

void WriteValue(const v1::Value& v, JsonWriter* json) {
  switch (v.kind_case()) {
    case v1::Value::kIntValue: json->Int(v.int_value()); break;
    case v1::Value::kDoubleValue: json->Double(v.double_value()); break;
    case v1::Value::kStringValue: json->String(v.string_value()); break;
    default: json->Null();
  }
}

void WriteTags(const google::protobuf::RepeatedPtrField<v1::TagFilter>& tags, JsonWriter* json) {
  json->BeginObject();
  for (const v1::TagFilter& t : tags) {
    json->Key(t.key());
    if (t.has_value()) {
      json->String(t.value());
    } else {
      json->Null();
    }
  }
  json->EndObject();
}

}  // namespace

std::string_view JobStateName(v1::JobState state) {
  switch (state) {
    case v1::QUEUED: return "queued";
    case v1::EXPANDING: return "expanding";
    case v1::RUNNING: return "running";
    case v1::DONE: return "done";
    case v1::DONE_WITH_FAILURES: return "done_with_failures";
    case v1::CANCELLED: return "cancelled";
    case v1::FAILED: return "failed";
    default: return "unknown";
  }
}

bool IsTerminal(v1::JobState state) {
  return state == v1::DONE || state == v1::DONE_WITH_FAILURES || state == v1::CANCELLED ||
         state == v1::FAILED;
}

uint64_t FinishedTasks(const v1::JobCounts& c) { return c.done() + c.dead() + c.cancelled(); }

std::string ProgressBar(uint64_t finished, uint64_t total, int width) {
  int filled = 0;
  if (total > 0) {
    const double fraction = std::min(1.0, static_cast<double>(finished) / static_cast<double>(total));
    filled = static_cast<int>(fraction * width);
  }
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
}

std::string FormatCount(double value) {
  const double a = std::fabs(value);
  if (a < 1000) return Printf(value == std::floor(value) ? "%.0f" : "%.1f", value);
  if (a < 1e6) return Printf("%.1fk", value / 1e3);
  if (a < 1e9) return Printf("%.1fM", value / 1e6);
  return Printf("%.1fG", value / 1e9);
}

std::string FormatRate(double per_second) {
  if (!(per_second > 0) || !std::isfinite(per_second)) return "-";
  if (per_second < 10) return Printf("%.1f/s", per_second);
  return FormatCount(std::round(per_second)) + "/s";
}

std::string FormatEta(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "-";
  const double capped = std::min(seconds, 1e9);
  return FormatDuration(static_cast<int64_t>(std::llround(capped)) * kNanosPerSecond);
}

std::string FormatWhen(int64_t ns) {
  return ns == 0 ? "-" : FormatTimestamp(ns - ns % kNanosPerSecond, 0);
}

std::string ProgressLine(const v1::Job& job, int bar_width) {
  const v1::JobCounts& c = job.counts();
  std::string line = ProgressBar(FinishedTasks(c), c.total(), bar_width);
  std::string percent = Percent(c);
  line += " " + std::string(percent.size() < 6 ? 6 - percent.size() : 0, ' ') + percent;
  line += "  " + std::to_string(c.done()) + "/" + TotalText(c) + " tasks";
  line += "  " + FormatRate(job.tasks_per_second());
  if (!IsTerminal(job.state())) line += "  ETA " + FormatEta(job.eta_seconds());
  if (c.dead() > 0) line += "  dead " + std::to_string(c.dead());
  return line;
}

std::string RenderJobTable(const std::vector<v1::Job>& jobs) {
  Table t({"JOB", "STATE", "ANALYTIC", "SELECTION", "DONE", "TOTAL", "DEAD", "SUBMITTED", "NAME"},
          {true, false, false, false, true, true, true, false, false});
  for (const v1::Job& j : jobs) {
    const v1::JobCounts& c = j.counts();
    t.Add({std::to_string(j.id()), std::string(JobStateName(j.state())), j.spec().analytic(),
           SelectionText(j.spec()), std::to_string(c.done()), TotalText(c),
           std::to_string(c.dead()), FormatWhen(j.submitted_at()), j.spec().name()});
  }
  return t.Render();
}

std::string RenderStatusTable(const std::vector<v1::Job>& jobs) {
  Table t({"JOB", "STATE", "PROGRESS", "%", "DONE/TOTAL", "RATE", "ETA", "PENDING", "IN FLIGHT",
           "DEAD", "NAME"},
          {true, false, false, true, true, true, true, true, true, true, false});
  for (const v1::Job& j : jobs) {
    const v1::JobCounts& c = j.counts();
    t.Add({std::to_string(j.id()), std::string(JobStateName(j.state())),
           ProgressBar(FinishedTasks(c), c.total(), 20), Percent(c),
           std::to_string(c.done()) + "/" + TotalText(c), FormatRate(j.tasks_per_second()),
           IsTerminal(j.state()) ? "-" : FormatEta(j.eta_seconds()), std::to_string(c.pending()),
           std::to_string(c.in_flight()), std::to_string(c.dead()), j.spec().name()});
  }
  return t.Render();
}

std::string RenderJobDetail(const v1::Job& j) {
  const v1::JobCounts& c = j.counts();
  std::string out = "job " + std::to_string(j.id());
  if (!j.spec().name().empty()) out += " (" + j.spec().name() + ")";
  out += ": " + std::string(JobStateName(j.state())) + "\n";
  // The incarnation tells this job from an earlier one given the same id (`btrq results
  // --nonce`); 0 is a job from before nonces.
  out += "  nonce      " + (j.nonce() == 0 ? std::string("0 (legacy)") : JobNonceText(j.nonce())) +
         "\n";
  out += "  progress   " + ProgressLine(j) + "\n";
  out += "  tasks      pending " + std::to_string(c.pending()) + ", in flight " +
         std::to_string(c.in_flight()) + ", done " + std::to_string(c.done()) + ", dead " +
         std::to_string(c.dead()) + ", cancelled " + std::to_string(c.cancelled()) +
         ", retried " + std::to_string(c.retried()) + "\n";
  out += "  total      " + std::to_string(c.total()) +
         (c.total_final() ? " (final)" : " so far (still expanding)") + ", " +
         std::to_string(c.streams()) + " streams\n";
  out += "  rate       " + FormatRate(j.tasks_per_second()) + " tasks, " +
         FormatRate(j.points_per_second()) + " points; " + FormatCount(static_cast<double>(c.points_read())) +
         " points read\n";
  out += "  submitted  " + FormatWhen(j.submitted_at()) + "\n";
  out += "  started    " + FormatWhen(j.started_at()) + "\n";
  out += "  finished   " + FormatWhen(j.finished_at()) + "\n";
  if (!j.error().empty()) out += "  error      " + j.error() + "\n";
  return out;
}

std::string RenderSpec(const v1::JobSpec& s) {
  std::string out = "spec\n";
  const auto line = [&out](std::string_view key, const std::string& value) {
    out += "  " + std::string(key) + std::string(12 - key.size(), ' ') + value + "\n";
  };
  if (!s.name().empty()) line("name", s.name());
  if (!s.collection().empty()) {
    line("collection", s.collection() + (s.collection_prefix() ? " (prefix)" : ""));
  }
  if (s.tags_size() > 0) line("tags", TagsText(s.tags()));
  if (s.annotations_size() > 0) line("annotations", TagsText(s.annotations()));
  for (const std::string& stream : s.streams()) line("stream", UuidText(stream));
  for (const v1::PinnedVersion& p : s.versions()) {
    line("version", UuidText(p.stream()) + " @ " + std::to_string(p.version()));
  }
  line("start", s.has_start() ? FormatTimestamp(s.start()) : "each stream's earliest point");
  line("end", s.has_end() ? FormatTimestamp(s.end()) : "each stream's latest point");
  line("chunk", s.chunk_ns() == 0 ? "12h (default)" : FormatDuration(s.chunk_ns()));
  line("analytic", s.analytic());
  for (const v1::Field& p : s.params()) line("param", p.name() + "=" + ValueText(p.value()));
  line("priority", std::to_string(s.priority()));
  line("attempts", s.max_attempts() == 0 ? "broker default" : std::to_string(s.max_attempts()));
  line("timeout", s.task_timeout_ns() == 0 ? "broker default" : FormatDuration(s.task_timeout_ns()));
  return out;
}

std::string RenderDeadLetters(const std::vector<v1::DeadLetter>& dead) {
  if (dead.empty()) return "no dead-lettered tasks\n";
  Table t({"STREAM", "START", "END", "ATTEMPT", "ERROR"}, {false, false, false, true, false});
  for (const v1::DeadLetter& d : dead) {
    t.Add({UuidText(d.key().stream()), FormatTimestamp(d.key().start()), FormatTimestamp(d.end()),
           std::to_string(d.attempt()), d.error()});
  }
  return t.Render();
}

std::string RenderWorkerTable(const std::vector<v1::Worker>& workers, int64_t now_ns) {
  if (workers.empty()) return "no workers connected\n";
  Table t({"WORKER", "HOST", "PID", "THREADS", "IN FLIGHT", "CREDIT", "DONE", "RATE", "POINTS",
           "LAST SEEN", "STATE"},
          {false, false, true, true, true, true, true, true, true, true, false});
  for (const v1::Worker& w : workers) {
    const int64_t age = now_ns - w.last_heartbeat();
    const std::string seen =
        w.last_heartbeat() == 0 ? "-" : FormatEta(static_cast<double>(std::max<int64_t>(age, 0)) / 1e9) + " ago";
    t.Add({w.id(), w.host(), std::to_string(w.pid()), std::to_string(w.threads()),
           std::to_string(w.in_flight()), std::to_string(w.credit()), std::to_string(w.tasks_done()),
           FormatRate(w.tasks_per_second()), FormatRate(w.points_per_second()), seen,
           w.draining() ? "draining" : "active"});
  }
  return t.Render();
}

std::string RenderStats(const v1::BrokerStats& s) {
  return "queue " + std::to_string(s.queue_depth()) + "  in flight " + std::to_string(s.in_flight()) +
         "  workers " + std::to_string(s.workers()) + "  " + FormatRate(s.tasks_per_second()) +
         " tasks  " + FormatRate(s.points_per_second()) + " points  done " +
         std::to_string(s.tasks_done_total()) + "  retried " + std::to_string(s.tasks_retried_total()) +
         "  dead " + std::to_string(s.tasks_dead_total()) + "\n";
}

void WriteSpecJson(const v1::JobSpec& s, JsonWriter* json) {
  json->BeginObject();
  json->Key("name").String(s.name());
  json->Key("collection").String(s.collection());
  json->Key("prefix").Bool(s.collection_prefix());
  json->Key("tags");
  WriteTags(s.tags(), json);
  json->Key("annotations");
  WriteTags(s.annotations(), json);
  json->Key("streams").BeginArray();
  for (const std::string& stream : s.streams()) json->String(UuidText(stream));
  json->EndArray();
  json->Key("versions").BeginObject();
  for (const v1::PinnedVersion& p : s.versions()) json->Key(UuidText(p.stream())).Uint(p.version());
  json->EndObject();
  json->Key("start");
  if (s.has_start()) {
    json->String(FormatTimestamp(s.start()));
  } else {
    json->Null();
  }
  json->Key("end");
  if (s.has_end()) {
    json->String(FormatTimestamp(s.end()));
  } else {
    json->Null();
  }
  json->Key("chunk");
  if (s.chunk_ns() == 0) {
    json->Null();
  } else {
    json->String(FormatDuration(s.chunk_ns()));
  }
  json->Key("analytic").String(s.analytic());
  json->Key("params").BeginObject();
  for (const v1::Field& p : s.params()) {
    json->Key(p.name());
    WriteValue(p.value(), json);
  }
  json->EndObject();
  json->Key("priority").Int(s.priority());
  json->Key("max_attempts");
  if (s.max_attempts() == 0) {
    json->Null();
  } else {
    json->Uint(s.max_attempts());
  }
  json->Key("task_timeout");
  if (s.task_timeout_ns() == 0) {
    json->Null();
  } else {
    json->String(FormatDuration(s.task_timeout_ns()));
  }
  json->EndObject();
}

void WriteJobJson(const v1::Job& j, JsonWriter* json) {
  const v1::JobCounts& c = j.counts();
  json->BeginObject();
  json->Key("id").Uint(j.id());
  json->Key("nonce").String(JobNonceText(j.nonce()));
  json->Key("name").String(j.spec().name());
  json->Key("state").String(JobStateName(j.state()));
  json->Key("analytic").String(j.spec().analytic());
  json->Key("counts").BeginObject();
  json->Key("total").Uint(c.total());
  json->Key("total_final").Bool(c.total_final());
  json->Key("pending").Uint(c.pending());
  json->Key("in_flight").Uint(c.in_flight());
  json->Key("done").Uint(c.done());
  json->Key("retried").Uint(c.retried());
  json->Key("dead").Uint(c.dead());
  json->Key("cancelled").Uint(c.cancelled());
  json->Key("streams").Uint(c.streams());
  json->Key("points_read").Uint(c.points_read());
  json->EndObject();
  json->Key("progress");
  if (c.total() == 0) {
    json->Null();
  } else {
    json->Double(static_cast<double>(FinishedTasks(c)) / static_cast<double>(c.total()));
  }
  json->Key("tasks_per_second").Double(j.tasks_per_second());
  json->Key("points_per_second").Double(j.points_per_second());
  json->Key("eta_seconds");
  if (j.eta_seconds() < 0 || IsTerminal(j.state())) {
    json->Null();
  } else {
    json->Double(j.eta_seconds());
  }
  WriteTimestamp(json, "submitted_at", j.submitted_at());
  WriteTimestamp(json, "started_at", j.started_at());
  WriteTimestamp(json, "finished_at", j.finished_at());
  json->Key("error");
  if (j.error().empty()) {
    json->Null();
  } else {
    json->String(j.error());
  }
  json->Key("spec");
  WriteSpecJson(j.spec(), json);
  json->EndObject();
}

void WriteDeadLetterJson(const v1::DeadLetter& d, JsonWriter* json) {
  json->BeginObject();
  json->Key("stream").String(UuidText(d.key().stream()));
  json->Key("start").String(FormatTimestamp(d.key().start()));
  json->Key("end").String(FormatTimestamp(d.end()));
  json->Key("start_ns").Int(d.key().start());
  json->Key("attempt").Uint(d.attempt());
  json->Key("error").String(d.error());
  json->EndObject();
}

void WriteWorkerJson(const v1::Worker& w, JsonWriter* json) {
  json->BeginObject();
  json->Key("id").String(w.id());
  json->Key("host").String(w.host());
  json->Key("pid").Int(w.pid());
  json->Key("threads").Uint(w.threads());
  json->Key("analytics").BeginArray();
  for (const std::string& a : w.analytics()) json->String(a);
  json->EndArray();
  json->Key("credit").Uint(w.credit());
  json->Key("in_flight").Uint(w.in_flight());
  json->Key("tasks_done").Uint(w.tasks_done());
  json->Key("tasks_per_second").Double(w.tasks_per_second());
  json->Key("points_per_second").Double(w.points_per_second());
  WriteTimestamp(json, "last_heartbeat", w.last_heartbeat());
  json->Key("draining").Bool(w.draining());
  json->EndObject();
}

void WriteStatsJson(const v1::BrokerStats& s, JsonWriter* json) {
  json->BeginObject();
  json->Key("queue_depth").Uint(s.queue_depth());
  json->Key("in_flight").Uint(s.in_flight());
  json->Key("workers").Uint(s.workers());
  json->Key("credit_outstanding").Uint(s.credit_outstanding());
  json->Key("tasks_per_second").Double(s.tasks_per_second());
  json->Key("points_per_second").Double(s.points_per_second());
  json->Key("oldest_ready_age_seconds").Double(s.oldest_ready_age_seconds());
  json->Key("tasks_done_total").Uint(s.tasks_done_total());
  json->Key("tasks_retried_total").Uint(s.tasks_retried_total());
  json->Key("tasks_dead_total").Uint(s.tasks_dead_total());
  json->Key("jobs").BeginArray();
  for (const v1::JobDepth& d : s.jobs()) {
    json->BeginObject().Key("job").Uint(d.job_id()).Key("queue_depth").Uint(d.queue_depth()).EndObject();
  }
  json->EndArray();
  json->EndObject();
}

}  // namespace btrq::submitter
