# Included by the top-level CMakeLists.txt when BTRQ_FUZZ is ON, before any component:
# every target is built with coverage for libFuzzer (fuzzer-no-link) plus ASan and UBSan,
# so code under test in component libraries is instrumented too. Fuzz targets add
# -fsanitize=fuzzer at link time (btrq_fuzzer() in fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "BTRQ_FUZZ=ON needs clang (libFuzzer): configure with CC=clang CXX=clang++")
endif()
if(BTRQ_SANITIZE)
  message(FATAL_ERROR "BTRQ_FUZZ=ON already builds with ASan and UBSan; leave BTRQ_SANITIZE OFF")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
