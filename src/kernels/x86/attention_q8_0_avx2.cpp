// AVX2 dots of Q8_0-quantized queries with a Q8_0 cache's keys, positions in lanes (kernels/attention.hpp's Q8_0
// dot, before the scale), for blocks of queries: the AVX-512 kernel's layout (x86/attention_q8_0_avx512.cpp) on 8
// lanes, without vpdpbusd. 8 keys' block is transposed once (register m, lane k: key k's values 4m .. 4m + 3) and
// widened to int16 pairs in two registers (values 4m, 4m + 2 and 4m + 1, 4m + 3: two shifts), shared by all the
// queries; a query's 8 block sums then take two vpmaddwd per m with its values paired the same way (prepared once),
// exact in int32. vpmaddubsw would need a sign step per query and a vpmaddwd to widen its int16 sums: three
// multiply-port instructions per m where this takes two (the two ran level here). The float step (kquant_accumulate)
// runs on the 8 keys' lanes side by side. bitnet-kernel-bench attention_q8_0/head_dim:96/pos:1024/queries:8/avx2 (the
// 2-core Intel VM), softmax and weighted sums included: 59.7 us through the matmul, 52.2 with this (F16: 51.5).
// Compiled again with BITNET_ATTENTION_Q8_0_AVXVNNI (x86/attention_q8_0_avxvnni.cpp: q8_0_dots_avxvnni) for CPUs with
// AVX-VNNI: as the AVX-512 kernel, the keys offset to unsigned (+128, one xor per register for all the queries) and a
// query's 8 block sums are 8 {vex} vpdpbusd with its dword m broadcast, from -128 * (the query block's sum). Same
// bench row, three alternations with BITNET_AVXVNNI=0: head 96 at 1024 positions 48.9-49.3 -> 42.7-43.6 us, head 128
// 62.1-63.4 -> 53.4-55.8 (at 128 positions: 7.97-8.30 -> 7.05-7.16 and 9.93-10.2 -> 8.83-8.97).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/target_region.hpp"
#include "kernels/attention.hpp"
#include "kernels/query_groups.hpp"
#include "quant/q8_0.hpp"

#if defined(BITNET_ATTENTION_Q8_0_AVXVNNI)
BITNET_TARGET_BEGIN("avx2,fma,f16c,avxvnni")
#define BITNET_Q8_0_DOTS q8_0_dots_avxvnni
#else
BITNET_TARGET_BEGIN("avx2,fma,f16c")
#define BITNET_Q8_0_DOTS q8_0_dots_avx2
#endif

namespace bitnet::kernels {
namespace {

constexpr int kKeys = 8;           // a register's lanes
constexpr int64_t kMaxBlocks = 8;  // head_dim <= 256

// kt[m], m < 8: lane k holds values 4m .. 4m + 3 of the block at byte `off` (its fp16 scale skipped) of key rows[k].
// An 8 x 8 transpose of dwords: pairs of rows interleaved by dwords, then by qwords, then the 128-bit halves exchanged.
inline void transpose_keys(const uint8_t* const* rows, int64_t off, __m256i* kt) {
  __m256i r[8], t[8];
  for (int p = 0; p < 8; ++p) r[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[p] + off + 2));
  for (int p = 0; p < 8; p += 2) {
    t[p] = _mm256_unpacklo_epi32(r[p], r[p + 1]);      // dwords 0, 1 | 4, 5 of keys p, p + 1
    t[p + 1] = _mm256_unpackhi_epi32(r[p], r[p + 1]);  // dwords 2, 3 | 6, 7
  }
  for (int p = 0; p < 8; p += 4)
    for (int h = 0; h < 2; ++h) {
      r[p + 2 * h] = _mm256_unpacklo_epi64(t[p + h], t[p + 2 + h]);      // dword 2h | 2h + 4 of keys p .. p + 3
      r[p + 2 * h + 1] = _mm256_unpackhi_epi64(t[p + h], t[p + 2 + h]);  // dword 2h + 1 | 2h + 5
    }
  for (int m = 0; m < 4; ++m) {
    kt[m] = _mm256_permute2x128_si256(r[m], r[m + 4], 0x20);
    kt[m + 4] = _mm256_permute2x128_si256(r[m], r[m + 4], 0x31);
  }
}

// The prepared queries' words per block: AVX2 takes 16 (below), AVX-VNNI 9: dwords m < 8 are query i's values
// 4m .. 4m + 3 of block b as bytes, dword 8 is -128 * their sum (the keys' offset taken back).
#if defined(BITNET_ATTENTION_Q8_0_AVXVNNI)
constexpr int kQueryWords = 9;
#else
constexpr int kQueryWords = 16;
#endif

// dots[i * ld + j0 + k] for queries first .. first + NQ - 1 and keys j0 + k, k < n (keys rows[k]; rows[k] for k >= n
// repeat a real one and are not stored). AVX2: qp[(i * nb + b) * 16 + 2m]: query i's values 4m and 4m + 2 of block b
// as two int16, [.. + 2m + 1]: 4m + 1 and 4m + 3.
template <int NQ>
void key_group(const int32_t* qp, const float* dq, int first, int64_t nb, const uint8_t* const* rows, __m256i offsets,
               int n, float* dots, int64_t ld, int64_t j0) {
  const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12,
                                        13, -1, -1, -1, -1, -1, -1, -1, -1);
  alignas(32) float acc[NQ][kKeys] = {};
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t off = b * quant::kQ8_0BlockBytes;
    __m256i kt[8];
    transpose_keys(rows, off, kt);
    // The keys' fp16 scales: a dword gather from each row's block, the low halves packed into 128 bits.
    const __m256i d32 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(rows[0] + off), offsets, 1);
    const __m256i d16 = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(d32, pick), 0x08);
    const __m256 dk = _mm256_cvtph_ps(_mm256_castsi256_si128(d16));
    __m256i isum[NQ];
#if defined(BITNET_ATTENTION_Q8_0_AVXVNNI)
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int m = 0; m < 8; ++m) kt[m] = _mm256_xor_si256(kt[m], bias);  // key + 128: unsigned
    for (int i = 0; i < NQ; ++i) isum[i] = _mm256_set1_epi32(qp[((first + i) * nb + b) * kQueryWords + 8]);
    for (int m = 0; m < 8; ++m)
      for (int i = 0; i < NQ; ++i) {
        const int32_t q = qp[((first + i) * nb + b) * kQueryWords + m];
        isum[i] = _mm256_dpbusd_avx_epi32(isum[i], kt[m], _mm256_set1_epi32(q));
      }
#else
    for (int i = 0; i < NQ; ++i) isum[i] = _mm256_setzero_si256();
    for (int m = 0; m < 8; ++m) {
      const __m256i even = _mm256_srai_epi16(_mm256_slli_epi16(kt[m], 8), 8);  // values 4m, 4m + 2
      const __m256i odd = _mm256_srai_epi16(kt[m], 8);                         // 4m + 1, 4m + 3
      for (int i = 0; i < NQ; ++i) {
        const int32_t* q = qp + ((first + i) * nb + b) * kQueryWords + 2 * m;
        isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(even, _mm256_set1_epi32(q[0])));
        isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(odd, _mm256_set1_epi32(q[1])));
      }
    }
#endif
    for (int i = 0; i < NQ; ++i) {
      const __m256 da = _mm256_set1_ps(dq[(first + i) * nb + b]);
      const __m256 p = _mm256_mul_ps(_mm256_mul_ps(da, dk), _mm256_cvtepi32_ps(isum[i]));
      _mm256_store_ps(acc[i], _mm256_add_ps(_mm256_load_ps(acc[i]), p));
    }
  }
  for (int i = 0; i < NQ; ++i)
    std::memcpy(dots + (first + i) * ld + j0, acc[i], sizeof(float) * static_cast<size_t>(n));
}

template <int NQ>
void queries(const int32_t* qp, const float* dq, int first, const uint8_t* k, int64_t stride, int64_t nb, int64_t n_pos,
             float* dots, int64_t ld) {
  const uint8_t* rows[kKeys];
  alignas(32) int32_t off[kKeys];
  for (int64_t j0 = 0; j0 < n_pos; j0 += kKeys) {
    const int n = static_cast<int>(std::min<int64_t>(kKeys, n_pos - j0));
    for (int i = 0; i < kKeys; ++i) {
      rows[i] = k + (j0 + std::min(i, n - 1)) * stride;
      off[i] = static_cast<int32_t>(std::min(i, n - 1) * stride);
    }
    key_group<NQ>(qp, dq, first, nb, rows, _mm256_load_si256(reinterpret_cast<const __m256i*>(off)), n, dots, ld, j0);
  }
}

}  // namespace

bool BITNET_Q8_0_DOTS(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                      int64_t n_pos, float* dots, int64_t ld) {
  const int64_t nb = head_dim / quant::kQ8_0BlockElems;
  // The gather's offsets span 8 rows in int32.
  if (nb > kMaxBlocks || n_q > kMaxBlockQueries || stride > INT32_MAX / kKeys) return false;
  int32_t qp[kMaxBlockQueries * kMaxBlocks * kQueryWords];
  for (int i = 0; i < n_q; ++i)
    for (int64_t b = 0; b < nb; ++b) {
      const int8_t* q = qq + i * head_dim + b * quant::kQ8_0BlockElems;
      int32_t* out = qp + (i * nb + b) * kQueryWords;
#if defined(BITNET_ATTENTION_Q8_0_AVXVNNI)
      int32_t sum = 0;
      for (int j = 0; j < quant::kQ8_0BlockElems; ++j) sum += q[j];
      std::memcpy(out, q, quant::kQ8_0BlockElems);
      out[8] = -128 * sum;
#else
      for (int m = 0; m < 8; ++m)
        for (int h = 0; h < 2; ++h) {
          const uint32_t lo = static_cast<uint16_t>(int16_t{q[4 * m + h]});
          const uint32_t hi = static_cast<uint16_t>(int16_t{q[4 * m + h + 2]});
          out[2 * m + h] = static_cast<int32_t>(lo | hi << 16);
        }
#endif
    }
  for_query_groups(
      n_q, [&](int first, auto nq) { queries<decltype(nq)::value>(qp, dq, first, k, stride, nb, n_pos, dots, ld); });
  return true;
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#undef BITNET_Q8_0_DOTS
#endif
