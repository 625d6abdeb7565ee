#include "sink/sink_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/grpc_server.h"
#include "results/result_proto.h"

namespace btrq::sink {

SinkServiceImpl::SinkServiceImpl(const SinkServiceOptions& options, ResultStore* store,
                                 std::function<CommitLatency()> latency)
    : options_(options), store_(store), latency_(std::move(latency)) {}

grpc::Status SinkServiceImpl::Authorize(const grpc::ServerContext& context) const {
  return CheckBearer(context, options_.token,
                     {.missing = "missing authorization: Bearer token",
                      .wrong = "bad bearer token"});
}

grpc::Status SinkServiceImpl::GetResults(grpc::ServerContext* context,
                                         const v1::GetResultsRequest* request,
                                         grpc::ServerWriter<v1::ResultBatch>* writer) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  if (request->job_id() == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "job_id 0"};
  // One incarnation of the job id: the caller's (the nonce the broker gave it), else the
  // current one, so results of two jobs that shared an id are never mixed.
  JobNonce nonce = request->nonce();
  if (!request->has_nonce()) {
    Result<JobNonce> current = store_->CurrentNonce(request->job_id());
    if (!current.ok()) return ToGrpcStatus(current.status());
    nonce = *current;
  }
  // Keyset paging: each page is a fresh query after the last key sent, so memory stays
  // bounded by one page however large the job, and the writer is never blocked by us.
  uint64_t remaining = request->limit() == 0 ? UINT64_MAX : request->limit();
  std::optional<TaskKey> after;
  while (remaining > 0) {
    if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "client went away"};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, options_.page_size));
    auto page = store_->ReadPage(request->job_id(), nonce, after, want);
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
