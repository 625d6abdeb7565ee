#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace btrq::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/getsockname on 127.0.0.1:0 failed");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string FreeHostPort() { return "127.0.0.1:" + std::to_string(FreePort()); }
std::string FreeZmqEndpoint() { return "tcp://127.0.0.1:" + std::to_string(FreePort()); }

}  // namespace btrq::testing
