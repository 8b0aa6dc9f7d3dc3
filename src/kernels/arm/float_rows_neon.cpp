// NEON row dots for float and block-quantized weight rows (F32, F16, Q8_0: quant/q8_0.hpp) on aarch64: weights
// widened to float in registers (F16 by the base ISA's fcvtl), fused multiply-adds into four float32x4 sums. Not
// bit-equal to the scalar twin (another summation order, fused products): the parity test holds them to the
// error bound of any order. Without these, ARM ran an F16 head (a 2B-4T file whose F16 embedding is tied as the
// head: 657 MB a token) through the reference, a row dequantized to memory and dotted.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "core/half.hpp"
#include "kernels/float_rows.hpp"

namespace bitnet::kernels {
namespace {

inline float sum4(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3) {
  return vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
}

// 8 f16 values at p (unaligned) as two float32x4.
inline void f16x8(const uint8_t* p, float32x4_t& lo, float32x4_t& hi) {
  const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
  lo = vcvt_f32_f16(vget_low_f16(h));
  hi = vcvt_high_f32_f16(h);
}

// 16 int8 values as four float32x4.
inline void i8x16(const int8_t* p, float32x4_t* f) {
  const int8x16_t q = vld1q_s8(p);
  const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
  f[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
  f[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
  f[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
  f[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}

}  // namespace

float row_dot_f32_neon(const uint8_t* row, const float* x, int64_t n) {
  const float* w = reinterpret_cast<const float*>(row);
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
    a2 = vfmaq_f32(a2, vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
    a3 = vfmaq_f32(a3, vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
  }
  float s = sum4(a0, a1, a2, a3);
  for (; i < n; ++i) s += w[i] * x[i];
  return s;
}

float row_dot_f16_neon(const uint8_t* row, const float* x, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t w0, w1, w2, w3;
    f16x8(row + 2 * i, w0, w1);
    f16x8(row + 2 * i + 16, w2, w3);
    a0 = vfmaq_f32(a0, w0, vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, w1, vld1q_f32(x + i + 4));
    a2 = vfmaq_f32(a2, w2, vld1q_f32(x + i + 8));
    a3 = vfmaq_f32(a3, w3, vld1q_f32(x + i + 12));
  }
  float s = sum4(a0, a1, a2, a3);
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    s += fp16_to_float(h) * x[i];
  }
  return s;
}

// Q8_0 block: fp16 d, 32 int8. n is a multiple of 32. Per block the 32 products in four sums, scaled by d into
// four running sums.
float row_dot_q8_0_neon(const uint8_t* row, const float* x, int64_t n) {
  float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = row + b * 34;
    const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
    const float* xb = x + b * 32;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_float(dh);
    float32x4_t w[8];
    i8x16(q, w);
    i8x16(q + 16, w + 4);
    float32x4_t s[4];
    for (int k = 0; k < 4; ++k) s[k] = vmulq_f32(w[k], vld1q_f32(xb + 4 * k));
    for (int k = 0; k < 4; ++k) s[k] = vfmaq_f32(s[k], w[k + 4], vld1q_f32(xb + 16 + 4 * k));
    for (int k = 0; k < 4; ++k) acc[k] = vfmaq_n_f32(acc[k], s[k], d);
  }
  return sum4(acc[0], acc[1], acc[2], acc[3]);
}

}  // namespace bitnet::kernels
#endif
