// AVX2 per-token absmax activation quantization, bit-equal to quantize_row_absmax_ref (ternary_ref.hpp): the
// same float max (max ignores NaN the way the scalar compare does: vmaxps returns its second operand), the
// same float product x * s, the same clamp (vminps/vmaxps ordered so a NaN survives to be zeroed), and round
// half away from zero written as trunc + (frac >= 0.5) - (frac <= -0.5), all exact steps.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#include "core/target_region.hpp"
#include "kernels/ternary.hpp"

BITNET_TARGET_BEGIN("avx2,fma,f16c")

namespace bitnet::kernels {

float quantize_row_absmax_avx2(const float* x, int64_t n, int8_t* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 vmax = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), vmax);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float fmax = 0.0f;
  for (float v : lanes) fmax = fmax < v ? v : fmax;
  for (; i < n; ++i) {
    const float a = x[i] < 0 ? -x[i] : x[i];
    fmax = fmax < a ? a : fmax;
  }
  const double max = std::max(0.00001, static_cast<double>(fmax));
  const float s = static_cast<float>(127.0 / max);
  const __m256 vs = _mm256_set1_ps(s), hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-128.0f);
  const __m256 half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f), one = _mm256_set1_ps(1.0f);
  i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i r[4];
    for (int k = 0; k < 4; ++k) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vs);
      v = _mm256_max_ps(lo, _mm256_min_ps(hi, v));                 // NaN passes through both
      v = _mm256_andnot_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), v);  // NaN -> 0
      const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 frac = _mm256_sub_ps(v, t);
      __m256 rounded = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), one));
      rounded = _mm256_sub_ps(rounded, _mm256_and_ps(_mm256_cmp_ps(frac, mhalf, _CMP_LE_OQ), one));
      r[k] = _mm256_cvttps_epi32(rounded);
    }
    // int32 -> int8 (values are in [-128, 127], so the saturating packs are exact); undo the lane interleave.
    const __m256i p01 = _mm256_packs_epi32(r[0], r[1]), p23 = _mm256_packs_epi32(r[2], r[3]);
    const __m256i p = _mm256_packs_epi16(p01, p23);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(p, order));
  }
  for (; i < n; ++i) q[i] = static_cast<int8_t>(absmax_code(x[i], s));  // the tail as the reference does it
  return s;
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#endif
