// AVX-512 VNNI ternary matmul: 512-bit vpdpbusd (u8 codes x s8 activations, four products summed into s32),
// exact. One 128-column block's 32 code bytes are broadcast to both halves of a zmm and shifted by 6|4 and 2|0
// (quant/ternary.hpp), which lines them up with activations [0, 64) and [64, 128) in natural order.
// Register tiles of up to 4 rows x 4 tokens: each decoded block feeds 4 tokens, each activation load 4 rows;
// rows go in chunks small enough that their codes stay in L2 while every token tile passes over them.
// This file is compiled twice: as it is, and from x86/ternary_avx512_gfni.cpp with BITNET_TERNARY_GFNI defined,
// for CPUs with GFNI (ternary_matmul_avx512_gfni), where one vgf2p8affineqb per half takes each field of 2 bits to
// the bottom of its byte instead of a shift and a mask, in the tiles of 2-7 tokens (one token decodes with masks
// alone: decode_block_gen).
#if defined(__x86_64__)
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/cpu_features.hpp"  // before the target region: code_prefetch.hpp reads it
#include "kernels/ternary.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"

#if defined(BITNET_TERNARY_GFNI)
BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,gfni")
#define BITNET_TERNARY_AVX512_ENTRY ternary_matmul_avx512_gfni
#else
BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#define BITNET_TERNARY_AVX512_ENTRY ternary_matmul_avx512
#endif
// GCC 12's avx512fintrin.h (broadcast/insert/extract via _mm512_undefined_*) trips these falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/code_prefetch.hpp"

namespace bitnet::kernels {
namespace {

constexpr int kRowTile = 4;  // 4 x 4 measured best of 4x4, 2x8, 3x6, 3x8 (zmm accumulators + codes)
constexpr int kTokTile = 4;
constexpr int kGenRowTile = 8;
constexpr int64_t kRowChunk = 64;  // 64 rows of 6912 columns: 108 KB of codes, well inside L2
constexpr int64_t kMaxGroups = 256;
constexpr int64_t kGenMaxGroup = int64_t{1} << 20;  // see decode_block_gen
// Software prefetch distance for generation, in bytes of codes: without it this kernel streamed slower than the
// AVX2 one (14 vs 17 GB/s on one Zen 5 core, bitnet-kernel-bench); 10 KB ahead brought it to 18-22 GB/s. At least
// 12 rows ahead, so that it lands past the 8-row tile being read: 10 KB is under 6 rows of 6912 columns (2B-4T's
// ffn_down), whose rows two threads then streamed at 48-52 GB/s instead of 53-60.
constexpr int64_t kPrefetchAhead = 10240;
constexpr int64_t kPrefetchRows = 12;
// Where the prefetched codes go (code_prefetch.hpp), and how far ahead. One prefetch per 64-byte line: a row's
// 32-byte steps reached each line twice. On the 2-core Intel Xeon VM, L2 and one prefetch a line took generation
// from 84-95 to 92-100 tok/s (large) and 26-27 to 28 (2B-4T), in three alternations; L1 with one a line was between
// the two, and L2 with both prefetches gained 2-4%.
struct GenPrefetch {
  int64_t ahead;
  bool to_l2;
};
inline GenPrefetch gen_prefetch(const quant::TernaryMatrix& w) {
  return {std::max<int64_t>(kPrefetchAhead, kPrefetchRows * w.row_bytes()), stream_prefetch_to_l2()};
}
// Prefetches the line pf.ahead bytes past p, once a line: callers step through a row 32 bytes at a time, and only
// the step whose target lies in a line's first half fetches it.
inline void prefetch_ahead(const uint8_t* p, const GenPrefetch& pf) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(pf.ahead);
  if ((at & 63) < 32) prefetch_code_line(at, pf.to_l2);  // else the line's other half fetched it a step before
}

// A 128-column block's 32 code bytes at p, decoded: lo holds the codes of columns [0, 64) (the fields at bits 6 and 4,
// one a 256-bit half), hi those of [64, 128) (bits 2 and 0), one code a byte, in natural order.
inline void decode_block(const uint8_t* p, __m512i& lo, __m512i& hi) {
  const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#if defined(BITNET_TERNARY_GFNI)
  // Bit i of each output byte is the parity of (the matrix's byte 7 - i) & input: byte 7 = 1 << k and byte 6 =
  // 2 << k copy bits k and k + 1 to bits 0 and 1, and the rest are 0.
  const __m512i take_lo = _mm512_inserti64x4(_mm512_set1_epi64(0x4080000000000000LL),
                                             _mm256_set1_epi64x(0x1020000000000000LL), 1);  // k = 6 | 4
  const __m512i take_hi = _mm512_inserti64x4(_mm512_set1_epi64(0x0408000000000000LL),
                                             _mm256_set1_epi64x(0x0102000000000000LL), 1);  // k = 2 | 0
  lo = _mm512_gf2p8affine_epi64_epi8(v, take_lo, 0);
  hi = _mm512_gf2p8affine_epi64_epi8(v, take_hi, 0);
#else
  const __m512i mask = _mm512_set1_epi8(3);
  const __m512i shift_lo = _mm512_inserti64x4(_mm512_set1_epi16(6), _mm256_set1_epi16(4), 1);
  const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(0), 1);
  lo = _mm512_and_si512(_mm512_srlv_epi16(v, shift_lo), mask);
  hi = _mm512_and_si512(_mm512_srlv_epi16(v, shift_hi), mask);
#endif
}

// decode_block for generation, where the products of a decoded block go to one register per row: lo and hi hold
// the same codes as there, but scaled: each field masked where it lies, lo's at bits 6 (x 64) and 4 (x 16), hi's
// at bits 2 and 0 shifted up by 4 to match (x 64 and x 16 again, bits that stay in their byte). vpdpbusd's lanes 0-7
// then sum 64 x their products, lanes 8-15 16 x theirs, which unscale_gen takes back exactly (a product is at most 192
// x 128 in size and a lane sums 8 of them a block: inside int32 for groups of up to kGenMaxGroup columns). Two masks
// and a shift, where GFNI's two vgf2p8affineqb (or two shifts and two masks) compete with vpdpbusd for the multiply
// pipes on Zen 4: one thread in L2 (bitnet-kernel-bench ternary/l2_1536x512/tokens:1/avx512-vnni) 24.4-24.6 ->
// 27.8-29.2 GB/s, streaming 22-23 -> 25.5-26 (with the L2 prefetch of code_prefetch.hpp).
inline void decode_block_gen(const uint8_t* p, __m512i& lo, __m512i& hi) {
  const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  const __m512i keep_lo =
      _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(0xc0)), _mm256_set1_epi8(static_cast<char>(0x30)), 1);
  const __m512i keep_hi = _mm512_inserti64x4(_mm512_set1_epi8(0x0c), _mm256_set1_epi8(0x03), 1);
  lo = _mm512_and_si512(v, keep_lo);
  hi = _mm512_slli_epi16(_mm512_and_si512(v, keep_hi), 4);
}

// A row's 16 lane sums of decode_block_gen's products, unscaled: lanes 0-7 / 64, lanes 8-15 / 16 (exact: multiples).
inline __m512i unscale_gen(__m512i acc) {
  return _mm512_mask_mov_epi32(_mm512_srai_epi32(acc, 6), 0xff00, _mm512_srai_epi32(acc, 4));
}

// Lane r: the sum of acc[r][0]'s 16 lanes (exact integer adds, any order).
inline __m256i reduce8(const __m512i (&acc)[8][1]) {
  __m256i h[8];
  for (int r = 0; r < 8; ++r)
    h[r] = _mm256_add_epi32(_mm512_castsi512_si256(acc[r][0]), _mm512_extracti64x4_epi64(acc[r][0], 1));
  const __m256i b0 = _mm256_hadd_epi32(h[0], h[1]), b1 = _mm256_hadd_epi32(h[2], h[3]);
  const __m256i b2 = _mm256_hadd_epi32(h[4], h[5]), b3 = _mm256_hadd_epi32(h[6], h[7]);
  const __m256i c0 = _mm256_hadd_epi32(b0, b1), c1 = _mm256_hadd_epi32(b2, b3);  // 128-bit halves: rows 0-3, 4-7
  return _mm256_add_epi32(_mm256_permute2x128_si256(c0, c1, 0x20), _mm256_permute2x128_si256(c0, c1, 0x31));
}

// One token's dots with 8 rows of one group (the whole row), acc[r][0] holding row r's 16 partial sums: reduced
// together, then ternary_epilogue's operations for groups == 1 on the 8 lanes. Eight separate horizontal sums and
// scalar epilogues cost about as much as the products on 1536-column rows.
inline void gen_tile_out(const quant::TernaryMatrix& w, const PreparedActs& a, const __m512i (&acc)[8][1], int64_t r0,
                         int64_t t, float* y_row) {
  const __m256i dots = reduce8(acc);
  const __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_set1_epi32(a.sums[static_cast<size_t>(t)])));
  const __m256 ws = _mm256_loadu_ps(w.scales.data() + r0);
  const __m256 at = _mm256_set1_ps(a.qa.scales[static_cast<size_t>(t * (w.cols / a.qa.group))]);
  const __m256 out = a.qa.rule == quant::ActQuant::kQ8K
                         ? _mm256_add_ps(_mm256_setzero_ps(), _mm256_mul_ps(f, _mm256_mul_ps(ws, at)))
                         : _mm256_mul_ps(_mm256_div_ps(f, at), ws);
  _mm256_storeu_ps(y_row + r0, out);
}

// Generation's step: columns [c, c + 128) of R rows against one token's activations, each row's products (scaled:
// decode_block_gen) added to its 16 lane sums in acc[r][0]; the rows' codes pf.ahead bytes on are fetched
// (generation streams them).
template <int R>
inline void gen_block(const uint8_t* const (&rows)[R], const int8_t* act, int64_t c, const GenPrefetch& pf,
                      __m512i (&acc)[R][1]) {
  __m512i lo[R], hi[R];
  for (int r = 0; r < R; ++r) prefetch_ahead(rows[r] + c / 4, pf);
  for (int r = 0; r < R; ++r) decode_block_gen(rows[r] + c / 4, lo[r], hi[r]);
  const __m512i a0 = _mm512_loadu_si512(act + c);
  const __m512i a1 = _mm512_loadu_si512(act + c + 64);
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], lo[r], a0);
    acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], hi[r], a1);
  }
}

// Generation with the Q8_K rule (TQ1_0/TQ2_0: a weight scale per row per 256 columns): 8 rows of one token, all
// columns in whole 128-blocks, group after group: the 8 rows' dots reduced together, then out += (float)(dot -
// act_sum) * (w_scale * act_scale) on 8 lanes in the reference's group order. Its own function, not a branch of
// run_tile (whose per-group exit made the compiler spill accumulators in the dot loop), and it fetches the weight
// scales ahead: they are an array of their own (33 MB for 2B-4T) that streams from memory as the codes do, and
// without that 2B-4T TQ2_0 generation ran 13-20% slower than I2_S's (the separate function alone: no change).
void gen_tile8_q8k(const quant::TernaryMatrix& w, const PreparedActs& a, int64_t r0, int64_t t, float* y_row,
                   int64_t groups) {
  const int64_t group = w.group;
  const uint8_t* rows[8];
  for (int r = 0; r < 8; ++r) rows[r] = w.row(r0 + r);
  const int8_t* act = a.qa.q.data() + t * w.cols;
  const float* ws = w.scales.data() + r0 * groups;
  const GenPrefetch pf = gen_prefetch(w);
  if (r0 + 24 <= w.rows) {  // the scales of the tile two ahead
    const char* next = reinterpret_cast<const char*>(ws + 16 * groups);
    for (int64_t b = 0; b < 8 * groups * 4; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
  }
  __m256 out = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i acc[8][1];
    for (int r = 0; r < 8; ++r) acc[r][0] = _mm512_setzero_si512();
    for (int64_t c = g * group; c < (g + 1) * group; c += 128) gen_block<8>(rows, act, c, pf, acc);
    for (int r = 0; r < 8; ++r) acc[r][0] = unscale_gen(acc[r][0]);
    const __m256 f = _mm256_cvtepi32_ps(
        _mm256_sub_epi32(reduce8(acc), _mm256_set1_epi32(a.sums[static_cast<size_t>(t * groups + g)])));
    const __m256 wsv = _mm256_setr_ps(ws[g], ws[groups + g], ws[2 * groups + g], ws[3 * groups + g], ws[4 * groups + g],
                                      ws[5 * groups + g], ws[6 * groups + g], ws[7 * groups + g]);
    const __m256 at = _mm256_set1_ps(a.qa.scales[static_cast<size_t>(t * groups + g)]);
    out = _mm256_add_ps(out, _mm256_mul_ps(f, _mm256_mul_ps(wsv, at)));
  }
  _mm256_storeu_ps(y_row + r0, out);
}

// sum(code * act) over tail columns [c0, c1) of a row in the row layout (column c in byte c / 4 at shift 2 (c % 4);
// c0 and c1 multiples of 4), 64 columns a step: each 128-bit lane takes 16 columns, its 4 code bytes copied to its 4
// dwords and dword k shifted right by 2k, so that byte j of dword k holds column 4j + k's code; the lane's
// activations shuffled to the same order; one vpdpbusd. A last partial step reads zeroed copies (code 0 times
// activation 0).
// Scalar, the tail of 64 columns of bitnet_b1_58-3B's ffn_down took half of that matrix's generation time.
inline int32_t tail_dot(const uint8_t* row, const int8_t* act, int64_t c0, int64_t c1) {
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6);
  const __m512i by_k = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i threes = _mm512_set1_epi8(3);
  __m512i acc = _mm512_setzero_si512();
  for (int64_t c = c0; c < c1; c += 64) {
    __m128i bytes;
    __m512i x;
    if (c1 - c >= 64) {
      bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 4));
      x = _mm512_loadu_si512(act + c);
    } else {  // through zeroed copies (masked byte loads: not in the emulated build's SIMDe)
      alignas(64) int8_t xs[64] = {};
      alignas(16) uint8_t bs[16] = {};
      std::memcpy(bs, row + c / 4, static_cast<size_t>((c1 - c) / 4));
      std::memcpy(xs, act + c, static_cast<size_t>(c1 - c));
      bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(bs));
      x = _mm512_load_si512(xs);
    }
    const __m512i codes = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_permutexvar_epi32(spread, _mm512_castsi128_si512(bytes)), shifts), threes);
    acc = _mm512_dpbusd_epi32(acc, codes, _mm512_shuffle_epi8(x, by_k));
  }
  return _mm512_reduce_add_epi32(acc);
}

// Integer dots of R rows x T tokens over every group, then the shared float epilogue into y.
template <int R, int T>
void run_tile(const quant::TernaryMatrix& w, const PreparedActs& a, int64_t r0, int64_t t0, float* y, int64_t y_stride,
              int64_t full, int64_t groups) {
  const int64_t cols = w.cols, group = w.group;
  const uint8_t* rows[R];
  const int8_t* acts[T];
  for (int r = 0; r < R; ++r) rows[r] = w.row(r0 + r);
  for (int t = 0; t < T; ++t) acts[t] = a.qa.q.data() + (t0 + t) * cols;
  const int32_t* sums = a.sums.data();
  int32_t idot[R][T][kMaxGroups];
  const GenPrefetch pf = gen_prefetch(w);
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group;
    const int64_t ge_full = gb + group < full ? gb + group : full;
    __m512i acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
    if constexpr (T == 1) {
      for (int64_t c = gb; c < ge_full; c += 128) gen_block<R>(rows, acts[0], c, pf, acc);
      for (int r = 0; r < R; ++r) acc[r][0] = unscale_gen(acc[r][0]);
    } else {
      // Batches of 2-7 tokens (8 and more go to the panel kernel): the tile's activations are loaded once per
      // block and each row is decoded just before its products.
      for (int64_t c = gb; c < ge_full; c += 128) {
        __m512i a0[T], a1[T];
        for (int t = 0; t < T; ++t) {
          a0[t] = _mm512_loadu_si512(acts[t] + c);
          a1[t] = _mm512_loadu_si512(acts[t] + c + 64);
        }
        for (int r = 0; r < R; ++r) {
          __m512i lo, hi;
          decode_block(rows[r] + c / 4, lo, hi);
          for (int t = 0; t < T; ++t) {
            acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], lo, a0[t]);
            acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], hi, a1[t]);
          }
        }
      }
    }
    if constexpr (R == 8 && T == 1) {
      if (groups == 1 && full == cols) {  // I2_S: all 8 rows' sums at once and the epilogue on 8 lanes
        gen_tile_out(w, a, acc, r0, t0, y + t0 * y_stride);
        return;
      }
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        int32_t s = _mm512_reduce_add_epi32(acc[r][t]);
        if (tail_begin < gb + group) s += tail_dot(rows[r], acts[t], tail_begin, gb + group);
        idot[r][t][g] = s - sums[(t0 + t) * groups + g];
      }
  }
  const int64_t at_stride = cols / a.qa.group;
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      y[(t0 + t) * y_stride + r0 + r] =
          ternary_epilogue(a.qa.rule, idot[r][t], groups, w.scales.data() + (r0 + r) * groups,
                           a.qa.scales.data() + (t0 + t) * at_stride);
}

template <int T>
void run_rows(const quant::TernaryMatrix& w, const PreparedActs& a, int64_t rb, int64_t re, int64_t t0, float* y,
              int64_t y_stride, int64_t full, int64_t groups) {
  int64_t r = rb;
  // Generation (one token): 8 rows at a time, 8 code streams in flight: one thread streamed 20 GB/s of codes with
  // 4 rows and 24-30 with 8; 2B-4T generation on 2 threads went from 38-42 to 47-49 tok/s (16 rows: 45-47).
  if constexpr (T == 1) {
    if (a.qa.rule == quant::ActQuant::kQ8K && groups > 1 && full == w.cols && w.group % 128 == 0)
      for (; r + kGenRowTile <= re; r += kGenRowTile) gen_tile8_q8k(w, a, r, t0, y + t0 * y_stride, groups);
    for (; r + kGenRowTile <= re; r += kGenRowTile) run_tile<kGenRowTile, 1>(w, a, r, t0, y, y_stride, full, groups);
  }
  for (; r + kRowTile <= re; r += kRowTile) run_tile<kRowTile, T>(w, a, r, t0, y, y_stride, full, groups);
  for (; r < re; ++r) run_tile<1, T>(w, a, r, t0, y, y_stride, full, groups);
}

}  // namespace

void BITNET_TERNARY_AVX512_ENTRY(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                 int64_t row_begin, int64_t row_end) {
  const int64_t groups = w.cols / a.qa.group;
  if (groups > kMaxGroups || a.qa.group != w.group) {
    ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);  // shapes no real model has
    return;
  }
  const int64_t n = a.qa.n_tokens;
  if (w.panels) {
    if (!ternary_panels_avx512_fits(w, a) || (w.dense && !cpu_features().avx512vbmi))
      return ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
    const auto [pb, pe] = whole_panel_rows(row_begin, row_end);
    if (row_begin < pb) ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, pb);
    if (pe < row_end) ternary_matmul_ref(w, a.qa, y, y_stride, pe, row_end);
    if (pb == pe) return;
    if (n >= kAmxMinTokens && amx_active())
      ternary_matmul_amx(w, a, y, y_stride, pb, pe);
    else if (n >= kPanelMinTokens)
      ternary_matmul_panels_avx512(w, a, y, y_stride, pb, pe);
    else if (w.group <= kPanelGemvMaxGroup)
      (w.dense ? ternary_gemv_dense_avx512 : ternary_gemv_panels_avx512)(w, a, y, y_stride, pb, pe);
    else
      ternary_matmul_ref(w, a.qa, y, y_stride, pb, pe);
    return;
  }
  if (n >= kPanelMinTokens && ternary_panels_avx512_fits(w, a)) {
    if (n >= kAmxMinTokens && amx_active())
      ternary_matmul_amx(w, a, y, y_stride, row_begin, row_end);
    else
      ternary_matmul_panels_avx512(w, a, y, y_stride, row_begin, row_end);
    return;
  }
  // (decode_block_gen's scaled sums: exact only for groups of up to kGenMaxGroup columns, far past any model's rows)
  if (w.group > kGenMaxGroup) return ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
  const int64_t full = w.cols / 128 * 128;
  for (int64_t rb = row_begin; rb < row_end; rb += kRowChunk) {
    const int64_t re = rb + kRowChunk < row_end ? rb + kRowChunk : row_end;
    int64_t t0 = 0;
    for (; t0 + kTokTile <= n; t0 += kTokTile) run_rows<kTokTile>(w, a, rb, re, t0, y, y_stride, full, groups);
    switch (n - t0) {
      case 3:
        run_rows<3>(w, a, rb, re, t0, y, y_stride, full, groups);
        break;
      case 2:
        run_rows<2>(w, a, rb, re, t0, y, y_stride, full, groups);
        break;
      case 1:
        run_rows<1>(w, a, rb, re, t0, y, y_stride, full, groups);
        break;
      default:
        break;
    }
  }
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#undef BITNET_TERNARY_AVX512_ENTRY
#endif
