# sink_bench: results/s through the durable result store alone, by group-commit size.
if(TARGET btrq_sink)
  btrq_executable(sink_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/sink_bench.cc
    DEPS btrq_sink CLI11::CLI11)
endif()
