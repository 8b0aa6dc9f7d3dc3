// The forward pass of every supported architecture, built from shared blocks (norm, attention, FFN) and
// driven by the ArchSpec flags. Owns the scratch buffers and the KV cache of its own sequence; eval_batch also
// runs tokens of several sequences together, each against its own KvCache.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "bitnet/status.hpp"
#include "core/aligned.hpp"
#include "core/thread_pool.hpp"
#include "kernels/kquant.hpp"
#include "kernels/ternary.hpp"
#include "model/kv_cache.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"

namespace bitnet::model {

// One token of a batch: it goes to the next free position of `cache` (positions are assigned in batch order,
// so a sequence's tokens must appear in the order they are in the text); `logits`: produce its logits row.
struct BatchToken {
  int32_t token;
  KvCache* cache;
  bool logits;
};

class Forward {
 public:
  // n_ctx: positions the KV cache holds (<= what the caller decided; the model's training context is a
  // default, not a limit enforced here). kv_type: how its own cache stores keys and values (quant::kF32, kF16
  // or kQ8_0; it must pass KvCache::check). Caches passed to eval_batch may have other types.
  Forward(const Weights& weights, int64_t n_ctx, ThreadPool& pool, uint32_t kv_type = quant::kF16);
  // Not copyable: x_ ... ffb_ point into its own buffers, and a copy's would point into this one's.
  Forward(const Forward&) = delete;
  Forward& operator=(const Forward&) = delete;

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return own_.n_past(); }
  IsaLevel isa() const { return kernel_->isa; }
  uint32_t kv_type() const { return own_.type(); }
  uint64_t kv_bytes() const { return own_.bytes(); }  // its own cache's keys and values
  // Waits for the move of its own KV cache and of the pass scratch into 2 MB pages (core/huge_page_buffer.hpp).
  HugePageBuffer::HugePages wait_huge_pages();
  // Forget everything from position `n` on (n <= n_past()).
  void truncate(int64_t n);
  const HParams& hparams() const { return w_.hp; }

  // Runs `n` tokens at positions [n_past, n_past + n), in batches of at most kMaxBatchTokens, appending their keys
  // and values to the cache. logits: all_logits ? [n][n_vocab] : [n_vocab] for the last token. A bad token id or
  // a full context changes nothing; a failure inside a pass may leave earlier batches' positions in the cache.
  static constexpr int64_t kMaxBatchTokens = 512;
  Status eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits);

  // Runs the tokens of one or more sequences as one batch: every linear layer over all rows at once (each
  // weight read once per batch), attention per token against its own cache. Every cache must hold at most
  // n_ctx() positions. logits: [rows with logits set][n_vocab], in batch order. On an error before the pass
  // starts nothing changes; a failure inside the pass leaves the touched caches' new positions unset.
  Status eval_batch(const BatchToken* batch, int64_t n, std::vector<float>& logits);

 private:
  // same_input: acts_ were last prepared for x (from it by the previous linear() call, or by residual_norm for this
  // linear, which may not have stored x at all: only_next), so they are reused when the rule and shape match.
  Status linear(const Linear& l, const float* x, int64_t n, float* y, bool same_input = false);
  // Linears of one input (q/k/v; gate/up). All ternary with one activation rule: activations quantized once and
  // all their rows in one pass over the pool (one hand-off, not one per matrix). Else linear() on each.
  struct LinearOut {
    const Linear* l;
    float* y;
  };
  // same_input as for linear(), for the first part.
  Status linears(std::initializer_list<LinearOut> parts, const float* x, int64_t n, bool same_input = false);
  void prepare_ternary_acts(const Linear& l, const float* x, int64_t n, bool same_input);
  // fn over [0, rows) on the pool in 64-row groups (the kernels' tiles and L2 blocks), a ternary pass for n tokens:
  // for one token, one contiguous share a thread (ThreadPool::parallel_for_shares; see forward.cpp).
  void for_rows(int64_t rows, int64_t n, ChunkFn fn);
  // ffa_ = act(gate x) * (up x) for the layer's FFN (ffb_ is scratch), rows ff_stride_ apart; same_input as for
  // linear().
  Status gated_ffn(const Layer& L, const float* x, int64_t n, bool same_input);
  // Whether gated_ffn runs L's gate and up chunk by chunk with the activation in between (both ternary, of one input
  // and activation rule, n_ff outputs each); else through linears() and a pass of its own.
  static bool chunked_ffn(const Layer& L, int64_t n_ff);
  // The norms: x, r and y must not overlap (their loops take them as restrict pointers).
  void rms_norm(const float* x, const std::vector<float>& w, int64_t n, int64_t dim, float* y) const;
  void rms_norm_rows(const float* x, const std::vector<float>& w, int64_t t_begin, int64_t t_end, int64_t dim,
                     float* y) const;
  void norm_row(const float* x, double sum, const std::vector<float>& w, int64_t dim, float* y) const;
  // One pass over the tokens for what used to be up to three: x += r (r may be null), y = rms_norm(x) * w, and,
  // when `next` is a ternary linear that quantizes y as it is, y's activations for it, each chunk's rows quantized
  // while they are still in this core's cache. Returns whether it made them (then next's call passes same_input).
  // only_next: nothing reads y but through the activations made here (the sub-norms; the pre-norms where acts_only
  // says so), so when they are made here y is not stored at all: each row is normed into a per-thread scratch row and
  // quantized from there. That cut the FFN sub-norm's phase by a quarter on the large model (a timer, pp128, 2
  // threads: 50.6 -> 38 ms over 13 runs); likely the stores of its 2 MB of floats to lines the other core had just
  // written.
  // x_stride: floats from one token's row of x (and r) to the next (0: dim); y's rows are dim apart.
  bool residual_norm(float* x, const float* r, const std::vector<float>& w, int64_t n, int64_t dim, float* y,
                     const Linear* next, bool only_next = false, int64_t x_stride = 0);
  // Whether linears reading one input take nothing of it but its activations: all ternary, of one input size and
  // activation rule (linears() and gated_ffn() then quantize it once and read only that), so a norm before them
  // need not store its output (residual_norm's only_next).
  static bool acts_only(std::initializer_list<const Linear*> readers);
  // Whether l is ternary and takes the same activations as first (one input size and rule).
  static bool shares_acts(const Linear& first, const Linear& l);
  void add_rows(float* x, const float* y, int64_t n, int64_t d);
  // RoPE on the tokens' q and k heads, then each token's k and v into its cache, in one pass over the tokens.
  void rope_and_store(int64_t layer, int64_t n);
  void rope_heads(float* x, int64_t t, int64_t n_heads) const;  // token t's n_heads heads at x
  void attention(int64_t layer, int64_t n);
  void attention_split(int64_t layer);  // one token's, in pieces (see attention())
  // Points x_ ... ffb_ at room for n tokens (their contents are not kept when it grows).
  void size_pass_scratch(int64_t n);

  const Weights& w_;
  ThreadPool& pool_;
  int64_t n_ctx_;
  int64_t kv_dim_;
  // Floats from one token's row of ffa_ / ffb_ to the next: n_ff, one 64-byte line more where n_ff floats are a
  // multiple of 4 KB and every layer's FFN is chunked (chunked_ffn) with a sub-norm after it (then only the chunks
  // and residual_norm, which takes the stride, touch those rows; the down projection reads the activations
  // residual_norm makes, or its packed output). With rows 16 KB apart (the large model's n_ff of 4096), the 64
  // outputs a token gets from each chunk of gate and up rows, written by the kernels and read back by the
  // activation, all fell in the same few cache sets: the activation was 8% of a 512-token prompt pass at depth 512.
  int64_t ff_stride_;
  KvCache own_;                             // the cache of eval()'s single sequence
  std::vector<float> rope_cos_, rope_sin_;  // [n_ctx][head_dim/2]
  // Scratch. A pass's activations, carved from one buffer for the batch's tokens (size_pass_scratch; it never
  // shrinks, and what they held is not kept when it grows), so that a prompt batch's (9 MB for 128 tokens of the
  // large model) can be moved into 2 MB pages while idle (core/huge_page_buffer.hpp; 4 KB pages until then, which a
  // fresh process's first prompt gets faster on VMs slow to hand out 2 MB pages). As vectors of their own in 4 KB
  // pages, and the KV cache in them too, the large model's prompt processing ran 1.5-4% slower on a Zen 5 VM, where
  // each 4 KB page a pass touches costs a walk of two levels of page tables (pp128, two threads, medians of 6
  // alternated runs: 910.1 and 863.0 against 924.1 and 878.1).
  HugePageBuffer pass_scratch_;
  // h_, the norms' output (the pre-norms', the attention sub-norm's, the head's normed rows), has a buffer of its
  // own: where the linears after a norm read only its activations (acts_only) it is not written but for the head's
  // rows, and pages of it that are never written are never resident (in the shared buffer its 2 MB pages were:
  // 2B-4T's peak RSS, pp128 + tg32, 859.4 MB there, 858.0 apart).
  ByteBuffer norm_out_;
  int64_t pass_tokens_ = 0;  // the batch size they are carved for
  float *x_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *att_ = nullptr, *ffa_ = nullptr,
        *ffb_ = nullptr;
  std::vector<float> tmp_;
  std::vector<float> scores_;  // [threads][scores_per_thread_]; attention_split's [n_head][its positions]
  int64_t scores_per_thread_ = 0;                   // n_ctx per query of an attention block
  std::vector<std::pair<int64_t, int64_t>> token_blocks_;  // attention's runs of batch tokens, [begin, end)
  AlignedVector<float> row_scratch_;                       // [threads][max row length, rounded up to 64 bytes]
  std::vector<BatchToken> own_batch_;               // eval()'s tokens as a batch
  std::vector<float> chunk_logits_;                 // eval()'s logits of one batch, when it wants every row's
  std::vector<KvCache*> cache_of_;                  // per batch token: its cache
  std::vector<int64_t> pos_of_;                     // per batch token: its position in that cache
  std::vector<std::pair<KvCache*, int64_t>> ends_;  // per cache in the batch: its n_past after the batch
  std::vector<int64_t> logit_rows_;                 // batch rows whose logits are wanted
  kernels::PreparedActs acts_;
  kernels::IntActs int_acts_;             // activations of integer-dot (Q6_K, Q8_0) linears
  const float* acts_from_ = nullptr;      // the x that acts_ were prepared for (not necessarily stored there)
  const kernels::TernaryKernel* kernel_;  // chosen once, by the active ISA level
};

}  // namespace bitnet::model
