// AVX2 + FMA + F16C row dots for F32, F16 and BF16 weight rows.
// Weights are widened to float in registers and multiplied with the float activations.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "core/half.hpp"
#include "core/target_region.hpp"
#include "kernels/float_rows.hpp"

BITNET_TARGET_BEGIN("avx2,fma,f16c")

namespace bitnet::kernels {
namespace {

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

}  // namespace

float row_dot_f32_avx2(const uint8_t* row, const float* x, int64_t n) {
  const float* w = reinterpret_cast<const float*>(row);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  float s = hsum_ps(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += w[i] * x[i];
  return s;
}

float row_dot_f16_avx2(const uint8_t* row, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i + 16)));
    a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
  }
  float s = hsum_ps(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += half_at(row + 2 * i) * x[i];
  return s;
}

float row_dot_bf16_avx2(const uint8_t* row, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // a bf16 is the high half of its float: widen, shift into place
    const __m256i h0 = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    const __m256i h1 = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i + 16)));
    a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(h0, 16)), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(h1, 16)), _mm256_loadu_ps(x + i + 8), a1);
  }
  float s = hsum_ps(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    s += bf16_to_float(h) * x[i];
  }
  return s;
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#endif
