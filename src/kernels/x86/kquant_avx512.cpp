// AVX-512 (BW + VNNI) Q6_K x Q8_K: the AVX2 kernel's arithmetic on 512-bit registers. Per half block (128
// codes) the 64 low-nibble bytes load once and the 32 high-bit bytes broadcast to both halves, so two registers
// hold all 128 unsigned codes; vpmaddubsw pairs them with the activations (|sum| <= 2 * 63 * 128) and vpdpwssd
// multiplies by the sub-block scales into int32. The -32 offset goes through the activations' 16-element sums.
// Exact int32 per block, then the shared float step: bit-equal to the scalar and AVX2 kernels.
// Q8_0 x Q8_0 takes 8 rows at a time for up to 4 tokens, a register a row for two blocks (vpdpbusd of w with the
// activations offset to unsigned), and sums each block's 8 lanes in one tree over the 8 registers, so that one
// register ends with the 16 exact block sums (row i / 2, block i % 2). The float step then runs on those lanes side
// by side: each row's accumulator takes its two blocks in order, as the scalar kernel does.
#if defined(__x86_64__)
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/kquant.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
#include "quant/q8_k.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
// GCC 12's avx512fintrin.h (broadcast/insert via _mm512_undefined_*) trips these falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitnet::kernels {
namespace {

// Where lane l of the scales of sub-blocks 8h + 4j .. 8h + 4j + 3 (each over 8 int16 lanes: the 32 pair sums of one
// register) comes from in the block's 16 widened scales: one vpermw a register (a broadcast, a byte shuffle and a
// widening before).
inline __m512i scale_index(int h, int j) {
  alignas(64) int16_t idx[32];
  for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(8 * h + 4 * j + l / 8);
  return _mm512_load_si512(idx);
}

// Blocks 2 KB ahead are prefetched, as the AVX2 kernel does (kquant_avx2.cpp). On the 2-core Intel Xeon VM (AMX) the
// 2B-4T head streamed at 9.1-9.5 GB/s on one thread without it, 12.2-13.9 with it (kernel bench), and 2B-4T I2_S
// generation on 2 threads went from 25.2-25.7 to 28.2-28.3 tok/s (3 alternations of `bench -p 0 -n 32 -r 3`).
constexpr int64_t kPrefetchAhead = 2048;

template <int T>
void row_tokens(const uint8_t* row, int64_t nb, const IntActsView& a, int64_t t0, float* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl_01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr_23 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  const __m512i sidx[2][2] = {{scale_index(0, 0), scale_index(0, 1)}, {scale_index(1, 0), scale_index(1, 1)}};
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
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums + (t0 + t) * (cols / 16) + b * 16));
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
      const __m512i s01 = _mm512_permutexvar_epi16(sidx[h][0], _mm512_castsi256_si512(sc16));
      const __m512i s23 = _mm512_permutexvar_epi16(sidx[h][1], _mm512_castsi256_si512(sc16));
      for (int t = 0; t < T; ++t) {
        const int8_t* q = a.q + (t0 + t) * cols + b * quant::kQ8KBlockElems + 128 * h;
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

// Lanes 0-7: the 8 partial sums of w's block at b0 times the activations' first 32 bytes, lanes 8-15: block b1's
// with the next 32, for each of T tokens (xu[t]: the activations plus 128, unsigned). vpdpbusd multiplies unsigned
// bytes by signed ones, so the activations are offset instead of w being split into sign and magnitude: sum (a + 128)
// w starts from -128 sum w, which one vpdpbusd with 128 gives for all T tokens. Exact: |partial| <= 4 * 255 * 128
// plus 4 * 128 * 128.
template <int T>
inline void q8_0_pair(const uint8_t* b0, const uint8_t* b1, const __m512i* xu, __m512i bias, __m512i* out) {
  const __m512i w =
      _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2))),
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1 + 2)), 1);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, w));
  for (int t = 0; t < T; ++t) out[t] = _mm512_dpbusd_epi32(start, xu[t], w);
}

// One step of the tree: from x and y, each holding items of 2n lanes (in order), a register holding the same
// items (x's, then y's) of n lanes each: lane k of an item is the sum of its lanes k and k + n.
inline __m512i halve(__m512i x, __m512i y, __m512i lo, __m512i hi) {
  return _mm512_add_epi32(_mm512_permutex2var_epi32(x, lo, y), _mm512_permutex2var_epi32(x, hi, y));
}

struct Q80Tree {
  __m512i lo[3], hi[3];
  Q80Tree() {
    // items of 8 lanes -> 4 (2 items a register in, 4 out), 4 -> 2, 2 -> 1
    lo[0] = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
    lo[1] = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
    lo[2] = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    hi[0] = _mm512_add_epi32(lo[0], _mm512_set1_epi32(4));
    hi[1] = _mm512_add_epi32(lo[1], _mm512_set1_epi32(2));
    hi[2] = _mm512_add_epi32(lo[2], _mm512_set1_epi32(1));
  }
};

// d[0] in the even lanes, d[1] in the odd ones.
inline __m512 pair_scales(const float* d) {
  double v;
  std::memcpy(&v, d, sizeof v);
  return _mm512_castpd_ps(_mm512_set1_pd(v));
}

// Rows rows[0..8) (repeats allowed) times tokens t0 .. t0 + T - 1: y[t * y_stride + i] for i < n_out. The weights'
// loads and scales are shared by the T tokens.
template <int T>
void q8_0_rows8(const uint8_t* const* rows, int64_t nb, const IntActsView& a, int64_t t0, const Q80Tree& tree, float* y,
                int64_t y_stride, int n_out) {
  const int64_t ahead = 16 * nb * quant::kQ8_0BlockBytes;
  // Where the fp16 scale of (row i / 2, block i % 2) of a pair lies, from row 0's first block of the pair.
  alignas(64) int32_t off[16];
  for (int i = 0; i < 16; ++i)
    off[i] = static_cast<int32_t>(rows[i / 2] - rows[0]) + (i % 2) * static_cast<int32_t>(quant::kQ8_0BlockBytes);
  const __m512i offsets = _mm512_load_si512(off);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    const int64_t o0 = b * quant::kQ8_0BlockBytes, o1 = o0 + (pair ? quant::kQ8_0BlockBytes : 0);
    // (the lone last block of an odd count pairs with itself, and only its first lanes are used)
    __m512i xu[T];
    for (int t = 0; t < T; ++t) {
      const int8_t* q = a.q + (t0 + t) * a.cols + b * 32;
      const __m512i x = pair ? _mm512_loadu_si512(q)
                             : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
      xu[t] = _mm512_xor_si512(x, bias);
    }
    // Each row 2 groups ahead (the same place in rows r + 16), into L2. In rows of the 2B-4T head one thread
    // streamed 10.6 GB/s with blocks 2 KB ahead into L1 (as the Q6_K kernel does), 14.3-14.9 with this, and two
    // threads 20.8 -> 28.7-29.0 (kernel bench, the 2-core Intel VM; no prefetch: 9.3 and 18.2).
    for (int r = 0; r < 8; ++r)
      for (int l = 0; l < 2; ++l)  // (a pair is 68 bytes: one line a pair would miss one in 16)
        _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(rows[r] + o0) + ahead + 64 * l),
                     _MM_HINT_T1);
    // The tree, row pair by row pair, for every token.
    // Rows first .. first + 3: per token, their 8 items of 4 lanes each in one register (two levels of the tree).
    auto four_rows = [&](int first, __m512i* out) {
      __m512i s0[T], s1[T];
      q8_0_pair<T>(rows[first] + o0, rows[first] + o1, xu, bias, s0);
      q8_0_pair<T>(rows[first + 1] + o0, rows[first + 1] + o1, xu, bias, s1);
      for (int t = 0; t < T; ++t) out[t] = halve(s0[t], s1[t], tree.lo[0], tree.hi[0]);
      q8_0_pair<T>(rows[first + 2] + o0, rows[first + 2] + o1, xu, bias, s0);
      q8_0_pair<T>(rows[first + 3] + o0, rows[first + 3] + o1, xu, bias, s1);
      for (int t = 0; t < T; ++t)
        out[t] = halve(out[t], halve(s0[t], s1[t], tree.lo[0], tree.hi[0]), tree.lo[1], tree.hi[1]);
    };
    __m512i lo[T], hi[T];
    four_rows(0, lo);
    four_rows(4, hi);
    // Scales: fp16 d at the start of each block (a dword gather, the low half kept); the lone block's odd lanes are
    // not read.
    const __m512i d32 =
        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), pair ? 0xffff : 0x5555, offsets, rows[0] + o0, 1);
    const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d32));
    for (int t = 0; t < T; ++t) {
      const __m512i isum = halve(lo[t], hi[t], tree.lo[2], tree.hi[2]);
      const float* da = a.d + (t0 + t) * nb + b;
      const __m512 dab = pair ? pair_scales(da) : _mm512_set1_ps(da[0]);
      const __m512 p = _mm512_mul_ps(_mm512_mul_ps(dab, dw), _mm512_cvtepi32_ps(isum));
      acc[t] = _mm256_add_ps(acc[t], _mm512_castps512_ps256(_mm512_permutexvar_ps(even, p)));
      if (pair) acc[t] = _mm256_add_ps(acc[t], _mm512_castps512_ps256(_mm512_permutexvar_ps(odd, p)));
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(32) float out[8];
    _mm256_store_ps(out, acc[t]);
    for (int i = 0; i < n_out; ++i) y[(t0 + t) * y_stride + i] = out[i];
  }
}

}  // namespace

void q8_0_matmul_avx512(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ8_0BlockElems;
  const int64_t row_bytes = nb * quant::kQ8_0BlockBytes;
  // The scale gather's offsets span 8 rows in int32 (rows of over 300 M values would not fit them).
  if (8 * row_bytes > INT32_MAX) return q8_0_matmul_avx2(w, a, y, y_stride, row_begin, row_end);
  const Q80Tree tree;
  for (int64_t r = row_begin; r < row_end; r += 8) {
    const int n_out = static_cast<int>(std::min<int64_t>(8, row_end - r));
    const uint8_t* rows[8];
    for (int i = 0; i < 8; ++i) rows[i] = w.data + (r + std::min(i, n_out - 1)) * row_bytes;
    for_token_tiles(a.n_tokens, [&](int64_t t, auto nt) {
      q8_0_rows8<decltype(nt)::value>(rows, nb, a, t, tree, y + r, y_stride, n_out);
    });
  }
}

void q6_k_matmul_avx512(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
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
