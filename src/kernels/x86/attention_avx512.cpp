// AVX-512 weighted sums over F32, F16 and Q8_0 value rows: out_i = fma(p_j, v_ji, out_i) for j = 0, 1, ... (one
// rounding) is computed for each element on its own, so 16 elements per register give the reference's bits
// (kernels/attention.hpp) with half the instructions of the AVX2 kernels. F32 and F16 scores stay with AVX2 (their
// 8-lane order is part of the definition); Q8_0 scores are integer dots (kernels/attention.cpp).
#if defined(__x86_64__)
#include <cstring>

#include "kernels/attention.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"
#include "kernels/x86/code_prefetch.hpp"
#include "quant/q8_0.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512vl")
// GCC 12's avx512fintrin.h (set1/broadcast via _mm512_undefined_*) trips these falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitnet::kernels {
namespace {

struct Load16F32 {
  static constexpr int64_t kBytes = 4;  // a value's
  static __m512 load(const uint8_t* row, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static __m256 load8(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
};
struct Load16F16 {
  static constexpr int64_t kBytes = 2;
  static __m512 load(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static __m256 load8(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
};

// out[c, c + 16 * R) over every position, the accumulators held in registers.
template <class L, int R>
void chunk(const AttnHead& h, const float* p, int64_t c, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const uint8_t* row = h.v;
  const bool to_l2 = stream_prefetch_to_l2();
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride) {
    prefetch_kv_ahead(row, h.stride, L::kBytes * c, L::kBytes * 16 * R, to_l2);
    const __m512 pj = _mm512_set1_ps(p[j]);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(pj, L::load(row, c + 16 * r), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + c + 16 * r, acc[r]);
}

// The last 8 elements when head_dim is an odd multiple of 8.
template <class L>
void chunk8(const AttnHead& h, const float* p, int64_t c, float* out) {
  __m256 acc = _mm256_setzero_ps();
  const uint8_t* row = h.v;
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride)
    acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), L::load8(row, c), acc);
  _mm256_storeu_ps(out + c, acc);
}

template <class L>
void weighted_sum(const AttnHead& h, const float* p, float* out) {
  int64_t c = 0;
  for (; c + 128 <= h.head_dim; c += 128) chunk<L, 8>(h, p, c, out);
  switch ((h.head_dim - c) / 16) {  // the rest in one pass over the rows
    case 7: chunk<L, 7>(h, p, c, out); break;
    case 6: chunk<L, 6>(h, p, c, out); break;
    case 5: chunk<L, 5>(h, p, c, out); break;
    case 4: chunk<L, 4>(h, p, c, out); break;
    case 3: chunk<L, 3>(h, p, c, out); break;
    case 2: chunk<L, 2>(h, p, c, out); break;
    case 1: chunk<L, 1>(h, p, c, out); break;
    default: break;
  }
  c += (h.head_dim - c) / 16 * 16;
  if (c < h.head_dim) chunk8<L>(h, p, c, out);
}

// Q8_0 values: out[c, c + 32 NB) (NB blocks from column c, a multiple of 32) over every position, each value q * d
// widened exactly as the reference widens it, the block's d converted once a row.
template <int NB>
void chunk_q8_0(const AttnHead& h, const float* p, int64_t c, float* out) {
  __m512 acc[2 * NB];
  for (int r = 0; r < 2 * NB; ++r) acc[r] = _mm512_setzero_ps();
  const uint8_t* row = h.v + c / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
  const bool to_l2 = stream_prefetch_to_l2();
  for (int64_t j = 0; j < h.n_pos; ++j, row += h.stride) {
    prefetch_kv_ahead(row, h.stride, 0, NB * quant::kQ8_0BlockBytes, to_l2);
    const __m512 pj = _mm512_set1_ps(p[j]);
    for (int b = 0; b < NB; ++b) {
      const uint8_t* block = row + b * quant::kQ8_0BlockBytes;
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(d16));
      for (int k = 0; k < 2; ++k) {
        const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + 16 * k));
        const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8)), d);
        acc[2 * b + k] = _mm512_fmadd_ps(pj, v, acc[2 * b + k]);
      }
    }
  }
  for (int r = 0; r < 2 * NB; ++r) _mm512_storeu_ps(out + c + 16 * r, acc[r]);
}

}  // namespace

void kv_weighted_sum_q8_0_avx512(const AttnHead& h, const float* p, float* out) {
  int64_t c = 0;
  for (; c + 128 <= h.head_dim; c += 128) chunk_q8_0<4>(h, p, c, out);
  switch ((h.head_dim - c) / quant::kQ8_0BlockElems) {  // the rest in one pass over the rows
    case 3: chunk_q8_0<3>(h, p, c, out); break;
    case 2: chunk_q8_0<2>(h, p, c, out); break;
    case 1: chunk_q8_0<1>(h, p, c, out); break;
    default: break;
  }
}

void kv_weighted_sum_f32_avx512(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 8 != 0) return kv_weighted_sum_f32_ref(h, p, out);
  weighted_sum<Load16F32>(h, p, out);
}
void kv_weighted_sum_f16_avx512(const AttnHead& h, const float* p, float* out) {
  if (h.head_dim % 8 != 0) return kv_weighted_sum_f16_ref(h, p, out);
  weighted_sum<Load16F16>(h, p, out);
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
