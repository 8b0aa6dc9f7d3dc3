#!/usr/bin/env bash
# The libFuzzer targets (fuzz/): built with clang, AddressSanitizer and UBSan in build-fuzz, with seed inputs made in
# build-fuzz/seeds (tiny synthesized models, small tokenizer files and checkpoints, request bodies, past findings,
# and files from ../shared/fixtures where present).
#   scripts/fuzz.sh replay                    every target runs each of its seeds once (scripts/test.sh does this)
#   scripts/fuzz.sh run [SECONDS] [TARGET...] fuzz each target (default all) for SECONDS (default 300), one after
#                                             another; corpora grow in build-fuzz/corpus/TARGET, findings go to
#                                             build-fuzz/findings/TARGET
# fuzz_gguf_model runs at the CPU's own kernel level; BITNET_ISA=avx2 (or scalar) fuzzes the others.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  replay) ;;
  run) seconds=${2:-300}; shift $(( $# >= 2 ? 2 : 1 )) ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
command -v clang++ > /dev/null || { echo "fuzz.sh needs clang (apt-get install clang)" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
fixtures=${BITNET_FIXTURES:-$(pwd)/../shared/fixtures}

mkdir -p build-fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITNET_FUZZ=ON \
  -DBITNET_SANITIZE=address,undefined -DBITNET_BUILD_TESTS=OFF -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_BENCH=OFF \
  > build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; exit 1; }
cmake --build build-fuzz -j "$jobs"
rm -rf build-fuzz/seeds
build-fuzz/bin/fuzz_make_seeds build-fuzz/seeds "$fixtures"

targets=()
for t in build-fuzz/bin/fuzz_*; do
  name=$(basename "$t")
  [ "$name" = fuzz_make_seeds ] || targets+=("$name")
done
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
# A single allocation over 512 MB from an input of at most 1 MB is a finding (one was a 1 GB table).
status=0
if [ "$mode" = replay ]; then
  for name in "${targets[@]}"; do
    seeds=(build-fuzz/seeds/"$name"/*)
    if [ ! -e "${seeds[0]}" ]; then
      echo "== $name: no seeds (its files come from the fixtures, absent here): skipped"
      continue
    fi
    echo "== $name: ${#seeds[@]} seeds"
    if ! build-fuzz/bin/"$name" -rss_limit_mb=4096 -malloc_limit_mb=512 -timeout=60 "${seeds[@]}" > "build-fuzz/$name.log" 2>&1; then
      tail -40 "build-fuzz/$name.log"
      echo "== $name FAILED on a seed (log: build-fuzz/$name.log)"
      status=1
    fi
  done
  exit $status
fi

[ $# -gt 0 ] && targets=("$@")
for name in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$name" "build-fuzz/findings/$name" "build-fuzz/seeds/$name"
  echo "== $name for $seconds s"
  if ! build-fuzz/bin/"$name" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=512 -timeout=30 \
      -artifact_prefix="build-fuzz/findings/$name/" "build-fuzz/corpus/$name" "build-fuzz/seeds/$name" \
      > "build-fuzz/$name.log" 2>&1; then
    tail -40 "build-fuzz/$name.log"
    echo "== $name found something: build-fuzz/findings/$name/ (log: build-fuzz/$name.log)"
    status=1
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" "build-fuzz/$name.log" | tail -1 || true
done
exit $status
