# bench-btrdb-lite: btrdb-lite insert and RawValues throughput through btrq's C++ client,
# plus the client's protobuf decode cost per point.
if(TARGET btrq_btrdb_lite AND TARGET btrq_btrdb)
  btrq_executable(bench-btrdb-lite
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/btrdb_lite_bench.cc
    DEPS btrq_btrdb_lite btrq_btrdb btrq_proto btrq_common CLI11::CLI11)
endif()
