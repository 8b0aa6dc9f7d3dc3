#!/usr/bin/env bash
# Installs every build and test dependency with apt-get (Debian 12). Idempotent and non-interactive:
# packages already present are left alone, so a second run does nothing.
set -euo pipefail

packages=(g++ cmake ninja-build ccache libgtest-dev googletest libbenchmark-dev nlohmann-json3-dev libcli11-dev libpcre2-dev
  libcpp-httplib-dev pkg-config libsimde-dev g++-aarch64-linux-gnu qemu-user libpcre2-dev:arm64 clang libclang-rt-dev)
# (libclang-rt-dev: clang's sanitizer and libFuzzer runtimes, for scripts/fuzz.sh; only recommended by clang)
# PyTorch for the trainer's parity test (tools/train/parity_test.py, run by ctest). `--no-trainer` leaves it out
# (scripts/run.sh: generating text needs none of it).
if [ "${1:-}" != "--no-trainer" ]; then
  packages+=(python3-torch python3-sentencepiece python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all build dependencies present"
else
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # arm64 libraries for the aarch64 cross build (tested under qemu-user) come from Debian's multiarch archive.
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then $sudo dpkg --add-architecture arm64; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The official openai npm client, pinned by tests/server/package-lock.json, for the server's client test (node and
# npm come with the machine: not from apt here, where a NodeSource node would conflict with Debian's npm).
# Installed once; the test skips (visibly) where node_modules is absent.
server_tests="$(dirname "$0")/../tests/server"
if command -v npm > /dev/null && [ ! -f "$server_tests/node_modules/openai/package.json" ]; then
  (cd "$server_tests" && npm ci --no-audit --no-fund --loglevel=error) || echo "setup: npm ci failed; the openai client test will skip"
fi
