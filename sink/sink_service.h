#pragma once

// The gRPC Sink service (proto/btrq/v1/control.proto): GetResults streams a job's
// results from the store page by page, GetStats reports counters. Runs on gRPC's threads
// with its own read-only store connection, beside the writer (SQLite WAL).

#include <cstddef>
#include <functional>
#include <string>

#include "sink/result_store.h"
#include "btrq/v1/control.grpc.pb.h"

namespace btrq::sink {

// Commit latency percentiles, in seconds, computed by the owner of the commit loop.
struct CommitLatency {
  double p50 = 0;
  double p99 = 0;
};

struct SinkServiceOptions {
  // When non-empty, every call must carry "authorization: Bearer <token>".
  std::string token;
  // Results per ResultBatch message.
  size_t page_size = 512;
};

class SinkServiceImpl final : public v1::Sink::Service {
 public:
  // `store` and whatever `latency` reads must outlive the service; `latency` must be
  // thread-safe.
  SinkServiceImpl(const SinkServiceOptions& options, ResultStore* store,
                  std::function<CommitLatency()> latency);

  grpc::Status GetResults(grpc::ServerContext* context, const v1::GetResultsRequest* request,
                          grpc::ServerWriter<v1::ResultBatch>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::SinkStatsRequest* request,
                        v1::SinkStats* response) override;

 private:
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  const SinkServiceOptions options_;
  ResultStore* const store_;
  const std::function<CommitLatency()> latency_;
};

}  // namespace btrq::sink
