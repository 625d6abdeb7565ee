# Every third-party dependency is found here, and only here. Debian 12 package names are
# in scripts/bootstrap; docs/dependencies.md lists the CMake names that work with them.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(cppzmq REQUIRED)
find_package(msgpack CONFIG REQUIRED)   # target msgpackc-cxx
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)     # header-only command-line parsing for every main
find_package(SQLite3 REQUIRED)          # the sink's result store
find_package(OpenSSL REQUIRED)          # libcrypto's HMAC: lease tokens (common/lease_token.cc)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # /metrics, /healthz
if(BTRQ_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # The tests' JSON DOM (tests/support/json.cc); tests read no hostile input.
  find_package(nlohmann_json 3 REQUIRED)  # target nlohmann_json::nlohmann_json
  include(GoogleTest)
endif()
if(BTRQ_BUILD_BENCHMARKS)
  find_package(benchmark QUIET)
endif()

set(BTRQ_GRPC_CPP_PLUGIN $<TARGET_FILE:gRPC::grpc_cpp_plugin>)
