#!/usr/bin/python3
"""Exports a train.py checkpoint as a bitnet-b1.58 GGUF our engine loads, plus a greedy-decoding check.

Tensors: ternary linears as I2_S (codes of the absmean rule, one f32 scale each), norms F32, the token
embedding F16 (also the tied head). The tokenizer goes into tokenizer.ggml.* as llama.cpp does for
SentencePiece. Then the model is frozen to exactly the exported values (codes, f32 scales, f16 embedding)
and PyTorch decodes greedily from a fixed prompt: OUT.json records the prompt ids, the continuation and
the gap between the top two logits at each step (test: the engine must produce the same ids wherever the
gap is clear).
Usage: /usr/bin/python3 tools/train/export.py --ckpt build/kjv-run/ckpt.pt --tokenizer build/kjv/tokenizer.model
           --out models/bitnet-kjv-4m.gguf
"""
import argparse
import json

import numpy as np
import sentencepiece as spm
import torch

import gguf
from model import BitLinear, BitNet, Config

# SentencePiece piece kinds -> llama.cpp token types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def load(ckpt_path):
    ckpt = torch.load(ckpt_path, map_location="cpu")
    model = BitNet(Config(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def token_type(sp, i):
    if sp.is_unknown(i):
        return UNKNOWN
    if sp.is_control(i):
        return CONTROL
    if sp.is_byte(i):
        return BYTE
    if sp.is_unused(i):
        return UNUSED
    return NORMAL


def add_tokenizer(w, sp):
    n = sp.get_piece_size()
    w.add("tokenizer.ggml.model", "llama")
    w.add("tokenizer.ggml.tokens", [sp.id_to_piece(i) for i in range(n)])
    w.add("tokenizer.ggml.scores", [float(sp.get_score(i)) for i in range(n)])
    w.add("tokenizer.ggml.token_type", [token_type(sp, i) for i in range(n)])
    w.add("tokenizer.ggml.bos_token_id", sp.bos_id())
    w.add("tokenizer.ggml.eos_token_id", sp.eos_id())
    w.add("tokenizer.ggml.unknown_token_id", sp.unk_id())
    w.add("tokenizer.ggml.add_bos_token", True)
    w.add("tokenizer.ggml.add_eos_token", False)
    w.add("tokenizer.ggml.add_space_prefix", True)


def freeze(model):
    """Rounds the model to the exported values; returns {BitLinear: (codes, scale)}."""
    with torch.no_grad():
        model.embed.weight.copy_(model.embed.weight.half().float())
    return {m: m.freeze() for m in model.modules() if isinstance(m, BitLinear)}


def write_gguf(model, sp, path, name, description):
    cfg = model.cfg
    frozen = freeze(model)
    w = gguf.Writer()
    a = "bitnet-b1.58."
    w.add("general.architecture", "bitnet-b1.58")
    w.add("general.name", name)
    w.add("general.description", description)
    w.add(a + "context_length", cfg.ctx)
    w.add(a + "embedding_length", cfg.dim)
    w.add(a + "block_count", cfg.n_layer)
    w.add(a + "feed_forward_length", cfg.ffn)
    w.add(a + "attention.head_count", cfg.n_head)
    w.add(a + "attention.head_count_kv", cfg.n_kv_head)
    w.add(a + "rope.dimension_count", cfg.dim // cfg.n_head)
    w.add(a + "rope.freq_base", float(cfg.rope_theta))
    w.add(a + "attention.layer_norm_rms_epsilon", float(cfg.norm_eps))
    add_tokenizer(w, sp)

    def f32(t):
        return t.detach().numpy().astype("<f4").tobytes()

    def ternary(name, lin):
        codes, scale = frozen[lin]
        w.add_tensor(name, gguf.I2_S, [lin.in_features, lin.out_features], gguf.pack_i2_s(codes.numpy(), scale.item()))

    emb = model.embed.weight
    w.add_tensor("token_embd.weight", gguf.F16, [cfg.dim, cfg.vocab], emb.detach().numpy().astype("<f2").tobytes())
    w.add_tensor("output_norm.weight", gguf.F32, [cfg.dim], f32(model.norm.weight))
    for i, b in enumerate(model.blocks):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", gguf.F32, [cfg.dim], f32(b.attn_norm.weight))
        ternary(p + "attn_q.weight", b.wq)
        ternary(p + "attn_k.weight", b.wk)
        ternary(p + "attn_v.weight", b.wv)
        w.add_tensor(p + "attn_sub_norm.weight", gguf.F32, [cfg.dim], f32(b.attn_sub_norm.weight))
        ternary(p + "attn_output.weight", b.wo)
        w.add_tensor(p + "ffn_norm.weight", gguf.F32, [cfg.dim], f32(b.ffn_norm.weight))
        ternary(p + "ffn_gate.weight", b.gate)
        ternary(p + "ffn_up.weight", b.up)
        w.add_tensor(p + "ffn_sub_norm.weight", gguf.F32, [cfg.ffn], f32(b.ffn_sub_norm.weight))
        ternary(p + "ffn_down.weight", b.down)
    w.write(path)


@torch.no_grad()
def greedy(model, ids, steps):
    """Greedy continuation of ids (a frozen model); returns (new ids, top-1 minus top-2 logit per step)."""
    ids = list(ids)
    out, margins = [], []
    for _ in range(steps):
        if len(ids) >= model.cfg.ctx:
            break
        logits = model(torch.tensor([ids]))[0, -1]
        top = torch.topk(logits, 2)
        out.append(int(top.indices[0]))
        margins.append(round(float(top.values[0] - top.values[1]), 6))
        ids.append(out[-1])
    return out, margins


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True, help="SentencePiece .model from corpus.py")
    ap.add_argument("--out", required=True, help="output .gguf (the check goes beside it as .json)")
    ap.add_argument("--name", default="bitnet-kjv")
    ap.add_argument("--prompt", default="In the beginning")
    ap.add_argument("--steps", type=int, default=64, help="greedy tokens to record")
    args = ap.parse_args()

    model, ckpt = load(args.ckpt)
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    desc = "BitNet b1.58 demo model trained on the King James Bible (tools/train/): %d parameters, %d steps" % (
        ckpt["n_params"], ckpt["step"])
    write_gguf(model, sp, args.out, args.name, desc)
    prompt_ids = [sp.bos_id()] + sp.encode(args.prompt)
    ids, margins = greedy(model, prompt_ids, args.steps)
    check = {"prompt": args.prompt, "prompt_ids": prompt_ids, "greedy_ids": ids, "margins": margins,
             "greedy_text": sp.decode(ids)}
    with open(args.out.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(check, f, indent=1)
    print("wrote %s; greedy: %s%s" % (args.out, args.prompt, sp.decode(ids)))


if __name__ == "__main__":
    main()
