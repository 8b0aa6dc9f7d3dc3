// Integer-dot weight rows (Q6_K, Q8_0) times int8 activations, as llama.cpp and bitnet.cpp compute their output
// heads (ggml's vec_dot_q6_K_q8_K and vec_dot_q8_0_q8_0): per weight block an exact int32 sum (Q6_K: isum =
// sum_j sc[j] * sum_{i in sub-block j} (q6_i - 32) * q8_i over 256 elements; Q8_0: isum = sum_i qw_i * qa_i over
// 32), then in float, block after block, acc += (d_act * d_weight) * isum. Every ISA computes the same integers and
// the same float steps in the same order, so results are bit-equal across ISA levels and across batch sizes (a
// token's result does not depend on the tokens it is computed with).
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/aligned.hpp"
#include "core/cpu_features.hpp"
#include "kernels/ref/float_ref.hpp"

namespace bitnet::kernels {

// Activations quantized for an integer-dot weight type (int_act_type), one row of `cols` per token:
// - Q8_K (quant/q8_k.hpp) for Q6_K: d per 256 columns, and bsums, the sums of 16 consecutive q;
// - Q8_0 for Q8_0 (quant::quantize_q8_0_acts): d per 32 columns, rounded to fp16 as llama.cpp stores it; no bsums.
// What the kernels read: IntActs' arrays, or the same held elsewhere (attention quantizes a query on the stack).
struct IntActsView {
  uint32_t type = 0;  // quant::kQ8_K or quant::kQ8_0
  int64_t n_tokens = 0;
  int64_t cols = 0;
  const int8_t* q = nullptr;       // [n_tokens][cols]
  const float* d = nullptr;        // [n_tokens][cols / block]
  const int16_t* bsums = nullptr;  // Q8_K: [n_tokens][cols / 16]
};
struct IntActs {
  uint32_t type = 0;
  int64_t n_tokens = 0;
  int64_t cols = 0;
  AlignedVector<int8_t> q;
  std::vector<float> d;
  std::vector<int16_t> bsums;
  IntActsView view() const { return {type, n_tokens, cols, q.data(), d.data(), bsums.data()}; }
};

// The activation type weight type `type` takes (0 for a type with no integer matmul).
uint32_t int_act_type(uint32_t type);
// cols: a multiple of the activation type's block (256 for Q8_K, 32 for Q8_0).
void size_int_acts(uint32_t act_type, int64_t n_tokens, int64_t cols, IntActs& out);
// Quantizes tokens [t_begin, t_end) of x[n_tokens][cols] (for threads: each takes a token range).
void prepare_int_acts_rows(const float* x, int64_t t_begin, int64_t t_end, IntActs& out);

// y[t * y_stride + r] for rows [row_begin, row_end) and every token of `a`. w.ne0 == a.cols.
using KQuantMatmulFn = void (*)(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                                int64_t row_end);

// The integer matmul for weight type `type` at or below `level`, or nullptr when the type has none (then the
// float path applies: float_rows.hpp). Its activations: int_act_type(type).
KQuantMatmulFn kquant_matmul(uint32_t type, IsaLevel level);

// The exact integer sum of one Q6_K block (210 bytes) with 256 Q8_K values; the scalar definition.
int32_t q6_k_block_isum_ref(const uint8_t* block, const int8_t* q8);
// The exact integer sum of one Q8_0 block (34 bytes: fp16 d, 32 int8) with 32 Q8_0 activations.
int32_t q8_0_block_isum_ref(const uint8_t* block, const int8_t* q8);
// The float step shared by every implementation.
inline float kquant_accumulate(float acc, float d_act, float d_weight, int32_t isum) {
  return acc + (d_act * d_weight) * static_cast<float>(isum);
}

// fn(t0, std::integral_constant<int, N>{}) for tokens [0, n_tokens) in tiles of N = 4 tokens, the last 1 to 3.
template <class Fn>
void for_token_tiles(int64_t n_tokens, Fn&& fn) {
  int64_t t = 0;
  for (; t + 4 <= n_tokens; t += 4) fn(t, std::integral_constant<int, 4>{});
  if (n_tokens - t == 3) fn(t, std::integral_constant<int, 3>{});
  if (n_tokens - t == 2) fn(t, std::integral_constant<int, 2>{});
  if (n_tokens - t == 1) fn(t, std::integral_constant<int, 1>{});
}

// The row loop the SIMD kernels share: each row's tokens go in tiles of up to 4, and
// tile(row, t0, std::integral_constant<int, N>{}, out) writes the row's results for tokens t0 .. t0 + N - 1 to
// out[0 .. N), N known at compile time (the kernels' register tiles).
template <class Tile>
void kquant_rows(const FloatRows& w, int64_t row_bytes, int64_t n_tokens, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end, Tile&& tile) {
  float out[4];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + r * row_bytes;
    for_token_tiles(n_tokens, [&](int64_t t, auto nt) {
      tile(row, t, nt, out);
      for (int64_t i = 0; i < decltype(nt)::value; ++i) y[(t + i) * y_stride + r] = out[i];
    });
  }
}

void q6_k_matmul_scalar(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
void q8_0_matmul_scalar(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
#if defined(__x86_64__)
void q6_k_matmul_avx2(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
void q6_k_matmul_avx512(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
void q8_0_matmul_avx2(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
// With AVX-VNNI (x86/kquant_avxvnni.cpp): the AVX2 level's Q8_0 kernel where the CPU has it.
void q8_0_matmul_avxvnni(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                         int64_t row_end);
void q8_0_matmul_avx512(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end);
#endif
#if defined(__aarch64__)
void q6_k_matmul_neon(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
void q6_k_matmul_neon_dot(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                          int64_t row_end);
void q8_0_matmul_neon(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end);
void q8_0_matmul_neon_dot(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                          int64_t row_end);
#endif

}  // namespace bitnet::kernels
