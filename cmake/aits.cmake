# Thin helpers in the style of absl_cc_library: every target is a few lines, and the DEPS lists
# declare the module graph drawn in docs/architecture.md. Every target's include directory is the
# whole src/, so the compiler alone would accept an undeclared #include: the build's check-layers
# step (aits_write_layer_manifest below, scripts/check_layers.py) fails on one instead.

set(AITS_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND AITS_WARNINGS -Wno-restrict)  # GCC 12's false positives inside std::string
endif()

# aits_library(NAME name SRCS a.cc b.cc [HDRS c.h] DEPS aits::core ...)
# A header belongs to the library that compiles the .cc of its name; HDRS names the others when
# one folder holds several libraries (a folder with one library owns all its headers).
function(aits_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
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
  set(headers)
  foreach(h IN LISTS ARG_HDRS)
    list(APPEND headers ${CMAKE_CURRENT_SOURCE_DIR}/${h})
  endforeach()
  set_property(TARGET ${target} PROPERTY AITS_HEADERS "${headers}")
  set_property(TARGET ${target} PROPERTY AITS_LIBRARY ON)
endfunction()

# aits_unbuilt_library(NAME name HDRS a.h ...): a library this configuration leaves out
# (AITS_BUILD_TRAINING=OFF). Its headers still have an owner for the layering check, which then
# refuses any built target that includes them.
function(aits_unbuilt_library)
  cmake_parse_arguments(ARG "" "NAME" "HDRS" ${ARGN})
  foreach(h IN LISTS ARG_HDRS)
    set_property(GLOBAL APPEND PROPERTY AITS_UNBUILT_HEADERS
      "aits_${ARG_NAME}=${CMAKE_CURRENT_SOURCE_DIR}/${h}")
  endforeach()
endfunction()

# The precompiled header every test executable reuses (AITS_PRECOMPILE_HEADERS): GoogleTest and
# the standard headers most tests include, parsed once per build instead of once per *_test.cc.
# Built by an object library of one empty source with exactly the tests' flags and definitions
# (clang refuses a precompiled header built with other ones). It only saves parsing: each test
# still #includes what it uses, and the layering check reads those #includes, not this list.
function(_aits_test_pch)
  if(TARGET aits_test_pch)
    return()
  endif()
  add_library(aits_test_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/test_pch.cc)
  target_compile_options(aits_test_pch PRIVATE ${AITS_WARNINGS} ${AITS_TEST_CXX_FLAGS})
  target_compile_definitions(aits_test_pch PRIVATE
    AITS_SHARED_DATA_DIR="${AITS_SHARED_DATA_DIR}"
    AITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(aits_test_pch PRIVATE GTest::gtest)
  target_precompile_headers(aits_test_pch PRIVATE
    <gtest/gtest.h> <nlohmann/json.hpp>
    <algorithm> <atomic> <chrono> <cmath> <cstdint> <cstring> <filesystem> <fstream>
    <functional> <limits> <map> <memory> <optional> <random> <set> <sstream> <string>
    <thread> <utility> <vector>)
endfunction()

# aits_test(NAME name SRCS x_test.cc DEPS aits::core [LABELS slow|tsan])
# Every test has label "unit". "slow": left out of the default runs, run by the slow preset.
# "tsan": threaded tests, also run under ThreadSanitizer by the tsan preset; that preset builds
# only the targets its build preset lists, so add the test's target (name_test) there too (the
# configure step fails naming it otherwise: aits_check_tsan_preset_targets below).
# With AITS_BUILD_SLOW_TESTS off a "slow" test is not defined at all: no target, no ctest entry.
function(aits_test)
  if(NOT AITS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if("slow" IN_LIST ARG_LABELS AND NOT AITS_BUILD_SLOW_TESTS)
    return()
  endif()
  set(target ${ARG_NAME}_test)
  add_executable(${target} ${ARG_SRCS})
  target_compile_options(${target} PRIVATE ${AITS_WARNINGS} ${AITS_TEST_CXX_FLAGS})
  target_compile_definitions(${target} PRIVATE
    AITS_SHARED_DATA_DIR="${AITS_SHARED_DATA_DIR}"
    AITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  if(AITS_UNITY_BUILD_TESTS)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON)
  endif()
  if(AITS_PRECOMPILE_HEADERS)
    _aits_test_pch()
    target_precompile_headers(${target} REUSE_FROM aits_test_pch)
  endif()
  add_test(NAME ${target} COMMAND ${target})
  set_tests_properties(${target} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT 300)
  if("tsan" IN_LIST ARG_LABELS)
    set_property(GLOBAL APPEND PROPERTY AITS_TSAN_TEST_TARGETS ${target})
  endif()
endfunction()

# The tsan build preset builds only the targets it lists (CMakePresets.json); a tsan-labelled test
# missing there would fail only at the end of a CI run, as "could not find executable". Checked at
# configure time instead, in every preset, so the omission shows on the first build.
function(aits_check_tsan_preset_targets)
  get_property(tests GLOBAL PROPERTY AITS_TSAN_TEST_TARGETS)
  set(presets_file ${PROJECT_SOURCE_DIR}/CMakePresets.json)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${presets_file})
  file(READ ${presets_file} presets)
  string(JSON count LENGTH "${presets}" buildPresets)
  math(EXPR last "${count} - 1")
  set(listed)
  foreach(i RANGE ${last})
    string(JSON name GET "${presets}" buildPresets ${i} name)
    if(name STREQUAL "tsan")
      string(JSON n LENGTH "${presets}" buildPresets ${i} targets)
      math(EXPR n_last "${n} - 1")
      foreach(j RANGE ${n_last})
        string(JSON t GET "${presets}" buildPresets ${i} targets ${j})
        list(APPEND listed ${t})
      endforeach()
    endif()
  endforeach()
  foreach(t IN LISTS tests)
    if(NOT t IN_LIST listed)
      message(FATAL_ERROR "CMakePresets.json: build preset \"tsan\" does not list ${t}, a test "
        "of label tsan: add it to that preset's \"targets\"")
    endif()
  endforeach()
endfunction()

# Every target of the project with its sources and its declared (direct) dependencies, written
# as JSON for scripts/check_layers.py; the check-layers target runs it on every build in which a
# source changed, and the build fails if a file includes a header its target does not declare.
function(_aits_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _aits_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(aits_write_layer_manifest)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  _aits_collect_targets(${PROJECT_SOURCE_DIR} targets)
  set(entries)
  set(all_sources)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|INTERFACE_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(dir ${t} SOURCE_DIR)
    get_target_property(is_library ${t} AITS_LIBRARY)
    set(sources)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(raw_sources ${t} SOURCES)
      foreach(s IN LISTS raw_sources)
        if(s MATCHES "\\.(cc|h)$" AND NOT s MATCHES "\\.pb\\.")
          cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${dir} OUTPUT_VARIABLE abs)
          list(APPEND sources "\"${abs}\"")
          list(APPEND all_sources ${abs})
        endif()
      endforeach()
    endif()
    set(headers)
    if(is_library)
      get_target_property(hdrs ${t} AITS_HEADERS)
      foreach(h IN LISTS hdrs)
        list(APPEND headers "\"${h}\"")
      endforeach()
    else()
      set(is_library OFF)
    endif()
    set(deps)
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      if(type STREQUAL "INTERFACE_LIBRARY" AND prop STREQUAL "LINK_LIBRARIES")
        continue()
      endif()
      get_target_property(links ${t} ${prop})
      foreach(l IN LISTS links)
        if(TARGET ${l})
          get_target_property(aliased ${l} ALIASED_TARGET)
          if(aliased)
            set(l ${aliased})
          endif()
          list(APPEND deps "\"${l}\"")
        endif()
      endforeach()
    endforeach()
    list(REMOVE_DUPLICATES deps)
    if(is_library)
      set(lib_json true)
    else()
      set(lib_json false)
    endif()
    list(JOIN sources "," sources_json)
    list(JOIN headers "," headers_json)
    list(JOIN deps "," deps_json)
    list(APPEND entries "{\"name\":\"${t}\",\"library\":${lib_json},\"dir\":\"${dir}\",\"sources\":[${sources_json}],\"headers\":[${headers_json}],\"deps\":[${deps_json}]}")
  endforeach()
  list(JOIN entries ",\n" entries_json)
  get_property(unbuilt GLOBAL PROPERTY AITS_UNBUILT_HEADERS)
  set(unbuilt_entries)
  foreach(u IN LISTS unbuilt)
    string(REPLACE "=" ";" pair "${u}")
    list(GET pair 0 lib)
    list(GET pair 1 header)
    list(APPEND unbuilt_entries "{\"library\":\"${lib}\",\"header\":\"${header}\"}")
  endforeach()
  list(JOIN unbuilt_entries "," unbuilt_json)
  set(manifest ${PROJECT_BINARY_DIR}/aits_layers.json)
  file(WRITE ${manifest}.tmp
    "{\"source_dir\":\"${PROJECT_SOURCE_DIR}\",\"unbuilt\":[${unbuilt_json}],\"targets\":[\n${entries_json}]}\n")
  file(COPY_FILE ${manifest}.tmp ${manifest} ONLY_IF_DIFFERENT)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/aits/*.h)
  set(stamp ${PROJECT_BINARY_DIR}/aits_layers.ok)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/check_layers.py ${manifest} ${stamp}
    DEPENDS ${manifest} ${all_sources} ${headers} ${PROJECT_SOURCE_DIR}/scripts/check_layers.py
    COMMENT "Checking that every #include is declared in its target's DEPS")
  add_custom_target(check-layers ALL DEPENDS ${stamp})
endfunction()
