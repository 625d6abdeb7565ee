#pragma once

// The secrets of a secure local cluster (ClusterOptions::secure), all in one directory:
// a CURVE key pair per process (NAME.key, NAME.pub as `btrq keygen` writes them), the
// worker keys broker and sink let in (authorized_workers) and the control token.

#include <string>

#include "common/options.h"
#include "common/status.h"
#include "common/zmq_util.h"

namespace btrq::cluster {

// Writes `keys_dir`/{broker,sink}.key|.pub, an empty authorized_workers and a new
// control-token, and points `config` at them: curve on with the servers' public keys and
// the broker's secret key (each daemon overrides it: SecretKeyFile), the control token
// for broker, sink and CLI. `keys_dir` must exist.
Status MakeSecure(const std::string& keys_dir, BtrqConfig* config);

// The secret-key file of the process called `name` ("broker", "worker-1").
std::string SecretKeyFile(const std::string& keys_dir, const std::string& name);

// Writes a key pair for `name`; when `authorized`, adds its public key to
// config.curve.authorized_keys_file, replacing the file at once (broker and sink watch it).
Result<CurveKeyPair> AddWorkerKey(const std::string& keys_dir, const std::string& name,
                                  bool authorized, const CurveOptions& curve);

}  // namespace btrq::cluster
