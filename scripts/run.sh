#!/usr/bin/env bash
# The README's main command: sets up, builds (Release) and generates text.
#   bash scripts/run.sh                       # the shipped demo model, models/bitnet-kjv-4m.gguf
#   bash scripts/run.sh -p "And Moses said" -n 100 --temperature 0    # same model, other options
#   bash scripts/run.sh -m MODEL.gguf -p "Once upon a time" [any `bitnet-cli inference` option]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh --no-trainer >&2
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j "$jobs" --target bitnet-cli >&2
cli="$root/build/bin/bitnet-cli"

# Without -m, `bitnet-cli inference` uses $BITNET_MODEL, else models/bitnet-kjv-4m.gguf (found from build/bin).
if [ $# -gt 0 ]; then
  exec "$cli" inference "$@"
fi
exec "$cli" inference --prompt "In the beginning" -n 120 --temperature 0.8 --top-k 40 --seed 42
