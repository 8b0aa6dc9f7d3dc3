"""BitNet b1.58 2B-4T architecture in PyTorch, with the numerics of our engine (src/model/forward.cpp).

Every ternary matmul is a BitLinear:
  weights: one per-tensor scale w = mean|W|, Wq = clamp(round(W / w), -1, 1) (absmean, as in the paper);
  activations: per token s = 127 / max(max|x|, 1e-5), q = clamp(round(x * s), -128, 127) (the engine's
  quantize_row_absmax_ref), and y = (q . Wq) / s * w (its ternary_epilogue).
Training uses the straight-through estimator for both roundings. The block is the 2B-4T one: RMSNorm ->
q/k/v -> RoPE (NeoX: rotate halves) -> causal GQA attention -> attn_sub_norm -> o, then RMSNorm ->
relu(gate)^2 * up -> ffn_sub_norm -> down; tied embeddings as the head (a float matmul, not ternary).
"""
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 4096
    dim: int = 256
    n_layer: int = 6
    n_head: int = 8
    n_kv_head: int = 4
    ffn: int = 640
    ctx: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def to_dict(self):
        return asdict(self)


def ternarize(w):
    """Absmean ternary weights: (codes in {-1, 0, 1}, scale)."""
    scale = w.abs().mean().clamp(min=1e-5)
    return (w / scale).round().clamp(-1, 1), scale


def quantize_acts(x):
    """Per-token absmax int8, as the engine: returns the dequantized values q / s."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * s).round().clamp(-128, 127) / s


class BitLinear(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)
        self.frozen = None  # (codes, f32 scale) once exported: the weights exactly as the engine has them

    def freeze(self):
        codes, scale = ternarize(self.weight.detach())
        self.frozen = (codes, scale.float())
        return self.frozen

    def forward(self, x):
        if self.frozen is not None:
            codes, scale = self.frozen
            return F.linear(quantize_acts(x), codes.to(x.dtype)) * scale.to(x.dtype)
        codes, scale = ternarize(self.weight)
        w = self.weight + (codes * scale - self.weight).detach()
        xq = x + (quantize_acts(x) - x).detach()
        return F.linear(xq, w)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n, dtype):
    """cos/sin [n, head_dim/2] for positions 0..n-1, angle = p * theta^(-2i/d) (computed in float64)."""
    hd = cfg.dim // cfg.n_head
    freq = cfg.rope_theta ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
    angle = torch.arange(n, dtype=torch.float64)[:, None] * freq[None, :]
    return angle.cos().to(dtype), angle.sin().to(dtype)


def rope(x, cos, sin):
    """NeoX RoPE on x [B, H, T, hd]: element i pairs with i + hd/2."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hd = cfg.dim // cfg.n_head
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.wq = BitLinear(cfg.dim, cfg.dim)
        self.wk = BitLinear(cfg.dim, cfg.n_kv_head * hd)
        self.wv = BitLinear(cfg.dim, cfg.n_kv_head * hd)
        self.attn_sub_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.wo = BitLinear(cfg.dim, cfg.dim)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.gate = BitLinear(cfg.dim, cfg.ffn)
        self.up = BitLinear(cfg.dim, cfg.ffn)
        self.ffn_sub_norm = RMSNorm(cfg.ffn, cfg.norm_eps)
        self.down = BitLinear(cfg.ffn, cfg.dim)

    def forward(self, x, cos, sin):
        cfg = self.cfg
        B, T, _ = x.shape
        hd = cfg.dim // cfg.n_head
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, cfg.n_head, hd).transpose(1, 2)
        k = self.wk(h).view(B, T, cfg.n_kv_head, hd).transpose(1, 2)
        v = self.wv(h).view(B, T, cfg.n_kv_head, hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        group = cfg.n_head // cfg.n_kv_head
        k = k.repeat_interleave(group, dim=1)  # query head h reads kv head h // group
        v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / hd**0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        att = att.transpose(1, 2).reshape(B, T, cfg.dim)
        x = x + self.wo(self.attn_sub_norm(att))
        h = self.ffn_norm(x)
        f = F.relu(self.gate(h)).square() * self.up(h)
        return x + self.down(self.ffn_sub_norm(f))


class BitNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        cos, sin = rope_tables(self.cfg, T, self.embed.weight.dtype)
        x = self.embed(idx)
        for b in self.blocks:
            x = b(x, cos, sin)
        return F.linear(self.norm(x), self.embed.weight)
