#!/usr/bin/env bash
# Installs every build and test dependency with apt-get (Debian 12). Idempotent and non-interactive:
# packages already present are left alone, so a second run does nothing.
set -euo pipefail

packages=(g++ cmake ninja-build ccache libgtest-dev googletest nlohmann-json3-dev libcli11-dev libpcre2-dev
  g++-aarch64-linux-gnu qemu-user libpcre2-dev:arm64)
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
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# arm64 libraries for the aarch64 cross build (tested under qemu-user) come from Debian's multiarch archive.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then $sudo dpkg --add-architecture arm64; fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
