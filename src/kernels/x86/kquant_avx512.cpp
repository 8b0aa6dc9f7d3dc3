// AVX-512 (BW + VNNI) Q6_K x Q8_K: the AVX2 kernel's arithmetic on 512-bit registers. Per half block (128
// codes) the 64 low-nibble bytes load once and the 32 high-bit bytes broadcast to both halves, so two registers
// hold all 128 unsigned codes; vpmaddubsw pairs them with the activations (|sum| <= 2 * 63 * 128) and vpdpwssd
// multiplies by the sub-block scales into int32. The -32 offset goes through the activations' 16-element sums.
// Exact int32 per block, then the shared float step: bit-equal to the scalar and AVX2 kernels.
#if defined(__x86_64__)
#include <cstdint>
#include <cstring>

#include "kernels/kquant.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_k.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
// GCC 12's avx512fintrin.h (broadcast/insert via _mm512_undefined_*) trips these falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitnet::kernels {
namespace {

// Scales of sub-blocks 8h + 4j .. 8h + 4j + 3, each over 8 int16 lanes (the 32 pair sums of one register).
inline __m512i scales_x8(__m128i sc8, int h, int j) {
  const char b = static_cast<char>(8 * h + 4 * j);
  const __m256i mask = _mm256_setr_epi8(b, b, b, b, b, b, b, b, b + 1, b + 1, b + 1, b + 1, b + 1, b + 1, b + 1, b + 1,
                                        b + 2, b + 2, b + 2, b + 2, b + 2, b + 2, b + 2, b + 2, b + 3, b + 3, b + 3,
                                        b + 3, b + 3, b + 3, b + 3, b + 3);
  return _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(_mm256_broadcastsi128_si256(sc8), mask));
}

// Blocks 2 KB ahead are prefetched, as the AVX2 kernel does (kquant_avx2.cpp). On the 2-core Intel Xeon VM (AMX) the
// 2B-4T head streamed at 9.1-9.5 GB/s on one thread without it, 12.2-13.9 with it (kernel bench), and 2B-4T I2_S
// generation on 2 threads went from 25.2-25.7 to 28.2-28.3 tok/s (3 alternations of `bench -p 0 -n 32 -r 3`).
constexpr int64_t kPrefetchAhead = 2048;

template <int T>
void row_tokens(const uint8_t* row, int64_t nb, const Q8KActs& a, int64_t t0, float* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl_01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr_23 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  const int64_t cols = a.cols;
  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * quant::kQ6KBlockBytes;
    // (the address as an integer: past the last rows it lies outside the tensor, where a prefetch never faults)
    for (int l = 0; l < 4; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(blk) + kPrefetchAhead + 64 * l),
                   _MM_HINT_T0);
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    __m512i isum[T];
    for (int t = 0; t < T; ++t) {
      const __m256i bs =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums.data() + (t0 + t) * (cols / 16) + b * 16));
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5);  // 32 * sum_j sc[j] * bsums[j]
      isum[t] = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), off));
    }
    for (int h = 0; h < 2; ++h) {
      const __m512i lo = _mm512_loadu_si512(blk + 64 * h);
      const __m512i hi =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
      // codes 128h + [0, 64): low nibbles | high bits (qh << 4 | qh << 2); codes 128h + [64, 128): high nibbles
      const __m512i u01 =
          _mm512_or_si512(_mm512_and_si512(lo, m4), _mm512_and_si512(_mm512_sllv_epi16(hi, shl_01), m30));
      const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo, 4), m4),
                                          _mm512_and_si512(_mm512_srlv_epi16(hi, shr_23), m30));
      const __m512i s01 = scales_x8(sc8, h, 0), s23 = scales_x8(sc8, h, 1);
      for (int t = 0; t < T; ++t) {
        const int8_t* q = a.q.data() + (t0 + t) * cols + b * quant::kQ8KBlockElems + 128 * h;
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(u01, _mm512_loadu_si512(q)), s01);
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(u23, _mm512_loadu_si512(q + 64)), s23);
      }
    }
    uint16_t dh;
    std::memcpy(&dh, blk + 208, sizeof dh);
    const float dw = _cvtsh_ss(dh);
    for (int t = 0; t < T; ++t)
      acc[t] =
          kquant_accumulate(acc[t], a.d[static_cast<size_t>((t0 + t) * nb + b)], dw, _mm512_reduce_add_epi32(isum[t]));
  }
  for (int t = 0; t < T; ++t) out[t] = acc[t];
}

}  // namespace

void q6_k_matmul_avx512(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ6KBlockElems;
  kquant_rows(w, nb * quant::kQ6KBlockBytes, a.n_tokens, y, y_stride, row_begin, row_end,
              [&](const uint8_t* row, int64_t t0, auto nt, float* out) {
                row_tokens<decltype(nt)::value>(row, nb, a, t0, out);
              });
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
