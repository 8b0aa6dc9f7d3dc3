// AVX-512 VNNI ternary matmul: vpdpbusd (u8 codes x s8 activations, four products summed into s32), exact.
// 256-bit vectors (AVX512VL): one 128-column block per step, the same layout as the AVX2 kernel.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/ternary.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace bitnet::kernels {

// Two independent dpbusd chains per block (c0/c2 and c1/c3) halve the dependent latency per token.
#define BITNET_BLOCK_DOT(acc, c0, c1, c2, c3, a)                                               \
  do {                                                                                         \
    const __m256i* ap_ = reinterpret_cast<const __m256i*>(a);                                  \
    __m256i u_ = _mm256_dpbusd_epi32(acc, c0, _mm256_loadu_si256(ap_));                        \
    __m256i v_ = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c1, _mm256_loadu_si256(ap_ + 1)); \
    u_ = _mm256_dpbusd_epi32(u_, c2, _mm256_loadu_si256(ap_ + 2));                             \
    v_ = _mm256_dpbusd_epi32(v_, c3, _mm256_loadu_si256(ap_ + 3));                             \
    acc = _mm256_add_epi32(u_, v_);                                                            \
  } while (0)
#define BITNET_KERNEL_NAME ternary_matmul_avx512
#include "kernels/x86/ternary_x86_body.inc"

}  // namespace bitnet::kernels

#pragma GCC pop_options
#endif
