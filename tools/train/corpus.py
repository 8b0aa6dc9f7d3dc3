#!/usr/bin/python3
"""Builds the training corpus from Debian's King James Bible (packages bible-kjv + bible-kjv-text).

Steps: dump every verse with the `bible` program, group verses into chapters (one document each, verses
joined by a space), hold out every 30th chapter (~3.3%) for validation, train a SentencePiece BPE vocabulary
on the training chapters, and write the token streams as uint16 arrays: per chapter BOS + ids + EOS.

The KJV text is public domain (see /usr/share/doc/bible-kjv-text/copyright); nothing here is committed.
Usage: /usr/bin/python3 tools/train/corpus.py --out build/kjv [--vocab 4096]
"""
import argparse
import os
import re
import subprocess

import numpy as np
import sentencepiece as spm

VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
VAL_EVERY = 30  # chapter k is validation when k % VAL_EVERY == VAL_EVERY - 1


def dump_chapters():
    """Returns the Bible as a list of chapter texts, in canonical order."""
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    chapters, key = [], None
    for line in raw.splitlines():
        m = VERSE.match(line)
        if m is None:
            raise ValueError("unexpected line from `bible`: %r" % line[:80])
        book, chapter, _, text = m.groups()
        if (book, chapter) != key:
            chapters.append([])
            key = (book, chapter)
        chapters[-1].append(" ".join(text.split()))
    return [" ".join(verses) for verses in chapters]


def split(chapters):
    train = [c for k, c in enumerate(chapters) if k % VAL_EVERY != VAL_EVERY - 1]
    val = [c for k, c in enumerate(chapters) if k % VAL_EVERY == VAL_EVERY - 1]
    return train, val


def train_tokenizer(train_chapters, prefix, vocab_size):
    """BPE with byte fallback; ids 0/1/2 = <unk>/<s>/</s> as in Llama; text kept as is (identity rule)."""
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train_chapters),
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        max_sentence_length=1 << 16,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )


def encode(sp, chapters):
    ids = []
    for text in chapters:
        ids.append(sp.bos_id())
        ids.extend(sp.encode(text))
        ids.append(sp.eos_id())
    return np.array(ids, dtype=np.uint16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/kjv", help="output folder")
    ap.add_argument("--vocab", type=int, default=4096)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    chapters = dump_chapters()
    train, val = split(chapters)
    with open(os.path.join(args.out, "train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(args.out, "val.txt"), "w") as f:
        f.write("\n".join(val) + "\n")
    prefix = os.path.join(args.out, "tokenizer")
    train_tokenizer(train, prefix, args.vocab)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    for name, part in (("train", train), ("val", val)):
        ids = encode(sp, part)
        np.save(os.path.join(args.out, name + ".npy"), ids)
        print("%s: %d chapters, %d characters, %d tokens" % (name, len(part), sum(map(len, part)), len(ids)))


if __name__ == "__main__":
    main()
