// btrdb-lite's FaultInject RPC, the one raw BTrDB stub call of the fault harness.

#include <grpcpp/grpcpp.h>

#include <string>

#include "btrdb/v5/btrdb.grpc.pb.h"
#include "tests/faults/cluster.h"

namespace btrq::faults {

Status SetBtrdbCallDelay(const std::string& endpoint, Millis delay) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto stub = v5api::BTrDB::NewStub(channel);
  v5api::FaultInjectParams request;
  request.set_type(2);
  request.set_params(std::to_string(delay.count()));
  v5api::FaultInjectResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const grpc::Status s = stub->FaultInject(&context, request, &response);
  if (!s.ok()) return Status::Unavailable("FaultInject: " + s.error_message());
  if (response.stat().code() != 0) {
    return Status::Internal("FaultInject: BTrDB code " + std::to_string(response.stat().code()) +
                            ": " + response.stat().msg());
  }
  return Status::OK();
}

}  // namespace btrq::faults
