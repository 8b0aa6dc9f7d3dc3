// The keys and values of one sequence: what attention reads for every earlier position. One per sequence, so
// a batch can hold tokens of several sequences, each attending only to its own cache.
#pragma once

#include <cstdint>
#include <cstring>

#include "bitnet/status.hpp"
#include "core/aligned.hpp"
#include "core/huge_page_buffer.hpp"
#include "kernels/attention.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"

namespace bitnet::model {

class KvCache {
 public:
  // A clear error unless a cache of `type` (quant::kF32, kF16 or kQ8_0) can serve this model.
  static Status check(const HParams& hp, uint32_t type) { return kernels::check_kv_type(type, hp.head_dim); }

  // Holds n_ctx positions of every layer, head by head: [layer][KV head][n_ctx] rows of head_dim values stored as
  // `type` for keys, and again for values, so each head's positions are one contiguous run, which attention reads
  // from start to end (position-major rows put a head's rows a whole row apart: they shared the caches' sets, and at
  // 2048 positions of the large model reading them took a third of attention's time). `type` must pass check().
  // The memory is not written here; it becomes resident in 4 KB pages as positions are written, and once a batch
  // has been stored it is moved into 2 MB pages while no forward pass runs (core/huge_page_buffer.hpp, which makes
  // the whole cache resident then, as llama.cpp's cache, which it clears at start, is; a cache never used, such as
  // a server's idle slot, stays out of memory). In 4 KB pages each run of 21 positions of each head of each
  // layer is a page of its own to map: RoPE and storing the large model's keys and values took 4-28 ms of a 270 ms
  // prompt pass (pp128, one thread, timed per pass) on a Zen 5 VM, against 3-6 ms in 2 MB pages. In 2 MB pages from
  // the start, a fresh process's first 8-token 2B-4T prompt took 0.33-0.42 s on the Intel VM, against 0.06 s:
  // fresh 2 MB pages are slow to come there.
  KvCache(const HParams& hp, int64_t n_ctx, uint32_t type)
      : type_(type),
        n_ctx_(n_ctx),
        n_head_kv_(hp.n_head_kv),
        head_dim_(hp.head_dim),
        row_dim_(kernels::kv_row_dim(type, head_dim_)),
        head_bytes_(position_bytes(type, row_dim_)),
        plane_bytes_(hp.n_layer * n_head_kv_ * n_ctx * head_bytes_),
        k_(static_cast<size_t>(plane_bytes_)),
        v_(static_cast<size_t>(plane_bytes_)) {}
  // Not copyable: a copy of gigabytes is never what was meant (sequences hold theirs by unique_ptr).
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // bytes() of a cache of n_ctx positions for hp, before making one (a context too large to allocate is named).
  static uint64_t bytes_for(const HParams& hp, int64_t n_ctx, uint32_t type) {
    return 2 * static_cast<uint64_t>(hp.n_layer * hp.n_head_kv * n_ctx) *
           static_cast<uint64_t>(position_bytes(type, kernels::kv_row_dim(type, hp.head_dim)));
  }
  // One position of one KV head stored as `type`: row_dim elements.
  static int64_t position_bytes(uint32_t type, int64_t row_dim) {
    const quant::TypeTraits* t = quant::find_type(type);
    return row_dim / t->block_elems * static_cast<int64_t>(t->block_bytes);
  }

  uint32_t type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  int64_t head_bytes() const { return head_bytes_; }  // one position of one KV head: its rows are this far apart
  // The elements such a row holds: head_dim, then zeros up to kernels::kv_row_dim (AttnBlock::row_dim).
  int64_t row_dim() const { return row_dim_; }
  uint64_t bytes() const { return 2 * static_cast<uint64_t>(plane_bytes_); }
  // Forget everything from position `n` on (clamped to [0, n_past]).
  void truncate(int64_t n) { n_past_ = n < 0 ? 0 : (n < n_past_ ? n : n_past_); }
  // Positions [0, n) now hold valid entries (set by the forward pass after a successful batch). The first starts the
  // move into 2 MB pages.
  void set_n_past(int64_t n) {
    n_past_ = n;
    if (n > 0) {
      k_.start_huge_pages();  // once: later calls return at once
      v_.start_huge_pages();
    }
  }
  // Waits for the move of keys and values into 2 MB pages (see the constructor); both buffers' figures summed.
  HugePageBuffer::HugePages wait_huge_pages() {
    HugePageBuffer::HugePages a = k_.wait_huge_pages();
    const HugePageBuffer::HugePages b = v_.wait_huge_pages();
    a.moved += b.moved;
    a.total += b.total;
    a.ms = a.ms > b.ms ? a.ms : b.ms;
    a.unsupported = a.unsupported || b.unsupported;
    return a;
  }

  // Stores the keys and values (n_head_kv * head_dim floats each, head after head) of one position, rounded to the
  // cache's type by the type's reference quantizer (Q8_0: llama.cpp's quantize_row_q8_0_ref, whose blocks never
  // straddle two heads, as check() asks; F16: round to nearest even), each head's row padded with zeros to row_dim.
  void store(int64_t layer, int64_t pos, const float* k, const float* v) {
    const quant::QuantizeFn quantize = quant::find_type(type_)->quantize;
    const int64_t stored = position_bytes(type_, head_dim_);  // F32, F16: the elements' bytes; Q8_0: all
    for (int64_t h = 0; h < n_head_kv_; ++h) {
      uint8_t* kr = k_.data() + offset(layer, h, pos);
      uint8_t* vr = v_.data() + offset(layer, h, pos);
      quantize(k + h * head_dim_, kr, head_dim_);
      quantize(v + h * head_dim_, vr, head_dim_);
      std::memset(kr + stored, 0, static_cast<size_t>(head_bytes_ - stored));  // +0.0 in F32 and F16
      std::memset(vr + stored, 0, static_cast<size_t>(head_bytes_ - stored));
    }
  }
  // Key or value of KV head `head` at position `pos` of `layer` (head_dim values; the next position's head_bytes()
  // further on).
  const uint8_t* k(int64_t layer, int64_t head, int64_t pos) const { return k_.data() + offset(layer, head, pos); }
  const uint8_t* v(int64_t layer, int64_t head, int64_t pos) const { return v_.data() + offset(layer, head, pos); }

 private:
  int64_t offset(int64_t layer, int64_t head, int64_t pos) const {
    return ((layer * n_head_kv_ + head) * n_ctx_ + pos) * head_bytes_;
  }

  uint32_t type_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  int64_t n_head_kv_;
  int64_t head_dim_;
  int64_t row_dim_;
  int64_t head_bytes_;
  int64_t plane_bytes_;
  HugePageBuffer k_, v_;  // uninitialized
};

}  // namespace bitnet::model
