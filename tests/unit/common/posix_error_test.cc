#include "common/posix_error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace btrq {
namespace {

TEST(PosixError, MapsErrnoToACode) {
  const struct {
    int error_number;
    StatusCode code;
  } kCases[] = {
      {ENOSPC, StatusCode::kResourceExhausted}, {EDQUOT, StatusCode::kResourceExhausted},
      {ENOENT, StatusCode::kNotFound},          {EEXIST, StatusCode::kAlreadyExists},
      {EIO, StatusCode::kIoError},              {EACCES, StatusCode::kIoError},
      {EBADF, StatusCode::kIoError},
  };
  for (const auto& c : kCases) {
    const Status s = PosixError("write x", c.error_number);
    EXPECT_EQ(s.code(), c.code) << c.error_number;
    EXPECT_EQ(s.subcode(), c.error_number);
  }
}

TEST(PosixError, NamesTheContextAndTheError) {
  const Status s = PosixError("fdatasync /var/lib/btrq/journal.log", ENOSPC);
  EXPECT_EQ(s.message(), std::string("fdatasync /var/lib/btrq/journal.log: ") + std::strerror(ENOSPC));
}

}  // namespace
}  // namespace btrq
