#pragma once

// Every bound on what a peer or a user may send, in one place: the codec's defaults, the
// broker's submit checks, the worker and the docs (docs/operations.md, "Limits") all read
// these. A job that passes CheckJobParams yields tasks whose TASK frames every worker with
// the default max_message_bytes decodes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::limits {

// --- Wire (CodecLimits defaults, common/codec.h) ---
inline constexpr size_t kMaxFrameBytes = size_t{16} << 20;  // one ZeroMQ frame
inline constexpr uint32_t kMaxStrBytes = uint32_t{1} << 20;
inline constexpr uint32_t kMaxBinBytes = uint32_t{1} << 20;
inline constexpr uint32_t kMaxArrayElements = uint32_t{1} << 20;
inline constexpr uint32_t kMaxMapPairs = 4096;

// --- Job params, checked at submit; every task of the job carries them ---
inline constexpr size_t kMaxParams = 1024;
inline constexpr size_t kMaxParamNameBytes = 256;
inline constexpr size_t kMaxParamValueBytes = size_t{64} << 10;  // a str value
// Names and str values together: one task's params stay far below a frame.
inline constexpr size_t kMaxParamsBytes = size_t{1} << 20;
static_assert(kMaxParams <= kMaxMapPairs && kMaxParamValueBytes <= kMaxStrBytes);
static_assert(kMaxParamsBytes * 4 <= kMaxFrameBytes);

// --- The rest of a job spec (SubmitJob) ---
inline constexpr int32_t kMinPriority = -1000;
inline constexpr int32_t kMaxPriority = 1000;
inline constexpr size_t kMaxJobTextBytes = 4096;   // name, collection, analytic, each
inline constexpr size_t kMaxJobStreams = 100'000;  // explicit streams and versions, each
inline constexpr size_t kMaxJobFilters = 256;      // tags and annotations, each
// Longest task_timeout a job may ask for (and any lease-like duration a peer sends).
inline constexpr int64_t kMaxTaskTimeoutNs = int64_t{7} * 24 * 3600 * 1'000'000'000;

// Longest duration a config file, an environment variable or a flag may give.
inline constexpr int64_t kMaxConfigDurationNs = int64_t{366} * 24 * 3600 * 1'000'000'000;

// --- HELLO (broker) ---
inline constexpr size_t kMaxHelloAnalytics = 256;
inline constexpr size_t kMaxAnalyticNameBytes = 128;
inline constexpr size_t kMaxWorkerIdBytes = 256;

// --- Control API answers: ListJobs sends the newest jobs that fit in this many bytes, so
// its answer stays under the CLI's 64 MiB receive size (one job's spec is at most a few
// MiB by the bounds above) ---
inline constexpr size_t kMaxListResponseBytes = size_t{32} << 20;

// --- HTTP servers (/metrics, /healthz, dashboard): bodies are refused with 413 ---
inline constexpr size_t kMaxHttpBodyBytes = 0;

// OK, or InvalidArgument naming the first param that breaks a limit above and by how much
// ("param 'x' is 1153433 bytes; the limit is 65536"); also refuses duplicate names.
Status CheckParams(const Fields& params);

// OK, or InvalidArgument saying which HELLO bound (worker id, host, analytics and their
// names) `hello` breaks.
Status CheckHello(const HelloMsg& hello);

// `t + d`, saturated at the largest / smallest SteadyTime instead of overflowing.
SteadyTime SaturatingAdd(SteadyTime t, Nanos d);

}  // namespace btrq::limits
