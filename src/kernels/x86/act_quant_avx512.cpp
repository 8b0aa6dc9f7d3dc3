// AVX-512 per-token absmax activation quantization, bit-equal to quantize_row_absmax_ref (ternary_ref.hpp) by the
// AVX2 kernel's steps (act_quant_avx2.cpp) on 16 lanes, with mask registers for the rounding and the NaN test and
// a saturating narrow (exact: values are in [-128, 127]) for the store. The row's sum of codes, which the ternary
// kernels need for their code offset, is formed on the way.
#if defined(__x86_64__)
#include "kernels/x86/avx512_intrinsics.hpp"

#include "kernels/ternary.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitnet::kernels {

float quantize_row_absmax_avx512(const float* x, int64_t n, int8_t* q, int32_t* sum) {
  __m512 m0 = _mm512_setzero_ps(), m1 = m0;
  int64_t i = 0;
  // max ignores NaN as the scalar compare does: vmaxps returns its second operand when either is NaN.
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m0);
    m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 16)), m1);
  }
  for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m0);
  alignas(64) float lanes[32];
  _mm512_store_ps(lanes, m0);
  _mm512_store_ps(lanes + 16, m1);
  float fmax = 0.0f;
  for (float v : lanes) fmax = fmax < v ? v : fmax;
  for (; i < n; ++i) {
    const float a = x[i] < 0 ? -x[i] : x[i];
    fmax = fmax < a ? a : fmax;
  }
  const double max = static_cast<double>(fmax) > 0.00001 ? static_cast<double>(fmax) : 0.00001;
  const float s = static_cast<float>(127.0 / max);
  const __m512 vs = _mm512_set1_ps(s), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-128.0f);
  const __m512 half = _mm512_set1_ps(0.5f), mhalf = _mm512_set1_ps(-0.5f), one = _mm512_set1_ps(1.0f);
  __m512i total = _mm512_setzero_si512();
  i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
    v = _mm512_max_ps(lo, _mm512_min_ps(hi, v));  // NaN passes through both
    const __mmask16 number = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_sub_ps(v, t);
    __m512 r = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ), t, one);
    r = _mm512_mask_sub_ps(r, _mm512_cmp_ps_mask(frac, mhalf, _CMP_LE_OQ), r, one);
    const __m512i k = _mm512_maskz_mov_epi32(number, _mm512_cvttps_epi32(r));  // NaN -> 0
    total = _mm512_add_epi32(total, k);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtsepi32_epi8(k));
  }
  int32_t acc = _mm512_reduce_add_epi32(total);
  for (; i < n; ++i) {  // the tail as the reference does it
    const int r = absmax_code(x[i], s);
    q[i] = static_cast<int8_t>(r);
    acc += r;
  }
  *sum = acc;
  return s;
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
