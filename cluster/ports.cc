#include "cluster/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace btrq::cluster {

Result<std::vector<int>> FreePorts(int count, const std::string& host) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("not an IPv4 address: " + host);
  }
  std::vector<int> fds;
  std::vector<int> ports;
  Status status;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = Status::IoError("socket() failed");
      break;
    }
    fds.push_back(fd);
    sockaddr_in bound = addr;
    bound.sin_port = 0;
    socklen_t len = sizeof(bound);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
      status = Status::IoError("cannot bind a free port on " + host);
      break;
    }
    ports.push_back(ntohs(bound.sin_port));
  }
  // Held until every port is picked, so that the ports are distinct.
  for (int fd : fds) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

}  // namespace btrq::cluster
