# The dashboard in headless Chromium (test_dashboard.c starts the servers, dashboard.mjs drives
# the browser with playwright-core from .deps). Included by scheduler/CMakeLists.txt; the ferry
# binary's target is known only at the end of the configure, hence the deferred call.
function(ferry_browser_test)
  if(TARGET ferry_harness AND TARGET fakes3 AND TARGET ferry)
    ferry_integration_test(test_dashboard ${FERRY_ROOT}/test/browser/test_dashboard.c
                           ferry_s3 ferry_store PkgConfig::CURL PkgConfig::UV PkgConfig::JANSSON)
    target_include_directories(test_dashboard PRIVATE ${FERRY_ROOT}/test/integration)
    target_compile_options(test_dashboard PRIVATE -Wno-format-truncation)
    add_dependencies(test_dashboard fakes3 ferry)
    # 77: Chromium is not installed (the test prints SKIP and why).
    set_tests_properties(test_dashboard PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL ferry_browser_test)
