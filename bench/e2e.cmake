# End-to-end benchmark tools driven by bench/run (docs/performance.md): the bare ZeroMQ
# credit loop (dispatch ceiling), the dispatch-to-DONE latency tap, and the bare
# RawValues scan (scan ceiling). Never run by ctest.
btrq_executable(bench-zmq-credit-loop
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zmq_credit_loop.cc
  DEPS btrq_common CLI11::CLI11)
btrq_executable(bench-dispatch-tap
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/dispatch_tap.cc
  DEPS btrq_common CLI11::CLI11)
if(TARGET btrq_btrdb)
  btrq_executable(bench-raw-scan
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/raw_scan.cc
    DEPS btrq_btrdb btrq_common CLI11::CLI11)
endif()
