// Scalar reference kernels for ternary matmuls: activation quantization and the exact integer dot product.
// These are the truth every fast kernel is held to (integer parts bit-equal).
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned.hpp"

#include "quant/ternary.hpp"

namespace bitnet::kernels {

// Activations of n_tokens rows of `cols` values, quantized by one rule.
struct QuantizedActs {
  quant::ActQuant rule = quant::ActQuant::kPerTokenAbsmax;
  int64_t cols = 0;
  int64_t n_tokens = 0;
  int64_t group = 0;      // values per scale: cols (per token) or 256 (Q8_K)
  AlignedVector<int8_t> q;  // [n_tokens][cols], 64-byte aligned
  // [n_tokens][cols/group]. kPerTokenAbsmax stores s = 127/max|x| (a divisor, bitnet.cpp's convention);
  // kQ8K stores d = 1/iscale (a multiplier, llama.cpp's convention).
  std::vector<float> scales;
};

// BitNet b1.58 per-token absmax quantization, as bitnet.cpp's quantize_row_i8_s: the max is taken in
// double with a floor of 1e-5, s = (float)(127 / max), q = clamp(round(x * s), -128, 127) where x * s is a
// float product and round() rounds halves away from zero (bitnet.cpp at the fixtures' commit; later
// revisions round halves to even; exact ties are vanishingly rare on real activations). Returns s.
float quantize_row_absmax_ref(const float* x, int64_t n, int8_t* q);
// One activation of it: x * s clamped to [-128, 127] (NaN to 0), then rounded half away from zero by hand (no libm
// call; v - trunc(v) is exact for |v| <= 128). clamp(round(v)) == round(clamp(v)) for these bounds. The SIMD
// quantizers' tails use it too.
inline int absmax_code(float x, float s) {
  float v = x * s;
  v = v > 127.0f ? 127.0f : (v < -128.0f ? -128.0f : v);
  if (v != v) v = 0.0f;  // NaN input
  int r = static_cast<int>(v);
  const float frac = v - static_cast<float>(r);
  return r + (frac >= 0.5f ? 1 : (frac <= -0.5f ? -1 : 0));
}

// Quantizes x[n_tokens][cols] by `rule` (kPerTokenAbsmax or kQ8K) into `out` (resized as needed).
void quantize_acts_ref(quant::ActQuant rule, const float* x, int64_t n_tokens, int64_t cols, QuantizedActs& out);
// The same in two steps, so that token ranges can be quantized in parallel: size `out` for n_tokens x cols,
// then quantize tokens [t_begin, t_end) of x (x points at token 0).
void size_quantized_acts(quant::ActQuant rule, int64_t n_tokens, int64_t cols, QuantizedActs& out);
void quantize_acts_rows_ref(quant::ActQuant rule, const float* x, int64_t t_begin, int64_t t_end, QuantizedActs& out);
// Token t alone, from its row wherever it lies (row: cols floats).
void quantize_act_row_ref(quant::ActQuant rule, const float* row, int64_t t, QuantizedActs& out);

// The float epilogue shared by every kernel (and the reference): combines one row's per-group integer dots
// with weight scales ws[groups] and the token's activation scales at[], in the reference engines' order.
inline float ternary_epilogue(quant::ActQuant rule, const int32_t* idot, int64_t groups, const float* ws,
                              const float* at) {
  float out = 0.0f;
  if (rule == quant::ActQuant::kQ8K) {
    for (int64_t g = 0; g < groups; ++g) out += static_cast<float>(idot[g]) * (ws[g] * at[g]);
  } else if (groups == 1) {
    out = static_cast<float>(idot[0]) / at[0] * ws[0];
  } else {
    for (int64_t g = 0; g < groups; ++g) out += static_cast<float>(idot[g]) * ws[g];
    out /= at[0];
  }
  return out;
}

// Exact integer dot product of columns [first, first + n) of one ternary row (`row`, a row of `cols` columns in
// the layout of quant/ternary.hpp) with int8 activations q[0..n): sum w * q.
int32_t ternary_dot_ref(const uint8_t* row, int64_t cols, const int8_t* q, int64_t first, int64_t n);

// y[t * y_stride + r] = W[r] . x[t] for rows [row_begin, row_end) and every token, with the scales applied
// in the reference engine's order: per-token rule: (float)idot / s * w_scale; Q8_K rule: for each 256-block,
// sum += (float)idot_b * (w_scale_b * d_b).
void ternary_matmul_ref(const quant::TernaryMatrix& w, const QuantizedActs& a, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end);

}  // namespace bitnet::kernels
