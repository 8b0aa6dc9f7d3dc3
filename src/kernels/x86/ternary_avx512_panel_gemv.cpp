// AVX-512 VNNI ternary matmul of a few tokens (generation) against a matrix stored in 16-row panels
// (quant/ternary.hpp): one int32 lane per row, as in the prompt kernel (x86/ternary_avx512_panels.cpp), so a group's
// dots need no horizontal sums and its epilogue is a few operations per 16 rows. (In the row layout, summing 8 rows'
// lanes and loading their scales one by one was about 30% of the TQ2_0 generation kernel's time.) Each panel zmm (dword
// j of one 128-column block, for 16 rows) masked to the field at bits 6 - 2s holds 4^(3-s) x codes 32s + 4j + [0, 4)
// of every row; vpdpbusd against those 4 activations, one dword broadcast to all lanes, adds their products, so field
// s's sum is 4^(3-s) times its dot and an arithmetic shift right by 6 - 2s takes it back, exactly (a product at most
// 192 x 128 in size, a quarter of a group's columns summed: inside int32 for groups of up to kPanelGemvMaxGroup
// columns, ternary.hpp). One vpandd a field, which runs
// beside vpdpbusd: a shift and a mask, or GFNI's vgf2p8affineqb, compete with it for the multiply pipes on Zen 4
// (bitnet-kernel-bench ternary/l2_1536x512/tokens:1/avx512-vnni/panels, one thread: 29 GB/s with vgf2p8affineqb, 45
// with the mask alone). Integer sums exact, the reference's float epilogue lane by lane: bit-equal to it.
#if defined(__x86_64__)
#include <cstdint>
#include <cstring>

#include "core/cpu_features.hpp"  // before the target region: code_prefetch.hpp reads it
#include "kernels/ternary.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/code_prefetch.hpp"
#include "kernels/x86/ternary_avx512_epilogue.hpp"
#include "kernels/x86/ternary_avx512_fields.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kPanelBlockBytes = 512;  // one 128-column block of 16 rows
// Each panel is read as one stream; every line 10 KB ahead of the one loaded is fetched, and the weight scales of
// the panel two ahead, a line per group (into L2 or L1: code_prefetch.hpp). The prefetch is issued in a loop over the
// block's 8 lines that is not unrolled: unrolled, the compiler issued the 8 as a burst that waited on the miss buffers
// (a quarter of the kernel's samples on its first prefetch, perf). Fetching only every other line was far slower (44
// against 57 tok/s, 2B-4T tg32 with its codes put in panels for the test): the hardware prefetchers do not cover the
// stream. Two panels a step (two streams) read slower in bitnet-kernel-bench's streaming shape (14-24 GB/s against
// 28-37).
constexpr int64_t kPrefetchAhead = 10240;
constexpr int64_t kScalesAheadPanels = 2;

// Panel p (rows 16p .. 16p + 15; its codes at base) times tokens t0 .. t0 + T - 1, into their output rows (token t's
// at y + t * y_stride). Four accumulators a token, one per field, so that no vpdpbusd waits on the one before; with
// two tokens, eight chains and each line's fields masked once for both (one token's four chains, one vpdpbusd a
// cycle, wait on its latency of five: bitnet-kernel-bench ternary/l2_1536x512/tokens:4/avx512-vnni/panels). The lines
// prefetched past the matrix's codes or scales are addressed as integers (a prefetch never faults; pointer arithmetic
// may not go there). Codes decoded into a scratch panel (prefetch_codes false) are in cache already.
template <int T>
void gemv_panel(const quant::TernaryMatrix& w, const PreparedActs& a, const uint8_t* base, int64_t p, int64_t t0,
                float* y, int64_t y_stride, bool to_l2, bool prefetch_codes) {
  const int64_t cols = w.cols, group = w.group, groups = cols / group;
  const int64_t blocks_per_group = group / quant::kTernaryBlock;
  const int8_t* act[T];
  const float* at[T];
  const int32_t* sums[T];
  for (int t = 0; t < T; ++t) {
    act[t] = a.qa.q.data() + (t0 + t) * cols;
    at[t] = a.qa.scales.data() + (t0 + t) * (cols / a.qa.group);
    sums[t] = a.sums.data() + (t0 + t) * groups;
  }
  const uintptr_t scales_ahead = reinterpret_cast<uintptr_t>(w.scales.data()) +
                                 static_cast<uintptr_t>((p + kScalesAheadPanels) * groups * quant::kPanelRows * 4);
  __m512 out[T];  // the epilogue so far
  for (auto& o : out) o = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i acc[T][4];
    for (auto& tok : acc)
      for (auto& v : tok) v = _mm512_setzero_si512();
    if (groups > 1) prefetch_code_line(scales_ahead + static_cast<uintptr_t>(g * quant::kPanelRows * 4), to_l2);
    for (int64_t b = g * blocks_per_group; b < (g + 1) * blocks_per_group; ++b) {
      const uint8_t* pb = base + b * kPanelBlockBytes;
#pragma GCC unroll 1
      for (int j = 0; j < 8; ++j) {
        if (prefetch_codes) prefetch_code_line(reinterpret_cast<uintptr_t>(pb + j * 64) + kPrefetchAhead, to_l2);
        const __m512i v = _mm512_loadu_si512(pb + j * 64);
        const __m512i f0 = field<0>(v), f1 = field<1>(v), f2 = field<2>(v), f3 = field<3>(v);
        for (int t = 0; t < T; ++t) {
          const int8_t* q = act[t] + b * quant::kTernaryBlock + 4 * j;
          acc[t][0] = _mm512_dpbusd_epi32(acc[t][0], f0, broadcast4(q));
          acc[t][1] = _mm512_dpbusd_epi32(acc[t][1], f1, broadcast4(q + 32));
          acc[t][2] = _mm512_dpbusd_epi32(acc[t][2], f2, broadcast4(q + 64));
          acc[t][3] = _mm512_dpbusd_epi32(acc[t][3], f3, broadcast4(q + 96));
        }
      }
    }
    const __m512 ws = _mm512_loadu_ps(groups > 1 ? w.scales.data() + (p * groups + g) * quant::kPanelRows
                                                 : w.scales.data() + p * quant::kPanelRows);
    for (int t = 0; t < T; ++t) {
      const __m512i dots =
          _mm512_add_epi32(_mm512_add_epi32(_mm512_srai_epi32(acc[t][0], 6), _mm512_srai_epi32(acc[t][1], 4)),
                           _mm512_add_epi32(_mm512_srai_epi32(acc[t][2], 2), acc[t][3]));
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(dots, _mm512_set1_epi32(sums[t][g])));
      out[t] = panel_epilogue(a.qa.rule, g, groups, out[t], f, ws, at[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + (t0 + t) * y_stride + p * quant::kPanelRows, out[t]);
}

// Panel p times every token, two at a time (the codes read once a pair, from cache after the first). Four at a time
// (sixteen chains) was no faster: 199-214 G multiply-adds/s against 210-212 (tokens:4/panels, one thread).
void gemv_panel_tokens(const quant::TernaryMatrix& w, const PreparedActs& a, const uint8_t* base, int64_t p, float* y,
                       int64_t y_stride, bool to_l2, bool prefetch_codes) {
  const int64_t n = a.qa.n_tokens;
  int64_t t = 0;
  for (; t + 2 <= n; t += 2) gemv_panel<2>(w, a, base, p, t, y, y_stride, to_l2, prefetch_codes);
  if (t < n) gemv_panel<1>(w, a, base, p, t, y, y_stride, to_l2, prefetch_codes);
}

}  // namespace

void ternary_gemv_panels_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                int64_t row_begin, int64_t row_end) {
  const int64_t pb = row_begin / quant::kPanelRows, pe = row_end / quant::kPanelRows;
  const bool to_l2 = code_prefetch_to_l2();
  // Panel by panel, so that a batch's further tokens find the panel in cache.
  for (int64_t p = pb; p < pe; ++p)
    gemv_panel_tokens(w, a, w.codes() + p * quant::kPanelRows * w.row_bytes(), p, y, y_stride, to_l2, true);
}

void ternary_gemv_panel_at_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, const uint8_t* codes, int64_t p,
                                  float* y, int64_t y_stride) {
  gemv_panel_tokens(w, a, codes, p, y, y_stride, false, false);
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
