// AVX2 + FMA + F16C row dots for float and block-quantized weight rows (layouts: see quant/q8_0.hpp,
// quant/q6_k.cpp). Weights are widened to float in registers and multiplied with the float activations.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "kernels/float_rows.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

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

// 8 int8 weights -> float
inline __m256 i8x8_to_ps(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
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

// Q8_0 block: fp16 d, 32 int8. n is a multiple of 32.
float row_dot_q8_0_avx2(const uint8_t* row, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = row + b * 34;
    const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
    const float* xb = x + b * 32;
    __m256 s = _mm256_mul_ps(i8x8_to_ps(q), _mm256_loadu_ps(xb));
    s = _mm256_fmadd_ps(i8x8_to_ps(q + 8), _mm256_loadu_ps(xb + 8), s);
    s = _mm256_fmadd_ps(i8x8_to_ps(q + 16), _mm256_loadu_ps(xb + 16), s);
    s = _mm256_fmadd_ps(i8x8_to_ps(q + 24), _mm256_loadu_ps(xb + 24), s);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_at(blk)), s, acc);
  }
  return hsum_ps(acc);
}

// Q6_K block (210 bytes, 256 elements): ql[128], qh[64], int8 sc[16], fp16 d. For half h and l in 0..31:
// element 128h + 32k + l has low nibble from ql[64h + l (+32 for k odd)] (low nibble for k < 2, high for k >= 2)
// and high bits (qh[32h + l] >> 2k) & 3; value (q - 32) * d * sc[e / 16].
namespace {

// The Q6_K dot of one row with T token vectors (x + t * x_stride). Each row block is unpacked and widened to
// float once and used for all T tokens; every token's accumulator sees exactly the operations of the
// one-token case (T = 1), so results are bit-equal whatever the batch.
template <int T>
void q6_k_dot_tokens(const uint8_t* row, const float* x, int64_t x_stride, int64_t n, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  alignas(32) int8_t q[4][32];
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* ql = row + b * 210;
    const uint8_t* qh = ql + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(ql + 192);
    const float d = half_at(ql + 208);
    for (int h = 0; h < 2; ++h) {
      const __m256i lo0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h));
      const __m256i lo1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h + 32));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * h));
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(lo0, m4), _mm256_slli_epi16(_mm256_and_si256(hi, m3), 4));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(lo1, m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 2), m3), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo0, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 4), m3), 4));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo1, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 6), m3), 4));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[0]), _mm256_sub_epi8(q0, k32));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[1]), _mm256_sub_epi8(q1, k32));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[2]), _mm256_sub_epi8(q2, k32));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[3]), _mm256_sub_epi8(q3, k32));
      for (int k = 0; k < 4; ++k) {
        const int e = 128 * h + 32 * k;  // 32 elements = two 16-element sub-blocks
        const __m256 w0 = i8x8_to_ps(q[k]), w1 = i8x8_to_ps(q[k] + 8);
        const __m256 w2 = i8x8_to_ps(q[k] + 16), w3 = i8x8_to_ps(q[k] + 24);
        const __m256 d0 = _mm256_set1_ps(d * static_cast<float>(sc[e / 16]));
        const __m256 d1 = _mm256_set1_ps(d * static_cast<float>(sc[e / 16 + 1]));
        for (int t = 0; t < T; ++t) {
          const float* xe = x + t * x_stride + b * 256 + e;
          __m256 s0 = _mm256_mul_ps(w0, _mm256_loadu_ps(xe));
          s0 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xe + 8), s0);
          __m256 s1 = _mm256_mul_ps(w2, _mm256_loadu_ps(xe + 16));
          s1 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xe + 24), s1);
          acc[t] = _mm256_fmadd_ps(d0, s0, acc[t]);
          acc[t] = _mm256_fmadd_ps(d1, s1, acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

}  // namespace

float row_dot_q6_k_avx2(const uint8_t* row, const float* x, int64_t n) {
  float out;
  q6_k_dot_tokens<1>(row, x, 0, n, &out);
  return out;
}

void rows_dot_q6_k_avx2(const uint8_t* row, const float* x, int64_t x_stride, int n_tokens, int64_t n, float* out) {
  switch (n_tokens) {
    case 1:
      q6_k_dot_tokens<1>(row, x, x_stride, n, out);
      break;
    case 2:
      q6_k_dot_tokens<2>(row, x, x_stride, n, out);
      break;
    case 3:
      q6_k_dot_tokens<3>(row, x, x_stride, n, out);
      break;
    default:
      q6_k_dot_tokens<kRowDotMaxTokens>(row, x, x_stride, n, out);
      break;
  }
}

}  // namespace bitnet::kernels

#pragma GCC pop_options
#endif
