#!/usr/bin/env bash
# Sets up, builds (Release) and runs the whole test suite, then again at other ISA levels (lower ones; x86-64 CPUs
# without AVX-512 or AVX under qemu-user; emulated AVX-512; aarch64 under qemu-user) and under AddressSanitizer +
# UBSan. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
# Debug objects carry their build directory in their debug info, which ccache hashes unless told not to; without
# it the two sanitizer trees below would share nothing.
export CCACHE_NOHASHDIR=1

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
# The model fixtures (and the no-allocation check of generation) again with the fast kernels forced down to each
# lower ISA level this CPU has.
for isa in scalar avx2; do
  echo "== model fixtures with BITNET_ISA=$isa"
  BITNET_ISA=$isa ctest --test-dir build --output-on-failure -j "$jobs" -R 'Model|SyntheticLogits|HotPath'
done
# Where the CPU has AVX-VNNI (the AVX2 level takes it), the fixtures again on the plain AVX2 kernels.
if grep -q avx_vnni /proc/cpuinfo 2>/dev/null; then
  echo "== model fixtures with BITNET_ISA=avx2 BITNET_AVXVNNI=0"
  BITNET_ISA=avx2 BITNET_AVXVNNI=0 ctest --test-dir build --output-on-failure -j "$jobs" \
    -R 'Model|SyntheticLogits|HotPath'
fi
# Where the CPU has AMX tiles (prompt batches take them by default), the fixtures again on AVX-512 VNNI alone.
if grep -q amx_int8 /proc/cpuinfo 2>/dev/null; then
  echo "== model fixtures with BITNET_AMX=0"
  BITNET_AMX=0 ctest --test-dir build --output-on-failure -j "$jobs" -R 'Model|SyntheticLogits|HotPath'
fi

# One portable binary on CPUs below this one: the suite again under qemu-user's x86-64 emulation (which has no
# AVX-512) of a Haswell (AVX2, FMA, F16C) and a Nehalem (SSE4.2, no AVX). The kernels are then picked by the emulated
# CPU's own CPUID, not capped with BITNET_ISA, and an instruction above the CPU's level anywhere on a tested path
# stops the run (SIGILL), which a run on this CPU cannot show. Left out: tests that compare bitnet-cli's output with
# the test process's own (qemu-user runs child processes natively, at this CPU's level), and on the Nehalem two long
# ones that compare the scalar kernels with themselves there. Six gtest shards, $jobs at a time.
qemu_x86_suite() {
  local cpu=$1 skip=$2 logs=build/qemu-x86 rc=0
  rm -rf "$logs" && mkdir -p "$logs"
  seq 0 5 | xargs -P "$jobs" -I{} sh -c "GTEST_TOTAL_SHARDS=6 GTEST_SHARD_INDEX={} qemu-x86_64 -cpu $cpu \
    build/bin/bitnet_tests --gtest_brief=1 --gtest_filter=-$skip > $logs/{}.log 2>&1" || rc=1
  cat "$logs"/*.log  # failures, and each shard's count
  return $rc
}
if [ "$(uname -m)" = x86_64 ]; then
  cli_vs_process=CliBench.JsonHasEveryField:CliBench.TableByDefault:Cli.LogitsWritesEveryPosition
  echo "== the suite on an emulated Haswell (AVX2, no AVX-512), qemu-x86_64"
  qemu_x86_suite Haswell-v4,-pcid,-x2apic,-tsc-deadline,-invpcid,-spec-ctrl "$cli_vs_process"
  echo "== the suite on an emulated Nehalem (no AVX), qemu-x86_64"
  qemu_x86_suite Nehalem \
    "$cli_vs_process:ModelSynth.GenerationAttentionInPiecesEqualsOneThread:KvAttention.BlocksBitEqualSingleQueries"
fi

# AVX-512 on any x86-64 CPU (CI machines have none): the suite again in a tree whose AVX-512 kernels are compiled
# against SIMDe's portable intrinsics (libsimde-dev) and chosen as if the CPU had AVX-512 VNNI, so their parity
# tests and the model fixtures run at that level too (CMake BITNET_EMULATE_AVX512: logic only, not speed). Only
# the AVX-512 files and the CPU detection differ from the tree above, so ccache supplies every other object.
if [ "$(uname -m)" = x86_64 ]; then
  echo "== the suite with emulated AVX-512 kernels"
  cmake -S . -B build-avx512emu -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITNET_EMULATE_AVX512=ON \
    -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_SERVER=OFF -DBITNET_BUILD_BENCH=OFF
  cmake --build build-avx512emu -j "$jobs" --target bitnet_tests
  ctest --test-dir build-avx512emu --output-on-failure -j "$jobs"
fi

# aarch64: cross-compiled with Debian's g++-aarch64-linux-gnu and run under qemu-user (NEON kernels at every
# level qemu offers, plus the scalar reference), so the NEON parity tests run on every CI machine. (No server
# there: Debian's cpp-httplib is not installed for arm64, and the server has no per-ISA code.)
cmake -S . -B build-arm -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_SERVER=OFF
cmake --build build-arm -j "$jobs" --target bitnet_tests
ctest --test-dir build-arm --output-on-failure -j "$jobs"
for isa in scalar neon; do
  echo "== aarch64 model fixtures with BITNET_ISA=$isa"
  BITNET_ISA=$isa ctest --test-dir build-arm --output-on-failure -j "$jobs" -R 'Model|SyntheticLogits|HotPath'
done
echo "== aarch64 model fixtures with BITNET_I8MM=0 (sdot for prompts too)"
BITNET_I8MM=0 ctest --test-dir build-arm --output-on-failure -j "$jobs" -R 'Model|SyntheticLogits|HotPath'
echo "== aarch64 kernel parity on a CPU with dotprod and without i8mm (qemu's neoverse-n1)"
QEMU_CPU=neoverse-n1 ctest --test-dir build-arm --output-on-failure -j "$jobs" -R 'KernelParity'
echo "== aarch64 kernel parity and model fixtures on a CPU without dotprod (qemu's cortex-a72: NEON by its HWCAPs)"
QEMU_CPU=cortex-a72 ctest --test-dir build-arm --output-on-failure -j "$jobs" \
  -R 'KernelParity|Model|SyntheticLogits|HotPath'


# Built with clang instead of GCC (the kernels' target regions and dotprod helpers take each compiler's own
# spelling): the whole suite on x86-64, and the kernels' parity tests on aarch64 under qemu-user.
echo "== the suite built with clang"
CC=clang CXX=clang++ cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build-clang -j "$jobs"
ctest --test-dir build-clang --output-on-failure -j "$jobs"
echo "== aarch64 kernel parity built with clang"
cmake -S . -B build-arm-clang -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu-clang.cmake -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_SERVER=OFF \
  -DBITNET_BUILD_BENCH=OFF
cmake --build build-arm-clang -j "$jobs" --target bitnet_tests
ctest --test-dir build-arm-clang --output-on-failure -j "$jobs" -R 'KernelParity|KvAttention|KQuant'

# The libFuzzer targets (fuzz/), built with clang under ASan + UBSan: each runs every one of its seeds once, the
# inputs of the bugs fuzzing found among them (scripts/fuzz.sh run fuzzes for real).
echo "== fuzz targets, replaying their seeds"
bash scripts/fuzz.sh replay

# The whole suite again under AddressSanitizer + UBSan (Debug): every truncated or corrupted file must give
# an error, never a bad read; the forward pass and tokenizers must stay in bounds. (CLI tests are skipped
# there: the tools are built only in the Release tree; the server and its tests are built and run.)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBITNET_SANITIZE=address,undefined -DBITNET_BUILD_TOOLS=OFF
cmake --build build-asan -j "$jobs" --target bitnet_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

# The AVX-512 kernels' parity tests under the same sanitizers, on emulated AVX-512 as above (x86-64): a load or
# store past a buffer, which AVX-512 hardware shows only where it crosses into an unmapped page, is an error here.
if [ "$(uname -m)" = x86_64 ]; then
  echo "== AVX-512 kernel parity, emulated, under AddressSanitizer + UBSan"
  cmake -S . -B build-asan-avx512emu -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBITNET_SANITIZE=address,undefined \
    -DBITNET_BUILD_TOOLS=OFF -DBITNET_EMULATE_AVX512=ON
  cmake --build build-asan-avx512emu -j "$jobs" --target bitnet_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan-avx512emu --output-on-failure -j "$jobs" -R 'KernelParity|KvAttention|KQuant'
fi
