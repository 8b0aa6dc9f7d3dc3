#!/usr/bin/env bash
# The README's main command: sets up, builds (Release) and generates text.
#   bash scripts/run.sh                       # the ternary TinyStories model from ../shared/fixtures
#   bash scripts/run.sh -m MODEL.gguf -p "Once upon a time" [any `bitnet-cli inference` option]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >&2
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j "$jobs" --target bitnet-cli >&2
cli="$root/build/bin/bitnet-cli"

if [ $# -gt 0 ]; then
  exec "$cli" inference "$@"
fi

# No arguments: convert the real ternary (W1.58 A8) TinyStories model once, then tell a story with it.
fixtures="${BITNET_FIXTURES:-$root/../shared/fixtures}"
src="$fixtures/tinystories-ternary/bit_model_3M.bin"
if [ ! -f "$src" ]; then
  echo "No model given and $src is absent." >&2
  echo "Usage: bash scripts/run.sh -m MODEL.gguf -p \"prompt\" [bitnet-cli inference options]" >&2
  exit 2
fi
model="$root/build/models/bit_model_3M.gguf"
if [ ! -f "$model" ]; then
  mkdir -p "$(dirname "$model")"
  "$cli" model convert --from bitllama2c "$src" --tokenizer "$fixtures/tinystories-ternary/tok512.bin" "$model" >&2
fi
exec "$cli" inference --model "$model" --prompt "Once upon a time" -n 200 --temperature 0.8 --seed 42
