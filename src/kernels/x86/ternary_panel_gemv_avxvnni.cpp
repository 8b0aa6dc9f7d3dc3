// AVX-VNNI ternary matmul of a few tokens (generation) against a matrix in 16-row panels (quant/ternary.hpp), for the
// AVX2 level on CPUs with AVX-VNNI: x86/ternary_avx512_panel_gemv.cpp at 256 bits. A panel's dword j of a 128-column
// block is two ymm (rows 0-7 and 8-15), one int32 lane per row; each shifted right by 6 - 2s and masked holds codes
// 32s + 4j + [0, 4) of its rows, and vpdpbusd against those 4 activations, one dword broadcast to every lane, adds
// their products. Each panel is one stream, where the row kernel (ternary_gemv_avx2.cpp) reads four rows at four
// places. The AVX2 level puts in panels only matrices with one scale a row (the per-token rule) or TQ's scale per
// 256 columns (the Q8_K rule; ternary_wants_panels); the epilogue is the reference's operations in its order, lane
// by lane, so the outputs are bit-equal to it.
// Compiled again from x86/ternary_panel_gemv_avx2.cpp (BITNET_PANEL_GEMV_MADDUBS) for AVX2 without AVX-VNNI: maddubs
// into int16 sums, with the row kernel's decoding (two fields as 4 x code, one shift for all four), widened to int32
// every half block, batches two tokens at a time (half_block).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/cpu_features.hpp"  // before the target region: code_prefetch.hpp reads it
#include "core/target_region.hpp"
#include "kernels/ternary.hpp"

#if defined(BITNET_PANEL_GEMV_MADDUBS)
BITNET_TARGET_BEGIN("avx2,fma,f16c")
#define BITNET_PANEL_GEMV_ENTRY ternary_gemv_panels_avx2
#else
BITNET_TARGET_BEGIN("avx2,fma,f16c,avxvnni")
#define BITNET_PANEL_GEMV_ENTRY ternary_gemv_panels_avxvnni
#endif

#include "kernels/x86/code_prefetch.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kPanelBlockBytes = 512;  // one 128-column block of 16 rows
constexpr int64_t kPrefetchAhead = 10240;  // as the AVX-512 panel kernel: every line 10 KB ahead of the one loaded,
constexpr int64_t kScalesAheadPanels = 2;  // and a group's scales (one line) of the panel two ahead

// 4 activations at q, in every lane.
inline __m256i broadcast4(const int8_t* q) {
  int32_t four;
  std::memcpy(&four, q, 4);
  return _mm256_set1_epi32(four);
}

#if defined(BITNET_PANEL_GEMV_MADDUBS)
// One half block (steps j = j0 .. j0 + 3) of panel block pb for T tokens (activations q0[t]): the four fields'
// products summed into dots[t][0] (rows 0-7) and dots[t][1] (rows 8-15), int32 lanes. The fields at bits 2-3 and 6-7
// are taken as 4 x code (v & 12, and (v >> 4) & 12, the shift crossing bytes only into bits the masks drop), the
// others as codes, into separate int16 sums s4 and s1: a step adds at most 2 x 3072 to a lane of s4 (codes <= 3), so
// four steps stay below 32767, and every lane of s4 is a multiple of 4: dots += s1 + s4 / 4, exactly. Two tokens
// share each line's masked fields (a fifth fewer vector operations a token), one half (8 rows) a pass so that their
// sums and the fields stay in the 16 registers; one token takes both halves in one pass.
template <int T>
inline void half_block(const uint8_t* pb, int j0, const int8_t* const* q0, __m256i (*dots)[2], bool to_l2) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  constexpr int kHalves = T == 1 ? 2 : 1;  // halves a pass
  for (int pass = 0; pass < 2 / kHalves; ++pass) {
    __m256i s1[T][kHalves], s4[T][kHalves];
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < kHalves; ++k) s1[t][k] = s4[t][k] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int j = j0; j < j0 + 4; ++j) {
      if (pass == 0) prefetch_code_line(reinterpret_cast<uintptr_t>(pb + j * 64) + kPrefetchAhead, to_l2);
      for (int k = 0; k < kHalves; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + j * 64 + 32 * (pass + k)));
        const __m256i hi = _mm256_srli_epi16(v, 4);
        const __m256i f0 = _mm256_and_si256(hi, m12), f1 = _mm256_and_si256(hi, m3);
        const __m256i f2 = _mm256_and_si256(v, m12), f3 = _mm256_and_si256(v, m3);
        for (int t = 0; t < T; ++t) {
          const int8_t* q = q0[t] + 4 * j;
          s4[t][k] = _mm256_add_epi16(s4[t][k], _mm256_add_epi16(_mm256_maddubs_epi16(f0, broadcast4(q)),
                                                                 _mm256_maddubs_epi16(f2, broadcast4(q + 64))));
          s1[t][k] = _mm256_add_epi16(s1[t][k], _mm256_add_epi16(_mm256_maddubs_epi16(f1, broadcast4(q + 32)),
                                                                 _mm256_maddubs_epi16(f3, broadcast4(q + 96))));
        }
      }
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < kHalves; ++k) {
        __m256i& d = dots[t][pass + k];
        d = _mm256_add_epi32(d, _mm256_add_epi32(_mm256_madd_epi16(s1[t][k], ones),
                                                 _mm256_srai_epi32(_mm256_madd_epi16(s4[t][k], ones), 2)));
      }
  }
}
#else
// The field at bits 6 - 2s of every byte of v, at bits 0-1.
template <int S>
inline __m256i field(__m256i v) {
  return _mm256_and_si256(_mm256_srli_epi32(v, 6 - 2 * S), _mm256_set1_epi8(3));
}
#endif

// Panel p (rows 16p .. 16p + 15) times tokens t0 .. t0 + T - 1, into their rows of y (y_stride apart), group by
// group. Separate sums per half and field, so that no vpdpbusd waits on the one before. T = 2 only with maddubs.
template <int T>
void gemv_panel(const quant::TernaryMatrix& w, const PreparedActs& a, int64_t p, int64_t t0, float* y, int64_t y_stride,
                bool to_l2) {
  const int64_t cols = w.cols, group = w.group, groups = cols / group;
  const int64_t blocks_per_group = group / quant::kTernaryBlock;
  const uint8_t* base = w.codes() + p * quant::kPanelRows * w.row_bytes();
  const int8_t* act[T];
  for (int t = 0; t < T; ++t) act[t] = a.qa.q.data() + (t0 + t) * cols;
  // addressed as an integer: past the last panels it lies outside the scales (a prefetch never faults)
  const uintptr_t scales_ahead = reinterpret_cast<uintptr_t>(w.scales.data()) +
                                 static_cast<uintptr_t>((p + kScalesAheadPanels) * groups * quant::kPanelRows * 4);
  __m256 out[T][2];    // the epilogue so far, rows 0-7 and 8-15
  __m256i dots[T][2];  // a group's sums, rows 0-7 and 8-15
  for (int t = 0; t < T; ++t) out[t][0] = out[t][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    if (groups > 1) prefetch_code_line(scales_ahead + static_cast<uintptr_t>(g * quant::kPanelRows * 4), to_l2);
    for (int t = 0; t < T; ++t) dots[t][0] = dots[t][1] = _mm256_setzero_si256();
#if defined(BITNET_PANEL_GEMV_MADDUBS)
    for (int64_t b = g * blocks_per_group; b < (g + 1) * blocks_per_group; ++b) {
      const int8_t* q[T];
      for (int t = 0; t < T; ++t) q[t] = act[t] + b * quant::kTernaryBlock;
      half_block<T>(base + b * kPanelBlockBytes, 0, q, dots, to_l2);
      half_block<T>(base + b * kPanelBlockBytes, 4, q, dots, to_l2);
    }
#else
    static_assert(T == 1, "AVX-VNNI panels take one token at a time");
    __m256i lo[4], hi[4];
    for (int s = 0; s < 4; ++s) lo[s] = hi[s] = _mm256_setzero_si256();
    for (int64_t b = g * blocks_per_group; b < (g + 1) * blocks_per_group; ++b) {
      const uint8_t* pb = base + b * kPanelBlockBytes;
#pragma GCC unroll 1
      for (int j = 0; j < 8; ++j) {
        prefetch_code_line(reinterpret_cast<uintptr_t>(pb + j * 64) + kPrefetchAhead, to_l2);
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + j * 64));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + j * 64 + 32));
        const int8_t* q = act[0] + b * quant::kTernaryBlock + 4 * j;
        const __m256i x0 = broadcast4(q), x1 = broadcast4(q + 32), x2 = broadcast4(q + 64), x3 = broadcast4(q + 96);
        lo[0] = _mm256_dpbusd_avx_epi32(lo[0], field<0>(v0), x0);
        hi[0] = _mm256_dpbusd_avx_epi32(hi[0], field<0>(v1), x0);
        lo[1] = _mm256_dpbusd_avx_epi32(lo[1], field<1>(v0), x1);
        hi[1] = _mm256_dpbusd_avx_epi32(hi[1], field<1>(v1), x1);
        lo[2] = _mm256_dpbusd_avx_epi32(lo[2], field<2>(v0), x2);
        hi[2] = _mm256_dpbusd_avx_epi32(hi[2], field<2>(v1), x2);
        lo[3] = _mm256_dpbusd_avx_epi32(lo[3], field<3>(v0), x3);
        hi[3] = _mm256_dpbusd_avx_epi32(hi[3], field<3>(v1), x3);
      }
    }
    dots[0][0] = _mm256_add_epi32(_mm256_add_epi32(lo[0], lo[1]), _mm256_add_epi32(lo[2], lo[3]));
    dots[0][1] = _mm256_add_epi32(_mm256_add_epi32(hi[0], hi[1]), _mm256_add_epi32(hi[2], hi[3]));
#endif
    // a panel's scales: group g's 16 side by side where groups > 1, else the rows' own
    const float* ws = w.scales.data() + (p * groups + g) * quant::kPanelRows;
    for (int t = 0; t < T; ++t) {
      const float* at = a.qa.scales.data() + (t0 + t) * (cols / a.qa.group);
      const int32_t sum = a.sums[static_cast<size_t>((t0 + t) * groups + g)];
      for (int h = 0; h < 2; ++h) {
        const __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(dots[t][h], _mm256_set1_epi32(sum)));
        const __m256 wsv = _mm256_loadu_ps(ws + 8 * h);
        if (a.qa.rule == quant::ActQuant::kQ8K)  // sum over groups of idot * (w_scale * d), from 0
          out[t][h] = _mm256_add_ps(out[t][h], _mm256_mul_ps(f, _mm256_mul_ps(wsv, _mm256_set1_ps(at[g]))));
        else  // one group: idot / s * w_scale
          out[t][h] = _mm256_mul_ps(_mm256_div_ps(f, _mm256_set1_ps(at[0])), wsv);
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    _mm256_storeu_ps(y + (t0 + t) * y_stride + p * quant::kPanelRows, out[t][0]);
    _mm256_storeu_ps(y + (t0 + t) * y_stride + p * quant::kPanelRows + 8, out[t][1]);
  }
}

}  // namespace

void BITNET_PANEL_GEMV_ENTRY(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                             int64_t row_begin, int64_t row_end) {
  const int64_t pb = row_begin / quant::kPanelRows, pe = row_end / quant::kPanelRows;
  const bool to_l2 = code_prefetch_to_l2();
  // Panel by panel, so that a batch's further tokens find the panel in cache; with maddubs, tokens in pairs (an odd
  // last one alone).
  const int64_t n = a.qa.n_tokens;
  for (int64_t p = pb; p < pe; ++p) {
    int64_t t = 0;
#if defined(BITNET_PANEL_GEMV_MADDUBS)
    for (; t + 2 <= n; t += 2) gemv_panel<2>(w, a, p, t, y, y_stride, to_l2);
#endif
    for (; t < n; ++t) gemv_panel<1>(w, a, p, t, y, y_stride, to_l2);
  }
}

}  // namespace bitnet::kernels

BITNET_TARGET_END
#undef BITNET_PANEL_GEMV_ENTRY
#endif
