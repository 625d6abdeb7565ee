#pragma once

// The one errno -> Status mapping (leveldb's PosixError, util/env_posix.cc), so a full
// disk reads the same in every component.

#include <string_view>

#include "common/status.h"

namespace btrq {

// Status for a failed system call: "<context>: <strerror>", errno as the subcode.
// ENOSPC and EDQUOT give ResourceExhausted, ENOENT NotFound, EEXIST AlreadyExists,
// anything else IoError.
Status PosixError(std::string_view context, int error_number);

}  // namespace btrq
