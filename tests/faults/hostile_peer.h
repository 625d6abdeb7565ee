#pragma once

// Forged and oversized peers (issue #14, section 7): plain DEALER connections to the
// broker's task socket and the sink's result socket (the fault suite runs on loopback
// without CURVE, so anyone may connect) that send what no honest peer sends: garbage,
// frames over the size limit, another protocol version, a HELLO with a huge analytic
// list or a live worker's id, frames before HELLO, and, from a peer that said HELLO
// under its own id, DONE (ok without or with a wrong receipt, failed, not attempted),
// REFUSE and HEARTBEAT for keys of the running jobs, and RESULTs for those keys with no
// or a wrong lease token and wrong values. None may change a result, a count, a lease or
// a credit: the total check at the end of the jobs proves it; this proves each frame
// arrived and was refused.

#include <random>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "tests/faults/cluster.h"

namespace btrq::faults {

// Sends the frames, then waits until the broker and the sink have counted each kind as
// refused (btrq_bad_messages_total{reason}); DeadlineExceeded names the reasons that did
// not rise. `targets` are keys of running jobs (may be empty: no forged DONE/RESULT).
Status SendHostileFrames(Cluster* cluster, const std::vector<TaskKey>& targets,
                         std::mt19937_64* rng);

}  // namespace btrq::faults
