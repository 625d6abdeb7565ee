#pragma once

// How the CLI shows jobs, workers and broker stats: human tables and progress bars, and the
// stable --json shapes (docs/cli.md documents both). Pure functions of their inputs; `now_ns`
// (wall clock) is passed in so output is reproducible.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "btrq/v1/control.pb.h"
#include "common/json_writer.h"

namespace btrq::submitter {

// "queued", "expanding", "running", "done", "done_with_failures", "cancelled", "failed";
// "unknown" otherwise.
std::string_view JobStateName(v1::JobState state);
// done, done with failures, cancelled or failed: the job will not change any more.
bool IsTerminal(v1::JobState state);

// Tasks that reached an end (done, dead-lettered or cancelled).
uint64_t FinishedTasks(const v1::JobCounts& counts);

// "[########------------]" of `width` cells between the brackets; empty cells when total is 0.
std::string ProgressBar(uint64_t finished, uint64_t total, int width);
// "12", "1.2k", "3.4M", "5.6G".
std::string FormatCount(double value);
// "120/s", "1.2k/s"; "-" when the rate is zero or unknown.
std::string FormatRate(double per_second);
// "4m10s" (whole seconds); "-" when negative (unknown).
std::string FormatEta(double seconds);
// RFC 3339 at whole seconds, "-" for 0 (not yet).
std::string FormatWhen(int64_t ns);

// One line: "[####----]  40.0%  400/1000 tasks  120/s  ETA 5s  dead 3". A total not yet
// final shows as "1000+".
std::string ProgressLine(const v1::Job& job, int bar_width = 24);

// Tables and blocks, each line ending in '\n'.
std::string RenderJobTable(const std::vector<v1::Job>& jobs);       // `btrq jobs`
std::string RenderStatusTable(const std::vector<v1::Job>& jobs);    // `btrq status`
std::string RenderJobDetail(const v1::Job& job);                    // `btrq status JOB`
std::string RenderSpec(const v1::JobSpec& spec);                    // `btrq show JOB`
std::string RenderDeadLetters(const std::vector<v1::DeadLetter>& dead);
std::string RenderWorkerTable(const std::vector<v1::Worker>& workers, int64_t now_ns);
std::string RenderStats(const v1::BrokerStats& stats);

// --json shapes (docs/cli.md). Timestamps as RFC 3339 strings (null when unset), durations
// as ParseDuration text, UUIDs as canonical text.
void WriteJobJson(const v1::Job& job, JsonWriter* json);
void WriteSpecJson(const v1::JobSpec& spec, JsonWriter* json);
void WriteDeadLetterJson(const v1::DeadLetter& dead, JsonWriter* json);
void WriteWorkerJson(const v1::Worker& worker, JsonWriter* json);
void WriteStatsJson(const v1::BrokerStats& stats, JsonWriter* json);

}  // namespace btrq::submitter
