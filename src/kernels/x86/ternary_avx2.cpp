// AVX2 ternary matmul: 2-bit codes x int8 activations with maddubs (u8 x s8 -> s16 pairs), exact.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/ternary.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace bitnet::kernels {

// |code * q| <= 3 * 128, two products per s16 lane: <= 768; four sets summed: <= 3072 (no saturation).
#define BITNET_BLOCK_DOT(acc, c0, c1, c2, c3, a)                                      \
  do {                                                                                \
    const __m256i* ap_ = reinterpret_cast<const __m256i*>(a);                         \
    __m256i s_ = _mm256_maddubs_epi16(c0, _mm256_loadu_si256(ap_));                   \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c1, _mm256_loadu_si256(ap_ + 1))); \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c2, _mm256_loadu_si256(ap_ + 2))); \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c3, _mm256_loadu_si256(ap_ + 3))); \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s_, _mm256_set1_epi16(1)));         \
  } while (0)
// The same block's sum as int16 lanes (<= 3072 each), for the body to add up over several blocks before widening.
#define BITNET_BLOCK_SUM16(c0, c1, c2, c3, a)                                                          \
  _mm256_add_epi16(                                                                                  \
      _mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))), \
                       _mm256_maddubs_epi16(c1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 1))), \
      _mm256_add_epi16(_mm256_maddubs_epi16(c2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 2)), \
                       _mm256_maddubs_epi16(c3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 3))))
#define BITNET_KERNEL_NAME ternary_matmul_avx2
#include "kernels/x86/ternary_x86_body.inc"

}  // namespace bitnet::kernels

#pragma GCC pop_options
#endif
