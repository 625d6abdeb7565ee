#pragma once

// A network namespace with a veth link to the host's, made with iproute2 for a test, so
// one process can be cut off from the others (the link goes down: packets are dropped,
// no connection is reset) and reconnected. Needs CAP_NET_ADMIN (root); Create() says so
// when the machine does not allow it.
//
//   host  [veth <ns>h  10.237.A.B+1/30] <----> [veth <ns>n  10.237.A.B+2/30]  namespace
//
// Daemons that the namespaced process must reach bind host_address(); the process runs
// under ExecPrefix() ("ip netns exec NAME").

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace btrq::faults {

class NetworkNamespace {
 public:
  // Unavailable, with the failing command and its output, when namespaces or veth links
  // cannot be made here.
  static Result<std::unique_ptr<NetworkNamespace>> Create();
  // Deletes the namespace (and with it the link).
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  // The host side's address, reachable from inside the namespace.
  const std::string& host_address() const { return host_address_; }
  std::vector<std::string> ExecPrefix() const;

  // Takes the link down: nothing passes either way until Heal().
  Status Cut();
  Status Heal();

 private:
  NetworkNamespace() = default;

  std::string name_;
  std::string host_veth_;
  std::string host_address_;
  bool created_ = false;
};

}  // namespace btrq::faults
