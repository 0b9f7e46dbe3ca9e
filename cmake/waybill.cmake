# One helper per kind of target, as in LevelDB's leveldb_test() and Abseil's absl_cc_test().

# waybill_test(NAME SOURCES... [LIBS libs...] [LABELS labels...])
# Builds a doctest executable and registers it with CTest. Tests run with the
# build directory as their working directory and get a private TMPDIR.
function(waybill_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/doctest_main.cc)
  target_link_libraries(${name} PRIVATE ${T_LIBS} doctest::doctest)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "WAYBILL_SOURCE_DIR=${PROJECT_SOURCE_DIR};WAYBILL_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# waybill_benchmark(NAME SOURCES... [LIBS libs...]): a plain executable that prints figures.
function(waybill_benchmark name)
  cmake_parse_arguments(B "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
endfunction()

# waybill_fuzz(NAME SOURCES... [LIBS libs...]): a libFuzzer target, built only when
# WAYBILL_FUZZ=ON with clang (tests/fuzz/run_fuzzers.sh does that). Its seed corpus lives in
# tests/fuzz/corpus/NAME/.
function(waybill_fuzz name)
  if(NOT WAYBILL_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()
