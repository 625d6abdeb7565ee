#include "tests/faults/netns.h"

#include <unistd.h>

#include <chrono>

#include "tests/support/subprocess.h"

namespace btrq::faults {
namespace {

std::string IpBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

// Runs `ip ARGS`; Unavailable with its output when it fails.
Status Ip(const std::vector<std::string>& args) {
  const std::string ip = IpBinary();
  if (ip.empty()) return Status::Unavailable("iproute2's ip is not installed");
  std::vector<std::string> argv = {ip};
  argv.insert(argv.end(), args.begin(), args.end());
  BTRQ_ASSIGN_OR_RETURN(auto child, testing::Subprocess::Spawn(argv));
  BTRQ_ASSIGN_OR_RETURN(int code, child->Wait(std::chrono::seconds(10)));
  (void)child->WaitForLine("(?!)", std::chrono::seconds(2), /*from_stderr=*/true);
  if (code != 0) {
    std::string cmd = "ip";
    for (const std::string& a : args) cmd += " " + a;
    return Status::Unavailable("`" + cmd + "` failed (" + std::to_string(code) +
                               "): " + child->Stderr());
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<NetworkNamespace>> NetworkNamespace::Create() {
  std::unique_ptr<NetworkNamespace> ns(new NetworkNamespace());
  const int pid = static_cast<int>(::getpid());
  const std::string tag = "bqf" + std::to_string(pid);
  ns->name_ = tag;
  ns->host_veth_ = tag + "h";
  const std::string ns_veth = tag + "n";
  const std::string net = "10.237." + std::to_string((pid / 64) % 256) + ".";
  const int base = (pid % 64) * 4;
  ns->host_address_ = net + std::to_string(base + 1);
  const std::string ns_address = net + std::to_string(base + 2);

  BTRQ_RETURN_IF_ERROR(Ip({"netns", "add", ns->name_}));
  ns->created_ = true;
  BTRQ_RETURN_IF_ERROR(Ip({"link", "add", ns->host_veth_, "type", "veth", "peer", "name",
                           ns_veth, "netns", ns->name_}));
  BTRQ_RETURN_IF_ERROR(Ip({"addr", "add", ns->host_address_ + "/30", "dev", ns->host_veth_}));
  BTRQ_RETURN_IF_ERROR(Ip({"link", "set", ns->host_veth_, "up"}));
  BTRQ_RETURN_IF_ERROR(Ip({"-n", ns->name_, "addr", "add", ns_address + "/30", "dev", ns_veth}));
  BTRQ_RETURN_IF_ERROR(Ip({"-n", ns->name_, "link", "set", ns_veth, "up"}));
  BTRQ_RETURN_IF_ERROR(Ip({"-n", ns->name_, "link", "set", "lo", "up"}));
  return ns;
}

NetworkNamespace::~NetworkNamespace() {
  if (created_) (void)Ip({"netns", "del", name_});
}

std::vector<std::string> NetworkNamespace::ExecPrefix() const {
  return {IpBinary(), "netns", "exec", name_};
}

Status NetworkNamespace::Cut() { return Ip({"link", "set", host_veth_, "down"}); }

Status NetworkNamespace::Heal() { return Ip({"link", "set", host_veth_, "up"}); }

}  // namespace btrq::faults
