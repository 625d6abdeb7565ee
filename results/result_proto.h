#pragma once

// StoredResult <-> btrq.v1.Result, the one place the two representations meet. The
// sink's gRPC service sends ToProto's output; the CLI turns what it receives back into
// StoredResult with ResultFromProto before exporting (results/export.h).

#include "common/status.h"
#include "results/stored_result.h"

namespace btrq::v1 {
class Result;
}  // namespace btrq::v1

namespace btrq::results {

void ToProto(const StoredResult& stored, v1::Result* out);

// kInvalidArgument when the key's stream is not 16 bytes or a field has no value.
btrq::Result<StoredResult> ResultFromProto(const v1::Result& proto);

}  // namespace btrq::results
