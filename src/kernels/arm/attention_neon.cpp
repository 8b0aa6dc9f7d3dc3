// NEON attention over F32 and F16 KV rows for aarch64, in the arithmetic order kernels/attention.hpp defines: the
// 8 reference lanes are two float32x4 registers (elements i mod 8 in 0-3, then 4-7), each product added fused
// (vfmaq_f32, one rounding, as the reference's std::fma), the lane sums pair as the
// reference pairs them, and an F16 cache's query is rounded to f16 by vcvt (nearest even, as float_to_fp16).
// A Q8_0 cache's values are q * d, widened exactly as the reference widens them. Bit-equal to the reference.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/attention.hpp"
#include "quant/q8_0.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kMaxHeadDim = 1024;  // larger heads take the reference path

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) of lanes l0-3 in a, l4-7 in b.
inline float hsum_lanes(float32x4_t a, float32x4_t b) {
  const float32x4_t s = vaddq_f32(a, b);                               // l0+l4, l1+l5, l2+l6, l3+l7
  const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));  // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
  return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

// Elements [i, i + 4) of a stored row widened to float, and of the query as the dot product takes it.
struct NeonF32 {
  static float32x4_t load(const uint8_t* row, int64_t i) { return vld1q_f32(reinterpret_cast<const float*>(row) + i); }
  static float32x4_t query(const float* q, int64_t i) { return vld1q_f32(q + i); }
};
struct NeonF16 {
  static float32x4_t load(const uint8_t* row, int64_t i) {
    return vcvt_f32_f16(vld1_f16(reinterpret_cast<const float16_t*>(row) + i));
  }
  static float32x4_t query(const float* q, int64_t i) { return vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(q + i))); }
};

// Q8_0: i is a multiple of 4, so the four values share one block; float(q) * d, as the reference rounds it (exact:
// 8 x 11 significant bits). The query as it is, as for F32.
struct NeonQ8_0 {
  static float32x4_t load(const uint8_t* row, int64_t i) {
    const uint8_t* block = row + (i / quant::kQ8_0BlockElems) * quant::kQ8_0BlockBytes;
    uint16_t d;
    std::memcpy(&d, block, 2);
    int32_t four;  // the four int8 values (a 4-byte read: never past the block)
    std::memcpy(&four, block + 2 + i % quant::kQ8_0BlockElems, 4);
    const int16x8_t q16 = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    const float32x4_t q = vcvtq_f32_s32(vmovl_s16(vget_low_s16(q16)));
    const float scale = vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(d))), 0);
    return vmulq_n_f32(q, scale);
  }
};

// Four positions at a time (eight independent add chains); the query converted once into qc.
template <class L>
void scores_neon(const AttnHead& h, float* scores) {
  const int64_t hd = h.head_dim;
  float qc[kMaxHeadDim];
  for (int64_t i = 0; i < hd; i += 4) vst1q_f32(qc + i, L::query(h.q, i));
  int64_t j = 0;
  for (; j + 4 <= h.n_pos; j += 4) {
    const uint8_t* r[4];
    for (int k = 0; k < 4; ++k) r[k] = h.k + (j + k) * h.stride;
    float32x4_t lo[4], hi[4];
    for (int k = 0; k < 4; ++k) lo[k] = hi[k] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < hd; i += 8) {
      const float32x4_t q0 = vld1q_f32(qc + i), q1 = vld1q_f32(qc + i + 4);
      for (int k = 0; k < 4; ++k) {
        lo[k] = vfmaq_f32(lo[k], q0, L::load(r[k], i));
        hi[k] = vfmaq_f32(hi[k], q1, L::load(r[k], i + 4));
      }
    }
    for (int k = 0; k < 4; ++k) scores[j + k] = hsum_lanes(lo[k], hi[k]) * h.scale;
  }
  for (; j < h.n_pos; ++j) {
    const uint8_t* r = h.k + j * h.stride;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t i = 0; i < hd; i += 8) {
      lo = vfmaq_f32(lo, vld1q_f32(qc + i), L::load(r, i));
      hi = vfmaq_f32(hi, vld1q_f32(qc + i + 4), L::load(r, i + 4));
    }
    scores[j] = hsum_lanes(lo, hi) * h.scale;
  }
}

// out[c, c + 4 R) over every position, the accumulators held in registers.
template <class L, int R>
void weighted_chunk(const AttnHead& h, const float* p, int64_t c, float* out) {
  float32x4_t acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_f32(0.0f);
  const uint8_t* row = h.v;
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride) {
    const float32x4_t pj = vdupq_n_f32(p[j]);
    for (int r = 0; r < R; ++r) acc[r] = vfmaq_f32(acc[r], pj, L::load(row, c + 4 * r));
  }
  for (int r = 0; r < R; ++r) vst1q_f32(out + c + 4 * r, acc[r]);
}

template <class L>
void weighted_sum_neon(const AttnHead& h, const float* p, float* out) {
  int64_t c = 0;
  for (; c + 64 <= h.head_dim; c += 64) weighted_chunk<L, 16>(h, p, c, out);
  for (; c + 16 <= h.head_dim; c += 16) weighted_chunk<L, 4>(h, p, c, out);
  for (; c < h.head_dim; c += 4) weighted_chunk<L, 1>(h, p, c, out);
}

}  // namespace

void kv_weighted_sum_q8_0_neon(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % quant::kQ8_0BlockElems != 0) return kv_weighted_sum_q8_0_ref(h, p, out);
  weighted_sum_neon<NeonQ8_0>(h, p, out);
}
void kv_scores_f32_neon(const AttnHead& h, float* scores) {
  if (h.head_dim % 8 != 0 || h.head_dim > kMaxHeadDim) return kv_scores_f32_ref(h, scores);
  scores_neon<NeonF32>(h, scores);
}
void kv_scores_f16_neon(const AttnHead& h, float* scores) {
  if (h.head_dim % 8 != 0 || h.head_dim > kMaxHeadDim) return kv_scores_f16_ref(h, scores);
  scores_neon<NeonF16>(h, scores);
}
void kv_weighted_sum_f32_neon(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 4 != 0) return kv_weighted_sum_f32_ref(h, p, out);
  weighted_sum_neon<NeonF32>(h, p, out);
}
void kv_weighted_sum_f16_neon(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 4 != 0) return kv_weighted_sum_f16_ref(h, p, out);
  weighted_sum_neon<NeonF16>(h, p, out);
}

}  // namespace bitnet::kernels
#endif
