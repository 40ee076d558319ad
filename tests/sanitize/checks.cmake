# CTest cases for the sanitizer and fuzzing checks (included from
# tests/CMakeLists.txt). They configure and build a separate sub-build,
# ${CMAKE_BINARY_DIR}/sanitize-build, from tests/sanitize/CMakeLists.txt (only
# core, quant, formats, tokenizer, jinja, kernels, model and runtime, the parser
# tests, the KV pool and engine fault tests and the fuzz targets), so the main
# build is never touched. Budget on 2 cores: ~3 min to build from scratch
# (incremental afterwards; kernels, model and runtime add 31 of 129 objects),
# ~30 s of parser tests plus ~25 s for the engine's 1,000 random sequences
# (22 s of CPU under ASan), 4 x 30 s of fuzzing.
#   ctest -L sanitize    ASan+UBSan parser, KV pool and engine fault tests
#   ctest -L fuzz        libFuzzer runs (skipped without clang)
# The ThreadSanitizer case builds its own sub-build, sanitize-build-tsan (TSan
# and ASan cannot share objects): the thread pool, forward and engine tests.
set(QINFER_CHECK_DIR ${CMAKE_BINARY_DIR}/sanitize-build)
set(QINFER_FUZZ_SECONDS 30 CACHE STRING "seconds per fuzz target in the fuzz CTest cases")
set(_qinfer_run bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)

add_test(NAME sanitize_build COMMAND ${_qinfer_run} build ${QINFER_CHECK_DIR})
set_tests_properties(sanitize_build PROPERTIES FIXTURES_SETUP qinfer_sanitize_build LABELS "sanitize;fuzz"
                                               TIMEOUT 900 RESOURCE_LOCK qinfer_sanitize_build_dir)

add_test(NAME sanitize_parser_tests COMMAND ${_qinfer_run} tests ${QINFER_CHECK_DIR})
set_tests_properties(sanitize_parser_tests PROPERTIES FIXTURES_REQUIRED qinfer_sanitize_build LABELS sanitize
                                                      TIMEOUT 600 ENVIRONMENT "QINFER_SHARED_DATA=${QINFER_SHARED_DATA}")

foreach(target fuzz_gguf fuzz_tokenizer fuzz_jinja fuzz_request)
  add_test(NAME ${target} COMMAND ${_qinfer_run} fuzz ${QINFER_CHECK_DIR} ${target} ${QINFER_FUZZ_SECONDS})
  set_tests_properties(${target} PROPERTIES FIXTURES_REQUIRED qinfer_sanitize_build LABELS fuzz SKIP_RETURN_CODE 77
                                            TIMEOUT 600 ENVIRONMENT "QINFER_SHARED_DATA=${QINFER_SHARED_DATA}")
endforeach()

add_test(NAME sanitize_thread_tests COMMAND ${_qinfer_run} tsan ${CMAKE_BINARY_DIR}/sanitize-build-tsan)
set_tests_properties(sanitize_thread_tests PROPERTIES LABELS sanitize SKIP_RETURN_CODE 77 TIMEOUT 1500
                                                      ENVIRONMENT "QINFER_SHARED_DATA=${QINFER_SHARED_DATA}")
