#pragma once

#include <string>

namespace btrq::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
// Races with other processes are possible but rare; servers that can bind port 0
// themselves and report the port should do that instead.
int FreePort();

// "127.0.0.1:PORT" and "tcp://127.0.0.1:PORT" for a fresh free port.
std::string FreeHostPort();
std::string FreeZmqEndpoint();

}  // namespace btrq::testing
