# btrq_library(NAME SOURCES ... DEPS ...): a component library with our warnings.
function(btrq_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC ${BTRQ_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${BTRQ_WARNINGS})
  target_link_libraries(${name} PUBLIC ${L_DEPS})
endfunction()

# btrq_executable(NAME SOURCES ... DEPS ...): a thin main over component libraries.
function(btrq_executable name)
  cmake_parse_arguments(E "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${E_SOURCES})
  target_compile_options(${name} PRIVATE ${BTRQ_WARNINGS})
  target_link_libraries(${name} PRIVATE ${E_DEPS})
endfunction()

# btrq_test(NAME SOURCES ... LIBS ... LABEL unit|integration [TIMEOUT s]): one gtest binary,
# each case visible to CTest through gtest_discover_tests.
function(btrq_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${BTRQ_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} btrq_testing GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${T_LABEL}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
