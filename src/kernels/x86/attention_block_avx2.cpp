// AVX2 + F16C attention for a block of queries that read the same KV head (kernels/attention.hpp). The stored rows
// are widened in runs of kRun positions into a float buffer on the stack, once for every query of the block (one
// query at a time, an F16 row was widened again for each query: a third of the vector operations of its scores).
// Scores: tiles of 2 queries x 4 positions (eight sums, their keys and queries in registers), lane l of a sum is
// the reference's lane l, each product added fused, and each query's four sums are paired as hsum_lanes
// pairs them (reduce4), so every score has the single-query AVX2 kernel's bits. Weighted sums: out_i = fma(p_j,
// v_ji, out_i) in increasing j for tiles of 4 queries x 16 columns; a run's sums go back to out between runs (a float
// stored and reloaded is the same float), and a query's rows past its own position are skipped.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/target_region.hpp"
#include "kernels/attention.hpp"
#include "kernels/x86/code_prefetch.hpp"
#include "quant/q8_0.hpp"

BITNET_TARGET_BEGIN("avx2,fma,f16c")

namespace bitnet::kernels {
namespace {

constexpr int64_t kMaxDim = 256;  // larger heads go one query at a time
constexpr int64_t kRun = 32;      // positions widened at a time: 32 KB of floats at kMaxDim

// Rows [j0, j0 + n) of a stored head as floats: `rows` (the stored rows of an F32 cache, or `buf` with F16 or Q8_0
// rows widened), `ld` floats apart. widen<true> (one token's block: generation, whose rows come from memory) fetches,
// with each row it widens, the one kKvAhead positions on (x86/code_prefetch.hpp; a prompt's rows are in cache, and a
// prefetch there cost 5%; an F32 cache is read where it lies and is not fetched): bitnet-kernel-bench
// attention_gen_*/head_dim:128/pos:4096/queries:4/stream/avx2, from memory, on the 2-core Intel VM: F16 6.1 -> 6.3-6.4
// GB/s on one thread, 12.1-12.2 -> 12.9-13.1 on two; Q8_0 4.7-4.8 -> 5.5 and 9.3 -> 10.9.
struct Rows {
  const float* rows;
  int64_t ld;
  const float* row(int64_t j) const { return rows + j * ld; }
};

struct BlockF32 {
  template <bool kFetch>
  static Rows widen(const uint8_t* base, int64_t stride, int64_t j0, int64_t, int64_t, float*) {
    return {reinterpret_cast<const float*>(base + j0 * stride), stride / static_cast<int64_t>(sizeof(float))};
  }
  static __m256 query(const float* q, int64_t i) { return _mm256_loadu_ps(q + i); }
};
struct BlockF16 {
  template <bool kFetch>
  static Rows widen(const uint8_t* base, int64_t stride, int64_t j0, int64_t n, int64_t dim, float* buf) {
    const bool to_l2 = stream_prefetch_to_l2();
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* row = base + (j0 + j) * stride;
      if constexpr (kFetch) prefetch_kv_ahead(row, stride, 0, 2 * dim, to_l2);
      for (int64_t i = 0; i < dim; i += 8)
        _mm256_store_ps(buf + j * dim + i,
                        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i))));
    }
    return {buf, dim};
  }
  // Rounded to f16, nearest even (as float_to_fp16), and back: as the single-query kernel takes it.
  static __m256 query(const float* q, int64_t i) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

struct BlockQ8_0 {
  // Each value q * d (d the block's f16 scale widened), as the single-query kernel's LoadQ8_0 forms it.
  template <bool kFetch>
  static Rows widen(const uint8_t* base, int64_t stride, int64_t j0, int64_t n, int64_t dim, float* buf) {
    const bool to_l2 = stream_prefetch_to_l2();
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* row = base + (j0 + j) * stride;
      if constexpr (kFetch)
        prefetch_kv_ahead(row, stride, 0, dim / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes, to_l2);
      for (int64_t i = 0; i < dim; i += quant::kQ8_0BlockElems) {
        const uint8_t* block = row + i / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
        uint16_t d16;
        std::memcpy(&d16, block, 2);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(d16));
        for (int64_t k = 0; k < quant::kQ8_0BlockElems; k += 8) {
          const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + k));
          _mm256_store_ps(buf + j * dim + i + k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d));
        }
      }
    }
    return {buf, dim};
  }
};

// Blocks pay from a few dozen positions: the products and sums are the single-query kernels' own, only the widening
// and the reductions are shared, and a block also scores its earlier queries up to the last one's position. On one
// Zen 3 core, bitnet-kernel-bench's attention_f16 rows (8 queries; the last at n positions), single queries against
// blocks, three alternations, head 96 / 128: n = 16 blocks 5-15% slower, 32 level, 64 level to 5% faster, 128
// 5-8% faster, 256 6-7% faster. (With the earlier 3 x 4 score tiles, blocks had paid only from 512 positions.)
constexpr int64_t kMinBlockPositions = 64;

bool block_fits(const AttnBlock& b) {
  return b.head_dim % 8 == 0 && b.head_dim <= kMaxDim && b.max_pos() >= kMinBlockPositions;
}

// [S(a), S(b), S(c), S(d)], S(v) = ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)) as hsum_lanes forms it.
inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
  // [a0 + a4, a1 + a5, a2 + a6, a3 + a7 | the same of b], and of c, d.
  const __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  const __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));
  // [(a0 + a4) + (a2 + a6), (a1 + a5) + (a3 + a7), the same of c | of b, of d].
  const __m256 t = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  // [S(a), S(c), S(a), S(c) | S(b), S(d), S(b), S(d)]: hadd's adds are the pairs' adds (x + y == y + x).
  const __m256 f = _mm256_hadd_ps(t, t);
  return _mm_unpacklo_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
}

// The four scores s of one query (its sums a0..a3 against four keys) scaled and stored to dst[0..nk).
inline void store_scores(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m128 scale, int nk, float* dst) {
  const __m128 s = _mm_mul_ps(reduce4(a0, a1, a2, a3), scale);
  if (nk == 4) {
    _mm_storeu_ps(dst, s);
    return;
  }
  alignas(16) float tmp[4];
  _mm_store_ps(tmp, s);
  for (int k = 0; k < nk; ++k) dst[k] = tmp[k];
}

// Scores of NQ <= 2 queries (qc: their elements as the dot product takes them, [query][dim]) against every position
// of the run `keys` (row j of the run is position j0 + j), four positions at a time. Each step loads NQ query and
// four key vectors into registers for 4 NQ products: Zen 3 loads two vectors a cycle, so three queries with
// their elements as memory operands (16 loads for 12 products) kept the multipliers a third idle. A last group of
// under four positions repeats its last row and stores only its own. One call takes the whole run (a call per four
// positions spent a third of its time outside the loop).
template <int NQ>
void score_run(const AttnBlock& b, const float* qc, int first, const Rows& keys, int64_t run, int64_t j0, float* scores,
               int64_t ld) {
  static_assert(NQ == 1 || NQ == 2);
  const int64_t dim = b.head_dim;
  const float* q0 = qc + first * dim;
  const float* q1 = qc + (first + NQ - 1) * dim;
  const __m128 scale = _mm_set1_ps(b.scale);
  for (int64_t jk = 0; jk < run; jk += 4) {
    const int nk = run - jk < 4 ? static_cast<int>(run - jk) : 4;
    const float* r0 = keys.row(jk);
    const float* r1 = keys.row(jk + (nk > 1 ? 1 : 0));
    const float* r2 = keys.row(jk + (nk > 2 ? 2 : nk - 1));
    const float* r3 = keys.row(jk + nk - 1);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    for (int64_t e = 0; e < dim; e += 8) {
      __m256 k0 = _mm256_loadu_ps(r0 + e), k1 = _mm256_loadu_ps(r1 + e);
      __m256 k2 = _mm256_loadu_ps(r2 + e), k3 = _mm256_loadu_ps(r3 + e);
      // In registers: GCC would otherwise fold each key load into both of its products (ten loads, not six).
      asm("" : "+x"(k0), "+x"(k1), "+x"(k2), "+x"(k3));
      const __m256 x = _mm256_load_ps(q0 + e);
      a0 = _mm256_fmadd_ps(k0, x, a0);
      a1 = _mm256_fmadd_ps(k1, x, a1);
      a2 = _mm256_fmadd_ps(k2, x, a2);
      a3 = _mm256_fmadd_ps(k3, x, a3);
      if constexpr (NQ == 2) {
        const __m256 y = _mm256_load_ps(q1 + e);
        c0 = _mm256_fmadd_ps(k0, y, c0);
        c1 = _mm256_fmadd_ps(k1, y, c1);
        c2 = _mm256_fmadd_ps(k2, y, c2);
        c3 = _mm256_fmadd_ps(k3, y, c3);
      }
    }
    store_scores(a0, a1, a2, a3, scale, nk, scores + first * ld + j0 + jk);
    if constexpr (NQ == 2) store_scores(c0, c1, c2, c3, scale, nk, scores + (first + 1) * ld + j0 + jk);
  }
}

template <class L>
void block_scores(const AttnBlock& b, float* scores, int64_t ld) {
  const int64_t dim = b.head_dim;
  alignas(32) float qc[kMaxBlockQueries * kMaxDim];
  alignas(32) float buf[kRun * kMaxDim];
  for (int q = 0; q < b.n_q; ++q)
    for (int64_t i = 0; i < dim; i += 8) _mm256_store_ps(qc + q * dim + i, L::query(b.q[q], i));
  const int64_t n = b.max_pos();
  const bool fetch = b.one_position();
  for (int64_t j0 = 0; j0 < n; j0 += kRun) {
    const int64_t run = std::min(kRun, n - j0);
    const Rows keys = fetch ? L::template widen<true>(b.k, b.stride, j0, run, dim, buf)
                            : L::template widen<false>(b.k, b.stride, j0, run, dim, buf);
    int q = 0;
    for (; q + 2 <= b.n_q; q += 2) score_run<2>(b, qc, q, keys, run, j0, scores, ld);
    if (q < b.n_q) score_run<1>(b, qc, q, keys, run, j0, scores, ld);
  }
}

// out[first .. first + NQ) columns [c, c + 8 R), rows [jb, je) of the run `vals` (run row j is position j0 + j):
// the sums from out (zero before the first run's first rows), back to out. Every row is below each query's own
// position (the caller's split), so the loop has no test per query: with one, GCC kept the sums in memory.
template <int NQ, int R>
void sum_tile(const AttnBlock& b, const float* p, int64_t ld, int first, int64_t c, const Rows& vals, int64_t j0,
              int64_t jb, int64_t je) {
  __m256 acc[NQ][R];
  for (int q = 0; q < NQ; ++q)
    for (int r = 0; r < R; ++r)
      acc[q][r] = j0 + jb == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(b.out[first + q] + c + 8 * r);
  const float* pq[NQ];
  for (int q = 0; q < NQ; ++q) pq[q] = p + (first + q) * ld + j0;
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vals.row(j) + c;
    for (int q = 0; q < NQ; ++q) {
      const __m256 pj = _mm256_broadcast_ss(pq[q] + j);
      for (int r = 0; r < R; ++r) acc[q][r] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 8 * r), acc[q][r]);
    }
  }
  for (int q = 0; q < NQ; ++q)
    for (int r = 0; r < R; ++r) _mm256_storeu_ps(b.out[first + q] + c + 8 * r, acc[q][r]);
}

// Rows [jb, je) of the run for queries first .. first + NQ - 1, every column.
template <int NQ>
void sum_rows(const AttnBlock& b, const float* p, int64_t ld, int first, const Rows& vals, int64_t j0, int64_t jb,
              int64_t je) {
  if (jb >= je) return;
  // 4 x 2 sums, two row vectors, a weight and a product: twelve registers (4 x 3 spilled one sum to memory).
  int64_t c = 0;
  for (; c + 16 <= b.head_dim; c += 16) sum_tile<NQ, 2>(b, p, ld, first, c, vals, j0, jb, je);
  if (c < b.head_dim) sum_tile<NQ, 1>(b, p, ld, first, c, vals, j0, jb, je);
}

// Queries first .. first + NQ - 1 over the run: the rows all of them reach together, then each query's own rest.
// (Rows in increasing order per query either way: the split only groups queries.)
template <int NQ>
void sum_queries(const AttnBlock& b, const float* p, int64_t ld, int first, const Rows& vals, int64_t j0, int64_t run) {
  int64_t own[NQ], common = run;
  for (int q = 0; q < NQ; ++q) {
    own[q] = std::clamp<int64_t>(b.n_pos[first + q] - j0, 0, run);  // this query's rows of the run
    common = std::min(common, own[q]);
  }
  sum_rows<NQ>(b, p, ld, first, vals, j0, 0, common);
  for (int q = 0; q < NQ; ++q) {
    // (At j0 = 0 common >= 1, as n_pos >= 1: every query's sums were started from zero above.)
    if (own[q] > common) sum_rows<1>(b, p, ld, first + q, vals, j0, common, own[q]);
  }
}

template <class L>
void block_weighted_sum(const AttnBlock& b, const float* p, int64_t ld) {
  alignas(32) float buf[kRun * kMaxDim];
  const int64_t n = b.max_pos();
  const bool fetch = b.one_position();
  for (int64_t j0 = 0; j0 < n; j0 += kRun) {
    const int64_t run = std::min(kRun, n - j0);
    const Rows vals = fetch ? L::template widen<true>(b.v, b.stride, j0, run, b.head_dim, buf)
                            : L::template widen<false>(b.v, b.stride, j0, run, b.head_dim, buf);
    int q = 0;
    for (; q + 4 <= b.n_q; q += 4) sum_queries<4>(b, p, ld, q, vals, j0, run);
    switch (b.n_q - q) {
      case 3: sum_queries<3>(b, p, ld, q, vals, j0, run); break;
      case 2: sum_queries<2>(b, p, ld, q, vals, j0, run); break;
      case 1: sum_queries<1>(b, p, ld, q, vals, j0, run); break;
      default: break;
    }
  }
}

}  // namespace

void kv_block_scores_f32_avx2(const AttnBlock& b, float* scores, int64_t ld) {
  if (block_fits(b)) return block_scores<BlockF32>(b, scores, ld);
  for (int i = 0; i < b.n_q; ++i) kv_scores_f32_avx2(b.head(i), scores + i * ld);
}
void kv_block_scores_f16_avx2(const AttnBlock& b, float* scores, int64_t ld) {
  if (block_fits(b)) return block_scores<BlockF16>(b, scores, ld);
  for (int i = 0; i < b.n_q; ++i) kv_scores_f16_avx2(b.head(i), scores + i * ld);
}
void kv_block_weighted_sum_q8_0_avx2(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return block_weighted_sum<BlockQ8_0>(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_q8_0_avx2(b.head(i), p + i * ld, b.out[i]);
}
void kv_block_weighted_sum_f32_avx2(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return block_weighted_sum<BlockF32>(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_f32_avx2(b.head(i), p + i * ld, b.out[i]);
}
void kv_block_weighted_sum_f16_avx2(const AttnBlock& b, const float* p, int64_t ld) {
  if (block_fits(b)) return block_weighted_sum<BlockF16>(b, p, ld);
  for (int i = 0; i < b.n_q; ++i) kv_weighted_sum_f16_avx2(b.head(i), p + i * ld, b.out[i]);
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#endif
