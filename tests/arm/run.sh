#!/usr/bin/env bash
# The aarch64 checks, run by CTest (tests/arm/checks.cmake) or by hand:
#   run.sh build <build-dir>                       cross-configure + build the sub-build
#   run.sh test  <build-dir> <cpu> <test> [args]   run one test binary under qemu-aarch64 -cpu <cpu>
# <cpu> is a qemu CPU model: cortex-a72 (ARMv8.0 NEON, no dot product: the
# neon path) or max (SDOT/UDOT: neon_dot). The sub-build lives in its own
# directory and never touches the main build. Exit 77 = skipped (no cross
# compiler or no qemu-aarch64: scripts/install-deps.sh installs them).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:?usage: run.sh build|test <build-dir> [cpu test args]}"
bdir="${2:?build directory}"
data="${QINFER_SHARED_DATA:-$root/../shared/data}"
jobs="${QINFER_CHECK_JOBS:-2}"
sysroot=/usr/aarch64-linux-gnu

for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found (scripts/install-deps.sh installs g++-aarch64-linux-gnu and qemu-user): skipped"
    exit 77
  fi
done

case "$mode" in
  build)
    if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
      args=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" -DCMAKE_BUILD_TYPE=Release
            -DQINFER_SHARED_DATA="$data")
      if command -v ninja >/dev/null 2>&1; then args+=(-G Ninja); fi
      if command -v ccache >/dev/null 2>&1; then args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
      cmake -S "$here" -B "$bdir" "${args[@]}" >/dev/null
    fi
    cmake --build "$bdir" --target checks -j "$jobs"
    ;;

  test)
    cpu="${3:?qemu cpu model}"
    t="${4:?test binary}"
    shift 4
    if [[ ! -x "$bdir/$t" ]]; then echo "$bdir/$t was not built (run 'run.sh build' first)"; exit 1; fi
    case "$cpu" in
      cortex-a72) expect=neon ;;
      max) expect=neon_dot ;;
      *) expect="" ;;
    esac
    echo "=== $t under qemu-aarch64 -cpu $cpu (best path: ${expect:-?})"
    start=$SECONDS
    set +e
    # QINFER_PPL_CHUNKS: the golden perplexity tests compare llama.cpp's running
    # value after that many chunks (qemu runs ~10-50x slower than the host).
    QINFER_SHARED_DATA="$data" QINFER_EXPECT_ISA="$expect" QINFER_PPL_CHUNKS="${QINFER_PPL_CHUNKS:-4}" \
      qemu-aarch64 -L "$sysroot" -cpu "$cpu" "$bdir/$t" --gtest_color=no "$@"
    rc=$?
    set -e
    echo "=== $t -cpu $cpu: exit $rc, $((SECONDS - start)) s"
    exit "$rc"
    ;;

  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
