#pragma once

// Free TCP ports for the processes of a local cluster.

#include <string>
#include <vector>

#include "common/status.h"

namespace btrq::cluster {

// `count` distinct TCP ports of `host` (an IPv4 address of this machine) that were free a
// moment ago: all are bound at once while picking, then released. Another process may
// take one before its server binds it; rare, and then that server fails to start.
Result<std::vector<int>> FreePorts(int count, const std::string& host = "127.0.0.1");

}  // namespace btrq::cluster
