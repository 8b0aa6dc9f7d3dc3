// AVX2 ternary matmul: 2-bit codes x int8 activations with maddubs (u8 x s8 -> s16 pairs), exact. Prompt batches
// decode each chunk of rows once, to a byte per code; generation and small batches decode in registers per token tile.
// Nothing from the standard library is instantiated here (these functions carry the AVX2 target).
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/ternary.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace bitnet::kernels {
namespace {

// One 128-column block: codes (u8, 0..3; c0..c3 are the block's 32 code bytes shifted right by 6, 4, 2, 0, as
// quant/ternary.hpp lays them out) times activations (s8, natural order) at `a`, as int16 lanes. |code * q| <= 3 * 128,
// so a maddubs pair is <= 768 (no saturation) and the block's four sets <= 3072 per lane. Integer result per group:
// sum(code * q) - sum(q) = sum((code - 1) * q) = sum(w * q), exactly.
inline __m256i block_sum16(__m256i c0, __m256i c1, __m256i c2, __m256i c3, const int8_t* a) {
  const __m256i* ap = reinterpret_cast<const __m256i*>(a);
  return _mm256_add_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_loadu_si256(ap)),
                                           _mm256_maddubs_epi16(c1, _mm256_loadu_si256(ap + 1))),
                          _mm256_add_epi16(_mm256_maddubs_epi16(c2, _mm256_loadu_si256(ap + 2)),
                                           _mm256_maddubs_epi16(c3, _mm256_loadu_si256(ap + 3))));
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Tail columns [c0, c1) (past the last full 128-block, LSB-first codes) of one row: sum(code * q).
inline int32_t tail_code_dot(const uint8_t* row, const int8_t* q, int64_t c0, int64_t c1) {
  int32_t s = 0;
  for (int64_t c = c0; c < c1; ++c) s += static_cast<int32_t>((row[c / 4] >> (2 * (c % 4))) & 3) * q[c];
  return s;
}

constexpr int kTile = 4;           // tokens sharing one decode of a weight block
constexpr int64_t kRowChunk = 32;  // rows sharing one pass over a token tile's activations
constexpr int64_t kMaxGroups = 256;
constexpr int64_t kBlocks16 = 8;  // blocks summed in int16 (block_sum16)
static_assert(kBlocks16 * 3072 <= 32767, "int16 block sums would overflow");

// Integer dots of one row with T tokens (pointers p[0..T-1] into the activations), per group, into
// idot[t][g]: each weight block is decoded once and used for all T tokens.
template <int T>
inline void row_dots(const uint8_t* row, const PreparedActs& a, const int64_t* tok, int64_t cols, int64_t group,
                     int64_t groups, int64_t full, int32_t (*idot)[kMaxGroups]) {
  const __m256i mask = _mm256_set1_epi8(3);
  const int8_t* p[T];
  for (int i = 0; i < T; ++i) p[i] = a.qa.q.data() + tok[i] * cols;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group;
    const int64_t ge_full = gb + group < full ? gb + group : full;
    __m256i acc[T];
    for (int i = 0; i < T; ++i) acc[i] = _mm256_setzero_si256();
    // int16 sums over up to kBlocks16 blocks (each adds at most 3072 to a lane), widened to int32 once.
    for (int64_t c = gb; c < ge_full;) {
      const int64_t ce = c + 128 * kBlocks16 < ge_full ? c + 128 * kBlocks16 : ge_full;
      __m256i s16[T];
      for (int i = 0; i < T; ++i) s16[i] = _mm256_setzero_si256();
      for (; c < ce; c += 128) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c / 4));
        const __m256i c0 = _mm256_and_si256(_mm256_srli_epi16(v, 6), mask);
        const __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        const __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(v, 2), mask);
        const __m256i c3 = _mm256_and_si256(v, mask);
#pragma GCC unroll 4
        for (int i = 0; i < T; ++i) s16[i] = _mm256_add_epi16(s16[i], block_sum16(c0, c1, c2, c3, p[i] + c));
      }
      for (int i = 0; i < T; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s16[i], _mm256_set1_epi16(1)));
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int i = 0; i < T; ++i) {
      int32_t s = hsum_epi32(acc[i]);
      if (tail_begin < gb + group) s += tail_code_dot(row, a.qa.q.data() + tok[i] * cols, tail_begin, gb + group);
      idot[i][g] = s - a.sums[static_cast<size_t>(tok[i] * groups + g)];
    }
  }
}

// Generation and batches under kDecodeMinTokens (and shapes the decoded path does not take): each weight block
// decoded in registers for a tile of up to 4 tokens.
void ternary_matmul_avx2_rows(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end) {
  const int64_t cols = w.cols;
  const int64_t group = a.qa.group;
  const int64_t groups = cols / group;
  if (groups > kMaxGroups || group != w.group) {
    ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);  // shapes no real model has
    return;
  }
  const int64_t full = cols / 128 * 128;
  const int64_t n = a.qa.n_tokens;
  const int64_t at_stride = cols / a.qa.group;
  int32_t idot[kTile][kMaxGroups];
  // Rows in chunks, token tiles inside: a tile's activations stay in L1 across the chunk's rows, where walking all
  // tokens per row streamed every token's activations from L2 once per row (a byte per multiply-add: prompt
  // processing ran at 94 GMAC/s against maddubs' 220 on one Zen 5 core).
  for (int64_t rb = row_begin; rb < row_end; rb += kRowChunk) {
    const int64_t re = rb + kRowChunk < row_end ? rb + kRowChunk : row_end;
    for (int64_t t0 = 0; t0 < n;) {
      // tiles of kTile tokens; the remainder (and generation's single token) one token at a time
      const int nt = n - t0 >= kTile ? kTile : 1;
      int64_t tok[kTile];
      for (int i = 0; i < nt; ++i) tok[i] = t0 + i;
      for (int64_t r = rb; r < re; ++r) {
        const uint8_t* row = w.row(r);
        const float* ws = w.scales.data() + r * groups;
        if (nt == kTile) {
          row_dots<kTile>(row, a, tok, cols, group, groups, full, idot);
        } else {
          row_dots<1>(row, a, tok, cols, group, groups, full, idot);
        }
        for (int i = 0; i < nt; ++i)
          y[(t0 + i) * y_stride + r] =
              ternary_epilogue(a.qa.rule, idot[i], groups, ws, a.qa.scales.data() + (t0 + i) * at_stride);
      }
      t0 += nt;
    }
  }
}

// Prompt batches: each chunk of rows is decoded once to a byte per code, in L2, so the token tiles' inner loop is
// loads, maddubs and adds only (decoding per tile took a fifth of its vector operations).
constexpr int64_t kDecodeMinTokens = 8;
constexpr int64_t kDecodeRows = 32;  // 32 rows of 6912 columns: 221 KB of decoded codes

// One row's codes as bytes, block by block: block b's 128 bytes are its 32 code bytes shifted by 6, 4, 2 and 0,
// so decoded byte 32s + k of the block lines up with activation 128b + 32s + k.
void decode_row(const uint8_t* row, int64_t blocks, uint8_t* out) {
  const __m256i mask = _mm256_set1_epi8(3);
  for (int64_t b = 0; b < blocks; ++b) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * b));
    __m256i* o = reinterpret_cast<__m256i*>(out + 128 * b);
    _mm256_store_si256(o, _mm256_and_si256(_mm256_srli_epi16(v, 6), mask));
    _mm256_store_si256(o + 1, _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
    _mm256_store_si256(o + 2, _mm256_and_si256(_mm256_srli_epi16(v, 2), mask));
    _mm256_store_si256(o + 3, _mm256_and_si256(v, mask));
  }
}

// Integer dots of one decoded row with tokens t0..t0 + T - 1, per group, as row_dots computes them.
template <int T>
void decoded_row_dots(const uint8_t* dec, const PreparedActs& a, int64_t t0, int64_t cols, int64_t group,
                      int64_t groups, int32_t (*idot)[kMaxGroups]) {
  const int8_t* p[T];
  for (int i = 0; i < T; ++i) p[i] = a.qa.q.data() + (t0 + i) * cols;
  for (int64_t g = 0; g < groups; ++g) {
    __m256i acc[T];
    for (int i = 0; i < T; ++i) acc[i] = _mm256_setzero_si256();
    for (int64_t c = g * group; c < (g + 1) * group;) {
      const int64_t ce = c + 128 * kBlocks16 < (g + 1) * group ? c + 128 * kBlocks16 : (g + 1) * group;
      __m256i s16[T];
      for (int i = 0; i < T; ++i) s16[i] = _mm256_setzero_si256();
      for (; c < ce; c += 128) {
        const __m256i* d = reinterpret_cast<const __m256i*>(dec + c);
        const __m256i c0 = _mm256_load_si256(d), c1 = _mm256_load_si256(d + 1);
        const __m256i c2 = _mm256_load_si256(d + 2), c3 = _mm256_load_si256(d + 3);
#pragma GCC unroll 4
        for (int i = 0; i < T; ++i) s16[i] = _mm256_add_epi16(s16[i], block_sum16(c0, c1, c2, c3, p[i] + c));
      }
      for (int i = 0; i < T; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s16[i], _mm256_set1_epi16(1)));
    }
    for (int i = 0; i < T; ++i) idot[i][g] = hsum_epi32(acc[i]) - a.sums[static_cast<size_t>((t0 + i) * groups + g)];
  }
}

}  // namespace

void ternary_matmul_avx2(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                         int64_t row_begin, int64_t row_end) {
  const int64_t cols = w.cols, group = a.qa.group, groups = cols / group, n = a.qa.n_tokens;
  if (n < kDecodeMinTokens || cols % 128 != 0 || group % 128 != 0 || group != w.group || groups > kMaxGroups)
    return ternary_matmul_avx2_rows(w, a, y, y_stride, row_begin, row_end);
  uint8_t* scratch = kernel_scratch(static_cast<size_t>(kDecodeRows * cols));
  const int64_t at_stride = cols / a.qa.group;
  int32_t idot[kTile][kMaxGroups];
  for (int64_t rb = row_begin; rb < row_end; rb += kDecodeRows) {
    const int64_t re = rb + kDecodeRows < row_end ? rb + kDecodeRows : row_end;
    for (int64_t r = rb; r < re; ++r) decode_row(w.row(r), cols / 128, scratch + (r - rb) * cols);
    for (int64_t t0 = 0; t0 < n;) {
      const int nt = n - t0 >= kTile ? kTile : 1;
      for (int64_t r = rb; r < re; ++r) {
        const uint8_t* dec = scratch + (r - rb) * cols;
        if (nt == kTile) {
          decoded_row_dots<kTile>(dec, a, t0, cols, group, groups, idot);
        } else {
          decoded_row_dots<1>(dec, a, t0, cols, group, groups, idot);
        }
        const float* ws = w.scales.data() + r * groups;
        for (int i = 0; i < nt; ++i)
          y[(t0 + i) * y_stride + r] =
              ternary_epilogue(a.qa.rule, idot[i], groups, ws, a.qa.scales.data() + (t0 + i) * at_stride);
      }
      t0 += nt;
    }
  }
}

}  // namespace bitnet::kernels

#pragma GCC pop_options
#endif
