# analytics_bench: ns per point of the quality, count and stats analytics over an
# in-memory source (Google Benchmark; skipped without it).
if(benchmark_FOUND AND TARGET btrq_analytics)
  btrq_executable(analytics_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/analytics_bench.cc
    DEPS btrq_analytics benchmark::benchmark)
endif()
