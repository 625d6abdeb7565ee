#include "sink/sink_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/bearer_token.h"
#include "results/result_proto.h"

namespace btrq::sink {

grpc::Status ToGrpcStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kInvalidArgument:
    case StatusCode::kInvalidMessage:
      return {grpc::StatusCode::INVALID_ARGUMENT, status.message()};
    case StatusCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, status.message()};
    case StatusCode::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, status.message()};
    case StatusCode::kDeadlineExceeded:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, status.message()};
    case StatusCode::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, status.message()};
    case StatusCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, status.message()};
    case StatusCode::kPermissionDenied:
      return {grpc::StatusCode::PERMISSION_DENIED, status.message()};
    case StatusCode::kUnauthenticated:
      return {grpc::StatusCode::UNAUTHENTICATED, status.message()};
    case StatusCode::kCancelled:
      return {grpc::StatusCode::CANCELLED, status.message()};
    default:
      return {grpc::StatusCode::INTERNAL, status.ToString()};
  }
}

SinkServiceImpl::SinkServiceImpl(const SinkServiceOptions& options, ResultStore* store,
                                 std::function<CommitLatency()> latency)
    : options_(options), store_(store), latency_(std::move(latency)) {}

grpc::Status SinkServiceImpl::Authorize(const grpc::ServerContext& context) const {
  switch (CheckBearerToken(AuthorizationValue(context.client_metadata()), options_.token)) {
    case BearerCheck::kAllowed:
      return grpc::Status::OK;
    case BearerCheck::kMissing:
      return {grpc::StatusCode::UNAUTHENTICATED, "missing authorization: Bearer token"};
    case BearerCheck::kWrong:
      break;
  }
  return {grpc::StatusCode::UNAUTHENTICATED, "bad bearer token"};
}

grpc::Status SinkServiceImpl::GetResults(grpc::ServerContext* context,
                                         const v1::GetResultsRequest* request,
                                         grpc::ServerWriter<v1::ResultBatch>* writer) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  if (request->job_id() == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "job_id 0"};
  // Keyset paging: each page is a fresh query after the last key sent, so memory stays
  // bounded by one page however large the job, and the writer is never blocked by us.
  uint64_t remaining = request->limit() == 0 ? UINT64_MAX : request->limit();
  std::optional<TaskKey> after;
  while (remaining > 0) {
    if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "client went away"};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, options_.page_size));
    auto page = store_->ReadPage(request->job_id(), after, want);
    if (!page.ok()) return ToGrpcStatus(page.status());
    if (page->empty()) break;
    v1::ResultBatch batch;
    batch.mutable_results()->Reserve(static_cast<int>(page->size()));
    for (const StoredResult& r : *page) results::ToProto(r, batch.add_results());
    if (!writer->Write(batch)) return {grpc::StatusCode::CANCELLED, "client went away"};
    remaining -= page->size();
    if (page->size() < want) break;
    after = page->back().result.task.key;
  }
  return grpc::Status::OK;
}

grpc::Status SinkServiceImpl::GetStats(grpc::ServerContext* context,
                                       const v1::SinkStatsRequest* /*request*/,
                                       v1::SinkStats* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  auto stats = store_->Stats();
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  response->set_results_stored(stats->results);
  response->set_duplicates_dropped(stats->duplicates);
  response->set_jobs(stats->jobs);
  const CommitLatency latency = latency_ ? latency_() : CommitLatency();
  response->set_commit_seconds_p50(latency.p50);
  response->set_commit_seconds_p99(latency.p99);
  return grpc::Status::OK;
}

}  // namespace btrq::sink
