#pragma once

// Child processes for integration tests: the production class (common/subprocess.h) under
// the tests' namespace, so tests keep writing testing::Subprocess.

#include "common/subprocess.h"

namespace btrq::testing {
using ::btrq::SpawnOptions;
using ::btrq::Subprocess;
}  // namespace btrq::testing
