// AVX-512 attention for a block of queries that read the same KV head (kernels/attention.hpp): each stored row is
// widened once for all of the block's queries instead of once per query.
// Scores: two queries per register, one in each 256-bit half, against the key widened into both halves. Lane l of
// a half is the reference's lane l (elements i = l mod 8), each product added fused, and the lane
// sums are paired as the reference pairs them, four registers at a time (reduce4), so every score has the AVX2
// kernel's bits. Weighted sums: the element-wise operations of the single-query kernels, for up to four queries
// (eight over a Q8_0 cache) per pass over the rows; a query's masked-off rows (past its own position) leave its sums
// untouched.
#if defined(__x86_64__)
#include <algorithm>
#include <cstring>

#include "kernels/attention.hpp"
#include "kernels/query_groups.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"
#include "kernels/x86/code_prefetch.hpp"
#include "quant/q8_0.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitnet::kernels {
namespace {

constexpr int64_t kMaxDim = 256;  // larger heads go one query at a time
constexpr int kMaxPairs = kMaxBlockQueries / 2;

// Elements [i, i + 8) of a stored row in both halves (`pair`), elements [i, i + 16) (`load16`), and a query's
// elements [i, i + 8) as the dot product takes them (rounded to f16 against an F16 cache).
struct BlockF32 {
  static int64_t offset(int64_t i) { return 4 * i; }  // where element i's bytes begin in a row
  static __m512 pair(const uint8_t* row, int64_t i) {
    return _mm512_castsi512_ps(_mm512_broadcast_i64x4(_mm256_castps_si256(_mm256_loadu_ps(reinterpret_cast<const float*>(row) + i))));
  }
  static __m512 load16(const uint8_t* row, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static __m256 query(const float* q, int64_t i) { return _mm256_loadu_ps(q + i); }
};
struct BlockF16 {
  static int64_t offset(int64_t i) { return 2 * i; }
  static __m512 pair(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i))));
  }
  static __m512 load16(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static __m256 query(const float* q, int64_t i) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

// Q8_0 values for the weighted sums: elements [i, i + 16) (within one block: i is a multiple of 16), each q * d
// widened exactly as the reference widens it. (Q8_0 scores are integer dots: kernels/attention.cpp, and for blocks
// x86/attention_q8_0_avx512.cpp.)
struct BlockQ8_0 {
  static int64_t offset(int64_t i) {
    return i / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
  }  // i: a block's first
  static __m512 load16(const uint8_t* row, int64_t i) {
    const uint8_t* block = row + i / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
    uint16_t d16;
    std::memcpy(&d16, block, 2);
    const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + i % quant::kQ8_0BlockElems));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8)), _mm512_set1_ps(_cvtsh_ss(d16)));
  }
};

// Prefetching (kKvAhead) pays in generation, where a block is one token's heads (AttnBlock::one_position) and its
// rows come from memory. A prompt's blocks span several tokens, and its jobs run so that a KV head's rows stay in
// cache from one block to the next: prefetching them there took pp512 at depth 1024 from 676-686 to 628-632 tok/s
// on the large model and 299-310 to 276-285 on 2B-4T, where 2B-4T's generation at depth 2000 went from 25.3-25.9 to
// 27.2-27.4 with an F16 cache, 28.1 to 28.9 with Q8_0.
bool block_fits(const AttnBlock& b) { return b.head_dim % 16 == 0 && b.head_dim <= kMaxDim; }

// Four registers of two 8-lane sums each -> [a.lo, b.lo, c.lo, d.lo, a.hi, b.hi, c.hi, d.hi], each sum
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) as the AVX2 kernels' hsum_lanes forms it.
inline __m256 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 128-bit lane g of ab: [s0, s1, s2, s3], s_i = l_i + l_(i+4), for g = a.lo, a.hi, b.lo, b.hi (cd likewise).
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1)));
  // Lane g: [ab (s0 + s2), ab (s1 + s3), cd (s0 + s2), cd (s1 + s3)].
  const __m512 t = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  // Elements 4g and 4g + 2: the totals (the swapped pair's add is the same add).
  const __m512 f = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512i idx = _mm512_setr_epi32(0, 8, 2, 10, 4, 12, 6, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, f));
}

// Scores of NP query pairs (qc: the pairs' elements, [pair][head_dim / 8]) against the keys at positions pos[0..nk)
// (K = 3 or 4 of them a tile; where nk < K the last is repeated and not stored), consecutive ones unless kSpread.
template <class L, int NP, int K, bool kSpread>
void score_tile(const AttnBlock& b, const __m512* qc, int64_t chunks, int first_pair, const int64_t* pos, int nk,
                float* scores, int64_t ld, bool fetch) {
  constexpr int kKeys = K;
  const uint8_t* r[kKeys];
  for (int k = 0; k < kKeys; ++k) r[k] = b.k + pos[std::min(k, nk - 1)] * b.stride;
  const bool to_l2 = stream_prefetch_to_l2();
  if (fetch)
    for (int k = 0; k < nk; ++k) prefetch_kv_ahead(r[k], b.stride, 0, L::offset(b.head_dim), to_l2);
  __m512 acc[NP][kKeys];
  for (int p = 0; p < NP; ++p)
    for (int k = 0; k < kKeys; ++k) acc[p][k] = _mm512_setzero_ps();
  for (int64_t c = 0; c < chunks; ++c) {
    __m512 key[kKeys];
    for (int k = 0; k < kKeys; ++k) key[k] = L::pair(r[k], 8 * c);
    for (int p = 0; p < NP; ++p) {
      __m512 q = qc[(first_pair + p) * chunks + c];
#if !defined(BITNET_EMULATE_AVX512)
      asm("" : "+v"(q));  // one load for the K products (GCC folds it into each multiply otherwise)
#endif
      for (int k = 0; k < kKeys; ++k) acc[p][k] = _mm512_fmadd_ps(q, key[k], acc[p][k]);
    }
  }
  const __m256 scale = _mm256_set1_ps(b.scale);
  for (int p = 0; p < NP; ++p) {
    // The pair's low query's scores, then its high query's (four each; with K = 3 the fourth repeats the third key's
    // and is not stored).
    const __m256 s = _mm256_mul_ps(reduce4(acc[p][0], acc[p][1], acc[p][2], acc[p][kKeys - 1]), scale);
    const int lo = 2 * (first_pair + p);
    if constexpr (kSpread) {
      alignas(32) float e[8];
      _mm256_store_ps(e, s);
      for (int k = 0; k < nk; ++k) scores[lo * ld + pos[k]] = e[k];
      if (lo + 1 < b.n_q)
        for (int k = 0; k < nk; ++k) scores[(lo + 1) * ld + pos[k]] = e[4 + k];
    } else {  // one masked store a query (stores of each score made a prompt's attention 20% slower)
      const __mmask8 valid = static_cast<__mmask8>((1u << nk) - 1u);
      _mm_mask_storeu_ps(scores + lo * ld + pos[0], valid, _mm256_castps256_ps128(s));
      if (lo + 1 < b.n_q) _mm_mask_storeu_ps(scores + (lo + 1) * ld + pos[0], valid, _mm256_extractf128_ps(s, 1));
    }
  }
}

// Every position's scores for NP query pairs from first_pair on, K keys a tile. A prompt's block takes its positions
// in order; one token's (generation, rows from memory: fetch) takes in each tile one position from each of K runs of
// them, n / K apart, so that its rows come from memory as K streams, not one: the hardware keeps more of them in
// flight. bitnet-kernel-bench attention_gen_F16/head_dim:128/pos:4096/queries:4/stream, keys and values from memory:
// 7.50 -> 9.16 GB/s on one thread, 15.5 -> 18.1 on two (the 2-core Intel VM).
template <class L, int NP, int K>
void score_tiles(const AttnBlock& b, const __m512* qc, int64_t chunks, int first_pair, int64_t n, float* scores,
                 int64_t ld, bool fetch) {
  int64_t pos[K];
  if (!fetch) {
    for (int64_t j = 0; j < n; j += K) {
      const int nk = static_cast<int>(std::min<int64_t>(K, n - j));
      for (int k = 0; k < nk; ++k) pos[k] = j + k;
      score_tile<L, NP, K, false>(b, qc, chunks, first_pair, pos, nk, scores, ld, fetch);
    }
    return;
  }
  const int64_t run = (n + K - 1) / K;
  for (int64_t j = 0; j < run; ++j) {
    int nk = 0;
    for (int k = 0; k < K && j + k * run < n; ++k) pos[nk++] = j + k * run;
    score_tile<L, NP, K, true>(b, qc, chunks, first_pair, pos, nk, scores, ld, fetch);
  }
}

template <class L>
void block_scores(const AttnBlock& b, float* scores, int64_t ld) {
  const int64_t chunks = b.head_dim / 8;
  const int pairs = (b.n_q + 1) / 2;
  alignas(64) __m512 qc[kMaxPairs * (kMaxDim / 8)];
  for (int p = 0; p < pairs; ++p) {
    const float* lo = b.q[2 * p];
    const float* hi = b.q[std::min(2 * p + 1, b.n_q - 1)];
    for (int64_t c = 0; c < chunks; ++c)
      qc[p * chunks + c] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(L::query(lo, 8 * c))),
                                                               _mm256_castps_pd(L::query(hi, 8 * c)), 1));
  }
  const int64_t n = b.max_pos();
  const bool fetch = b.one_position();
  // Four pairs take three keys a tile: 12 accumulators. With four keys, their 16, the keys and the query did not fit
  // in the 32 registers beside what GCC keeps there, and one accumulator went to the stack and back every step
  // (bitnet-kernel-bench attention_f16/head_dim:96/pos:128: 4.11-4.15 -> 3.89-3.98 us).
  int p = 0;
  for (; p + 4 <= pairs; p += 4) score_tiles<L, 4, 3>(b, qc, chunks, p, n, scores, ld, fetch);
  switch (pairs - p) {
    case 3: score_tiles<L, 3, 4>(b, qc, chunks, p, n, scores, ld, fetch); break;
    case 2: score_tiles<L, 2, 4>(b, qc, chunks, p, n, scores, ld, fetch); break;
    case 1: score_tiles<L, 1, 4>(b, qc, chunks, p, n, scores, ld, fetch); break;
    default: break;
  }
}

// out[q] columns [c, c + 16 R) for queries first..first + NQ - 1: rows below every one of their positions
// unmasked, then the rest with each query's rows past its own position masked off.
template <class L, int NQ, int R>
void sum_tile(const AttnBlock& b, const float* p, int64_t ld, int first, int64_t c, bool fetch) {
  __m512 acc[NQ][R];
  for (int q = 0; q < NQ; ++q)
    for (int r = 0; r < R; ++r) acc[q][r] = _mm512_setzero_ps();
  int64_t common = b.n_pos[first], all = b.n_pos[first];
  for (int q = 1; q < NQ; ++q) {
    common = std::min(common, b.n_pos[first + q]);
    all = std::max(all, b.n_pos[first + q]);
  }
  const float* pq[NQ];
  for (int q = 0; q < NQ; ++q) pq[q] = p + (first + q) * ld;
  const uint8_t* row = b.v;
  const bool to_l2 = stream_prefetch_to_l2();
  const int64_t from = L::offset(c), bytes = L::offset(c + 16 * R) - from;
  int64_t j = 0;
  for (; j < common; ++j, row += b.stride) {
    if (fetch) prefetch_kv_ahead(row, b.stride, from, bytes, to_l2);
    __m512 v[R];
    for (int r = 0; r < R; ++r) v[r] = L::load16(row, c + 16 * r);
    for (int q = 0; q < NQ; ++q) {
      const __m512 pj = _mm512_set1_ps(pq[q][j]);
      for (int r = 0; r < R; ++r) acc[q][r] = _mm512_fmadd_ps(pj, v[r], acc[q][r]);
    }
  }
  for (; j < all; ++j, row += b.stride) {
    if (fetch) prefetch_kv_ahead(row, b.stride, from, bytes, to_l2);
    __m512 v[R];
    for (int r = 0; r < R; ++r) v[r] = L::load16(row, c + 16 * r);
    for (int q = 0; q < NQ; ++q) {
      if (j >= b.n_pos[first + q]) continue;
      const __m512 pj = _mm512_set1_ps(pq[q][j]);
      for (int r = 0; r < R; ++r) acc[q][r] = _mm512_fmadd_ps(pj, v[r], acc[q][r]);
    }
  }
  for (int q = 0; q < NQ; ++q)
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(b.out[first + q] + c + 16 * r, acc[q][r]);
}

// Float rows: tiles of 4 queries x 64 columns, the rest in tiles of 16 columns.
template <class L, int NQ>
void sum_queries(const AttnBlock& b, const float* p, int64_t ld, int first) {
  const bool fetch = b.one_position();
  int64_t c = 0;
  for (; c + 64 <= b.head_dim; c += 64) sum_tile<L, NQ, 4>(b, p, ld, first, c, fetch);
  switch ((b.head_dim - c) / 16) {
    case 3: sum_tile<L, NQ, 3>(b, p, ld, first, c, fetch); break;
    case 2: sum_tile<L, NQ, 2>(b, p, ld, first, c, fetch); break;
    case 1: sum_tile<L, NQ, 1>(b, p, ld, first, c, fetch); break;
    default: break;
  }
}

template <class L>
void block_weighted_sum(const AttnBlock& b, const float* p, int64_t ld) {
  int q = 0;
  for (; q + 4 <= b.n_q; q += 4) sum_queries<L, 4>(b, p, ld, q);
  switch (b.n_q - q) {
    case 3: sum_queries<L, 3>(b, p, ld, q); break;
    case 2: sum_queries<L, 2>(b, p, ld, q); break;
    case 1: sum_queries<L, 1>(b, p, ld, q); break;
    default: break;
  }
}

// Q8_0 rows: widening a block (its scale, 32 int8 to float, a multiply each) costs several times what an F16
// row's conversion does, so tiles are one block (32 columns) x 8 queries: each widened row serves twice the queries.
// bitnet-kernel-bench attention_q8_0/head_dim:96/pos:1024, the weighted sums alone: 21.0 -> 13.8 us (F16: 11.4).
template <int NQ>
void q8_0_sum_queries(const AttnBlock& b, const float* p, int64_t ld, int first) {
  const bool fetch = b.one_position();
  for (int64_t c = 0; c < b.head_dim; c += quant::kQ8_0BlockElems)
    sum_tile<BlockQ8_0, NQ, 2>(b, p, ld, first, c, fetch);
}

void q8_0_block_weighted_sum(const AttnBlock& b, const float* p, int64_t ld) {
  for_query_groups(b.n_q, [&](int first, auto nq) { q8_0_sum_queries<decltype(nq)::value>(b, p, ld, first); });
}

}  // namespace

void kv_block_scores_f32_avx512(const AttnBlock& b, float* scores, int64_t ld) {
  if (block_fits(b)) return block_scores<BlockF32>(b, scores, ld);
  for (int i = 0; i < b.n_q; ++i) kv_scores_f32_avx2(b.head(i), scores + i * ld);
}
void kv_block_scores_f16_avx512(const AttnBlock& b, float* scores, int64_t ld) {
  if (block_fits(b)) return block_scores<BlockF16>(b, scores, ld);
  for (int i = 0; i < b.n_q; ++i) kv_scores_f16_avx2(b.head(i), scores + i * ld);
}
void kv_block_weighted_sum_f32_avx512(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return block_weighted_sum<BlockF32>(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_f32_avx512(b.head(i), p + i * ld, b.out[i]);
}
void kv_block_weighted_sum_q8_0_avx512(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return q8_0_block_weighted_sum(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_q8_0_avx512(b.head(i), p + i * ld, b.out[i]);
}
void kv_block_weighted_sum_f16_avx512(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return block_weighted_sum<BlockF16>(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_f16_avx512(b.head(i), p + i * ld, b.out[i]);
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
