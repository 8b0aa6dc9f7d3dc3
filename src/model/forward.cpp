// Forward pass: embeddings -> layers (attention + gated FFN, each with the architecture's norms) -> head.
#include "model/forward.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "core/fast_exp.hpp"
#include "core/vector_clones.hpp"
#include "kernels/attention.hpp"
#include "kernels/float_rows.hpp"
#include "quant/quant.hpp"

namespace bitnet::model {
namespace {

// attention_split: from how many positions one token's attention is shared out in pieces, and the positions of a
// piece of its scores.
constexpr int64_t kSplitMinPositions = 512;
constexpr int64_t kSplitPositions = 512;
constexpr int64_t kSplitColumns = 64;  // a piece of its weighted sums (a multiple of 32: a Q8_0 block)

}  // namespace

Forward::Forward(const Weights& weights, int64_t n_ctx, ThreadPool& pool, uint32_t kv_type)
    : w_(weights),
      pool_(pool),
      n_ctx_(n_ctx),
      kv_dim_(weights.hp.head_dim * weights.hp.n_head_kv),
      own_(weights.hp, n_ctx, kv_type),
      kernel_(&kernels::ternary_kernel(active_isa())) {
  const HParams& hp = w_.hp;
  bool pad_ff = hp.n_ff % 1024 == 0 && !w_.layers.empty();
  for (const Layer& L : w_.layers) pad_ff = pad_ff && chunked_ffn(L, hp.n_ff) && !L.ffn_sub_norm.empty();
  ff_stride_ = hp.n_ff + (pad_ff ? 16 : 0);
  // RoPE angles in double: pos * theta^(-2i/d), then cos/sin rounded once to float.
  const int64_t half = hp.rope_dim / 2;
  rope_cos_.resize(static_cast<size_t>(n_ctx_ * half));
  rope_sin_.resize(rope_cos_.size());
  for (int64_t p = 0; p < n_ctx_; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(hp.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(hp.rope_dim));
      const double angle = static_cast<double>(p) * freq;
      rope_cos_[static_cast<size_t>(p * half + i)] = static_cast<float>(std::cos(angle));
      rope_sin_[static_cast<size_t>(p * half + i)] = static_cast<float>(std::sin(angle));
    }
  // Attention scratch: a block's scores where this ISA level has block kernels for a KV type (attention() makes
  // blocks of at most max(8, the GQA group capped at kMaxBlockQueries) queries; a batch's caches may be of any type:
  // NEON has them for Q8_0 only), else one query's.
  const int64_t group = hp.n_head / hp.n_head_kv;
  bool blocks = false;
  for (uint32_t type : {quant::kF32, quant::kF16, quant::kQ8_0}) {
    const kernels::KvAttentionKernel* k = kernels::kv_attention_kernel(type, kernel_->isa);
    blocks = blocks || (k != nullptr && k->block_scores != nullptr);
  }
  const int64_t per_block = blocks ? std::max<int64_t>(8, std::min<int64_t>(group, kernels::kMaxBlockQueries)) : 1;
  scores_.resize(static_cast<size_t>(std::max(pool_.size() * per_block, hp.n_head) * n_ctx_));
  scores_per_thread_ = per_block * n_ctx_;
  const int64_t max_row = (std::max(hp.n_embd, hp.n_ff) + 15) / 16 * 16;  // threads' rows on lines of their own
  row_scratch_.resize(static_cast<size_t>(pool_.size() * max_row));
}

void Forward::truncate(int64_t n) { own_.truncate(n); }

HugePageBuffer::HugePages Forward::wait_huge_pages() {
  HugePageBuffer::HugePages h = own_.wait_huge_pages();
  const HugePageBuffer::HugePages s = pass_scratch_.wait_huge_pages();
  h.moved += s.moved;
  h.total += s.total;
  h.ms = std::max(h.ms, s.ms);
  h.unsupported = h.unsupported || s.unsupported;
  return h;
}

void Forward::size_pass_scratch(int64_t n) {
  if (n <= pass_tokens_) return;
  const HParams& hp = w_.hp;
  float** parts[] = {&x_, &q_, &k_, &v_, &att_, &ffa_, &ffb_};
  const int64_t per_token[] = {hp.n_embd, hp.n_embd, kv_dim_, kv_dim_, hp.n_embd, ff_stride_, ff_stride_};
  auto floats = [&](int i) { return (n * per_token[i] + 15) / 16 * 16; };  // each part on lines of its own
  int64_t total = 0;
  for (int i = 0; i < 7; ++i) total += floats(i);
  pass_tokens_ = 0;                  // until the new buffers are carved (an allocation that throws leaves none)
  pass_scratch_ = HugePageBuffer();  // nothing in them is kept from one pass to the next: no copy
  ByteBuffer().swap(norm_out_);
  pass_scratch_ = HugePageBuffer(static_cast<size_t>(total) * sizeof(float));
  pass_scratch_.start_huge_pages();
  norm_out_.resize(static_cast<size_t>(n * hp.n_embd) * sizeof(float));
  h_ = reinterpret_cast<float*>(norm_out_.data());
  float* at = reinterpret_cast<float*>(pass_scratch_.data());
  for (int i = 0; i < 7; ++i) {
    *parts[i] = at;
    at += floats(i);
  }
  pass_tokens_ = n;
}

void Forward::rms_norm(const float* x, const std::vector<float>& w, int64_t n, int64_t dim, float* y) const {
  pool_.parallel_for(n, [&](int64_t b, int64_t e, int) { rms_norm_rows(x, w, b, e, dim, y); });
}

// The norms' sums of squares: in double, over 32 interleaved partial sums (value i goes to i mod 32), added pairwise
// at the end. The compiler vectorizes that, where one running sum is a chain of dependent adds (rms_norm took 4% of
// 2B-4T prompt processing); 32, not 8, so that the AVX-512 clone has four independent registers of sums: with one,
// each 8 values waited on the previous add.
constexpr int kSumParts = 32;

inline double add_parts(double* part) {
  for (int w = kSumParts / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) part[k] += part[k + w];
  return part[0];
}

BITNET_VECTOR_CLONES static double sum_squares(const float* x, int64_t n) {
  double part[kSumParts] = {};
  int64_t i = 0;
  for (; i + kSumParts <= n; i += kSumParts)
    for (int k = 0; k < kSumParts; ++k) part[k] += static_cast<double>(x[i + k]) * x[i + k];
  for (; i < n; ++i) part[i % kSumParts] += static_cast<double>(x[i]) * x[i];
  return add_parts(part);
}

// x[i] += r[i], then sum_squares(x, n), in one pass.
BITNET_VECTOR_CLONES static double add_sum_squares(float* __restrict x, const float* __restrict r, int64_t n) {
  double part[kSumParts] = {};
  int64_t i = 0;
  for (; i + kSumParts <= n; i += kSumParts)
    for (int k = 0; k < kSumParts; ++k) {
      x[i + k] += r[i + k];
      part[k] += static_cast<double>(x[i + k]) * x[i + k];
    }
  for (; i < n; ++i) {
    x[i] += r[i];
    part[i % kSumParts] += static_cast<double>(x[i]) * x[i];
  }
  return add_parts(part);
}

// y[i] = x[i] * scale * w[i] (w may be null: y[i] = x[i] * scale), at the widest vectors the CPU has.
BITNET_VECTOR_CLONES static void scale_row(float* __restrict y, const float* __restrict x, float scale,
                                           const float* __restrict w, int64_t n) {
  if (w == nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  }
}

// y = x * w / sqrt(mean(x^2) + eps) for one row, given sum = the sum of x^2.
void Forward::norm_row(const float* x, double sum, const std::vector<float>& w, int64_t dim, float* y) const {
  const float mean = static_cast<float>(sum / static_cast<double>(dim));
  const float scale = 1.0f / std::sqrt(mean + w_.hp.norm_eps);
  scale_row(y, x, scale, w.empty() ? nullptr : w.data(), dim);
}

void Forward::rms_norm_rows(const float* x, const std::vector<float>& w, int64_t t_begin, int64_t t_end, int64_t dim,
                            float* y) const {
  for (int64_t t = t_begin; t < t_end; ++t) norm_row(x + t * dim, sum_squares(x + t * dim, dim), w, dim, y + t * dim);
}

bool Forward::residual_norm(float* x, const float* r, const std::vector<float>& w, int64_t n, int64_t dim, float* y,
                            const Linear* next, bool only_next, int64_t x_stride) {
  if (x_stride == 0) x_stride = dim;
  const bool quantize = next != nullptr && next->ternary && next->in == dim && !w_.arch->bitlinear_input_norm;
  if (quantize) kernels::size_prepared_acts(next->tern.act_quant, n, dim, acts_);
  const bool skip_y = quantize && only_next && dim <= static_cast<int64_t>(row_scratch_.size()) / pool_.size();
  pool_.parallel_for(n, [&](int64_t b, int64_t e, int thread) {
    float* row = row_scratch_.data() + static_cast<size_t>(thread) * (row_scratch_.size() / pool_.size());
    for (int64_t t = b; t < e; ++t) {
      float* xt = x + t * x_stride;
      const double sum = r == nullptr ? sum_squares(xt, dim) : add_sum_squares(xt, r + t * x_stride, dim);
      if (skip_y) {
        norm_row(xt, sum, w, dim, row);
        kernels::prepare_acts_token(row, t, acts_);
      } else {
        norm_row(xt, sum, w, dim, y + t * dim);
      }
    }
    if (quantize && !skip_y) kernels::prepare_acts_rows(y, b, e, acts_);
  });
  acts_from_ = quantize ? y : nullptr;
  return quantize;
}

bool Forward::shares_acts(const Linear& first, const Linear& l) {
  return l.ternary && l.in == first.in && l.tern.act_quant == first.tern.act_quant;
}

bool Forward::acts_only(std::initializer_list<const Linear*> readers) {
  const Linear& first = **readers.begin();
  for (const Linear* l : readers)
    if (!shares_acts(first, *l)) return false;
  return true;
}

// Quantizes x for ternary linear l into acts_, unless acts_ already holds exactly that (same_input).
void Forward::prepare_ternary_acts(const Linear& l, const float* x, int64_t n, bool same_input) {
  if (!same_input) acts_from_ = nullptr;  // whatever x held before may have been overwritten since
  if (!(acts_from_ == x && acts_.qa.rule == l.tern.act_quant && acts_.qa.n_tokens == n && acts_.qa.cols == l.in)) {
    const float* in = x;
    if (w_.arch->bitlinear_input_norm) {
      // bitllama2c: x / (||x||_2 * sqrt(n)) per token before quantization (see fixtures' FORMAT.md).
      tmp_.resize(static_cast<size_t>(n * l.in));
      for (int64_t t = 0; t < n; ++t) {
        double ss = 0.0;
        for (int64_t i = 0; i < l.in; ++i) ss += static_cast<double>(x[t * l.in + i]) * x[t * l.in + i];
        const double denom = std::sqrt(ss) * std::sqrt(static_cast<double>(l.in));
        const float inv = denom > 0 ? static_cast<float>(1.0 / denom) : 0.0f;
        for (int64_t i = 0; i < l.in; ++i) tmp_[static_cast<size_t>(t * l.in + i)] = x[t * l.in + i] * inv;
      }
      in = tmp_.data();
    }
    kernels::size_prepared_acts(l.tern.act_quant, n, l.in, acts_);
    pool_.parallel_for(n, [&](int64_t b, int64_t e, int) { kernels::prepare_acts_rows(in, b, e, acts_); });
    acts_from_ = x;
  }
}

// Generation streams every row from memory, and the AVX-512 kernel fetches the codes 10 KB ahead of the rows it
// reads: past its chunk's end, into the rows after. With guided chunks (a dozen a pass, the last ones 64 rows) a
// thread's next chunk was seldom the one after its last, so each chunk started on rows not yet fetched, whose lines
// the other core's prefetches had pulled into its cache instead. One contiguous share a thread streams without
// those restarts (on the 2-core Intel VM, six alternations: large tg 98-105 -> 100-109 tok/s, 2B-4T 29.0-29.9 ->
// 29.2-30.9; clamping the prefetch to a chunk's end instead was 12% slower), and parallel_for_shares lets a thread
// that finishes its share first take 64-row groups from the back of the other's, where fixed halves left it waiting.
void Forward::for_rows(int64_t rows, int64_t n, ChunkFn fn) {
  constexpr int64_t kGroup = 64;  // the AVX-512 kernel's L2 blocking and every kernel's row tiles
  if (n == 1)
    pool_.parallel_for_shares(rows, fn, kGroup);
  else
    pool_.parallel_for(rows, fn, kGroup);
}

Status Forward::linear(const Linear& l, const float* x, int64_t n, float* y, bool same_input) {
  std::atomic<bool> failed{false};
  Status first_error;
  std::mutex error_mu;
  if (!same_input) acts_from_ = nullptr;
  if (l.ternary) {
    prepare_ternary_acts(l, x, n, same_input);
    const kernels::TernaryMatmulFn matmul = kernel_->matmul;
    for_rows(l.out, n, [&](int64_t b, int64_t e, int) { matmul(l.tern, acts_, y, l.out, b, e); });
  } else if (const kernels::KQuantMatmulFn kq = kernels::kquant_matmul(l.rows.type, kernel_->isa)) {
    // Q6_K and Q8_0 weights take int8 activations (Q8_K, Q8_0) and integer dots, as in llama.cpp and bitnet.cpp.
    kernels::size_int_acts(kernels::int_act_type(l.rows.type), n, l.in, int_acts_);
    pool_.parallel_for(n, [&](int64_t b, int64_t e, int) { kernels::prepare_int_acts_rows(x, b, e, int_acts_); });
    // One token (generation's head) streams the rows from memory as the ternary passes do: shares, 8-row grains.
    auto rows = [&](int64_t b, int64_t e, int) { kq(l.rows, int_acts_.view(), y, l.out, b, e); };
    if (n == 1)
      pool_.parallel_for_shares(l.out, rows, 8);
    else
      pool_.parallel_for(l.out, rows);
  } else {
    const kernels::RowDotFn dot = kernels::float_row_dot(l.rows.type, kernel_->isa);
    pool_.parallel_for(l.out, [&](int64_t b, int64_t e, int thread) {
      float* scratch = row_scratch_.data() + static_cast<size_t>(thread) * (row_scratch_.size() / pool_.size());
      Status s = kernels::float_matmul(l.rows, dot, x, n, y, l.out, b, e, scratch);
      if (!s.ok() && !failed.exchange(true)) {
        std::lock_guard<std::mutex> lock(error_mu);
        first_error = s;
      }
    });
  }
  if (failed) return first_error.with_context(l.name);
  if (l.has_scale)
    for (int64_t i = 0; i < n * l.out; ++i) y[i] *= l.scale;
  return Status::Ok();
}

Status Forward::linears(std::initializer_list<LinearOut> parts, const float* x, int64_t n, bool same_input) {
  bool fused = true;
  const Linear& first = *parts.begin()->l;
  for (const LinearOut& p : parts) fused = fused && shares_acts(first, *p.l);
  if (!fused) {
    bool same = same_input;
    for (const LinearOut& p : parts) {
      BITNET_RETURN_IF_ERROR(linear(*p.l, x, n, p.y, same));
      same = true;
    }
    return Status::Ok();
  }
  prepare_ternary_acts(first, x, n, same_input);
  int64_t total = 0;
  for (const LinearOut& p : parts) total += p.l->out;
  const kernels::TernaryMatmulFn matmul = kernel_->matmul;
  for_rows(total, n, [&](int64_t b, int64_t e, int) {
    int64_t offset = 0;
    for (const LinearOut& p : parts) {
      const int64_t lb = std::max(b, offset), le = std::min(e, offset + p.l->out);
      if (lb < le) matmul(p.l->tern, acts_, p.y, p.l->out, lb - offset, le - offset);
      offset += p.l->out;
    }
  });
  for (const LinearOut& p : parts)
    if (p.l->has_scale)
      for (int64_t i = 0; i < n * p.l->out; ++i) p.y[i] *= p.l->scale;
  return Status::Ok();
}

// act(x[i]) * u[i] for i < n, in place in x: the FFN's gate activation (SiLU or ReLU squared) times up.
BITNET_VECTOR_CLONES static void gate_rows(float* __restrict x, const float* __restrict u, int64_t n, bool silu) {
  if (silu) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + fast_exp(-x[i])) * u[i];
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float r = std::max(x[i], 0.0f);
      x[i] = r * r * u[i];
    }
  }
}

bool Forward::chunked_ffn(const Layer& L, int64_t n_ff) {
  return L.gate.ternary && L.up.ternary && L.gate.in == L.up.in && L.gate.out == n_ff && L.up.out == n_ff &&
         L.gate.tern.act_quant == L.up.tern.act_quant;
}

Status Forward::gated_ffn(const Layer& L, const float* x, int64_t n, bool same_input) {
  const int64_t nf = w_.hp.n_ff;
  const bool silu = w_.arch->ffn_act == FfnAct::kSilu;
  float* g = ffa_;
  float* u = ffb_;
  const int64_t fs = ff_stride_;
  if (!chunked_ffn(L, nf)) {
    BITNET_RETURN_IF_ERROR(linears({{&L.gate, g}, {&L.up, u}}, x, n, same_input));  // here fs == nf
    pool_.parallel_for(n, [&](int64_t b, int64_t e, int) { gate_rows(g + b * nf, u + b * nf, (e - b) * nf, silu); });
    return Status::Ok();
  }
  // Each chunk of rows: gate and up for those rows, then the activation while they are still in this core's cache
  // (a separate pass over the two n x n_ff outputs cost 8% of 2B-4T prompt processing).
  prepare_ternary_acts(L.gate, x, n, same_input);
  const kernels::TernaryMatmulFn matmul = kernel_->matmul;
  for_rows(nf, n, [&](int64_t cb, int64_t ce, int) {
    // 64 rows at a time, so the activation finds gate's and up's outputs (64 KB for 128 tokens) in L2: over a
    // whole chunk (hundreds of rows) it missed the cache and took 8% of 2B-4T prompt processing.
    for (int64_t b = cb; b < ce; b += 64) {
      const int64_t e = std::min(ce, b + 64);
      matmul(L.gate.tern, acts_, g, fs, b, e);
      matmul(L.up.tern, acts_, u, fs, b, e);
      for (int64_t t = 0; t < n; ++t) {
        float* gt = g + t * fs;
        float* ut = u + t * fs;
        if (L.gate.has_scale)
          for (int64_t i = b; i < e; ++i) gt[i] *= L.gate.scale;
        if (L.up.has_scale)
          for (int64_t i = b; i < e; ++i) ut[i] *= L.up.scale;
        gate_rows(gt + b, ut + b, e - b, silu);
      }
    }
  });
  return Status::Ok();
}

// x[t] += y[t] for n rows of d, over the pool's threads.
void Forward::add_rows(float* x, const float* y, int64_t n, int64_t d) {
  pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b * d; i < e * d; ++i) x[i] += y[i];
  });
}

// (a[i], b[i]) rotated by the angle of (c[i], s[i]), for i < n: NeoX RoPE's pairs, half a head apart, so the loop
// vectorizes (one loop for both styles, choosing indices per pair, ran scalar).
BITNET_VECTOR_CLONES static void rotate_pairs(float* __restrict a, float* __restrict b, const float* __restrict c,
                                              const float* __restrict s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x0 = a[i], x1 = b[i];
    a[i] = x0 * c[i] - x1 * s[i];
    b[i] = x0 * s[i] + x1 * c[i];
  }
}

// Rotates token t's heads by the angle of its own position (pos_of_).
void Forward::rope_heads(float* x, int64_t t, int64_t n_heads) const {
  const int64_t hd = w_.hp.head_dim;
  const int64_t half = w_.hp.rope_dim / 2;
  const bool neox = w_.arch->rope == RopeStyle::kNeox;
  const float* c = rope_cos_.data() + pos_of_[static_cast<size_t>(t)] * half;
  const float* s = rope_sin_.data() + pos_of_[static_cast<size_t>(t)] * half;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * hd;
    if (neox) {
      rotate_pairs(v, v + half, c, s, half);
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * c[i] - x1 * s[i];
        v[2 * i + 1] = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

void Forward::rope_and_store(int64_t layer, int64_t n) {
  const HParams& hp = w_.hp;
  pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      rope_heads(q_ + t * hp.n_head * hp.head_dim, t, hp.n_head);
      float* kt = k_ + t * kv_dim_;
      rope_heads(kt, t, hp.n_head_kv);
      cache_of_[static_cast<size_t>(t)]->store(layer, pos_of_[static_cast<size_t>(t)], kt, v_ + t * kv_dim_);
    }
  });
}

// Each token attends to positions 0..its own of its own sequence's cache (causal within the batch too: a
// sequence's earlier tokens in this batch were written to the cache before attention runs). Queries that read the
// same KV head (a GQA group, consecutive tokens of one cache) go to the kernel as one block, about 8 queries, so
// each cached row is widened once for all of them; every query's result is still exactly its own (attend_block),
// so results do not depend on the batch.
void Forward::attention(int64_t layer, int64_t n) {
  const HParams& hp = w_.hp;
  const int64_t hd = hp.head_dim;
  const int64_t group = hp.n_head / hp.n_head_kv;
  int64_t heads_per_block = std::min<int64_t>(group, kernels::kMaxBlockQueries);
  const int64_t tokens_per_block = std::max<int64_t>(1, 8 / heads_per_block);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Token blocks: runs of consecutive batch tokens of one cache.
  token_blocks_.clear();
  for (int64_t t = 0; t < n;) {
    int64_t e = t + 1;
    while (e < n && e - t < tokens_per_block && cache_of_[static_cast<size_t>(e)] == cache_of_[static_cast<size_t>(t)])
      ++e;
    token_blocks_.push_back({t, e});
    t = e;
  }
  // Enough jobs for the threads (generation has one token block): smaller head blocks where there are too few.
  const int64_t n_blocks = static_cast<int64_t>(token_blocks_.size());
  if (n == 1 && pos_of_[0] + 1 >= kSplitMinPositions &&
      hp.n_head_kv * ((group + heads_per_block - 1) / heads_per_block) % pool_.size() != 0)
    return attention_split(layer);
  while (heads_per_block > 1 && n_blocks * hp.n_head_kv * ((group + heads_per_block - 1) / heads_per_block) <
                                    2 * static_cast<int64_t>(pool_.size()))
    heads_per_block = (heads_per_block + 1) / 2;
  const int64_t head_blocks = (group + heads_per_block - 1) / heads_per_block;
  // Jobs in the order (KV head, head block, token block): a thread's run of jobs mostly reads one KV head, whose rows
  // stay in its cache from one token block to the next (token blocks outermost, every job read another head's rows
  // from memory: at 2048 tokens of the large model, reading KV rows took a third of attention's time).
  pool_.parallel_for(n_blocks * hp.n_head_kv * head_blocks, [&](int64_t b, int64_t e, int thread) {
    float* sc = scores_.data() + static_cast<size_t>(thread * scores_per_thread_);
    for (int64_t job = b; job < e; ++job) {
      const auto [t0, t1] = token_blocks_[static_cast<size_t>(job % n_blocks)];
      const int64_t kvh = job / n_blocks / head_blocks;
      const int64_t h0 = kvh * group + job / n_blocks % head_blocks * heads_per_block;
      const int64_t h1 = std::min(h0 + heads_per_block, (kvh + 1) * group);
      const KvCache& cache = *cache_of_[static_cast<size_t>(t0)];
      kernels::AttnBlock ab;
      ab.n_q = 0;
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t h = h0; h < h1; ++h) {
          ab.q[ab.n_q] = q_ + (t * hp.n_head + h) * hd;
          ab.out[ab.n_q] = att_ + (t * hp.n_head + h) * hd;
          ab.n_pos[ab.n_q] = pos_of_[static_cast<size_t>(t)] + 1;  // causal: positions 0..its own
          ++ab.n_q;
        }
      ab.k = cache.k(layer, kvh, 0);
      ab.v = cache.v(layer, kvh, 0);
      ab.stride = cache.head_bytes();
      ab.head_dim = hd;
      ab.row_dim = cache.row_dim();
      ab.scale = scale;
      kernels::attend_block(*kernels::kv_attention_kernel(cache.type(), kernel_->isa), ab, sc);
    }
  });
}

// One token at a long context whose head blocks do not share out evenly among the threads (2B-4T's 5 KV heads on 2:
// one thread would read a third head while the other waited). Its attention goes in three steps, each shared out
// in pieces: scores by runs of positions, softmax by query, weighted sums by slices of columns; every piece's
// results are attend_block's, bit for bit (kernels/attention.hpp). Two more waits for the threads a layer, so
// only from kSplitMinPositions on.
void Forward::attention_split(int64_t layer) {
  const HParams& hp = w_.hp;
  const int64_t hd = hp.head_dim;
  const int64_t group = hp.n_head / hp.n_head_kv;
  const int64_t per_block = std::min<int64_t>(group, kernels::kMaxBlockQueries);
  const int64_t head_blocks = (group + per_block - 1) / per_block;
  const int64_t blocks = hp.n_head_kv * head_blocks;
  const KvCache& cache = *cache_of_[0];
  const kernels::KvAttentionKernel& kernel = *kernels::kv_attention_kernel(cache.type(), kernel_->isa);
  const int64_t n_pos = pos_of_[0] + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  float* scores = scores_.data();  // [n_head][n_pos]
  // Head block i: its first head, and its queries over its KV head.
  auto block = [&](int64_t i, int64_t& h0) {
    const int64_t kvh = i / head_blocks;
    h0 = kvh * group + i % head_blocks * per_block;
    const int64_t h1 = std::min(h0 + per_block, (kvh + 1) * group);
    kernels::AttnBlock ab;
    ab.n_q = static_cast<int>(h1 - h0);
    for (int q = 0; q < ab.n_q; ++q) {
      ab.q[q] = q_ + (h0 + q) * hd;
      ab.out[q] = att_ + (h0 + q) * hd;
      ab.n_pos[q] = n_pos;
    }
    ab.k = cache.k(layer, kvh, 0);
    ab.v = cache.v(layer, kvh, 0);
    ab.stride = cache.head_bytes();
    ab.head_dim = hd;
    ab.row_dim = cache.row_dim();
    ab.scale = scale;
    return ab;
  };
  const int64_t runs = (n_pos + kSplitPositions - 1) / kSplitPositions;
  pool_.parallel_for(blocks * runs, [&](int64_t b, int64_t e, int) {
    for (int64_t job = b; job < e; ++job) {
      int64_t h0 = 0;
      const kernels::AttnBlock ab = block(job / runs, h0);
      const int64_t j0 = job % runs * kSplitPositions;
      kernels::block_scores_range(kernel, ab, j0, std::min(n_pos, j0 + kSplitPositions), scores + h0 * n_pos, n_pos);
    }
  });
  pool_.parallel_for(hp.n_head, [&](int64_t b, int64_t e, int) {
    for (int64_t h = b; h < e; ++h) kernels::softmax_scores(scores + h * n_pos, n_pos);
  });
  const int64_t slices = (hd + kSplitColumns - 1) / kSplitColumns;
  pool_.parallel_for(blocks * slices, [&](int64_t b, int64_t e, int) {
    for (int64_t job = b; job < e; ++job) {
      int64_t h0 = 0;
      const kernels::AttnBlock ab = block(job / slices, h0);
      const int64_t c0 = job % slices * kSplitColumns;
      kernels::block_weighted_sum_columns(kernel, ab, scores + h0 * n_pos, n_pos, c0, std::min(hd, c0 + kSplitColumns));
    }
  });
}

Status Forward::eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits) {
  if (n <= 0) return invalid_argument("no tokens to evaluate");
  if (own_.n_past() + n > n_ctx_)
    return out_of_range("context is full: " + std::to_string(own_.n_past()) + " + " + std::to_string(n) +
                        " tokens exceed the context size " + std::to_string(n_ctx_));
  for (int64_t t = 0; t < n; ++t)  // every id before any chunk runs: a bad one changes nothing
    if (tokens[t] < 0 || tokens[t] >= w_.hp.n_vocab)
      return out_of_range("token id " + std::to_string(tokens[t]) + " is outside the vocabulary (0.." +
                          std::to_string(w_.hp.n_vocab - 1) + ")");
  if (all_logits) logits.resize(static_cast<size_t>(n * w_.hp.n_vocab));
  // Batches of at most kMaxBatchTokens, one after another: each token's results do not depend on its batch, and
  // the scratch (and the activations a pass over the weights streams) stays the size of one such batch.
  for (int64_t b = 0; b < n; b += kMaxBatchTokens) {
    const int64_t e = std::min(n, b + kMaxBatchTokens);
    own_batch_.resize(static_cast<size_t>(e - b));
    for (int64_t t = b; t < e; ++t) own_batch_[static_cast<size_t>(t - b)] = {tokens[t], &own_, all_logits || t == n - 1};
    if (!all_logits) {
      BITNET_RETURN_IF_ERROR(eval_batch(own_batch_.data(), e - b, logits));
    } else if (b == 0 && e == n) {
      return eval_batch(own_batch_.data(), e - b, logits);
    } else {
      BITNET_RETURN_IF_ERROR(eval_batch(own_batch_.data(), e - b, chunk_logits_));
      std::copy(chunk_logits_.begin(), chunk_logits_.end(), logits.begin() + b * w_.hp.n_vocab);
    }
  }
  return Status::Ok();
}

Status Forward::eval_batch(const BatchToken* batch, int64_t n, std::vector<float>& logits) {
  const HugePageBuffer::Use in_use;  // no move of weights or KV caches into 2 MB pages starts meanwhile
  const HParams& hp = w_.hp;
  if (n <= 0) return invalid_argument("no tokens to evaluate");
  // Positions: each token takes the next free one of its cache (ends_ counts per cache, batches are small).
  cache_of_.resize(static_cast<size_t>(n));
  pos_of_.resize(static_cast<size_t>(n));
  ends_.clear();
  logit_rows_.clear();
  for (int64_t t = 0; t < n; ++t) {
    const BatchToken& b = batch[t];
    if (b.cache == nullptr) return invalid_argument("a batch token has no KV cache");
    if (b.cache->n_ctx() > n_ctx_)
      return invalid_argument("a KV cache of " + std::to_string(b.cache->n_ctx()) +
                              " positions is larger than the model's context of " + std::to_string(n_ctx_));
    if (b.token < 0 || b.token >= hp.n_vocab)
      return out_of_range("token id " + std::to_string(b.token) + " is outside the vocabulary (0.." +
                          std::to_string(hp.n_vocab - 1) + ")");
    auto it = std::find_if(ends_.begin(), ends_.end(), [&](const auto& e) { return e.first == b.cache; });
    if (it == ends_.end()) it = ends_.insert(ends_.end(), {b.cache, b.cache->n_past()});
    if (it->second >= b.cache->n_ctx())
      return out_of_range("context is full: " + std::to_string(b.cache->n_past()) + " + " +
                          std::to_string(it->second - b.cache->n_past() + 1) + " tokens exceed the context size " +
                          std::to_string(b.cache->n_ctx()));
    cache_of_[static_cast<size_t>(t)] = b.cache;
    pos_of_[static_cast<size_t>(t)] = it->second++;
    if (b.logits) logit_rows_.push_back(t);
  }
  const int64_t d = hp.n_embd;
  size_pass_scratch(n);

  for (int64_t t = 0; t < n; ++t)
    BITNET_RETURN_IF_ERROR(
        quant::dequantize_rows(w_.token_embd.type, w_.token_embd.data, d, hp.n_vocab, batch[t].token, 1, x_ + t * d));

  // The residual of each layer's FFN is added to x_ at the start of the next layer (in its first norm's pass where
  // the architecture has learned pre-norms), or after the last layer.
  const float* pending = nullptr;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const Layer& L = w_.layers[static_cast<size_t>(l)];
    // attention block
    const float* in = x_;
    bool ready = false;  // whether acts_ already holds in's activations for the next linear
    if (w_.arch->learned_prenorms) {
      ready = residual_norm(x_, pending, L.attn_norm, n, d, h_, &L.wq, acts_only({&L.wq, &L.wk, &L.wv}));
      in = h_;
    } else if (pending != nullptr) {
      add_rows(x_, pending, n, d);
    }
    pending = nullptr;
    BITNET_RETURN_IF_ERROR(linears({{&L.wq, q_}, {&L.wk, k_}, {&L.wv, v_}}, in, n, ready));
    // Every token writes its own (cache, position).
    rope_and_store(l, n);
    attention(l, n);
    const float* att = att_;
    ready = false;
    if (!L.attn_sub_norm.empty()) {
      ready = residual_norm(att_, nullptr, L.attn_sub_norm, n, d, h_, &L.wo, true);
      att = h_;
    }
    BITNET_RETURN_IF_ERROR(linear(L.wo, att, n, q_, ready));

    // feed-forward block: down(sub_norm(act(gate x) * up x))
    in = x_;
    ready = false;
    if (w_.arch->learned_prenorms) {
      ready = residual_norm(x_, q_, L.ffn_norm, n, d, h_, &L.gate, acts_only({&L.gate, &L.up}));
      in = h_;
    } else {
      add_rows(x_, q_, n, d);
    }
    BITNET_RETURN_IF_ERROR(gated_ffn(L, in, n, ready));
    const float* ff = ffa_;
    ready = false;
    if (!L.ffn_sub_norm.empty()) {
      ready = residual_norm(ffa_, nullptr, L.ffn_sub_norm, n, hp.n_ff, ffb_, &L.down, true, ff_stride_);
      ff = ffb_;
    }
    BITNET_RETURN_IF_ERROR(linear(L.down, ff, n, q_, ready));
    pending = q_;
  }
  if (pending != nullptr) add_rows(x_, pending, n, d);

  // The head runs over the wanted rows only (gathered; per-row results do not depend on which rows come along).
  const int64_t rows = static_cast<int64_t>(logit_rows_.size());
  for (int64_t r = 0; r < rows; ++r)
    rms_norm(x_ + logit_rows_[static_cast<size_t>(r)] * d, w_.output_norm, 1, d, h_ + r * d);
  logits.resize(static_cast<size_t>(rows * hp.n_vocab));
  if (rows > 0) BITNET_RETURN_IF_ERROR(linear(w_.output, h_, rows, logits.data()));
  for (const auto& [cache, end] : ends_) cache->set_n_past(end);
  return Status::Ok();
}

}  // namespace bitnet::model
