# CTest cases for the aarch64 checks (LABELS arm; included from
# tests/CMakeLists.txt). arm_build cross-compiles a separate sub-build,
# ${CMAKE_BINARY_DIR}/arm-build, from tests/arm/CMakeLists.txt with
# cmake/aarch64-linux-gnu.cmake; each case then runs one of its test binaries
# under qemu-aarch64 (tests/arm/run.sh) as one of two CPUs:
#   cortex-a72  ARMv8.0 NEON without the dot product: the scalar and neon paths
#   max         with SDOT: neon_dot as well
#   ctest -L arm
find_program(QINFER_AARCH64_CXX aarch64-linux-gnu-g++)
find_program(QINFER_QEMU_AARCH64 qemu-aarch64)
if(NOT QINFER_AARCH64_CXX OR NOT QINFER_QEMU_AARCH64)
  message(STATUS "arm checks skipped: no aarch64-linux-gnu-g++ or qemu-aarch64 "
                 "(scripts/install-deps.sh installs g++-aarch64-linux-gnu and qemu-user)")
  return()
endif()

set(QINFER_ARM_DIR ${CMAKE_BINARY_DIR}/arm-build)
set(_qinfer_arm bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set(_qinfer_arm_env "QINFER_SHARED_DATA=${QINFER_SHARED_DATA}")

add_test(NAME arm_build COMMAND ${_qinfer_arm} build ${QINFER_ARM_DIR})
set_tests_properties(arm_build PROPERTIES FIXTURES_SETUP qinfer_arm_build LABELS arm TIMEOUT 1200
                                          RESOURCE_LOCK qinfer_arm_build_dir SKIP_RETURN_CODE 77)

# arm_<cpu>_<test>: every test as max, which runs all three paths (the neon
# files hold no dot-product instruction, so their code is the same on either
# CPU); as cortex-a72 the fast ones, which show that a CPU without the
# extension picks neon and runs the kernels and a whole model with it.
function(qinfer_arm_case cpu test)
  add_test(NAME arm_${cpu}_${test} COMMAND ${_qinfer_arm} test ${QINFER_ARM_DIR} ${cpu} ${test} ${ARGN})
  set_tests_properties(arm_${cpu}_${test} PROPERTIES FIXTURES_REQUIRED qinfer_arm_build LABELS arm TIMEOUT 600
                                                     SKIP_RETURN_CODE 77 ENVIRONMENT "${_qinfer_arm_env}")
endfunction()
foreach(t test_arm_dispatch test_kernels test_kernels_kquant test_attention test_generation_golden)
  qinfer_arm_case(cortex-a72 ${t})
endforeach()
foreach(t test_arm_dispatch test_kernels test_kernels_kquant test_attention test_generation_golden test_quant
          test_perplexity_golden test_bnb_types)
  qinfer_arm_case(max ${t})
endforeach()
# One tiny256 file per k-quant kernel (Q2_K..Q6_K, IQ4_NL); the other files
# differ in the mix of the same types, and the legacy types are stories260K's
# in test_perplexity_golden.
qinfer_arm_case(max test_kquant_perplexity --gtest_filter=*/Q2_K:*/Q3_K_M:*/Q4_K_M:*/Q5_K_M:*/Q6_K:*/IQ4_NL)
# Batch invariance comes from the tile driver and the tiles' per-(row, token)
# sums, which both NEON paths share (they differ only in how a block's exact
# integer sum is formed); the scalar kernels' is the x86 build's (same code).
qinfer_arm_case(max test_kernels_batch_invariance --gtest_filter=*/neon_dot)
