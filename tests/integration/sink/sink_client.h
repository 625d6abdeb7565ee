#pragma once

// Test clients of a sink: a worker's DEALER that sends RESULT frames and waits for ACKs,
// and a gRPC client of the Sink control service.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "sink/result_store.h"

#include <zmq.hpp>

#include "btrq/v1/control.grpc.pb.h"

namespace btrq::testing {

// A result for (job, stream n, start) with a few fields of every kind.
TaskResult MakeTaskResult(JobId job, uint8_t stream, int64_t start, std::string worker = "w1");

class SinkWorkerClient {
 public:
  static Result<std::unique_ptr<SinkWorkerClient>> Connect(const std::string& endpoint);

  // Sends one RESULT frame holding `results`.
  Status SendResults(const std::vector<TaskResult>& results);
  // Sends `frames` as one multipart message, as they are.
  Status SendFrames(const std::vector<std::string>& frames);
  // The next frame from the sink, decoded as an ACK; kDeadlineExceeded after `timeout`.
  Result<AckMsg> ReceiveAck(std::chrono::milliseconds timeout);

 private:
  SinkWorkerClient() = default;
  zmq::context_t context_;
  zmq::socket_t dealer_;
};

class SinkControlClient {
 public:
  static SinkControlClient Connect(const std::string& host_port);

  Result<v1::SinkStats> GetStats();
  // Every result of `job` (or the first `limit`), gathered from the stream.
  Result<std::vector<results::StoredResult>> GetResults(JobId job, uint32_t limit = 0);
  // ResultBatch messages received by the last GetResults.
  size_t batches_received() const { return batches_; }

 private:
  explicit SinkControlClient(std::unique_ptr<v1::Sink::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::Sink::Stub> stub_;
  size_t batches_ = 0;
};

}  // namespace btrq::testing
