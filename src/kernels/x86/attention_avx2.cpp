// AVX2 + FMA + F16C attention over F32, F16 and Q8_0 KV rows (Q8_0 scores excepted: they are integer dots,
// kernels/attention.cpp), in the arithmetic order kernels/attention.hpp defines:
// a register's lane l is the reference's lane l (elements i = l mod 8), each product added with one fused
// multiply-add (as the reference's std::fma), the horizontal sum pairs lanes as the reference does, and F16C
// rounds the query to f16 as float_to_fp16 does. Bit-equal to the reference.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "core/cpu_features.hpp"  // before the target region: code_prefetch.hpp reads it
#include "core/target_region.hpp"
#include "kernels/attention.hpp"
#include "quant/q8_0.hpp"

BITNET_TARGET_BEGIN("avx2,fma,f16c")

#include "kernels/x86/code_prefetch.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kMaxHeadDim = 1024;  // larger heads take the reference path

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
inline float hsum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l0+l4, l1+l5, l2+l6, l3+l7
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                         // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// load: elements [i, i + 8) of a stored row, widened to float (exactly); i is a multiple of 8.
// query: the same elements of the query as the dot product takes them.
struct LoadF32 {
  static constexpr int64_t kBytes = 4;  // a value's
  static __m256 load(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static __m256 query(const float* q, int64_t i) { return _mm256_loadu_ps(q + i); }
};
struct LoadF16 {
  static constexpr int64_t kBytes = 2;
  static __m256 load(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  // Rounded to f16, nearest even (as float_to_fp16), and back.
  static __m256 query(const float* q, int64_t i) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};
// Four positions at a time: four independent add chains. The query is converted once (rounded to f16 against an
// F16 cache) into qc, not once per group of positions.
template <class L>
void scores_avx2(const AttnHead& h, float* scores) {
  const int64_t hd = h.head_dim;
  alignas(32) float qc[kMaxHeadDim];
  for (int64_t i = 0; i < hd; i += 8) _mm256_store_ps(qc + i, L::query(h.q, i));
  const bool to_l2 = stream_prefetch_to_l2();
  int64_t j = 0;
  for (; j + 4 <= h.n_pos; j += 4) {
    const uint8_t* r0 = h.k + j * h.stride;
    const uint8_t* r1 = r0 + h.stride;
    const uint8_t* r2 = r1 + h.stride;
    const uint8_t* r3 = r2 + h.stride;
    for (const uint8_t* r : {r0, r1, r2, r3}) prefetch_kv_ahead(r, h.stride, 0, L::kBytes * hd, to_l2);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < hd; i += 8) {
      const __m256 q = _mm256_load_ps(qc + i);
      a0 = _mm256_fmadd_ps(q, L::load(r0, i), a0);
      a1 = _mm256_fmadd_ps(q, L::load(r1, i), a1);
      a2 = _mm256_fmadd_ps(q, L::load(r2, i), a2);
      a3 = _mm256_fmadd_ps(q, L::load(r3, i), a3);
    }
    scores[j] = hsum_lanes(a0) * h.scale;
    scores[j + 1] = hsum_lanes(a1) * h.scale;
    scores[j + 2] = hsum_lanes(a2) * h.scale;
    scores[j + 3] = hsum_lanes(a3) * h.scale;
  }
  for (; j < h.n_pos; ++j) {
    const uint8_t* r = h.k + j * h.stride;
    __m256 a = _mm256_setzero_ps();
    for (int64_t i = 0; i < hd; i += 8) a = _mm256_fmadd_ps(_mm256_load_ps(qc + i), L::load(r, i), a);
    scores[j] = hsum_lanes(a) * h.scale;
  }
}

// out[c, c + 8 * kRegs) over every position, the accumulators held in registers.
template <class L, int kRegs>
void weighted_chunk(const AttnHead& h, const float* p, int64_t c, float* out) {
  __m256 acc[kRegs];
  for (int r = 0; r < kRegs; ++r) acc[r] = _mm256_setzero_ps();
  const uint8_t* row = h.v;
  const bool to_l2 = stream_prefetch_to_l2();
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride) {
    prefetch_kv_ahead(row, h.stride, L::kBytes * c, L::kBytes * 8 * kRegs, to_l2);
    const __m256 pj = _mm256_set1_ps(p[j]);
    for (int r = 0; r < kRegs; ++r) acc[r] = _mm256_fmadd_ps(pj, L::load(row, c + 8 * r), acc[r]);
  }
  for (int r = 0; r < kRegs; ++r) _mm256_storeu_ps(out + c + 8 * r, acc[r]);
}

// Q8_0 values: out[c, c + 32 NB) (NB blocks from column c, a multiple of 32) over every position, each value q * d
// widened exactly as the reference widens it (8 x 11 significant bits: exact), the block's d converted once a row.
template <int NB>
void weighted_chunk_q8_0(const AttnHead& h, const float* p, int64_t c, float* out) {
  __m256 acc[4 * NB];
  for (int r = 0; r < 4 * NB; ++r) acc[r] = _mm256_setzero_ps();
  const uint8_t* row = h.v + c / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
  const bool to_l2 = stream_prefetch_to_l2();
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride) {
    prefetch_kv_ahead(row, h.stride, 0, NB * quant::kQ8_0BlockBytes, to_l2);
    const __m256 pj = _mm256_set1_ps(p[j]);
    for (int b = 0; b < NB; ++b) {
      const uint8_t* block = row + b * quant::kQ8_0BlockBytes;
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(d16));
      for (int k = 0; k < 4; ++k) {
        const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + 8 * k));
        const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d);
        acc[4 * b + k] = _mm256_fmadd_ps(pj, v, acc[4 * b + k]);
      }
    }
  }
  for (int r = 0; r < 4 * NB; ++r) _mm256_storeu_ps(out + c + 8 * r, acc[r]);
}

template <class L>
void weighted_sum_avx2(const AttnHead& h, const float* p, float* out) {
  int64_t c = 0;
  for (; c + 64 <= h.head_dim; c += 64) weighted_chunk<L, 8>(h, p, c, out);
  for (; c + 32 <= h.head_dim; c += 32) weighted_chunk<L, 4>(h, p, c, out);
  for (; c < h.head_dim; c += 8) weighted_chunk<L, 1>(h, p, c, out);
}

}  // namespace

void kv_scores_f32_avx2(const AttnHead& h, float* scores) {
  if (h.head_dim % 8 != 0 || h.head_dim > kMaxHeadDim) return kv_scores_f32_ref(h, scores);
  scores_avx2<LoadF32>(h, scores);
}
void kv_scores_f16_avx2(const AttnHead& h, float* scores) {
  if (h.head_dim % 8 != 0 || h.head_dim > kMaxHeadDim) return kv_scores_f16_ref(h, scores);
  scores_avx2<LoadF16>(h, scores);
}

void kv_weighted_sum_f32_avx2(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 8 != 0) return kv_weighted_sum_f32_ref(h, p, out);
  weighted_sum_avx2<LoadF32>(h, p, out);
}
void kv_weighted_sum_f16_avx2(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 8 != 0) return kv_weighted_sum_f16_ref(h, p, out);
  weighted_sum_avx2<LoadF16>(h, p, out);
}
void kv_weighted_sum_q8_0_avx2(const AttnHead& h, const float* p, float* out) {
  int64_t c = 0;
  for (; c + 64 <= h.head_dim; c += 64) weighted_chunk_q8_0<2>(h, p, c, out);
  if (c < h.head_dim) weighted_chunk_q8_0<1>(h, p, c, out);
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#endif
