#include "tests/integration/sink/sink_client.h"

#include "common/codec.h"
#include "common/zmq_util.h"
#include "results/result_proto.h"

#include <grpcpp/grpcpp.h>

namespace btrq::testing {

TaskResult MakeTaskResult(JobId job, uint8_t stream, int64_t start, std::string worker) {
  TaskResult r;
  r.task.key.job = job;
  r.task.key.stream.bytes[0] = 0xab;
  r.task.key.stream.bytes[15] = stream;
  r.task.key.start = start;
  r.task.attempt = 1;
  r.end = start + 1000;
  r.version = 7;
  r.worker_id = std::move(worker);
  r.fields = {{"count", int64_t{start}}, {"score", 0.75}, {"label", std::string("ok")}};
  r.duration_ns = 10;
  r.points_read = 20;
  return r;
}

Result<std::unique_ptr<SinkWorkerClient>> SinkWorkerClient::Connect(const std::string& endpoint) {
  std::unique_ptr<SinkWorkerClient> client(new SinkWorkerClient());
  SocketOptions options;
  options.linger_ms = 0;
  BTRQ_ASSIGN_OR_RETURN(client->dealer_,
                        MakeSocket(client->context_, zmq::socket_type::dealer, options));
  BTRQ_RETURN_IF_ERROR(btrq::Connect(client->dealer_, endpoint));
  return client;
}

Status SinkWorkerClient::SendResults(const std::vector<TaskResult>& results) {
  return SendFrames({EncodeMessage(Message(ResultMsg{results}))});
}

Status SinkWorkerClient::SendFrames(const std::vector<std::string>& frames) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return SendMultipart(dealer_, views, /*dont_wait=*/false);
}

Result<AckMsg> SinkWorkerClient::ReceiveAck(std::chrono::milliseconds timeout) {
  BTRQ_ASSIGN_OR_RETURN(bool ready, PollIn(dealer_, timeout));
  if (!ready) return Status::DeadlineExceeded("no ACK from the sink");
  std::vector<zmq::message_t> frames;
  BTRQ_ASSIGN_OR_RETURN(bool got, RecvMultipart(dealer_, 4, &frames));
  if (!got || frames.size() != 1) return Status::InvalidMessage("expected one ACK frame");
  BTRQ_ASSIGN_OR_RETURN(Message message, DecodeMessage(frames[0].to_string_view()));
  auto* ack = std::get_if<AckMsg>(&message);
  if (ack == nullptr) return Status::InvalidMessage("expected an ACK");
  return std::move(*ack);
}

SinkControlClient SinkControlClient::Connect(const std::string& host_port) {
  return SinkControlClient(v1::Sink::NewStub(
      grpc::CreateChannel(host_port, grpc::InsecureChannelCredentials())));
}

Result<v1::SinkStats> SinkControlClient::GetStats() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  context.set_wait_for_ready(true);  // a sink that is starting up is waited for
  v1::SinkStats stats;
  grpc::Status status = stub_->GetStats(&context, v1::SinkStatsRequest(), &stats);
  if (!status.ok()) return Status::Unavailable("GetStats: " + status.error_message());
  return stats;
}

Result<std::vector<results::StoredResult>> SinkControlClient::GetResults(JobId job, uint32_t limit) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  context.set_wait_for_ready(true);  // a sink that is starting up is waited for
  v1::GetResultsRequest request;
  request.set_job_id(job);
  request.set_limit(limit);
  auto reader = stub_->GetResults(&context, request);
  std::vector<results::StoredResult> out;
  batches_ = 0;
  v1::ResultBatch batch;
  while (reader->Read(&batch)) {
    ++batches_;
    for (const v1::Result& r : batch.results()) {
      BTRQ_ASSIGN_OR_RETURN(results::StoredResult stored, results::ResultFromProto(r));
      out.push_back(std::move(stored));
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Status::Unavailable("GetResults: " + status.error_message());
  return out;
}

}  // namespace btrq::testing
