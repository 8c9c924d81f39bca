# Compiler settings shared by every Chorus target.
#
# chorus_target_defaults(<target>) turns on the warnings (as errors) and the repository-root
# include path. The sanitizers, when CHORUS_SANITIZE is on, apply to every target of the build,
# generated code and executables included, so that instrumented and plain code never mix.

if(CHORUS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(CHORUS_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CHORUS_BUILD_FUZZERS needs clang (CC=clang CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

set(CHORUS_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

function(chorus_target_defaults target)
  target_compile_options(${target} PRIVATE ${CHORUS_WARNINGS})
  target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}")
endfunction()

# chorus_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Declares the static library chorus_<name> with the project's defaults.
function(chorus_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(chorus_${name} STATIC ${ARG_SOURCES})
  chorus_target_defaults(chorus_${name})
  target_link_libraries(chorus_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# chorus_unit_test(<name> SOURCES ... DEPS ...)
# One GoogleTest executable per module (chorus_<name>_test), each test case registered with CTest
# under the label "unit". The target chorus_unit_tests builds them all (the sanitizer build
# compiles only that).
function(chorus_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  set(target chorus_${name}_test)
  add_executable(${target} ${ARG_SOURCES})
  chorus_target_defaults(${target})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${target}
    DISCOVERY_MODE PRE_TEST
    TEST_PREFIX "${name}."
    PROPERTIES LABELS unit TIMEOUT 120)
  set_property(GLOBAL APPEND PROPERTY CHORUS_UNIT_TEST_TARGETS ${target})
endfunction()

# chorus_add_subdirectories(<dir>...): adds each folder that exists, so modules can land one by one.
macro(chorus_add_subdirectories)
  foreach(dir ${ARGN})
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt")
      add_subdirectory(${dir})
    endif()
  endforeach()
endmacro()
