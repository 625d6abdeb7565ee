#include "btrdb/status_mapping.h"

#include <string>

namespace btrq::btrdb {
namespace {

struct CodeInfo {
  uint32_t code;
  std::string_view name;
  StatusCode status;
};

// Every BTrDB code (docs/btrdb-api.md, Status codes). Transient: 402, 405, 419, 426, 428, 430, 440,
// 453, 455, 459 (timeouts, cluster re-routing and degradation, load shedding, lost
// coordination, lock contention, temporary storage trouble). The rest are permanent.
constexpr CodeInfo kCodes[] = {
    {401, "NoSuchPoint", StatusCode::kNotFound},
    {402, "ContextError", StatusCode::kDeadlineExceeded},
    {403, "InsertFailure", StatusCode::kInternal},
    {404, "NoSuchStream", StatusCode::kNotFound},
    {405, "WrongEndpoint", StatusCode::kUnavailable},
    {406, "StreamExists", StatusCode::kAlreadyExists},
    {407, "InvalidCollection", StatusCode::kInvalidArgument},
    {408, "InvalidTagKey", StatusCode::kInvalidArgument},
    {409, "InvalidTagValue", StatusCode::kInvalidArgument},
    {410, "AwesomenessExceedsThreshold", StatusCode::kInternal},
    {411, "InvalidLimit", StatusCode::kInvalidArgument},
    {412, "AmbiguousTags", StatusCode::kInvalidArgument},
    {413, "InvalidTimeRange", StatusCode::kInvalidArgument},
    {414, "InsertTooBig", StatusCode::kInvalidArgument},
    {415, "InvalidPointWidth", StatusCode::kInvalidArgument},
    {416, "GenericError", StatusCode::kInternal},
    {417, "SameStream", StatusCode::kAlreadyExists},
    {418, "AmbiguousStream", StatusCode::kAlreadyExists},
    {419, "ClusterDegraded", StatusCode::kUnavailable},
    {420, "BlazeIt", StatusCode::kInternal},
    {421, "WrongArgs", StatusCode::kInvalidArgument},
    {422, "AnnotationTooBig", StatusCode::kInvalidArgument},
    {423, "AnnotationVersionMismatch", StatusCode::kFailedPrecondition},
    {424, "FaultInjectionDisabled", StatusCode::kFailedPrecondition},
    {425, "BadValue", StatusCode::kInvalidArgument},
    {426, "ResourceDepleted", StatusCode::kResourceExhausted},
    {427, "InvalidVersions", StatusCode::kInvalidArgument},
    {428, "EtcdFailure", StatusCode::kUnavailable},
    {429, "ReusedUUID", StatusCode::kAlreadyExists},
    {430, "ConcurrentModification", StatusCode::kAborted},
    {431, "ObliterateDisabled", StatusCode::kFailedPrecondition},
    {432, "CephError", StatusCode::kIoError},
    {433, "NodeExisted", StatusCode::kAlreadyExists},
    {434, "JournalError", StatusCode::kIoError},
    {435, "ManifestError", StatusCode::kInternal},
    {436, "ManifestDeviceDuplicated", StatusCode::kAlreadyExists},
    {437, "Unauthorized", StatusCode::kPermissionDenied},
    {438, "InvalidParameter", StatusCode::kInvalidArgument},
    {439, "ManifestDeviceDoesntExist", StatusCode::kNotFound},
    {440, "MetadataConnectionError", StatusCode::kUnavailable},
    {441, "BadSQLValue", StatusCode::kInvalidArgument},
    {442, "AlreadyExists", StatusCode::kAlreadyExists},
    {443, "MissingParameter", StatusCode::kInvalidArgument},
    {444, "UnrecognizedParameter", StatusCode::kInvalidArgument},
    {445, "ObjectNotFound", StatusCode::kNotFound},
    {446, "ObjectInUse", StatusCode::kFailedPrecondition},
    {447, "OperationNotAllowed", StatusCode::kFailedPrecondition},
    {448, "TLSError", StatusCode::kFailedPrecondition},
    {449, "SelectorError", StatusCode::kInvalidArgument},
    {450, "VersionNotAvailable", StatusCode::kNotFound},
    {452, "OverlappingTrimRange", StatusCode::kInvalidArgument},
    {453, "LockFailed", StatusCode::kUnavailable},
    {454, "NoLeafNode", StatusCode::kInternal},
    {455, "TierCacheError", StatusCode::kUnavailable},
    {456, "StreamEmpty", StatusCode::kFailedPrecondition},
    {457, "TieredStorageBackendError", StatusCode::kIoError},
    {458, "TieredStorageOutOfBounds", StatusCode::kOutOfRange},
    {459, "TieredStorageTemporaryError", StatusCode::kUnavailable},
    {500, "InvariantFailure", StatusCode::kInternal},
    {501, "NotImplemented", StatusCode::kUnimplemented},
    {502, "UnsupportedRollback", StatusCode::kFailedPrecondition},
};

const CodeInfo* FindCode(uint32_t code) {
  for (const CodeInfo& c : kCodes) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

StatusCode FromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return StatusCode::kOk;
    case grpc::StatusCode::CANCELLED: return StatusCode::kCancelled;
    case grpc::StatusCode::INVALID_ARGUMENT: return StatusCode::kInvalidArgument;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return StatusCode::kDeadlineExceeded;
    case grpc::StatusCode::NOT_FOUND: return StatusCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS: return StatusCode::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED: return StatusCode::kPermissionDenied;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return StatusCode::kResourceExhausted;
    case grpc::StatusCode::FAILED_PRECONDITION: return StatusCode::kFailedPrecondition;
    case grpc::StatusCode::ABORTED: return StatusCode::kAborted;
    case grpc::StatusCode::OUT_OF_RANGE: return StatusCode::kOutOfRange;
    case grpc::StatusCode::UNIMPLEMENTED: return StatusCode::kUnimplemented;
    case grpc::StatusCode::UNAVAILABLE: return StatusCode::kUnavailable;
    case grpc::StatusCode::UNAUTHENTICATED: return StatusCode::kUnauthenticated;
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    default:
      return StatusCode::kInternal;
  }
}

// Parses a leading "[NNN]" (three digits, 400..599) and the text after it.
bool ParseBracketedCode(std::string_view details, uint32_t* code, std::string_view* rest) {
  if (details.size() < 5 || details[0] != '[' || details[4] != ']') return false;
  uint32_t v = 0;
  for (size_t i = 1; i <= 3; ++i) {
    if (details[i] < '0' || details[i] > '9') return false;
    v = v * 10 + static_cast<uint32_t>(details[i] - '0');
  }
  if (v < 400 || v > 599) return false;
  *code = v;
  details.remove_prefix(5);
  while (!details.empty() && details.front() == ' ') details.remove_prefix(1);
  *rest = details;
  return true;
}

}  // namespace

StatusCode BtrdbCodeToStatusCode(uint32_t btrdb_code) {
  if (const CodeInfo* c = FindCode(btrdb_code)) return c->status;
  // Unknown codes are permanent: retrying something we do not understand helps nobody.
  return StatusCode::kInternal;
}

std::string_view BtrdbCodeName(uint32_t btrdb_code) {
  const CodeInfo* c = FindCode(btrdb_code);
  return c ? c->name : std::string_view();
}

Status FromBtrdbStatus(std::string_view rpc, uint32_t btrdb_code, std::string_view msg) {
  std::string text(rpc);
  text += ": ";
  text += msg.empty() ? std::string_view("error") : msg;
  text += " (BTrDB " + std::to_string(btrdb_code);
  if (std::string_view name = BtrdbCodeName(btrdb_code); !name.empty()) {
    text += ' ';
    text += name;
  }
  text += ')';
  return Status(BtrdbCodeToStatusCode(btrdb_code), std::move(text),
                static_cast<int32_t>(btrdb_code));
}

Status FromGrpcStatus(std::string_view rpc, const grpc::Status& status) {
  const std::string& details = status.error_message();
  uint32_t code = 0;
  std::string_view rest;
  if (ParseBracketedCode(details, &code, &rest)) return FromBtrdbStatus(rpc, code, rest);

  std::string text(rpc);
  text += ": ";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: text += "BTrDB server unavailable: "; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: text += "deadline exceeded: "; break;
    default: text += "gRPC error: "; break;
  }
  text += details.empty() ? std::string("(no details)") : details;
  StatusCode mapped = FromGrpcCode(status.error_code());
  if (mapped == StatusCode::kOk) mapped = StatusCode::kInternal;  // REQUIRES violated
  return Status(mapped, std::move(text));
}

}  // namespace btrq::btrdb
