// The keys and values of one sequence: what attention reads for every earlier position. One per sequence, so
// a batch can hold tokens of several sequences, each attending only to its own cache.
#pragma once

#include <cstdint>
#include <vector>

#include "model/weights.hpp"

namespace bitnet::model {

class KvCache {
 public:
  // Holds n_ctx positions of every layer ([layer][n_ctx][kv_dim] floats for keys and again for values).
  KvCache(const HParams& hp, int64_t n_ctx)
      : n_ctx_(n_ctx),
        kv_dim_(hp.head_dim * hp.n_head_kv),
        k_(static_cast<size_t>(hp.n_layer * n_ctx * kv_dim_), 0.0f),
        v_(k_.size(), 0.0f) {}

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  // Forget everything from position `n` on (clamped to [0, n_past]).
  void truncate(int64_t n) { n_past_ = n < 0 ? 0 : (n < n_past_ ? n : n_past_); }
  // Positions [0, n) now hold valid entries (set by the forward pass after a successful batch).
  void set_n_past(int64_t n) { n_past_ = n; }

  float* k(int64_t layer, int64_t pos) { return k_.data() + (layer * n_ctx_ + pos) * kv_dim_; }
  float* v(int64_t layer, int64_t pos) { return v_.data() + (layer * n_ctx_ + pos) * kv_dim_; }
  const float* k(int64_t layer, int64_t pos) const { return k_.data() + (layer * n_ctx_ + pos) * kv_dim_; }
  const float* v(int64_t layer, int64_t pos) const { return v_.data() + (layer * n_ctx_ + pos) * kv_dim_; }

 private:
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  int64_t kv_dim_;
  std::vector<float> k_, v_;
};

}  // namespace bitnet::model
