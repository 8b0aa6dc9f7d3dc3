// The forward pass of every supported architecture, built from shared blocks (norm, attention, FFN) and
// driven by the ArchSpec flags. Owns the KV cache and the scratch buffers of one sequence.
#pragma once

#include <cstdint>
#include <vector>

#include "bitnet/status.hpp"
#include "core/thread_pool.hpp"
#include "kernels/ternary.hpp"
#include "model/weights.hpp"

namespace bitnet::model {

class Forward {
 public:
  // n_ctx: positions the KV cache holds (<= what the caller decided; the model's training context is a
  // default, not a limit enforced here).
  Forward(const Weights& weights, int64_t n_ctx, ThreadPool& pool);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  IsaLevel isa() const { return kernel_->isa; }
  // Forget everything from position `n` on (n <= n_past()).
  void truncate(int64_t n);

  // Runs `n` tokens at positions [n_past, n_past + n) as one batch, appending their keys and values to the
  // cache. logits: all_logits ? [n][n_vocab] : [n_vocab] for the last token.
  Status eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits);

 private:
  // same_input: x is the input of the previous linear() call, unchanged since, so its quantized activations
  // are reused when the rule and shape match (q/k/v and gate/up share their input).
  Status linear(const Linear& l, const float* x, int64_t n, float* y, bool same_input = false);
  void rms_norm(const float* x, const std::vector<float>& w, int64_t n, int64_t dim, float* y) const;
  void rope(float* x, int64_t n, int64_t n_heads, int64_t pos0) const;
  void attention(int64_t layer, int64_t n, int64_t pos0);

  const Weights& w_;
  ThreadPool& pool_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  int64_t kv_dim_;
  std::vector<float> k_cache_, v_cache_;    // [layer][n_ctx][kv_dim]
  std::vector<float> rope_cos_, rope_sin_;  // [n_ctx][head_dim/2]
  // scratch, grown on demand
  std::vector<float> x_, h_, q_, k_, v_, att_, ffa_, ffb_, tmp_;
  std::vector<float> scores_;       // [threads][n_ctx]
  std::vector<float> row_scratch_;  // [threads][max row length]
  kernels::PreparedActs acts_;
  const float* acts_from_ = nullptr;      // the x that acts_ was prepared from
  const kernels::TernaryKernel* kernel_;  // chosen once, by the active ISA level
};

}  // namespace bitnet::model
