#!/usr/bin/env bash
# Rebuilds the demo model models/bitnet-kjv-4m.gguf (+ .json check, + .loss.tsv curve) from scratch:
# corpus and tokenizer from Debian's KJV Bible, training for a wall-clock budget, export.
#   bash tools/train/make_demo_model.sh [MINUTES]      # default 60
# Needs (Debian 12): bible-kjv bible-kjv-text python3-torch python3-sentencepiece python3-numpy, and
# libopenblas0-pthread (Debian's torch uses the system BLAS; the reference one is ~6x slower).
# Training stops on time, so a rerun gives a similar model, not the same bytes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
minutes="${1:-60}"
py=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1
$py tools/train/corpus.py --out build/kjv
$py tools/train/train.py --data build/kjv --out build/kjv-run --minutes "$minutes"
$py tools/train/export.py --ckpt build/kjv-run/ckpt.pt --tokenizer build/kjv/tokenizer.model \
  --out models/bitnet-kjv-4m.gguf --name bitnet-kjv-4m
cp build/kjv-run/loss.tsv models/bitnet-kjv-4m.loss.tsv
