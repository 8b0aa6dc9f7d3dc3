// AVX-512 VNNI ternary matmul for prompt batches, on row panels: one int32 lane per row, so no product ever
// needs a horizontal sum and each decoded register feeds a whole tile of tokens.
// A matrix in the panel layout (quant/ternary.hpp: the loader's repacked types) is read where it lies. Otherwise a
// chunk of rows is first rearranged into that layout, in a per-thread scratch that stays in L2: for 128-column block
// b and dword j (0..7) of the block's 32 code bytes, one zmm whose lane i is row i's dword j. That zmm shifted right by
// 6 - 2s and masked to 2 bits holds, in lane i, the codes of row i's columns 128b + 32s + 4j + [0, 4); vpdpbusd against
// those 4 activations (one dword broadcast to every lane) adds their products to each row's sum. Integer sums are
// exact; the float epilogue performs the reference's operations in the reference's order, lane by lane, so results are
// bit-equal to it.
#if defined(__x86_64__)
#include "kernels/x86/avx512_intrinsics.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/ternary.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/ternary_avx512_epilogue.hpp"

namespace bitnet::kernels {

constexpr int kPanelRows = quant::kPanelRows;  // one int32 lane per row

namespace {

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Rows [r0, r0 + nr) (nr <= 16) of w as one panel at dst: (cols / 128) * 8 zmm, then the tail's (below). Lanes past
// nr hold code 1.
// A tail of T = cols % 128 columns (a multiple of 16; ternary_panels_avx512_fits) follows the blocks as a short
// block: T / 4 bytes a row, column 128 (cols / 128) + (T / 4) k + b of the row in byte b at shift 6 - 2k (the
// blocks' arrangement with a quarter of T columns in place of 32), dword j of the 16 rows side by side in zmm j. A
// row layout's tail (quant/ternary.hpp) is not arranged so, and is rearranged code by code (64 codes a row of
// bitnet_b1_58-3B's ffn_down: about 0.3% of its prompt time).
// Per block, two 8 x 8 dword transposes side by side (rows 0-7 in the low 256 bits, rows 8-15 in the high):
// unpack 32, unpack 64, then 128-bit lanes paired across registers. (Gathers did the same at 58 cycles each:
// 16% of the kernel's time.)
void to_panel(const quant::TernaryMatrix& w, int64_t r0, int64_t nr, uint8_t* dst) {
  alignas(32) static constexpr uint8_t kZeroWeights[32] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                                                           0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                                                           0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                                                           0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
  const int64_t blocks = w.cols / quant::kTernaryBlock;
  const uint8_t* rows[kPanelRows];
  int64_t step[kPanelRows];
  for (int i = 0; i < kPanelRows; ++i) {
    rows[i] = i < nr ? w.row(r0 + i) : kZeroWeights;
    step[i] = i < nr ? 32 : 0;
  }
  const __m512i even = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i odd = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i z[8], t[8], u[8];
    for (int k = 0; k < 8; ++k)
      z[k] = _mm512_inserti64x4(_mm512_castsi256_si512(load32(rows[k] + b * step[k])),
                                load32(rows[k + 8] + b * step[k + 8]), 1);
    for (int k = 0; k < 8; k += 2) {
      t[k] = _mm512_unpacklo_epi32(z[k], z[k + 1]);
      t[k + 1] = _mm512_unpackhi_epi32(z[k], z[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
      u[k] = _mm512_unpacklo_epi64(t[k], t[k + 2]);
      u[k + 1] = _mm512_unpackhi_epi64(t[k], t[k + 2]);
      u[k + 2] = _mm512_unpacklo_epi64(t[k + 1], t[k + 3]);
      u[k + 3] = _mm512_unpackhi_epi64(t[k + 1], t[k + 3]);
    }
    // u[m] (m < 4) holds dwords m and m + 4 of rows 0-3 / 8-11; u[m + 4] the same of rows 4-7 / 12-15.
    uint8_t* out = dst + b * 512;
    for (int m = 0; m < 4; ++m) {
      _mm512_store_si512(out + m * 64, _mm512_permutex2var_epi64(u[m], even, u[m + 4]));
      _mm512_store_si512(out + (m + 4) * 64, _mm512_permutex2var_epi64(u[m], odd, u[m + 4]));
    }
  }
  const int64_t tail = w.cols % quant::kTernaryBlock, quarter = tail / 4, full = w.cols - tail;
  uint8_t* out = dst + blocks * 512;
  for (int i = 0; i < kPanelRows && tail > 0; ++i) {
    uint8_t bytes[quant::kTernaryBlock / 4];
    std::memset(bytes, i < nr ? 0 : 0x55, sizeof bytes);
    if (i < nr)
      for (int64_t c = 0; c < tail; ++c)
        bytes[c % quarter] |=
            static_cast<uint8_t>(quant::ternary_code(w.row(r0 + i), w.cols, full + c) << (6 - 2 * (c / quarter)));
    for (int64_t j = 0; j < quarter / 4; ++j) std::memcpy(out + j * 64 + 4 * i, bytes + 4 * j, 4);
  }
}

// With per-group weight scales (groups > 1: TQ1_0, TQ2_0), rows [r0, r0 + nr) (nr <= 16) of them as a panel at
// dst: group g's 16 scales, one a lane, at dst + 16 g; lanes past nr 0. The epilogue then loads each group's
// scales, where it gathered them (a gather per panel and group; without them the TQ prompt matmul ran 7-9% faster).
void scales_panel(const quant::TernaryMatrix& w, int64_t r0, int64_t nr, float* dst) {
  const int64_t groups = w.cols / w.group;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < kPanelRows; ++i)
      dst[g * kPanelRows + i] = i < nr ? w.scales[static_cast<size_t>((r0 + i) * groups + g)] : 0.0f;
}

}  // namespace

PanelChunk ternary_panel_chunk(const quant::TernaryMatrix& w, int64_t cb, int64_t ce, uint8_t* scratch) {
  const int64_t groups = w.cols / w.group;
  const int64_t scales_stride = groups > 1 ? groups * kPanelRows : 0;
  if (w.dense) {  // one scale a row, read where it lies
    ternary_dense_to_panels(w, cb, ce, scratch);
    return {scratch, w.scales.data()};
  }
  if (w.panels) return {w.codes() + cb * w.row_bytes(), w.scales.data() + cb / kPanelRows * scales_stride};
  const int64_t panel_bytes = kPanelRows * w.row_bytes();
  const int64_t n_panels = (ce - cb + kPanelRows - 1) / kPanelRows;
  float* scales = reinterpret_cast<float*>(scratch + n_panels * panel_bytes);
  for (int64_t p = 0; p < n_panels; ++p) {
    const int64_t nr = std::min<int64_t>(kPanelRows, ce - cb - p * kPanelRows);
    to_panel(w, cb + p * kPanelRows, nr, scratch + p * panel_bytes);
    if (groups > 1) scales_panel(w, cb + p * kPanelRows, nr, scales + p * scales_stride);
  }
  return {scratch, scales};
}

namespace {

inline __mmask16 lanes(int64_t n) { return static_cast<__mmask16>(n >= kPanelRows ? 0xFFFFu : (1u << n) - 1u); }

constexpr int kTokTile = 8;  // 2 panels x 8 tokens: 16 accumulators, the rest of the registers for codes
constexpr int kTilePanels = 2;
constexpr int64_t kChunkRows = 128;  // rows rearranged at a time: 128 x 6912 columns is 221 KB of codes (L2)

// P panels (panel_bytes apart from `panels`; the first holds rows from r0) times tokens [t0, t0 + nt), nt <= 8:
// integer dots per group, then the epilogue, stored to y for the rows the panels hold (nr_last in the last).
// With groups > 1, `scales` holds the panels' scales_panel (scales_stride floats apart). The pf_lines cache lines
// from pf on are prefetched, spread over the blocks.
template <int P>
void panel_tile(const quant::TernaryMatrix& w, const PreparedActs& a, const uint8_t* panels, int64_t panel_bytes,
                const float* scales, int64_t scales_stride, int64_t r0, int64_t nr_last, int64_t t0, int64_t nt,
                float* y, int64_t y_stride, const uint8_t* pf, int64_t pf_lines) {
  const int64_t cols = w.cols, group = w.group, groups = cols / group;
  const int64_t blocks_per_group = group / quant::kTernaryBlock;
  const int64_t at_stride = cols / a.qa.group;
  const int8_t* act[kTokTile];
  for (int t = 0; t < kTokTile; ++t) act[t] = a.qa.q.data() + (t0 + std::min<int64_t>(t, nt - 1)) * cols;
  const __m512i mask = _mm512_set1_epi8(3);
  alignas(64) float partial[P][kTokTile][kPanelRows];  // float sums over groups so far (groups > 1)
  const int64_t blocks = cols / quant::kTernaryBlock;
  const int64_t tail = cols % quant::kTernaryBlock, quarter = tail / 4, full = cols - tail;
  for (int64_t g = 0; g < groups; ++g) {
    __m512i acc[P][kTokTile];
    for (int p = 0; p < P; ++p)
      for (int t = 0; t < kTokTile; ++t) acc[p][t] = _mm512_setzero_si512();
    for (int64_t b = g * blocks_per_group; b < (g + 1) * blocks_per_group; ++b) {
      const uint8_t* pb = panels + b * 512;
      const int64_t cb = b * quant::kTernaryBlock;
      for (int64_t l = b * pf_lines / blocks; l < (b + 1) * pf_lines / blocks; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(pf + l * 64), _MM_HINT_T0);
      for (int j = 0; j < 8; ++j) {
        __m512i v[P];
        for (int p = 0; p < P; ++p) v[p] = _mm512_loadu_si512(pb + p * panel_bytes + j * 64);
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
          __m512i d[P];
          for (int p = 0; p < P; ++p) d[p] = _mm512_and_si512(_mm512_srli_epi32(v[p], 6 - 2 * s), mask);
          const int64_t c = cb + 32 * s + 4 * j;
#pragma GCC unroll 32
          for (int t = 0; t < kTokTile; ++t) {
            int32_t four;
            std::memcpy(&four, act[t] + c, 4);
            const __m512i q = _mm512_set1_epi32(four);
            for (int p = 0; p < P; ++p) acc[p][t] = _mm512_dpbusd_epi32(acc[p][t], d[p], q);
          }
        }
      }
    }
    if (tail > 0) {  // the short block after the blocks (to_panel; one group a row then)
      const uint8_t* pb = panels + blocks * 512;
      for (int64_t j = 0; j < quarter / 4; ++j) {
        __m512i v[P];
        for (int p = 0; p < P; ++p) v[p] = _mm512_loadu_si512(pb + p * panel_bytes + j * 64);
        for (int s = 0; s < 4; ++s) {
          __m512i d[P];
          for (int p = 0; p < P; ++p) d[p] = _mm512_and_si512(_mm512_srli_epi32(v[p], 6 - 2 * s), mask);
          const int64_t c = full + quarter * s + 4 * j;
          for (int t = 0; t < kTokTile; ++t) {
            int32_t four;
            std::memcpy(&four, act[t] + c, 4);
            const __m512i q = _mm512_set1_epi32(four);
            for (int p = 0; p < P; ++p) acc[p][t] = _mm512_dpbusd_epi32(acc[p][t], d[p], q);
          }
        }
      }
    }
    // Epilogue (panel_epilogue: ternary_epilogue's, lane by lane). The panels' weight scales for this group are the
    // same for every token: loaded once (gathered per token, they cost a fifth of a prompt matmul with per-256 scales).
    __m512 ws[P];
    for (int p = 0; p < P; ++p) {
      if (groups == 1)
        ws[p] = _mm512_maskz_loadu_ps(lanes(p == P - 1 ? nr_last : kPanelRows), w.scales.data() + r0 + p * kPanelRows);
      else
        ws[p] = _mm512_loadu_ps(scales + p * scales_stride + g * kPanelRows);
    }
    for (int t = 0; t < kTokTile; ++t) {
      const int64_t tok = t0 + std::min<int64_t>(t, nt - 1);
      const float* at = a.qa.scales.data() + tok * at_stride;
      const __m512i sum = _mm512_set1_epi32(a.sums[static_cast<size_t>(tok * groups + g)]);
      for (int p = 0; p < P; ++p) {
        const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[p][t], sum));
        float* out = partial[p][t];
        _mm512_store_ps(out, panel_epilogue(a.qa.rule, g, groups, g == 0 ? f : _mm512_load_ps(out), f, ws[p], at));
      }
    }
  }
  for (int64_t t = 0; t < nt; ++t)
    for (int p = 0; p < P; ++p)
      _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + r0 + p * kPanelRows, lanes(p == P - 1 ? nr_last : kPanelRows),
                            _mm512_load_ps(partial[p][t]));
}

}  // namespace

bool ternary_panels_avx512_fits(const quant::TernaryMatrix& w, const PreparedActs& a) {
  if (a.qa.group != w.group) return false;
  if (w.cols % quant::kTernaryBlock == 0) return w.group % quant::kTernaryBlock == 0 && w.cols / w.group <= 256;
  // A tail of whole 16s after the blocks (to_panel's short block): rows rearranged here (the loader puts only whole
  // blocks in panels), one group a row (bitnet_b1_58-3B's ffn_down: 8640 columns, 64 past 67 blocks, from TL1/TL2).
  return !w.panels && !w.dense && w.group == w.cols && w.cols % 16 == 0;
}

void ternary_matmul_panels_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                  int64_t row_begin, int64_t row_end) {
  if (!ternary_panels_avx512_fits(w, a)) {
    ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
    return;
  }
  const int64_t panel_bytes = kPanelRows * w.row_bytes();
  const int64_t groups = w.cols / w.group;
  // Floats between one panel's scales and the next's: each group's 16 side by side (scales_panel, or the panel
  // layout's own).
  const int64_t scales_stride = groups > 1 ? groups * kPanelRows : 0;
  const int64_t scales_bytes = scales_stride * static_cast<int64_t>(sizeof(float));
  const int64_t n = a.qa.n_tokens;
  for (int64_t cb = row_begin; cb < row_end; cb += kChunkRows) {
    const int64_t ce = std::min(row_end, cb + kChunkRows);
    const int64_t n_panels = (ce - cb + kPanelRows - 1) / kPanelRows;
    // A matrix in panels is read where it lies (row_begin whole panels, so cb is); else this chunk's rows are
    // rearranged into this thread's scratch.
    const PanelChunk chunk = ternary_panel_chunk(
        w, cb, ce,
        w.panels && !w.dense ? nullptr : kernel_scratch(static_cast<size_t>(n_panels * (panel_bytes + scales_bytes))));
    const uint8_t* panels = chunk.codes;
    const float* scales = chunk.scales;
    // While this chunk computes, as many of the next rows' codes as this chunk has rows are fetched, a few lines per
    // 128-column block of every panel_tile call, so rearranging them does not wait on memory (that wait was 5-9% of
    // prompt time). Issued a slice per token tile instead, in bursts of up to 48 lines, the prefetches waited for free
    // miss buffers: 1.7% of a prompt pass of the large model on one instruction after them (perf); spread, pp128 with
    // 2 threads, alternated medians: large I2_S 934.0 -> 942.4 (6 passes), 2B-4T I2_S 340.9 -> 347.4, large TQ2_0
    // 843.6 -> 853.7 (4 each). Past row_end too: callers walk a matrix in consecutive row ranges (gate and up are
    // called 64 rows at a time, so 64 rows ahead there, not 128), and whatever this thread does not take, the other
    // finds in L3. Hint T0: with T1 (L2 on this Zen 5) the first to_panel of a call still spent three quarters of its
    // time waiting on those loads (rdtsc around it, against a second to_panel of the same rows), and prompt
    // processing of the large model ran 2-4% slower.
    const uint8_t* next = ce < w.rows ? w.codes() + ce * w.stored_row_bytes() : nullptr;
    const int64_t next_lines =
        next == nullptr ? 0 : (std::min(w.rows, ce + (ce - cb)) - ce) * w.stored_row_bytes() / 64;
    const int64_t n_calls = (n + kTokTile - 1) / kTokTile * ((n_panels + kTilePanels - 1) / kTilePanels);
    int64_t call = 0;
    for (int64_t t0 = 0; t0 < n; t0 += kTokTile) {
      const int64_t nt = std::min<int64_t>(kTokTile, n - t0);
      for (int64_t p = 0; p < n_panels; p += kTilePanels, ++call) {
        const int64_t r0 = cb + p * kPanelRows;
        const int64_t lo = call * next_lines / n_calls, hi = (call + 1) * next_lines / n_calls;
        const uint8_t* pf = next == nullptr ? nullptr : next + lo * 64;
        if (p + kTilePanels <= n_panels)
          panel_tile<kTilePanels>(w, a, panels + p * panel_bytes, panel_bytes, scales + p * scales_stride,
                                  scales_stride, r0, ce - (r0 + (kTilePanels - 1) * kPanelRows), t0, nt, y, y_stride,
                                  pf, hi - lo);
        else
          panel_tile<1>(w, a, panels + p * panel_bytes, panel_bytes, scales + p * scales_stride, scales_stride, r0,
                        ce - r0, t0, nt, y, y_stride, pf, hi - lo);
      }
    }
  }
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
