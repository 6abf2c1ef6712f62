# Thin helpers in the style of absl_cc_library: every target is a few lines, and the DEPS lists
# declare the module graph drawn in docs/architecture.md. They bind at link time only: every
# target's include directory is the whole src/, so an undeclared #include still compiles.

set(AITS_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wno-missing-field-initializers -Wno-restrict)

# aits_library(NAME name SRCS a.cc b.cc DEPS aits::core ...)
function(aits_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target aits_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(${target} PRIVATE ${AITS_WARNINGS})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(aits::${ARG_NAME} ALIAS ${target})
endfunction()

# aits_test(NAME name SRCS x_test.cc DEPS aits::core [LABELS slow|tsan])
# Every test has label "unit". "slow": left out of the default runs, run by the slow preset.
# "tsan": threaded tests, also run under ThreadSanitizer by the tsan preset; that preset builds
# only the targets its build preset lists, so add the test's target (name_test) there too.
function(aits_test)
  if(NOT AITS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  set(target ${ARG_NAME}_test)
  add_executable(${target} ${ARG_SRCS})
  target_compile_options(${target} PRIVATE ${AITS_WARNINGS})
  target_compile_definitions(${target} PRIVATE
    AITS_SHARED_DATA_DIR="${AITS_SHARED_DATA_DIR}"
    AITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${target} COMMAND ${target})
  set_tests_properties(${target} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT 300)
endfunction()
