#include "cluster/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>

#include "tests/support/status_matchers.h"

namespace btrq::cluster {
namespace {

// Binds 127.0.0.1:port; true when that worked (the port was free).
bool Bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

TEST(FreePorts, GivesDistinctBindablePorts) {
  ASSERT_OK_AND_ASSIGN(std::vector<int> ports, FreePorts(8));
  ASSERT_EQ(ports.size(), 8u);
  EXPECT_EQ(std::set<int>(ports.begin(), ports.end()).size(), 8u);
  for (int port : ports) {
    EXPECT_GT(port, 0);
    EXPECT_TRUE(Bindable(port)) << port;
  }
}

TEST(FreePorts, RejectsWhatIsNoIpv4Address) {
  EXPECT_EQ(FreePorts(1, "localhost").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FreePorts(1, "::1").status().code(), StatusCode::kInvalidArgument);
}

TEST(FreePorts, ZeroIsEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<int> ports, FreePorts(0));
  EXPECT_TRUE(ports.empty());
}

}  // namespace
}  // namespace btrq::cluster
