#!/usr/bin/env bash
# This engine against llama.cpp on this CPU, as issue "Fast CPU kernels" measures: llama-bench and `bitnet-cli bench`
# on the same GGUF files, prompt (pp) and generation (tg) tokens/s, the two programs alternating for PASSES passes
# (a shared machine's speed drifts from one minute to the next; compare only figures from one such run).
#   scripts/compare.sh LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]
# LLAMA_BENCH is llama.cpp's llama-bench binary (build it from llama.cpp's source: cmake -DGGML_NATIVE=ON, target
# llama-bench). Environment: PASSES (2), THREADS (2), P (128), N (64), R (2: repetitions per run), BITNET_CLI
# (build/bin/bitnet-cli); BITNET_ISA and BITNET_AVXVNNI reach bitnet-cli only. llama.cpp reads TQ1_0 and TQ2_0
# (architecture bitnet), not I2_S, TL1 or TL2: `bitnet-cli model synth --shape large --type tq2_0 OUT.gguf` writes
# such a file. Prints each run, then per model and test the range of each engine's means and the ratio of medians.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
llama_bench=$1
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
cli=${BITNET_CLI:-$root/build/bin/bitnet-cli}
passes=${PASSES:-2} threads=${THREADS:-2} p=${P:-128} n=${N:-64} r=${R:-2}
[ -x "$llama_bench" ] || { echo "compare.sh: $llama_bench is not an executable llama-bench" >&2; exit 1; }
[ -x "$cli" ] || { echo "compare.sh: $cli not found (cmake --build build --target bitnet-cli)" >&2; exit 1; }
for m in "$@"; do [ -r "$m" ] || { echo "compare.sh: cannot read $m" >&2; exit 1; }; done

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for pass in $(seq 1 "$passes"); do
  for m in "$@"; do
    name=$(basename "$m" .gguf)
    # llama-bench's markdown rows end "| pp128 | 150.12 ± 0.89 |": the test and its mean are the last two cells.
    if ! out=$(env -u BITNET_ISA -u BITNET_AVXVNNI "$llama_bench" -m "$m" -p "$p" -n "$n" -t "$threads" -r "$r" 2>&1); then
      echo "$out" | tail -5 >&2
      echo "compare.sh: llama-bench failed on $m" >&2
      exit 1
    fi
    echo "$out" | awk -F'|' -v pass="$pass" -v model="$name" \
      'NF >= 4 && $(NF-2) ~ /(pp|tg)[0-9]/ { gsub(/ /, "", $(NF-2)); split($(NF-1), v, " "); print pass, model, "llama.cpp", $(NF-2), v[1] }' |
      tee -a "$results"
    if ! out=$("$cli" bench --model "$m" -p "$p" -n "$n" -t "$threads" -r "$r" 2>&1); then
      echo "$out" | tail -5 >&2
      echo "compare.sh: bitnet-cli bench failed on $m" >&2
      exit 1
    fi
    echo "$out" | awk -v pass="$pass" -v model="$name" '/^(pp|tg)[0-9]/ { print pass, model, "bitnet", $1, $3 }' |
      tee -a "$results"
  done
done

echo
echo "model test: llama.cpp tok/s | bitnet tok/s | bitnet / llama.cpp (medians), $passes passes, $threads threads"
sort -k2,2 -k4,4 -k3,3 -k5,5g "$results" | awk '
  function median(a, k) { return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  function flush() {
    if (key == "") return
    if (nl > 0 && nb > 0)
      printf "%s: %.1f-%.1f | %.1f-%.1f | %.2fx\n", key, l[1], l[nl], b[1], b[nb], median(b, nb) / median(l, nl)
    delete l; delete b; nl = nb = 0
  }
  { k = $2 " " $4; if (k != key) { flush(); key = k }
    if ($3 == "llama.cpp") l[++nl] = $5; else b[++nb] = $5 }
  END { flush() }'
