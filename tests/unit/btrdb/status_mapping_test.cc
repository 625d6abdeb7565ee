#include "btrdb/status_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace btrq::btrdb {
namespace {

using ::testing::HasSubstr;

struct BtrdbCase {
  uint32_t code;
  StatusCode expected;
  bool transient;
};

// The mapping table as a specification: every code docs/btrdb-api.md names.
constexpr BtrdbCase kBtrdbCases[] = {
    {401, StatusCode::kNotFound, false},
    {402, StatusCode::kDeadlineExceeded, true},
    {403, StatusCode::kInternal, false},
    {404, StatusCode::kNotFound, false},
    {405, StatusCode::kUnavailable, true},
    {406, StatusCode::kAlreadyExists, false},
    {407, StatusCode::kInvalidArgument, false},
    {408, StatusCode::kInvalidArgument, false},
    {409, StatusCode::kInvalidArgument, false},
    {411, StatusCode::kInvalidArgument, false},
    {412, StatusCode::kInvalidArgument, false},
    {413, StatusCode::kInvalidArgument, false},
    {414, StatusCode::kInvalidArgument, false},
    {415, StatusCode::kInvalidArgument, false},
    {416, StatusCode::kInternal, false},
    {417, StatusCode::kAlreadyExists, false},
    {418, StatusCode::kAlreadyExists, false},
    {419, StatusCode::kUnavailable, true},
    {421, StatusCode::kInvalidArgument, false},
    {422, StatusCode::kInvalidArgument, false},
    {423, StatusCode::kFailedPrecondition, false},
    {424, StatusCode::kFailedPrecondition, false},
    {425, StatusCode::kInvalidArgument, false},
    {426, StatusCode::kResourceExhausted, true},
    {427, StatusCode::kInvalidArgument, false},
    {428, StatusCode::kUnavailable, true},
    {429, StatusCode::kAlreadyExists, false},
    {430, StatusCode::kAborted, true},
    {431, StatusCode::kFailedPrecondition, false},
    {432, StatusCode::kIoError, false},
    {433, StatusCode::kAlreadyExists, false},
    {434, StatusCode::kIoError, false},
    {435, StatusCode::kInternal, false},
    {436, StatusCode::kAlreadyExists, false},
    {437, StatusCode::kPermissionDenied, false},
    {438, StatusCode::kInvalidArgument, false},
    {439, StatusCode::kNotFound, false},
    {440, StatusCode::kUnavailable, true},
    {441, StatusCode::kInvalidArgument, false},
    {442, StatusCode::kAlreadyExists, false},
    {443, StatusCode::kInvalidArgument, false},
    {444, StatusCode::kInvalidArgument, false},
    {445, StatusCode::kNotFound, false},
    {446, StatusCode::kFailedPrecondition, false},
    {447, StatusCode::kFailedPrecondition, false},
    {448, StatusCode::kFailedPrecondition, false},
    {449, StatusCode::kInvalidArgument, false},
    {450, StatusCode::kNotFound, false},
    {452, StatusCode::kInvalidArgument, false},
    {453, StatusCode::kUnavailable, true},
    {454, StatusCode::kInternal, false},
    {455, StatusCode::kUnavailable, true},
    {456, StatusCode::kFailedPrecondition, false},
    {457, StatusCode::kIoError, false},
    {458, StatusCode::kOutOfRange, false},
    {459, StatusCode::kUnavailable, true},
    {500, StatusCode::kInternal, false},
    {501, StatusCode::kUnimplemented, false},
    {502, StatusCode::kFailedPrecondition, false},
    // Unknown codes are permanent.
    {410, StatusCode::kInternal, false},
    {499, StatusCode::kInternal, false},
    {777, StatusCode::kInternal, false},
};

TEST(StatusMapping, EveryBtrdbCodeMapsToItsStatusAndKeepsTheCodeAsSubcode) {
  for (const BtrdbCase& c : kBtrdbCases) {
    const Status s = FromBtrdbStatus("RawValues", c.code, "server said so");
    EXPECT_EQ(s.code(), c.expected) << c.code;
    EXPECT_EQ(s.IsTransient(), c.transient) << c.code;
    EXPECT_EQ(s.subcode(), static_cast<int32_t>(c.code));
    EXPECT_THAT(s.message(), HasSubstr("RawValues"));
    EXPECT_THAT(s.message(), HasSubstr("server said so"));
  }
}

TEST(StatusMapping, MessageNamesTheCode) {
  const Status s = FromBtrdbStatus("Create", 417, "stream exists");
  EXPECT_EQ(s.message(), "Create: stream exists (BTrDB 417 SameStream)");
  EXPECT_EQ(BtrdbCodeName(404), "NoSuchStream");
  EXPECT_EQ(BtrdbCodeName(999), "");
}

struct GrpcCase {
  grpc::StatusCode code;
  StatusCode expected;
  bool transient;
};

constexpr GrpcCase kGrpcCases[] = {
    {grpc::StatusCode::UNAVAILABLE, StatusCode::kUnavailable, true},
    {grpc::StatusCode::DEADLINE_EXCEEDED, StatusCode::kDeadlineExceeded, true},
    {grpc::StatusCode::RESOURCE_EXHAUSTED, StatusCode::kResourceExhausted, true},
    {grpc::StatusCode::ABORTED, StatusCode::kAborted, true},
    {grpc::StatusCode::CANCELLED, StatusCode::kCancelled, false},
    {grpc::StatusCode::UNKNOWN, StatusCode::kInternal, false},
    {grpc::StatusCode::INVALID_ARGUMENT, StatusCode::kInvalidArgument, false},
    {grpc::StatusCode::NOT_FOUND, StatusCode::kNotFound, false},
    {grpc::StatusCode::ALREADY_EXISTS, StatusCode::kAlreadyExists, false},
    {grpc::StatusCode::PERMISSION_DENIED, StatusCode::kPermissionDenied, false},
    {grpc::StatusCode::FAILED_PRECONDITION, StatusCode::kFailedPrecondition, false},
    {grpc::StatusCode::OUT_OF_RANGE, StatusCode::kOutOfRange, false},
    {grpc::StatusCode::UNIMPLEMENTED, StatusCode::kUnimplemented, false},
    {grpc::StatusCode::INTERNAL, StatusCode::kInternal, false},
    {grpc::StatusCode::DATA_LOSS, StatusCode::kInternal, false},
    {grpc::StatusCode::UNAUTHENTICATED, StatusCode::kUnauthenticated, false},
};

TEST(StatusMapping, EveryGrpcCodeMapsWithoutSubcode) {
  for (const GrpcCase& c : kGrpcCases) {
    const Status s = FromGrpcStatus("Nearest", grpc::Status(c.code, "details here"));
    EXPECT_EQ(s.code(), c.expected) << static_cast<int>(c.code);
    EXPECT_EQ(s.IsTransient(), c.transient) << static_cast<int>(c.code);
    EXPECT_EQ(s.subcode(), 0);
    EXPECT_THAT(s.message(), HasSubstr("Nearest"));
    EXPECT_THAT(s.message(), HasSubstr("details here"));
  }
}

TEST(StatusMapping, UnavailableSaysTheServerIsUnavailable) {
  const Status s = FromGrpcStatus(
      "Info", grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses"));
  EXPECT_EQ(s.message(),
            "Info: BTrDB server unavailable: failed to connect to all addresses");
}

TEST(StatusMapping, BracketedCodeInGrpcDetailsIsABtrdbError) {
  // How a proxy reports BTrDB errors as gRPC status (docs/btrdb-api.md, Results and errors).
  const Status s = FromGrpcStatus(
      "StreamInfo", grpc::Status(grpc::StatusCode::UNKNOWN, "[404] stream does not exist"));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.subcode(), 404);
  EXPECT_EQ(s.message(), "StreamInfo: stream does not exist (BTrDB 404 NoSuchStream)");

  const Status transient =
      FromGrpcStatus("Insert", grpc::Status(grpc::StatusCode::UNKNOWN, "[426] shedding load"));
  EXPECT_TRUE(transient.IsTransient());
  EXPECT_EQ(transient.subcode(), 426);
}

TEST(StatusMapping, BracketsThatAreNotACodeAreLeftAlone) {
  for (const char* details : {"[abc] x", "[12] x", "[999] x", "[40", "plain [404] later"}) {
    const Status s = FromGrpcStatus("X", grpc::Status(grpc::StatusCode::INTERNAL, details));
    EXPECT_EQ(s.code(), StatusCode::kInternal) << details;
    EXPECT_EQ(s.subcode(), 0) << details;
  }
}

}  // namespace
}  // namespace btrq::btrdb
