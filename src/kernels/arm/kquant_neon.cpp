// NEON Q6_K x Q8_K (kquant.hpp) for aarch64: each block's 256 codes are unpacked once into sixteen 16-byte
// vectors of (q - 32) (one per 16-element sub-block) and dotted with up to 4 tokens' activations: vmull_s8 +
// vpadalq_s16, or sdot with the dotprod extension. |(q - 32) * a| <= 32 * 128, so pairs fit in int16. Exact
// int32 per block, then the shared float step: bit-equal to the scalar kernel. Q8_0 x Q8_0: each block's two
// 16-byte halves dotted the same way (|w * a| <= 128 * 127).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "core/half.hpp"
#include "kernels/arm/dotprod.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
#include "quant/q8_k.hpp"

namespace bitnet::kernels {
namespace {

// A sub-block's products in four int32 lanes (summed over, they are its dot).
inline int32x4_t sub_dot_neon(int8x16_t w, const int8_t* a) {
  const int8x16_t q = vld1q_s8(a);
  const int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(q)));
  return vpadalq_s16(acc, vmull_high_s8(w, q));
}

BITNET_DOTPROD inline int32x4_t sub_dot_sdot(int8x16_t w, const int8_t* a) {
  return sdot(vdupq_n_s32(0), w, vld1q_s8(a));
}

// Sub-block s (elements 16s..16s+15) of one block as int8 (q - 32).
inline void unpack_block(const uint8_t* blk, int8x16_t* w) {
  const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);
  const int8x16_t k32 = vdupq_n_s8(32);
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 2; ++j) {  // l in [16j, 16j + 16)
      const uint8x16_t lo0 = vld1q_u8(blk + 64 * h + 16 * j);
      const uint8x16_t lo1 = vld1q_u8(blk + 64 * h + 32 + 16 * j);
      const uint8x16_t hi = vld1q_u8(blk + 128 + 32 * h + 16 * j);
      const uint8x16_t u[4] = {
          vorrq_u8(vandq_u8(lo0, m4), vshlq_n_u8(vandq_u8(hi, m3), 4)),
          vorrq_u8(vandq_u8(lo1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hi, 2), m3), 4)),
          vorrq_u8(vshrq_n_u8(lo0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hi, 4), m3), 4)),
          vorrq_u8(vshrq_n_u8(lo1, 4), vshlq_n_u8(vshrq_n_u8(hi, 6), 4)),
      };
      for (int k = 0; k < 4; ++k) w[8 * h + 2 * k + j] = vsubq_s8(vreinterpretq_s8_u8(u[k]), k32);
    }
}

template <bool kDot, int T>
void row_tokens(const uint8_t* row, int64_t nb, const IntActsView& a, int64_t t0, float* out) {
  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.0f;
  int8x16_t w[16];
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * quant::kQ6KBlockBytes;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    unpack_block(blk, w);
    uint16_t dh;
    std::memcpy(&dh, blk + 208, sizeof dh);
    const float dw = fp16_to_float(dh);
    for (int t = 0; t < T; ++t) {
      const int8_t* q = a.q + (t0 + t) * a.cols + b * quant::kQ8KBlockElems;
      // sum over s of sc[s] * dot_s, in vectors: each sub-block's lanes times its scale into one of four sums,
      // one horizontal add a block (a horizontal add and a dependent scalar multiply-add per sub-block made a chain
      // of sixteen a block). The same integer: no sum leaves int32 (|sc * dot| <= 128 * 16 * 32 * 128 = 2^23).
      int32x4_t part[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
#pragma GCC unroll 16
      for (int s = 0; s < 16; ++s)
        part[s % 4] =
            vmlaq_n_s32(part[s % 4], kDot ? sub_dot_sdot(w[s], q + 16 * s) : sub_dot_neon(w[s], q + 16 * s), sc[s]);
      const int32_t isum = vaddvq_s32(vaddq_s32(vaddq_s32(part[0], part[1]), vaddq_s32(part[2], part[3])));
      acc[t] = kquant_accumulate(acc[t], a.d[static_cast<size_t>((t0 + t) * nb + b)], dw, isum);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = acc[t];
}

template <bool kDot, int T>
void q8_0_row_tokens(const uint8_t* row, int64_t nb, const IntActsView& a, int64_t t0, float* out) {
  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * quant::kQ8_0BlockBytes;
    const int8x16_t w0 = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 2));
    const int8x16_t w1 = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 18));
    uint16_t dh;
    std::memcpy(&dh, blk, sizeof dh);
    const float dw = fp16_to_float(dh);
    for (int t = 0; t < T; ++t) {
      const int8_t* q = a.q + (t0 + t) * a.cols + b * quant::kQ8_0BlockElems;
      const int32x4_t p = kDot ? vaddq_s32(sub_dot_sdot(w0, q), sub_dot_sdot(w1, q + 16))
                               : vaddq_s32(sub_dot_neon(w0, q), sub_dot_neon(w1, q + 16));
      acc[t] = kquant_accumulate(acc[t], a.d[static_cast<size_t>((t0 + t) * nb + b)], dw, vaddvq_s32(p));
    }
  }
  for (int t = 0; t < T; ++t) out[t] = acc[t];
}

template <bool kDot>
void q8_0_matmul(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ8_0BlockElems;
  kquant_rows(w, nb * quant::kQ8_0BlockBytes, a.n_tokens, y, y_stride, row_begin, row_end,
              [&](const uint8_t* row, int64_t t0, auto nt, float* out) {
                q8_0_row_tokens<kDot, decltype(nt)::value>(row, nb, a, t0, out);
              });
}

template <bool kDot>
void matmul(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ6KBlockElems;
  kquant_rows(w, nb * quant::kQ6KBlockBytes, a.n_tokens, y, y_stride, row_begin, row_end,
              [&](const uint8_t* row, int64_t t0, auto nt, float* out) {
                row_tokens<kDot, decltype(nt)::value>(row, nb, a, t0, out);
              });
}

}  // namespace

void q6_k_matmul_neon(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end) {
  matmul<false>(w, a, y, y_stride, row_begin, row_end);
}

// flatten: the whole call tree inlined here, under this function's dotprod target (sub_dot_sdot, which carries
// it, is not inlined into row_tokens, which does not: every sdot had been a call).
BITNET_DOTPROD __attribute__((flatten)) void q6_k_matmul_neon_dot(const FloatRows& w, const IntActsView& a, float* y,
                                                                  int64_t y_stride, int64_t row_begin,
                                                                  int64_t row_end) {
  matmul<true>(w, a, y, y_stride, row_begin, row_end);
}

void q8_0_matmul_neon(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end) {
  q8_0_matmul<false>(w, a, y, y_stride, row_begin, row_end);
}

BITNET_DOTPROD __attribute__((flatten)) void q8_0_matmul_neon_dot(const FloatRows& w, const IntActsView& a, float* y,
                                                                  int64_t y_stride, int64_t row_begin,
                                                                  int64_t row_end) {
  q8_0_matmul<true>(w, a, y, y_stride, row_begin, row_end);
}

}  // namespace bitnet::kernels
#endif
