#include "cluster/secure.h"

#include "common/file_util.h"
#include "common/lease_token.h"
#include "common/zap.h"

namespace btrq::cluster {

std::string SecretKeyFile(const std::string& keys_dir, const std::string& name) {
  return keys_dir + "/" + name + ".key";
}

Status MakeSecure(const std::string& keys_dir, BtrqConfig* config) {
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair broker, WriteKeyPair(keys_dir, "broker", /*overwrite=*/true));
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair sink, WriteKeyPair(keys_dir, "sink", /*overwrite=*/true));
  CurveOptions& curve = config->curve;
  curve.enabled = true;
  curve.public_key.clear();  // follows from each process's secret key
  // The shared config names the head node's key, as config/secure.yaml does; the CLI
  // never reads it and every daemon is started with its own.
  curve.secret_key_file = SecretKeyFile(keys_dir, "broker");
  curve.broker_public_key = broker.public_key;
  curve.sink_public_key = sink.public_key;
  curve.authorized_keys_file = keys_dir + "/authorized_workers";
  BTRQ_RETURN_IF_ERROR(WriteFileAtomically(curve.authorized_keys_file,
                                           "# workers allowed to connect\n"));
  // A random secret written the way a lease secret is: 64 hex digits, mode 0600.
  const std::string token = keys_dir + "/control-token";
  BTRQ_RETURN_IF_ERROR(WriteNewLeaseSecret(token, /*overwrite=*/true));
  config->broker.control_token_file = token;
  config->sink.control_token_file = token;
  config->control.token_file = token;
  return Status::OK();
}

Result<CurveKeyPair> AddWorkerKey(const std::string& keys_dir, const std::string& name,
                                  bool authorized, const CurveOptions& curve) {
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair keys, WriteKeyPair(keys_dir, name, /*overwrite=*/true));
  if (!authorized) return keys;
  BTRQ_ASSIGN_OR_RETURN(std::string listed, ReadFileToString(curve.authorized_keys_file));
  // A rename, never a partial file: broker and sink reload the list when it changes.
  BTRQ_RETURN_IF_ERROR(WriteFileAtomically(curve.authorized_keys_file,
                                           listed + keys.public_key + " " + name + "\n"));
  return keys;
}

}  // namespace btrq::cluster
