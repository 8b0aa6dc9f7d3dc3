// NEON row dots for F32, F16 and BF16 weight rows on aarch64: weights
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

namespace {

// 8 bf16 values at p (unaligned) as two float32x4: a bf16 is the high half of its float, widened by a shift.
inline void bf16x8(const uint8_t* p, float32x4_t& lo, float32x4_t& hi) {
  const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(p));
  lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
  hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
}

// A row of 16-bit floats dotted with x: kWiden turns 8 of them into two float32x4, kOne converts one (the tail).
template <void (*kWiden)(const uint8_t*, float32x4_t&, float32x4_t&), float (*kOne)(uint16_t)>
float row_dot_16bit(const uint8_t* row, const float* x, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t w0, w1, w2, w3;
    kWiden(row + 2 * i, w0, w1);
    kWiden(row + 2 * i + 16, w2, w3);
    a0 = vfmaq_f32(a0, w0, vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, w1, vld1q_f32(x + i + 4));
    a2 = vfmaq_f32(a2, w2, vld1q_f32(x + i + 8));
    a3 = vfmaq_f32(a3, w3, vld1q_f32(x + i + 12));
  }
  float s = sum4(a0, a1, a2, a3);
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    s += kOne(h) * x[i];
  }
  return s;
}

}  // namespace

float row_dot_f16_neon(const uint8_t* row, const float* x, int64_t n) {
  return row_dot_16bit<f16x8, fp16_to_float>(row, x, n);
}

float row_dot_bf16_neon(const uint8_t* row, const float* x, int64_t n) {
  return row_dot_16bit<bf16x8, bf16_to_float>(row, x, n);
}

}  // namespace bitnet::kernels
#endif
