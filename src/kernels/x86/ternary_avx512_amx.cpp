// Ternary matmul for prompt batches on AMX tiles (Intel Sapphire Rapids and later): one tile instruction multiplies
// 16 tokens' int8 activations by 16 rows' weights over 64 columns (16 x 16 x 64 multiply-adds; vpdpbusd does 16 x 4).
// Weights come in 16-row panels (quant/ternary.hpp; built on the fly from the row layout as the panel kernel does),
// and a chunk of two panels is widened, a block of columns at a time, to one code byte per weight in the tile's B
// layout: for 64-column step k, 16 rows of 64 bytes, row r holding the codes of columns 64k + 4r + [0, 4) of the
// panel's 16 rows (4 bytes a row). Panel dword j shifted right by 6 - 2s and masked to 2 bits holds columns
// 128b + 32s + 4j + [0, 4), so B row r of step 2b + h is dword r % 8 at shift 6 - 2(2h + r / 8). tdpbsud (signed
// activations times unsigned codes) sums code * q exactly; subtracting the activations' sum gives the reference's
// integer dot, and the float epilogue is panel_epilogue's, lane by lane (a tile row is one token's 16 rows), so
// outputs are bit-equal to the reference.
#if defined(__x86_64__)
#include "kernels/x86/avx512_intrinsics.hpp"
#if defined(BITNET_EMULATE_AVX512)
#include "kernels/x86/amx_emulated.hpp"
#endif

#include <algorithm>
#include <cstring>

#include "kernels/ternary.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,amx-tile,amx-int8")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/ternary_avx512_epilogue.hpp"

namespace bitnet::kernels {
namespace {

constexpr int kRows = static_cast<int>(quant::kPanelRows);  // weight rows per tile (B columns)
constexpr int kTokens = 16;                                 // tokens per tile (A rows)
constexpr int kStep = 64;                                   // columns per tile instruction
constexpr int kTileBytes = kRows * kStep;                   // one B tile: 1 KB
constexpr int kChunkPanels = 2;                             // rows taken at a time: 2 panels
// Columns a pass takes (within a group): 512, whose widened weights (2 panels: 32 KB) stay in L1 while each pair of
// token tiles takes them in turn. Large I2_S pp128, 2 runs each: 1525/1566 tok/s, against 1514/1478 with 256 columns,
// 1527/1566 with 1024, and 1482/1456 for all of a row (one pass a pair). Each block is widened just before its
// passes, into the same 32 KB. Widened a whole chunk at a time (221 KB for 6912 columns, in L2), the first pass over
// each block read it back from L2: pp128 medians of 3 passes alternating the two builds, 2B-4T I2_S 620.6 -> 670.3
// tok/s, large 1538.9 -> 1631.6, 2B-4T TQ2_0 451.9 -> 501.9, large TQ2_0 1203.4 -> 1327.9; the kernel alone on
// 2B-4T's FFN shapes, 1003-1044 -> 1115-1271 G multiply-adds/s.
constexpr int64_t kBlockSteps = 8;

// Tiles 0-3 accumulate (token tile x panel), 4-5 hold activations, 6-7 widened weights; all 16 rows x 64 bytes.
struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void configure_tiles() {
  alignas(64) TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = kStep;
    c.rows[i] = kTokens;
  }
  _tile_loadconfig(&c);
}

inline __mmask16 lanes(int64_t n) { return static_cast<__mmask16>(n >= kRows ? 0xFFFFu : (1u << n) - 1u); }

// 128-column blocks [b0, b1) of a panel (512 bytes each at src) as B tiles: step 2 b0 + k's at dst + k * step_stride.
void widen_panel(const uint8_t* src, int64_t b0, int64_t b1, uint8_t* dst, int64_t step_stride) {
  const __m512i mask = _mm512_set1_epi8(3);
  for (int64_t b = b0; b < b1; ++b) {
    uint8_t* lo = dst + 2 * (b - b0) * step_stride;  // columns 128b + [0, 64): s = 0, 1
    uint8_t* hi = lo + step_stride;                  // columns 128b + [64, 128): s = 2, 3
    for (int j = 0; j < 8; ++j) {
      const __m512i v = _mm512_loadu_si512(src + b * 512 + j * 64);
      _mm512_store_si512(lo + j * 64, _mm512_and_si512(_mm512_srli_epi32(v, 6), mask));
      _mm512_store_si512(lo + (8 + j) * 64, _mm512_and_si512(_mm512_srli_epi32(v, 4), mask));
      _mm512_store_si512(hi + j * 64, _mm512_and_si512(_mm512_srli_epi32(v, 2), mask));
      _mm512_store_si512(hi + (8 + j) * 64, _mm512_and_si512(v, mask));
    }
  }
}

// Where a pair of token tiles stands between column blocks: the current group's integer sums so far, and the float
// sums over the groups before it (groups > 1).
struct PairState {
  alignas(64) int32_t dots[2][2][kTokens][kRows];  // [token tile][panel]
  alignas(64) float partial[2][2][kTokens][kRows];
};

// Steps [k0, k1) (within one group) of TT token tiles (first token of each in tok[]) times P panels (B tiles `wide` +
// p * kTileBytes, step k0 first, steps step_stride apart; the first panel holds rows from r0, the last nr_last of
// them), carried on from and back to st; at the end of a group its epilogue, and after the last, the outputs stored to
// y. With groups > 1, `scales` holds the panels' scales (scales_stride floats apart). The pf_lines cache lines from pf
// on are prefetched, spread over the steps.
template <int TT, int P>
void amx_pass(const quant::TernaryMatrix& w, const PreparedActs& a, const int64_t* tok, int64_t k0, int64_t k1,
              PairState& st, const uint8_t* wide, int64_t step_stride, const float* scales, int64_t scales_stride,
              int64_t r0, int64_t nr_last, float* y, int64_t y_stride, const uint8_t* pf, int64_t pf_lines) {
  const int64_t cols = w.cols, groups = cols / w.group, steps_per_group = w.group / kStep;
  const int64_t g = k0 / steps_per_group;
  const int8_t* act0 = a.qa.q.data() + tok[0] * cols;
  const int8_t* act1 = a.qa.q.data() + tok[TT - 1] * cols;
  if (k0 % steps_per_group == 0) {
    _tile_zero(0);
    if constexpr (P == 2) _tile_zero(1);
    if constexpr (TT == 2) _tile_zero(2);
    if constexpr (TT == 2 && P == 2) _tile_zero(3);
  } else {
    _tile_loadd(0, st.dots[0][0], kRows * 4);
    if constexpr (P == 2) _tile_loadd(1, st.dots[0][1], kRows * 4);
    if constexpr (TT == 2) _tile_loadd(2, st.dots[1][0], kRows * 4);
    if constexpr (TT == 2 && P == 2) _tile_loadd(3, st.dots[1][1], kRows * 4);
  }
  for (int64_t k = k0; k < k1; ++k) {
    const uint8_t* wk = wide + (k - k0) * step_stride;
    for (int64_t l = (k - k0) * pf_lines / (k1 - k0); l < (k - k0 + 1) * pf_lines / (k1 - k0); ++l)
      _mm_prefetch(reinterpret_cast<const char*>(pf + l * 64), _MM_HINT_T0);
    _tile_loadd(4, act0 + k * kStep, cols);
    _tile_loadd(6, wk, kStep);
    _tile_dpbsud(0, 4, 6);
    if constexpr (P == 2) {
      _tile_loadd(7, wk + kTileBytes, kStep);
      _tile_dpbsud(1, 4, 7);
    }
    if constexpr (TT == 2) {
      _tile_loadd(5, act1 + k * kStep, cols);
      _tile_dpbsud(2, 5, 6);
      if constexpr (P == 2) _tile_dpbsud(3, 5, 7);
    }
  }
  _tile_stored(0, st.dots[0][0], kRows * 4);
  if constexpr (P == 2) _tile_stored(1, st.dots[0][1], kRows * 4);
  if constexpr (TT == 2) _tile_stored(2, st.dots[1][0], kRows * 4);
  if constexpr (TT == 2 && P == 2) _tile_stored(3, st.dots[1][1], kRows * 4);
  if (k1 % steps_per_group != 0) return;
  const int64_t at_stride = cols / a.qa.group;
  __m512 ws[P];
  for (int p = 0; p < P; ++p) {
    if (groups == 1)
      ws[p] = _mm512_maskz_loadu_ps(lanes(p == P - 1 ? nr_last : kRows), w.scales.data() + r0 + p * kRows);
    else
      ws[p] = _mm512_loadu_ps(scales + p * scales_stride + g * kRows);
  }
  for (int tt = 0; tt < TT; ++tt)
    for (int m = 0; m < kTokens; ++m) {
      const int64_t t = tok[tt] + m;
      const float* at = a.qa.scales.data() + t * at_stride;
      const __m512i sum = _mm512_set1_epi32(a.sums[static_cast<size_t>(t * groups + g)]);
      for (int p = 0; p < P; ++p) {
        const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(st.dots[tt][p][m]), sum));
        float* out = st.partial[tt][p][m];
        const __m512 r = panel_epilogue(a.qa.rule, g, groups, g == 0 ? f : _mm512_load_ps(out), f, ws[p], at);
        if (g + 1 < groups)
          _mm512_store_ps(out, r);
        else
          _mm512_mask_storeu_ps(y + t * y_stride + r0 + p * kRows, lanes(p == P - 1 ? nr_last : kRows), r);
      }
    }
}

}  // namespace

void ternary_matmul_amx(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end) {
  const int64_t n = a.qa.n_tokens;
  if (!ternary_panels_avx512_fits(w, a) || n < kTokens) {
    ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
    return;
  }
  if (w.cols % quant::kTernaryBlock != 0)  // a tail after the blocks: the tiles take whole blocks only
    return ternary_matmul_panels_avx512(w, a, y, y_stride, row_begin, row_end);
  const int64_t steps = w.cols / kStep;
  const int64_t panel_bytes = kRows * w.row_bytes();
  const int64_t groups = w.cols / w.group;
  const int64_t scales_stride = groups > 1 ? groups * kRows : 0;
  // Token tiles start every 16 tokens; a last partial one starts at n - 16 instead, recomputing (bit-equal) some of
  // the tile before it, so every tile is whole.
  const int64_t n_tiles = (n + kTokens - 1) / kTokens;
  const int64_t n_pairs = (n_tiles + 1) / 2, steps_per_group = w.group / kStep;
  const size_t wide_bytes = static_cast<size_t>(kBlockSteps * kChunkPanels * kTileBytes);
  const size_t states_bytes = static_cast<size_t>(n_pairs) * sizeof(PairState);
  const size_t panels_bytes = static_cast<size_t>(kChunkPanels * (panel_bytes + scales_stride * 4));
  uint8_t* scratch = kernel_scratch(wide_bytes + states_bytes + (w.panels && !w.dense ? 0 : panels_bytes));
  uint8_t* wide = scratch;
  auto* states = reinterpret_cast<PairState*>(scratch + wide_bytes);
  configure_tiles();
  for (int64_t cb = row_begin; cb < row_end; cb += kChunkPanels * kRows) {
    const int64_t ce = std::min(row_end, cb + kChunkPanels * kRows);
    const int64_t n_panels = (ce - cb + kRows - 1) / kRows;
    const PanelChunk chunk = ternary_panel_chunk(w, cb, ce, scratch + wide_bytes + states_bytes);
    const uint8_t* panels = chunk.codes;
    const float* scales = chunk.scales;
    const int64_t step_stride = n_panels * kTileBytes;
    const int64_t nr_last = ce - (cb + (n_panels - 1) * kRows);
    // While this chunk computes, the next chunk's codes are fetched, spread over its tile steps, so that rearranging
    // them does not wait on memory (the rows of a chunk are consecutive bytes in either layout).
    const uint8_t* next = ce < w.rows ? w.codes() + ce * w.stored_row_bytes() : nullptr;
    const int64_t next_lines =
        next == nullptr ? 0 : (std::min(w.rows, ce + (ce - cb)) - ce) * w.stored_row_bytes() / 64;
    // Column blocks of up to kBlockSteps steps, none across a group's end, each taken by every pair of token tiles
    // in turn: the block's widened weights (32 KB at most) stay in L1 while the pairs' activations stream past.
    const int64_t n_blocks = (steps_per_group + kBlockSteps - 1) / kBlockSteps * groups;
    const int64_t n_calls = n_blocks * n_pairs;
    int64_t call = 0;
    for (int64_t k0 = 0; k0 < steps;) {
      const int64_t k1 = std::min(k0 + kBlockSteps, (k0 / steps_per_group + 1) * steps_per_group);
      for (int64_t p = 0; p < n_panels; ++p)  // k0 and k1 even: groups are whole 128-column blocks
        widen_panel(panels + p * panel_bytes, k0 / 2, k1 / 2, wide + p * kTileBytes, step_stride);
      for (int64_t i = 0; i < n_pairs; ++i, ++call) {
        const int64_t tok[2] = {std::min(2 * i * kTokens, n - kTokens), std::min((2 * i + 1) * kTokens, n - kTokens)};
        const int64_t lo = call * next_lines / n_calls, hi = (call + 1) * next_lines / n_calls;
        const uint8_t* pf = next == nullptr ? nullptr : next + lo * 64;
        PairState& st = states[i];
        if (2 * i + 1 < n_tiles) {
          if (n_panels == 2)
            amx_pass<2, 2>(w, a, tok, k0, k1, st, wide, step_stride, scales, scales_stride, cb, nr_last, y, y_stride,
                           pf, hi - lo);
          else
            amx_pass<2, 1>(w, a, tok, k0, k1, st, wide, step_stride, scales, scales_stride, cb, nr_last, y, y_stride,
                           pf, hi - lo);
        } else if (n_panels == 2) {
          amx_pass<1, 2>(w, a, tok, k0, k1, st, wide, step_stride, scales, scales_stride, cb, nr_last, y, y_stride, pf,
                         hi - lo);
        } else {
          amx_pass<1, 1>(w, a, tok, k0, k1, st, wide, step_stride, scales, scales_stride, cb, nr_last, y, y_stride, pf,
                         hi - lo);
        }
      }
      k0 = k1;
    }
  }
  _tile_release();
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
