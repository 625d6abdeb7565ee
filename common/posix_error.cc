#include "common/posix_error.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace btrq {

Status PosixError(std::string_view context, int error_number) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(error_number);
  StatusCode code;
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      code = StatusCode::kResourceExhausted;
      break;
    case ENOENT:
      code = StatusCode::kNotFound;
      break;
    case EEXIST:
      code = StatusCode::kAlreadyExists;
      break;
    default:
      code = StatusCode::kIoError;
      break;
  }
  return Status(code, std::move(msg), error_number);
}

}  // namespace btrq
