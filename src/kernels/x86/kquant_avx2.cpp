// AVX2 Q6_K x Q8_K: the 6-bit codes of a block are unpacked once (unsigned, 0..63) and multiplied with the
// int8 activations of up to 4 tokens by vpmaddubsw (pairs of products: |sum| <= 2 * 63 * 128, no saturation),
// then by the sub-block scales with vpmaddwd; the -32 offset is subtracted through the activations' 16-element
// sums (32 * sum_j sc[j] * bsums[j]). Exact int32 per block, then the shared float step (kquant.hpp).
// Q8_0 x Q8_0: vpmaddubsw of |w| with the activations given w's signs (vpsignb; |w| <= 128, |q| <= 127, so a
// pair's sum fits int16), vpmaddwd by ones into int32; 4 rows x 2 blocks at a time, their 8 sums in one register
// (horizontal adds in a tree) for 8 float steps side by side. In L2 (the kernel bench's 512 rows) 16-17 -> 35-36
// GB/s against one row and a horizontal sum a block; streaming from memory, as fast as memory.
// Compiled again with BITNET_KQUANT_AVXVNNI (x86/kquant_avxvnni.cpp: q8_0_matmul_avxvnni, Q8_0 only) for CPUs with
// AVX-VNNI: a block's 8 int32 partial sums are one {vex} vpdpbusd of |w| with the signed activations where maddubs and
// a widening madd were (Q6_K's sub-block scales go in through madd and stay with the plain build).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/half.hpp"
#include "core/target_region.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
#include "quant/q8_k.hpp"

#if defined(BITNET_KQUANT_AVXVNNI)
BITNET_TARGET_BEGIN("avx2,fma,f16c,avxvnni")
#define BITNET_Q8_0_MATMUL q8_0_matmul_avxvnni
#else
BITNET_TARGET_BEGIN("avx2,fma,f16c")
#define BITNET_Q8_0_MATMUL q8_0_matmul_avx2
#endif

namespace bitnet::kernels {
namespace {

#if !defined(BITNET_KQUANT_AVXVNNI)

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Byte shuffles that spread scales 8h + 2k and 8h + 2k + 1 over 8 lanes each (then widened to int16).
inline __m128i scale_mask(int h, int k) {
  const char a = static_cast<char>(8 * h + 2 * k), b = static_cast<char>(a + 1);
  return _mm_setr_epi8(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b);
}

// Blocks 2 KB ahead are prefetched: one thread streamed the 2B-4T head at 9.5 GB/s of the 15 it can read on Zen 3,
// waiting at each block's first line (kernel bench medians of 4 alternating runs: 12.7 -> 14.6 GMAC/s).
constexpr int64_t kPrefetchAhead = 2048;

// One row's dot with T tokens starting at t0; out[t] gets the float result.
template <int T>
void row_tokens(const uint8_t* row, int64_t nb, const IntActsView& a, int64_t t0, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
  __m128i masks[2][4];
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k) masks[h][k] = scale_mask(h, k);
  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.0f;
  const int64_t cols = a.cols;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * quant::kQ6KBlockBytes;
    for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchAhead + 64 * l), _MM_HINT_T0);
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    __m256i isum[T];
    for (int t = 0; t < T; ++t) {
      const __m256i bs =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums + (t0 + t) * (cols / 16) + b * 16));
      isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5));
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i lo0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
      const __m256i lo1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      __m256i u[4];
      u[0] = _mm256_or_si256(_mm256_and_si256(lo0, m4), _mm256_and_si256(_mm256_slli_epi16(hi, 4), m30));
      u[1] = _mm256_or_si256(_mm256_and_si256(lo1, m4), _mm256_and_si256(_mm256_slli_epi16(hi, 2), m30));
      u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo0, 4), m4), _mm256_and_si256(hi, m30));
      u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(hi, 2), m30));
      for (int k = 0; k < 4; ++k) {
        const __m256i s = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, masks[h][k]));
        for (int t = 0; t < T; ++t) {
          const int8_t* q = a.q + (t0 + t) * cols + b * quant::kQ8KBlockElems + 128 * h + 32 * k;
          const __m256i p = _mm256_maddubs_epi16(u[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
        }
      }
    }
    uint16_t dh;
    std::memcpy(&dh, blk + 208, sizeof dh);
    const float dw = _cvtsh_ss(dh);
    for (int t = 0; t < T; ++t)
      acc[t] = kquant_accumulate(acc[t], a.d[static_cast<size_t>((t0 + t) * nb + b)], dw, hsum_epi32(isum[t]));
  }
  for (int t = 0; t < T; ++t) out[t] = acc[t];
}

#endif  // !BITNET_KQUANT_AVXVNNI

// One block of row w times the activations q, given w's signs: 8 int32 partial sums, by vpdpbusd where kVnni.
template <bool kVnni>
inline __m256i q8_0_block(const uint8_t* blk, const int8_t* q) {
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
#if defined(BITNET_KQUANT_AVXVNNI)
  if constexpr (kVnni)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
#endif
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// The AVX-VNNI build takes vpdpbusd for 2 tokens and more. For one token it ran slower than maddubs on the Intel VM
// (bitnet-kernel-bench q8_0_head/l2_512x2560/tokens:1/avx2 59-60 -> 62.5-66.5 us, attention_gen_Q8_0 with one query
// 30.1-30.5 -> 30.8-33.4 us) and keeps maddubs.
#if defined(BITNET_KQUANT_AVXVNNI)
template <int T>
constexpr bool kQ80Vnni = T >= 2;
#else
template <int T>
constexpr bool kQ80Vnni = false;
#endif

// The sums of v[0..8)'s lanes, in order, in one register (horizontal adds in a tree).
inline __m256i sums8(const __m256i* v) {
  const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// Rows rows[0..4) (repeats allowed) times tokens t0 .. t0 + T - 1, two blocks at a time: lane 2i + j holds row i's
// block b + j, so one register takes the 8 float steps (even lanes, then odd: each row's blocks in order). The
// weights' scales and prefetches are shared by the T tokens (their blocks are loaded again for each, from L1: the
// sums of 16 registers would not fit in AVX2's 16). y[t * y_stride + i] for i < n_out.
template <int T>
void q8_0_rows4(const uint8_t* const* rows, int64_t nb, const IntActsView& a, int64_t t0, float* y, int64_t y_stride,
                int n_out) {
  const int64_t ahead = 8 * nb * quant::kQ8_0BlockBytes;
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0), odd = _mm256_setr_epi32(1, 3, 5, 7, 0, 0, 0, 0);
  __m128 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    const int64_t o0 = b * quant::kQ8_0BlockBytes, o1 = o0 + quant::kQ8_0BlockBytes;
    for (int r = 0; r < 4; ++r)
      for (int l = 0; l < 2; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(rows[r] + o0) + ahead + 64 * l),
                     _MM_HINT_T1);
    alignas(16) uint16_t dh[8] = {};
    for (int r = 0; r < 4; ++r) {
      std::memcpy(&dh[2 * r], rows[r] + o0, 2);
      if (pair) std::memcpy(&dh[2 * r + 1], rows[r] + o1, 2);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dh)));
    for (int t = 0; t < T; ++t) {
      const int8_t* q = a.q + (t0 + t) * a.cols + b * 32;
      const float* da = a.d + (t0 + t) * nb + b;
      __m256i v[8];
      for (int r = 0; r < 4; ++r) {
        v[2 * r] = q8_0_block<kQ80Vnni<T>>(rows[r] + o0, q);
        v[2 * r + 1] = pair ? q8_0_block<kQ80Vnni<T>>(rows[r] + o1, q + 32) : _mm256_setzero_si256();
      }
      __m256 dab;
      if (pair) {
        double d2;
        std::memcpy(&d2, da, sizeof d2);
        dab = _mm256_castpd_ps(_mm256_set1_pd(d2));
      } else {
        dab = _mm256_set1_ps(da[0]);
      }
      const __m256 p = _mm256_mul_ps(_mm256_mul_ps(dab, dw), _mm256_cvtepi32_ps(sums8(v)));
      acc[t] = _mm_add_ps(acc[t], _mm256_castps256_ps128(_mm256_permutevar8x32_ps(p, even)));
      if (pair) acc[t] = _mm_add_ps(acc[t], _mm256_castps256_ps128(_mm256_permutevar8x32_ps(p, odd)));
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(16) float out[4];
    _mm_store_ps(out, acc[t]);
    for (int i = 0; i < n_out; ++i) y[(t0 + t) * y_stride + i] = out[i];
  }
}

}  // namespace

void BITNET_Q8_0_MATMUL(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ8_0BlockElems;
  const int64_t row_bytes = nb * quant::kQ8_0BlockBytes;
  for (int64_t r = row_begin; r < row_end; r += 4) {
    const int n_out = static_cast<int>(std::min<int64_t>(4, row_end - r));
    const uint8_t* rows[4];
    for (int i = 0; i < 4; ++i) rows[i] = w.data + (r + std::min(i, n_out - 1)) * row_bytes;
    for_token_tiles(a.n_tokens, [&](int64_t t, auto nt) {
      q8_0_rows4<decltype(nt)::value>(rows, nb, a, t, y + r, y_stride, n_out);
    });
  }
}

#if !defined(BITNET_KQUANT_AVXVNNI)
void q6_k_matmul_avx2(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                      int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ6KBlockElems;
  kquant_rows(w, nb * quant::kQ6KBlockBytes, a.n_tokens, y, y_stride, row_begin, row_end,
              [&](const uint8_t* row, int64_t t0, auto nt, float* out) {
                row_tokens<decltype(nt)::value>(row, nb, a, t0, out);
              });
}

#endif  // !BITNET_KQUANT_AVXVNNI

}  // namespace bitnet::kernels

BITNET_TARGET_END
#undef BITNET_Q8_0_MATMUL
#endif
