#!/usr/bin/python3
"""Trains the BitNet b1.58 demo model on a token stream from corpus.py, for a wall-clock budget.

The learning rate warms up linearly, then follows a cosine keyed on elapsed time / --minutes down to 10%,
so a run of any length ends annealed. Every --ckpt-minutes the float weights go to OUT/ckpt.pt (written
atomically), so a run that is cut off still leaves a model. OUT/loss.tsv holds the loss curve: the mean
training loss over each logging interval, and the validation loss (all non-overlapping windows of the
validation stream) every --val-minutes and at the end.
Usage: /usr/bin/python3 tools/train/train.py --data build/kjv --out build/kjv-run --minutes 60
"""
import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import BitNet, Config


def windows(ids, ctx):
    """All non-overlapping (input, target) windows of ctx tokens."""
    n = (len(ids) - 1) // ctx
    x = torch.from_numpy(ids[: n * ctx].astype(np.int64)).view(n, ctx)
    y = torch.from_numpy(ids[1 : n * ctx + 1].astype(np.int64)).view(n, ctx)
    return x, y


@torch.no_grad()
def evaluate(model, val, batch):
    model.eval()
    x, y = val
    total = 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i : i + batch])
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch].flatten(), reduction="sum").item()
    model.train()
    return total / y.numel()


def save(path, model, info):
    tmp = path + ".tmp"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict(), **info}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="build/kjv", help="folder with train.npy, val.npy (corpus.py)")
    ap.add_argument("--out", default="build/kjv-run")
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=640)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50, help="warm-up steps")
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--val-minutes", type=float, default=5.0)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    train_ids = np.load(os.path.join(args.data, "train.npy"))
    val = windows(np.load(os.path.join(args.data, "val.npy")), args.ctx)
    cfg = Config(dim=args.dim, n_layer=args.layers, n_head=args.heads, n_kv_head=args.kv_heads, ffn=args.ffn,
                 ctx=args.ctx)
    model = BitNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": other, "weight_decay": 0}],
                            lr=args.lr, betas=(0.9, 0.95))
    print("config %s, %d parameters, %d training tokens" % (cfg.to_dict(), n_params, len(train_ids)), flush=True)

    log = open(os.path.join(args.out, "loss.tsv"), "w")
    log.write("step\ttokens\tminutes\tlr\ttrain_loss\tval_loss\n")
    budget = args.minutes * 60.0
    start = time.time()
    step = tokens = 0
    last_val = last_ckpt = start
    running, n_running = 0.0, 0
    gen = torch.Generator().manual_seed(args.seed)
    while True:
        elapsed = time.time() - start
        done = elapsed >= budget or (args.max_steps and step >= args.max_steps)
        if step % args.log_every == 0 or done:
            val_loss = ""
            if done or step == 0 or time.time() - last_val >= args.val_minutes * 60:
                val_loss = "%.4f" % evaluate(model, val, args.batch)
                last_val = time.time()
            train_loss = "%.4f" % (running / n_running) if n_running else ""
            lr = opt.param_groups[0]["lr"]
            line = "%d\t%d\t%.2f\t%.2e\t%s\t%s" % (step, tokens, elapsed / 60, lr, train_loss, val_loss)
            log.write(line + "\n")
            log.flush()
            print(line, flush=True)
            running, n_running = 0.0, 0
        info = {"step": step, "tokens": tokens, "minutes": elapsed / 60, "n_params": n_params}
        if done:
            info["val_loss"] = float(val_loss)
            save(os.path.join(args.out, "ckpt.pt"), model, info)
            break
        if time.time() - last_ckpt >= args.ckpt_minutes * 60:
            save(os.path.join(args.out, "ckpt.pt"), model, info)
            last_ckpt = time.time()

        progress = min(elapsed / budget, 1.0)
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train_ids) - args.ctx - 1, (args.batch,), generator=gen).numpy()
        chunk = np.stack([train_ids[s : s + args.ctx + 1] for s in starts]).astype(np.int64)
        x, y = torch.from_numpy(chunk[:, :-1]), torch.from_numpy(chunk[:, 1:])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        n_running += 1
        step += 1
        tokens += x.numel()


if __name__ == "__main__":
    main()
