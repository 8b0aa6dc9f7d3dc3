#!/usr/bin/python3
"""Smoke test of the trainer and parity of the engine with it (run by ctest as `trainer_parity`).

Trains a SentencePiece vocabulary and a tiny BitNet for a few steps on made-up text, exports it, and
compares `bitnet-cli logits` with PyTorch's forward pass of the exported (frozen) model in float64:
NMSE = sum((engine - torch)^2) / sum((torch - mean)^2) must be <= 1e-4, and the arg-max must agree
wherever PyTorch's top two logits are more than 1e-2 apart.
Exit status 77 (ctest's skip) when torch or sentencepiece cannot be imported.
Usage: /usr/bin/python3 tools/train/parity_test.py path/to/bitnet-cli
"""
import os
import random
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import sentencepiece as spm
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print("SKIP: %s (install python3-torch python3-sentencepiece python3-numpy)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import export  # noqa: E402
from model import BitNet, Config  # noqa: E402

WORDS = "the lord said unto moses and aaron go speak children of israel land water light day night".split()


def made_up_text(n, rng):
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))).capitalize() + "." for _ in range(n)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = random.Random(0)
    lines = made_up_text(300, rng)
    with tempfile.TemporaryDirectory() as tmp:
        corpus.train_tokenizer(lines, os.path.join(tmp, "tok"), 300)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "tok.model"))
        ids = np.array(corpus.encode(sp, [" ".join(lines)]), dtype=np.int64)
        cfg = Config(vocab=sp.get_piece_size(), dim=128, n_layer=2, n_head=4, n_kv_head=2, ffn=256, ctx=64)
        model = BitNet(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for step in range(20):
            starts = torch.randint(0, len(ids) - cfg.ctx - 1, (8,)).tolist()
            x = torch.tensor(np.stack([ids[s : s + cfg.ctx + 1] for s in starts]))
            loss = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("trained 20 steps, loss %.3f" % loss.item())

        path = os.path.join(tmp, "tiny.gguf")
        export.write_gguf(model, sp, path, "parity test", "tiny model from tools/train/parity_test.py")
        prompt = [sp.bos_id()] + sp.encode(made_up_text(4, rng)[0] + " " + made_up_text(4, rng)[1])[: cfg.ctx - 1]
        with open(os.path.join(tmp, "ids.txt"), "w") as f:
            f.write(" ".join(map(str, prompt)))
        out = os.path.join(tmp, "logits.f32")
        subprocess.run([cli, "logits", "-m", path, "--ids", os.path.join(tmp, "ids.txt"), "--out", out], check=True)
        engine = np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(prompt), cfg.vocab)

    with torch.no_grad():
        ref = model.double()(torch.tensor([prompt]))[0].numpy()
    nmse = ((engine - ref) ** 2).sum() / ((ref - ref.mean()) ** 2).sum()
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-2
    agree = (engine.argmax(1) == ref.argmax(1))[clear].all()
    print("%d positions x %d logits: NMSE %.3e, max |diff| %.3e (logit std %.3f), arg-max agrees: %s" % (
        len(prompt), cfg.vocab, nmse, np.abs(engine - ref).max(), ref.std(), agree))
    if not (nmse <= 1e-4 and agree):
        print("FAIL: the engine and PyTorch disagree")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
