// AVX-512 VNNI dots of Q8_0-quantized queries with a Q8_0 cache's keys, positions in lanes (kernels/attention.hpp's
// Q8_0 dot, before the scale), for blocks of queries. The Q8_0 matmul (kquant_avx512.cpp) puts a key's 32 values of
// a block in the lanes and sums them across lanes for every query and key; here 16 keys' block is transposed once
// into 8 registers (register m, lane k: key k's values 4m .. 4m + 3), shared by all the queries, so a query's 16
// block sums are 8 vpdpbusd with its dword m broadcast, and no sum crosses lanes. The keys are offset to unsigned
// (+128) for vpdpbusd, which the start value -128 * (the query block's sum) takes back: an exact int32 per block
// either way. The float step (kquant_accumulate) runs on the 16 keys' lanes side by side, block after block, as the
// scalar kernel runs it for each key. bitnet-kernel-bench attention_q8_0/head_dim:96/pos:1024, the scores alone (8
// queries, the 2-core Intel VM): 23.7 us through the matmul, 10.9 with this kernel, 7.9 with the query's quantizer
// vectorized too (quant/q8_0.cpp); an F16 cache's block scores take 15.3. One token's GQA group (generation) keeps the
// matmul, which prefetches the rows: in L2 the two were level (attention_gen_Q8_0, 4 queries: 13.7 and 13.9 us).
#if defined(__x86_64__)
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/attention.hpp"
#include "kernels/query_groups.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"
#include "quant/q8_0.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitnet::kernels {
namespace {

constexpr int kKeys = 16;          // a register's lanes
constexpr int64_t kMaxBlocks = 8;  // head_dim <= 256

// The index vectors of the transpose's three stages. Stage s exchanges bit s of the register number with bit s of the
// lane number: of registers x (bit s clear) and y (set), the new x takes lane L from (bit s of L ? y : x) at lane L
// with bit s cleared, the new y from the same register at lane L with bit s set.
struct Transpose {
  __m512i low[3], high[3];
  Transpose() {
    for (int s = 0; s < 3; ++s) {
      alignas(64) int32_t lo[16], hi[16];
      for (int l = 0; l < 16; ++l) {
        const int from_y = (l >> s & 1) * 16;
        lo[l] = (l & ~(1 << s)) + from_y;
        hi[l] = (l | (1 << s)) + from_y;
      }
      low[s] = _mm512_load_si512(lo);
      high[s] = _mm512_load_si512(hi);
    }
  }
};

// t[m], m < 8: lane k holds values 4m .. 4m + 3 (+128 each) of the block at byte `off` (its fp16 scale skipped) of
// key rows[k]. Register p starts with key p in lanes 0-7 and key p + 8 in lanes 8-15 (lane l: key p + 8 (l / 8),
// dword l % 8): the register number is the key's bits 0-2, the lane's bits 0-2 the dword, so the three exchanges
// leave register m with key k in lane k.
inline void transpose_keys(const uint8_t* const* rows, int64_t off, const Transpose& tr, __m512i* t) {
  for (int p = 0; p < 8; ++p)
    t[p] = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[p] + off + 2))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[p + 8] + off + 2)), 1);
  for (int s = 0; s < 3; ++s)
    for (int p = 0; p < 8; ++p) {
      if (p >> s & 1) continue;
      const __m512i x = t[p], y = t[p | 1 << s];
      t[p] = _mm512_permutex2var_epi32(x, tr.low[s], y);
      t[p | 1 << s] = _mm512_permutex2var_epi32(x, tr.high[s], y);
    }
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int m = 0; m < 8; ++m) t[m] = _mm512_xor_si512(t[m], bias);
}

// dots[i * ld + j0 + k] for queries first .. first + NQ - 1 and keys j0 + k, k < n (keys rows[k]; rows[k] for k >= n
// repeat a real one and are not stored). start[i][b]: -128 * the sum of query i's block b.
template <int NQ>
void key_group(const int8_t* qq, const float* dq, const int32_t (*start)[kMaxBlocks], int first, int64_t head_dim,
               const uint8_t* const* rows, __m512i offsets, int n, const Transpose& tr, float* dots, int64_t ld,
               int64_t j0) {
  const int64_t nb = head_dim / quant::kQ8_0BlockElems;
  __m512 acc[NQ];
  for (int i = 0; i < NQ; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t off = b * quant::kQ8_0BlockBytes;
    __m512i t[8];
    transpose_keys(rows, off, tr, t);
    // The keys' fp16 scales: a dword gather from each row's block, the low half kept.
    const __m512i d32 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, offsets, rows[0] + off, 1);
    const __m512 dk = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d32));
    for (int i = 0; i < NQ; ++i) {
      const int8_t* q = qq + (first + i) * head_dim + b * quant::kQ8_0BlockElems;
      __m512i isum = _mm512_set1_epi32(start[first + i][b]);
      for (int m = 0; m < 8; ++m) {
        int32_t qm;
        std::memcpy(&qm, q + 4 * m, sizeof qm);
        isum = _mm512_dpbusd_epi32(isum, t[m], _mm512_set1_epi32(qm));
      }
      const __m512 da = _mm512_set1_ps(dq[(first + i) * nb + b]);
      acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(_mm512_mul_ps(da, dk), _mm512_cvtepi32_ps(isum)));
    }
  }
  const __mmask16 valid = static_cast<__mmask16>((1u << n) - 1u);
  for (int i = 0; i < NQ; ++i) _mm512_mask_storeu_ps(dots + (first + i) * ld + j0, valid, acc[i]);
}

template <int NQ>
void queries(const int8_t* qq, const float* dq, const int32_t (*start)[kMaxBlocks], int first, const uint8_t* k,
             int64_t stride, int64_t head_dim, int64_t n_pos, const Transpose& tr, float* dots, int64_t ld) {
  alignas(64) int32_t off[kKeys];
  for (int i = 0; i < kKeys; ++i) off[i] = static_cast<int32_t>(i * stride);
  const __m512i full = _mm512_load_si512(off);
  const uint8_t* rows[kKeys];
  for (int64_t j0 = 0; j0 < n_pos; j0 += kKeys) {
    const int n = static_cast<int>(std::min<int64_t>(kKeys, n_pos - j0));
    for (int i = 0; i < kKeys; ++i) rows[i] = k + (j0 + std::min(i, n - 1)) * stride;
    __m512i offsets = full;
    if (n < kKeys) {
      for (int i = 0; i < kKeys; ++i) off[i] = static_cast<int32_t>(std::min(i, n - 1) * stride);
      offsets = _mm512_load_si512(off);
    }
    key_group<NQ>(qq, dq, start, first, head_dim, rows, offsets, n, tr, dots, ld, j0);
  }
}

}  // namespace

bool q8_0_dots_avx512(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                      int64_t n_pos, float* dots, int64_t ld) {
  const int64_t nb = head_dim / quant::kQ8_0BlockElems;
  // The gather's offsets span 16 rows in int32.
  if (nb > kMaxBlocks || n_q > kMaxBlockQueries || stride > INT32_MAX / kKeys) return false;
  int32_t start[kMaxBlockQueries][kMaxBlocks];
  for (int i = 0; i < n_q; ++i)
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s = 0;
      for (int64_t e = 0; e < quant::kQ8_0BlockElems; ++e) s += qq[i * head_dim + b * quant::kQ8_0BlockElems + e];
      start[i][b] = -128 * s;
    }
  const Transpose tr;
  for_query_groups(n_q, [&](int first, auto nq) {
    queries<decltype(nq)::value>(qq, dq, start, first, k, stride, head_dim, n_pos, tr, dots, ld);
  });
  return true;
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
