# broker_core_bench: the broker's scheduler loop without sockets (submit, dispatch,
# DONE), with and without the journal. Prints tasks/s; never run by ctest.
btrq_executable(broker_core_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/broker_core_bench.cc
  DEPS btrq_broker_core CLI11::CLI11)
