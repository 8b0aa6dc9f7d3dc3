// NEON dotprod dots of Q8_0-quantized queries with a Q8_0 cache's keys, positions in lanes (kernels/attention.hpp's
// Q8_0 dot, before the scale), for blocks of queries: the x86 kernels' layout (x86/attention_q8_0_avx512.cpp) on 4
// lanes. 4 keys' block is transposed once (register m, lane k: key k's values 4m .. 4m + 3), shared by all the
// queries, and a query's 4 block sums are 8 sdot by element (sdot_lane, its dword m selected): signed times
// signed, exact in int32, no sum across lanes. The float step (kquant_accumulate) runs on the 4 keys' lanes side by
// side. Per query, key and 32-value block that is 2 sdot and a quarter of a float step, where the Q8_0 matmul, one
// query at a time, takes 2 sdot, a horizontal add and a scalar float step (not timed: no ARM machine here, and qemu
// does not time it).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/arm/dotprod.hpp"
#include "kernels/attention.hpp"
#include "kernels/query_groups.hpp"
#include "quant/q8_0.hpp"

namespace bitnet::kernels {
namespace {

constexpr int kKeys = 4;           // a register's lanes
constexpr int64_t kMaxBlocks = 8;  // head_dim <= 256

// kt[m], m < 8: lane k holds values 4m .. 4m + 3 of the block at byte `off` (its fp16 scale skipped) of key rows[k]:
// two 4 x 4 transposes of dwords.
inline void transpose_keys(const uint8_t* const* rows, int64_t off, int8x16_t* kt) {
  for (int h = 0; h < 2; ++h) {
    int32x4_t r[4];
    for (int k = 0; k < 4; ++k) r[k] = vreinterpretq_s32_u8(vld1q_u8(rows[k] + off + 2 + 16 * h));
    const int32x4_t t0 = vtrn1q_s32(r[0], r[1]), t1 = vtrn2q_s32(r[0], r[1]);  // dwords 0, 2 and 1, 3 of keys 0, 1
    const int32x4_t t2 = vtrn1q_s32(r[2], r[3]), t3 = vtrn2q_s32(r[2], r[3]);
    const int64x2_t u0 = vreinterpretq_s64_s32(t0), u1 = vreinterpretq_s64_s32(t1);
    const int64x2_t u2 = vreinterpretq_s64_s32(t2), u3 = vreinterpretq_s64_s32(t3);
    kt[4 * h] = vreinterpretq_s8_s64(vtrn1q_s64(u0, u2));
    kt[4 * h + 1] = vreinterpretq_s8_s64(vtrn1q_s64(u1, u3));
    kt[4 * h + 2] = vreinterpretq_s8_s64(vtrn2q_s64(u0, u2));
    kt[4 * h + 3] = vreinterpretq_s8_s64(vtrn2q_s64(u1, u3));
  }
}

// dots[i * ld + j0 + k] for queries first .. first + NQ - 1 and keys j0 + k, k < n (keys rows[k]; rows[k] for k >= n
// repeat a real one and are not stored).
template <int NQ>
BITNET_DOTPROD void key_group(const int8_t* qq, const float* dq, int first, int64_t head_dim,
                              const uint8_t* const* rows, int n, float* dots, int64_t ld, int64_t j0) {
  const int64_t nb = head_dim / quant::kQ8_0BlockElems;
  float32x4_t acc[NQ];
  for (int i = 0; i < NQ; ++i) acc[i] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t off = b * quant::kQ8_0BlockBytes;
    int8x16_t kt[8];
    transpose_keys(rows, off, kt);
    uint16_t d16[kKeys];
    for (int k = 0; k < kKeys; ++k) std::memcpy(&d16[k], rows[k] + off, sizeof d16[k]);
    const float32x4_t dk = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d16)));
    for (int i = 0; i < NQ; ++i) {
      const int8_t* q = qq + (first + i) * head_dim + b * quant::kQ8_0BlockElems;
      const int8x16_t q0 = vld1q_s8(q), q1 = vld1q_s8(q + 16);
      int32x4_t isum = vdupq_n_s32(0);
      isum = sdot_lane<0>(isum, kt[0], q0);
      isum = sdot_lane<1>(isum, kt[1], q0);
      isum = sdot_lane<2>(isum, kt[2], q0);
      isum = sdot_lane<3>(isum, kt[3], q0);
      isum = sdot_lane<0>(isum, kt[4], q1);
      isum = sdot_lane<1>(isum, kt[5], q1);
      isum = sdot_lane<2>(isum, kt[6], q1);
      isum = sdot_lane<3>(isum, kt[7], q1);
      const float32x4_t da = vdupq_n_f32(dq[(first + i) * nb + b]);
      acc[i] = vaddq_f32(acc[i], vmulq_f32(vmulq_f32(da, dk), vcvtq_f32_s32(isum)));
    }
  }
  for (int i = 0; i < NQ; ++i) {
    float out[kKeys];
    vst1q_f32(out, acc[i]);
    std::memcpy(dots + (first + i) * ld + j0, out, sizeof(float) * static_cast<size_t>(n));
  }
}

template <int NQ>
BITNET_DOTPROD void queries(const int8_t* qq, const float* dq, int first, const uint8_t* k, int64_t stride,
                            int64_t head_dim, int64_t n_pos, float* dots, int64_t ld) {
  const uint8_t* rows[kKeys];
  for (int64_t j0 = 0; j0 < n_pos; j0 += kKeys) {
    const int n = static_cast<int>(std::min<int64_t>(kKeys, n_pos - j0));
    for (int i = 0; i < kKeys; ++i) rows[i] = k + (j0 + std::min(i, n - 1)) * stride;
    key_group<NQ>(qq, dq, first, head_dim, rows, n, dots, ld, j0);
  }
}

}  // namespace

// flatten: the call tree inlined under this function's dotprod target, as kquant_neon.cpp's entry points do.
BITNET_DOTPROD __attribute__((flatten)) bool q8_0_dots_neon_dot(const int8_t* qq, const float* dq, int n_q,
                                                                const uint8_t* k, int64_t stride, int64_t head_dim,
                                                                int64_t n_pos, float* dots, int64_t ld) {
  if (head_dim / quant::kQ8_0BlockElems > kMaxBlocks) return false;
  for_query_groups(n_q, [&](int first, auto nq) {
    queries<decltype(nq)::value>(qq, dq, first, k, stride, head_dim, n_pos, dots, ld);
  });
  return true;
}

}  // namespace bitnet::kernels
#endif
