#!/usr/bin/env bash
# Sanitizer and fuzzing checks, run by CTest (tests/sanitize/checks.cmake) or
# by hand:
#   run.sh build <build-dir>                     configure + build the sub-build
#   run.sh tests <build-dir>                     run the parser tests (ASan+UBSan)
#   run.sh fuzz  <build-dir> <target> <seconds>  fuzz from a fresh seed corpus
#   run.sh tsan  <build-dir>                     build + run the thread tests (TSan)
# The sub-build lives in its own directory and never touches the main build.
# Exit 77 = skipped (no clang for fuzzing or TSan, no vocabularies for fuzz_tokenizer).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:?usage: run.sh build|tests|fuzz <build-dir> [target seconds]}"
bdir="${2:?build directory}"
data="${QINFER_SHARED_DATA:-$root/../shared/data}"
jobs="${QINFER_CHECK_JOBS:-2}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

pick_cxx() {
  if [[ -n "${QINFER_CHECK_CXX:-}" ]]; then echo "$QINFER_CHECK_CXX"; return; fi
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
  done
  echo "${CXX:-c++}"
}

# Runs one test binary of the sub-build with its log in $bdir, prints the
# gtest summary and, when it fails, the lines around the sanitizer's report;
# exits with the test's status on failure.
run_one() {
  local t="$1" sanitizer="$2" report="$3"
  echo "=== $t ($sanitizer)"
  local start=$SECONDS log="$bdir/$t.log" rc
  set +e
  QINFER_SHARED_DATA="$data" "$bdir/$t" --gtest_color=no >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]' "$log" || true
  echo "=== $t: exit $rc, $((SECONDS - start)) s"
  if [[ $rc -ne 0 ]]; then
    grep -E -B2 -A60 "Failure|FAILED|$report" "$log" | head -n 150
    echo "=== full log: $log"
    exit "$rc"
  fi
}

case "$mode" in
  build)
    cxx="$(pick_cxx)"
    gen=()
    if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
    if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
      cmake -S "$here" -B "$bdir" "${gen[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DQINFER_SHARED_DATA="$data" >/dev/null
    fi
    cmake --build "$bdir" --target checks -j "$jobs"
    ;;

  tests)
    ran=0
    for t in test_gguf_reader test_gguf_writer test_gguf_hostile test_tokenizer test_quant_nonfinite test_jinja test_jinja_corpus test_block_pool test_engine_faults; do
      [[ -x "$bdir/$t" ]] || continue
      run_one "$t" "ASan+UBSan" 'ERROR: |runtime error'
      ran=$((ran + 1))
    done
    [[ $ran -gt 0 ]] || { echo "no test binaries in $bdir (run 'run.sh build' first)"; exit 1; }
    ;;

  tsan)
    cxx="$(pick_cxx)"
    if [[ "$("$cxx" --version 2>/dev/null)" != *clang* ]]; then
      echo "no clang for the ThreadSanitizer build: skipped"
      exit 77
    fi
    gen=()
    if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
    if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
      cmake -S "$here/tsan" -B "$bdir" "${gen[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DQINFER_SHARED_DATA="$data" >/dev/null
    fi
    cmake --build "$bdir" --target checks -j "$jobs"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
    for t in test_thread_pool test_forward test_engine; do
      run_one "$t" "TSan" 'WARNING: ThreadSanitizer'
    done
    ;;

  fuzz)
    target="${3:?fuzz target}"
    secs="${4:-30}"
    if [[ ! -x "$bdir/$target" ]]; then
      echo "$target was not built (the fuzz targets need clang with libFuzzer): skipped"
      exit 77
    fi
    corpus="$bdir/corpus/$target"
    artifacts="$bdir/artifacts"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    extra=()
    case "$target" in
      fuzz_gguf)
        "$bdir/make_seeds" gguf "$corpus"
        extra=(-dict="$root/fuzz/gguf.dict" -max_len=4096)
        ;;
      fuzz_tokenizer)
        if [[ ! -d "$data/vocab" ]]; then echo "no vocabularies in $data/vocab: skipped"; exit 77; fi
        "$bdir/make_seeds" tokenizer "$corpus" "$data/vocab"
        extra=(-max_len=2048)
        ;;
      fuzz_jinja)
        # Seeds: the chat templates in shared data (when present) and the semantics cases.
        "$bdir/make_seeds" jinja "$corpus" "$data/templates" "$root/tests/data/jinja/semantics.json"
        extra=(-dict="$root/fuzz/jinja.dict" -max_len=20000)
        ;;
      fuzz_request)
        # Seeds: request bodies of the OpenAI endpoints and Ollama's /api/chat (text, written here).
        printf '%s' '{"model":"m","prompt":"Once upon a time","max_tokens":16,"temperature":0,"stop":["\n","END"],"stream":true,"stream_options":{"include_usage":true}}' >"$corpus/completion.json"
        printf '%s' '{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"logprobs":true,"top_logprobs":2,"seed":7,"tools":[]}' >"$corpus/chat.json"
        printf '%s' '{"prompt":["x"],"logprobs":3,"echo":true,"ignore_eos":true,"min_tokens":4,"n":1,"top_k":40,"min_p":0.1}' >"$corpus/options.json"
        printf '%s' '{"model":"m","stream":false,"messages":[{"role":"user","content":"hi","images":[]}],"format":"","options":{"num_predict":-1,"temperature":0.2,"stop":["a"],"repeat_last_n":64}}' >"$corpus/ollama.json"
        extra=(-dict="$root/fuzz/request.dict" -max_len=4096)
        ;;
    esac
    echo "=== $target for $secs s, $(ls "$corpus" | wc -l) seeds"
    set +e
    QINFER_SHARED_DATA="$data" "$bdir/$target" "${extra[@]}" -max_total_time="$secs" -timeout=25 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$corpus" 2>&1 | tail -n 60
    rc=${PIPESTATUS[0]}
    set -e
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
      echo "=== $target FAILED (exit $rc); reproduce with: $bdir/$target $artifacts/$target-<crash file>"
    fi
    exit "$rc"
    ;;

  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
