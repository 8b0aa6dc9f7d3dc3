// The keys and values of one sequence: what attention reads for every earlier position. One per sequence, so
// a batch can hold tokens of several sequences, each attending only to its own cache.
#pragma once

#include <cstdint>
#include <memory>

#include "bitnet/status.hpp"
#include "kernels/attention.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"

namespace bitnet::model {

class KvCache {
 public:
  // A clear error unless a cache of `type` (quant::kF32, kF16 or kQ8_0) can serve this model.
  static Status check(const HParams& hp, uint32_t type) { return kernels::check_kv_type(type, hp.head_dim); }

  // Holds n_ctx positions of every layer: [layer][n_ctx] rows of kv_dim values stored as `type` for keys, and
  // again for values. `type` must pass check(). The memory is not written here, so the pages of positions no
  // sequence reached are never made resident.
  KvCache(const HParams& hp, int64_t n_ctx, uint32_t type)
      : type_(type),
        n_ctx_(n_ctx),
        kv_dim_(hp.head_dim * hp.n_head_kv),
        row_bytes_(kv_dim_ / quant::find_type(type)->block_elems *
                   static_cast<int64_t>(quant::find_type(type)->block_bytes)),
        plane_bytes_(hp.n_layer * n_ctx * row_bytes_),
        k_(new uint8_t[static_cast<size_t>(plane_bytes_)]),
        v_(new uint8_t[static_cast<size_t>(plane_bytes_)]) {}

  uint32_t type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  int64_t row_bytes() const { return row_bytes_; }  // one position of one layer (all KV heads)
  uint64_t bytes() const { return 2 * static_cast<uint64_t>(plane_bytes_); }
  // Forget everything from position `n` on (clamped to [0, n_past]).
  void truncate(int64_t n) { n_past_ = n < 0 ? 0 : (n < n_past_ ? n : n_past_); }
  // Positions [0, n) now hold valid entries (set by the forward pass after a successful batch).
  void set_n_past(int64_t n) { n_past_ = n; }

  // Stores the keys and values (kv_dim floats each) of one position, rounded to the cache's type by the type's
  // reference quantizer (Q8_0: llama.cpp's quantize_row_q8_0_ref; F16: round to nearest even).
  void store(int64_t layer, int64_t pos, const float* k, const float* v) {
    const quant::QuantizeFn quantize = quant::find_type(type_)->quantize;
    quantize(k, k_.get() + offset(layer, pos), kv_dim_);
    quantize(v, v_.get() + offset(layer, pos), kv_dim_);
  }
  const uint8_t* k(int64_t layer, int64_t pos) const { return k_.get() + offset(layer, pos); }
  const uint8_t* v(int64_t layer, int64_t pos) const { return v_.get() + offset(layer, pos); }

 private:
  int64_t offset(int64_t layer, int64_t pos) const { return (layer * n_ctx_ + pos) * row_bytes_; }

  uint32_t type_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  int64_t kv_dim_;
  int64_t row_bytes_;
  int64_t plane_bytes_;
  std::unique_ptr<uint8_t[]> k_, v_;
};

}  // namespace bitnet::model
