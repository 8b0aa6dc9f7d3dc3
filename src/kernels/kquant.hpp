// K-quant weight rows (Q6_K) times Q8_K activations with integer dot products, as llama.cpp and bitnet.cpp
// compute their Q6_K output heads (ggml's vec_dot_q6_K_q8_K): per 256-element block an exact int32 sum
// isum = sum_j sc[j] * sum_{i in sub-block j} (q6_i - 32) * q8_i, then in float, block after block,
// acc += (d_act * d_weight) * isum. Every ISA computes the same integers and the same float steps in the same
// order, so results are bit-equal across ISA levels and across batch sizes (a token's result does not depend
// on the tokens it is computed with).
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/aligned.hpp"
#include "core/cpu_features.hpp"
#include "kernels/ref/float_ref.hpp"

namespace bitnet::kernels {

// Activations quantized to Q8_K (quant/q8_k.hpp), one row of `cols` (a multiple of 256) per token.
struct Q8KActs {
  int64_t n_tokens = 0;
  int64_t cols = 0;
  AlignedVector<int8_t> q;     // [n_tokens][cols]
  std::vector<float> d;        // [n_tokens][cols / 256]
  std::vector<int16_t> bsums;  // [n_tokens][cols / 16]: sums of 16 consecutive q
};

void size_q8k_acts(int64_t n_tokens, int64_t cols, Q8KActs& out);
// Quantizes tokens [t_begin, t_end) of x[n_tokens][cols] (for threads: each takes a token range).
void prepare_q8k_acts_rows(const float* x, int64_t t_begin, int64_t t_end, Q8KActs& out);

// y[t * y_stride + r] for rows [row_begin, row_end) and every token of `a`. w.ne0 == a.cols.
using KQuantMatmulFn = void (*)(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                                int64_t row_end);

// The integer matmul for weight type `type` at or below `level`, or nullptr when the type has none (then the
// float path applies: float_rows.hpp).
KQuantMatmulFn kquant_matmul(uint32_t type, IsaLevel level);

// The exact integer sum of one Q6_K block (210 bytes) with 256 Q8_K values; the scalar definition.
int32_t q6_k_block_isum_ref(const uint8_t* block, const int8_t* q8);
// The float step shared by every implementation.
inline float kquant_accumulate(float acc, float d_act, float d_weight, int32_t isum) {
  return acc + (d_act * d_weight) * static_cast<float>(isum);
}

// The row loop the SIMD kernels share: each row's tokens go in tiles of up to 4, and
// tile(row, t0, std::integral_constant<int, N>{}, out) writes the row's results for tokens t0 .. t0 + N - 1 to
// out[0 .. N), N known at compile time (the kernels' register tiles).
template <class Tile>
void kquant_rows(const FloatRows& w, int64_t row_bytes, int64_t n_tokens, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end, Tile&& tile) {
  float out[4];
  for (int64_t r = row_begin; r < row_end; ++r)
    for (int64_t t = 0; t < n_tokens;) {
      const uint8_t* row = w.data + r * row_bytes;
      const int64_t nt = n_tokens - t < 4 ? n_tokens - t : 4;
      if (nt == 4) tile(row, t, std::integral_constant<int, 4>{}, out);
      if (nt == 3) tile(row, t, std::integral_constant<int, 3>{}, out);
      if (nt == 2) tile(row, t, std::integral_constant<int, 2>{}, out);
      if (nt == 1) tile(row, t, std::integral_constant<int, 1>{}, out);
      for (int64_t i = 0; i < nt; ++i) y[(t + i) * y_stride + r] = out[i];
      t += nt;
    }
}

void q6_k_matmul_scalar(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
#if defined(__x86_64__)
void q6_k_matmul_avx2(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
void q6_k_matmul_avx512(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
#endif
#if defined(__aarch64__)
void q6_k_matmul_neon(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
void q6_k_matmul_neon_dot(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                          int64_t row_end);
#endif

}  // namespace bitnet::kernels
