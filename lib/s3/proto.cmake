# ferry_s3proto: the S3 client's pure parts — XML parsers and builders, retry policy, provider
# profiles. No network. Included from lib/s3/CMakeLists.txt.
add_library(ferry_s3proto STATIC
  ${CMAKE_CURRENT_LIST_DIR}/xml.c
  ${CMAKE_CURRENT_LIST_DIR}/retry.c
  ${CMAKE_CURRENT_LIST_DIR}/profile.c
  ${CMAKE_CURRENT_LIST_DIR}/side.c)
# ferry_sigv4 provides ferry_uri_decode (listing keys with EncodingType=url).
target_link_libraries(ferry_s3proto PUBLIC ferry_core ferry_sigv4 PkgConfig::EXPAT)
set_target_properties(ferry_s3proto PROPERTIES POSITION_INDEPENDENT_CODE ON)

ferry_unit_test(test_s3xml ${FERRY_ROOT}/test/unit/test_s3xml.c ferry_s3proto)
ferry_unit_test(test_retry ${FERRY_ROOT}/test/unit/test_retry.c ferry_s3proto)
ferry_unit_test(test_profile ${FERRY_ROOT}/test/unit/test_profile.c ferry_s3proto)

foreach(t list error multipart)
  ferry_fuzz_target(fuzz_s3xml_${t} ${FERRY_ROOT}/test/fuzz/fuzz_s3xml_${t}.c ferry_s3proto)
endforeach()
ferry_unit_test(test_side ${FERRY_ROOT}/test/unit/test_side.c ferry_s3proto)
