# client.cmake — the S3 client's transport (libcurl multi on libuv) and operations.
# Included by lib/s3/CMakeLists.txt. Targets:
#   ferry_http : the transport alone (ferry/http.h); no S3 knowledge, no other ferry deps
#   ferry_s3   : the S3 client and operations (ferry/s3.h) on top of it
add_library(ferry_http STATIC ${CMAKE_CURRENT_LIST_DIR}/http.c)
target_link_libraries(ferry_http PUBLIC ferry_core PkgConfig::CURL PkgConfig::UV)
set_target_properties(ferry_http PROPERTIES POSITION_INDEPENDENT_CODE ON)
ferry_unit_test(test_http ${FERRY_ROOT}/test/unit/test_http.c ferry_http PkgConfig::MHD Threads::Threads)

if(TARGET ferry_s3proto AND TARGET ferry_sigv4 AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/client.c)
  add_library(ferry_s3 STATIC ${CMAKE_CURRENT_LIST_DIR}/client.c ${CMAKE_CURRENT_LIST_DIR}/ops.c)
  target_link_libraries(ferry_s3 PUBLIC ferry_http ferry_s3proto ferry_sigv4 ferry_check ferry_core
                        PkgConfig::CURL PkgConfig::UV)
  set_target_properties(ferry_s3 PROPERTIES POSITION_INDEPENDENT_CODE ON)
  ferry_unit_test(test_s3_client ${FERRY_ROOT}/test/unit/test_s3_client.c ferry_s3 PkgConfig::MHD)

  # test/harness and test/fakes3 are added after lib/: register the tests that need them at
  # the end of the top-level CMakeLists.txt, when their targets are known.
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL ferry_s3_client_tests)
endif()

function(ferry_s3_client_tests)
  if(NOT TARGET ferry_harness)
    message(STATUS "ferry_s3: no test harness, S3 integration tests not registered")
    return()
  endif()
  # s3rver (npm): an independent S3 implementation, for conformance.
  if(EXISTS ${FERRY_ROOT}/test/integration/test_s3_s3rver.c)
    ferry_integration_test(test_s3_s3rver ${FERRY_ROOT}/test/integration/test_s3_s3rver.c ferry_s3)
  endif()
  if(NOT TARGET fakes3)
    message(STATUS "ferry_s3: fakes3 not built yet, fakes3-based S3 tests not registered")
    return()
  endif()
  foreach(t ops faults)
    if(EXISTS ${FERRY_ROOT}/test/integration/test_s3_${t}.c)
      ferry_integration_test(test_s3_${t} ${FERRY_ROOT}/test/integration/test_s3_${t}.c ferry_s3)
      add_dependencies(test_s3_${t} fakes3)
    endif()
  endforeach()
  if(EXISTS ${FERRY_ROOT}/test/bench/bench_s3.c)
    add_executable(bench_s3 ${FERRY_ROOT}/test/bench/bench_s3.c)
    target_link_libraries(bench_s3 PRIVATE ferry_s3 ferry_harness)
    add_dependencies(bench_s3 fakes3)
  endif()
endfunction()
