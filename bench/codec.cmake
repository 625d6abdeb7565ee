# codec_bench: encode + decode of TASK batches (Google Benchmark; skipped without it).
if(benchmark_FOUND)
  btrq_executable(codec_bench
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/codec_bench.cc
    DEPS btrq_common benchmark::benchmark)
endif()
