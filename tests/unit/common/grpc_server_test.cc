#include "common/grpc_server.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "btrq/v1/control.grpc.pb.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::btrq::testing::StatusIs;

TEST(ToGrpcStatusTest, MapsEveryCodeOfOurs) {
  struct Row {
    StatusCode ours;
    grpc::StatusCode grpc;
  };
  const std::vector<Row> rows = {
      {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {StatusCode::kInvalidMessage, grpc::StatusCode::INVALID_ARGUMENT},
      {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
      {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
  };
  for (const Row& row : rows) {
    const grpc::Status mapped = ToGrpcStatus(Status(row.ours, "what went wrong"));
    EXPECT_EQ(mapped.error_code(), row.grpc) << StatusCodeName(row.ours);
    EXPECT_EQ(mapped.error_message(), "what went wrong") << StatusCodeName(row.ours);
  }
}

TEST(ToGrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(Status::OK()).ok()); }

TEST(ToGrpcStatusTest, CodesWithoutATwinAreInternalWithTheirName) {
  for (StatusCode code : {StatusCode::kIoError, StatusCode::kInternal}) {
    const Status ours(code, "disk on fire");
    const grpc::Status mapped = ToGrpcStatus(ours);
    EXPECT_EQ(mapped.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(mapped.error_message(), ours.ToString());
  }
}

// A Sink service whose GetStats answers only callers with the token.
class GuardedSink final : public v1::Sink::Service {
 public:
  explicit GuardedSink(std::string token) : token_(std::move(token)) {}
  grpc::Status GetStats(grpc::ServerContext* context, const v1::SinkStatsRequest*,
                        v1::SinkStats* response) override {
    if (grpc::Status auth =
            CheckBearer(*context, token_, {.missing = "no token", .wrong = "bad token"});
        !auth.ok()) {
      return auth;
    }
    response->set_jobs(7);
    return grpc::Status::OK;
  }

 private:
  const std::string token_;
};

GrpcServerOptions LocalOptions() {
  GrpcServerOptions options;
  options.listen = "127.0.0.1:0";
  options.listen_name = "test.listen";
  options.tls_cert_name = "test.tls_cert";
  options.tls_key_name = "test.tls_key";
  options.shutdown_grace = std::chrono::milliseconds(100);
  return options;
}

grpc::Status CallStats(const std::string& endpoint, const std::string& authorization,
                       v1::SinkStats* stats) {
  auto stub = v1::Sink::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  return stub->GetStats(&context, v1::SinkStatsRequest(), stats);
}

TEST(GrpcServerTest, ServesOnAPickedPortAndChecksTheBearerToken) {
  GuardedSink service("s3cret");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GrpcServer> server,
                       GrpcServer::Start(LocalOptions(), {&service}));
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(server->endpoint(), "127.0.0.1:" + std::to_string(server->port()));

  v1::SinkStats stats;
  grpc::Status missing = CallStats(server->endpoint(), "", &stats);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(missing.error_message(), "no token");
  grpc::Status wrong = CallStats(server->endpoint(), "Bearer nope", &stats);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message(), "bad token");
  grpc::Status right = CallStats(server->endpoint(), "Bearer s3cret", &stats);
  ASSERT_TRUE(right.ok()) << right.error_message();
  EXPECT_EQ(stats.jobs(), 7u);
}

TEST(GrpcServerTest, AnEmptyTokenLetsEveryCallIn) {
  GuardedSink service("");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GrpcServer> server,
                       GrpcServer::Start(LocalOptions(), {&service}));
  v1::SinkStats stats;
  EXPECT_TRUE(CallStats(server->endpoint(), "", &stats).ok());
}

TEST(GrpcServerTest, ShutdownIsIdempotentAndStopsServing) {
  GuardedSink service("");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GrpcServer> server,
                       GrpcServer::Start(LocalOptions(), {&service}));
  const std::string endpoint = server->endpoint();
  server->Shutdown();
  server->Shutdown();
  v1::SinkStats stats;
  EXPECT_EQ(CallStats(endpoint, "", &stats).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(GrpcServerTest, APortInUseIsUnavailable) {
  // A second server on a port already served must fail, not share it (SO_REUSEPORT off):
  // two brokers on one control port would each answer some of the calls.
  GuardedSink first_service("");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GrpcServer> first,
                       GrpcServer::Start(LocalOptions(), {&first_service}));
  GrpcServerOptions options = LocalOptions();
  options.listen = first->endpoint();
  GuardedSink service("");
  Result<std::unique_ptr<GrpcServer>> second = GrpcServer::Start(options, {&service});
  EXPECT_THAT(second.status(),
              StatusIs(StatusCode::kUnavailable, "cannot listen on test.listen " + options.listen));
}

TEST(GrpcServerTest, AMalformedAddressIsInvalid) {
  GrpcServerOptions options = LocalOptions();
  options.listen = "no-port-here";
  Result<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcServerTest, AnUnreadableTlsFileIsNamedInTheError) {
  GrpcServerOptions options = LocalOptions();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  Result<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(), "test.tls_cert: cannot read /nonexistent/cert.pem");
}

TEST(GrpcServerTest, OnlyAKeyStillAsksForTheCertificate) {
  GrpcServerOptions options = LocalOptions();
  options.tls_key_file = "/nonexistent/key.pem";
  Result<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), StartsWith("test.tls_cert: cannot read"));
}

TEST(ControlServerOptionsTest, NamesTheConfigKeysOfItsSection) {
  const GrpcServerOptions options =
      ControlServerOptions("sink", "127.0.0.1:7410", "/etc/c.pem", "/etc/k.pem");
  EXPECT_EQ(options.listen, "127.0.0.1:7410");
  EXPECT_EQ(options.listen_name, "sink.control_listen");
  EXPECT_EQ(options.tls_cert_name, "sink.tls_cert");
  EXPECT_EQ(options.tls_key_name, "sink.tls_key");
  EXPECT_EQ(options.tls_cert_file, "/etc/c.pem");
  EXPECT_EQ(options.tls_key_file, "/etc/k.pem");
}

// Admits every call; only its presence matters here.
class AdmitAll final : public grpc::AuthMetadataProcessor {
 public:
  grpc::Status Process(const InputMetadata&, grpc::AuthContext*, OutputMetadata*,
                       OutputMetadata*) override {
    return grpc::Status::OK;
  }
};

TEST(GrpcServerTest, AnAuthProcessorNeedsTls) {
  GrpcServerOptions options = LocalOptions();
  options.auth_processor = std::make_shared<AdmitAll>();
  Result<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("needs TLS"));
}

}  // namespace
}  // namespace btrq
