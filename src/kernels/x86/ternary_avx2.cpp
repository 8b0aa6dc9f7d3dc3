// AVX2 ternary matmul: 2-bit codes x int8 activations with maddubs (u8 x s8 -> s16 pairs), exact. Prompt batches
// decode each chunk of rows once, to a byte per code, and run 2-row x 4-token register tiles over it (the inner
// loop in inline assembly); generation and small batches decode in registers per token tile.
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

// One token against four rows: each block's activations are read once for the four rows, and four rows' codes
// stream at once (a row at a time, every block reloaded its activations and the next row's loads queued behind
// the last: generation ran 25% behind AVX-512 on the same memory). The four rows are one contiguous range read
// at four places, which the hardware prefetcher does not follow, so a later range of four rows (`next`, or
// nullptr; the caller passes the one after the next: 2B-4T generation 37.6 -> 38.3 tok/s against passing the next
// one, and 36.5 with the range four ahead) is prefetched two lines a block.
//
// Decoding takes one shift per 32 code bytes instead of three: the fields at bits 0 and 4 come out as codes
// (v & 3, (v >> 4) & 3), those at bits 2 and 6 as 4 x code (v & 12, (v >> 4) & 12), and their products go to
// separate int16 sums, s1 and s4. |4 x code x q| <= 12 x 128, so a maddubs pair is <= 3072 and s4 gains <= 6144 a
// block. Every lane of s4 is a multiple of 4, so s1 + (s4 >> 2) is the exact sum (<= 2 x 768 x kSeg4 = 7680 per
// lane), widened every kSeg4 blocks. 13 vector operations per 32 code bytes where shifting out each field took
// 15: one thread is bound by the vector pipes, not memory (L2-resident GEMV, best of 5 alternating runs: 18.3 ->
// 21.2 GB/s at 1536 columns, 22.7 -> 24.2 at 6912; two threads from DRAM, 1536 x 1536: medians 16.8 -> 22.9 GB/s).
constexpr int64_t kSeg4 = 5;
static_assert(kSeg4 * 2 * 3072 <= 32767 && kSeg4 * 2 * 768 * 2 <= 32767, "rows4_blocks' int16 sums would overflow");

// acc[r] (int32 lanes, summed over) = sum over columns [c, ce) (whole blocks) of code * q for rows row0 + r * stride.
inline void rows4_blocks(const uint8_t* row0, int64_t stride, const uint8_t* next, const int8_t* q, int64_t c,
                         int64_t ce, __m256i* acc) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12), ones = _mm256_set1_epi16(1);
  for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_si256();
  while (c < ce) {
    const int64_t se = c + 128 * kSeg4 < ce ? c + 128 * kSeg4 : ce;
    __m256i s1[4], s4[4];
    for (int r = 0; r < 4; ++r) s1[r] = s4[r] = _mm256_setzero_si256();
    for (; c < se; c += 128) {
      const __m256i* ap = reinterpret_cast<const __m256i*>(q + c);
      const uint64_t off = static_cast<uint64_t>(c) / 4;
      if (next != nullptr) {  // as many bytes of the later four rows as these four read here: 2 lines
        _mm_prefetch(reinterpret_cast<const char*>(next + 4 * off), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(next + 4 * off + 64), _MM_HINT_T0);
      }
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0 + r * stride + off));
        const __m256i h = _mm256_srli_epi16(v, 4);
        // the fields at bits 6, 4, 2, 0 pair with the block's activation vectors 0, 1, 2, 3
        s1[r] = _mm256_add_epi16(s1[r], _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h, m3), ap[1]),
                                                         _mm256_maddubs_epi16(_mm256_and_si256(v, m3), ap[3])));
        s4[r] = _mm256_add_epi16(s4[r], _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h, m12), ap[0]),
                                                         _mm256_maddubs_epi16(_mm256_and_si256(v, m12), ap[2])));
      }
    }
    for (int r = 0; r < 4; ++r)
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(_mm256_add_epi16(s1[r], _mm256_srai_epi16(s4[r], 2)), ones));
  }
}

// Lane r: the sum of acc[r]'s lanes (integer adds in any order are exact), plus the tail columns [full, end) of
// row row0 + r * stride where the group has any.
inline __m128i rows4_reduce(const __m256i* acc, const uint8_t* row0, int64_t stride, const int8_t* q, int64_t full,
                            int64_t end) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
  __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  if (full < end) {
    alignas(16) int32_t tail[4];
    for (int r = 0; r < 4; ++r) tail[r] = tail_code_dot(row0 + r * stride, q, full, end);
    dots = _mm_add_epi32(dots, _mm_load_si128(reinterpret_cast<const __m128i*>(tail)));
  }
  return dots;
}

// Four rows of one scale group each, per-token rule (most generation matmuls): y[r] = (float)idot / act_scale *
// ws[r], the reference's operations lane by lane.
void rows4_whole(const uint8_t* row0, int64_t stride, const uint8_t* next, const int8_t* q, int64_t cols,
                 int64_t full, int32_t act_sum, float act_scale, const float* ws, float* y) {
  __m256i acc[4];
  rows4_blocks(row0, stride, next, q, 0, full, acc);
  const __m128i dots = rows4_reduce(acc, row0, stride, q, full, cols);
  const __m128 f = _mm_cvtepi32_ps(_mm_sub_epi32(dots, _mm_set1_epi32(act_sum)));
  _mm_storeu_ps(y, _mm_mul_ps(_mm_div_ps(f, _mm_set1_ps(act_scale)), _mm_loadu_ps(ws)));
}

// Four rows of `groups` scale groups each, Q8_K rule (llama.cpp's TQ1_0/TQ2_0): y[r] = sum over groups in order of
// (float)idot_g * (ws[r][g] * at[g]), lane by lane. A group (256 columns: 2 blocks) is one segment, its int16
// sums (<= 2 x 768 x 2 = 3072 a lane) reduced in 16 bits (x 4: <= 12288) and widened once for the four rows, and
// its epilogue one vector: as four rows of 256 columns, scalar reductions and epilogues took as long as the dots.
void rows4_groups(const uint8_t* row0, int64_t stride, const uint8_t* next, const int8_t* q, const int32_t* act_sums,
                  const float* at, int64_t groups, const float* ws, float* y) {
  constexpr int64_t kGroup = 256;
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12), ones = _mm256_set1_epi16(1);
  __m128 out = _mm_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i s1[4], s4[4];
    for (int r = 0; r < 4; ++r) s1[r] = s4[r] = _mm256_setzero_si256();
    for (int64_t c = g * kGroup; c < (g + 1) * kGroup; c += 128) {
      const __m256i* ap = reinterpret_cast<const __m256i*>(q + c);
      const uint64_t off = static_cast<uint64_t>(c) / 4;
      if (next != nullptr) {
        _mm_prefetch(reinterpret_cast<const char*>(next + 4 * off), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(next + 4 * off + 64), _MM_HINT_T0);
      }
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0 + r * stride + off));
        const __m256i h = _mm256_srli_epi16(v, 4);
        s1[r] = _mm256_add_epi16(s1[r], _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h, m3), ap[1]),
                                                         _mm256_maddubs_epi16(_mm256_and_si256(v, m3), ap[3])));
        s4[r] = _mm256_add_epi16(s4[r], _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h, m12), ap[0]),
                                                         _mm256_maddubs_epi16(_mm256_and_si256(v, m12), ap[2])));
      }
    }
    __m256i t[4];
    for (int r = 0; r < 4; ++r) t[r] = _mm256_add_epi16(s1[r], _mm256_srai_epi16(s4[r], 2));
    // per 128-bit half: rows 0..3's sums of 8 lanes each, then the halves added
    const __m256i h = _mm256_madd_epi16(
        _mm256_hadd_epi16(_mm256_hadd_epi16(t[0], t[1]), _mm256_hadd_epi16(t[2], t[3])), ones);
    const __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 f = _mm_cvtepi32_ps(_mm_sub_epi32(dots, _mm_set1_epi32(act_sums[g])));
    const __m128 w = _mm_setr_ps(ws[g], ws[groups + g], ws[2 * groups + g], ws[3 * groups + g]);
    out = _mm_add_ps(out, _mm_mul_ps(f, _mm_mul_ps(w, _mm_set1_ps(at[g]))));
  }
  _mm_storeu_ps(y, out);
}
static_assert(2 * 2 * 768 * 4 <= 32767, "rows4_groups' 16-bit reduction would overflow");

// One row against 4 tokens under the Q8_K rule (batches of 4-7 tokens of TQ1_0/TQ2_0 matrices: concurrent streams
// in the server, short prompts). Each block is decoded once for the 4 tokens; per 256-column group the 4 tokens'
// int16 sums (<= 2 x 3072 a lane) are reduced in 16 bits (x 4 <= 24576), widened once, and scaled in one vector,
// lane t for token t, as the reference does group after group. With a horizontal sum and a scalar epilogue per
// token and group, this ran at half the rate of the whole-row (I2_S) case.
struct Tokens4Groups {
  const int8_t* p[kTile];
  __m128i act_sum[kMaxGroups];  // per group, lane t: token t's sum of activation codes
  __m128 act_scale[kMaxGroups];
};

void tokens4_groups(const PreparedActs& a, int64_t t0, int64_t cols, int64_t groups, Tokens4Groups& tt) {
  for (int t = 0; t < kTile; ++t) tt.p[t] = a.qa.q.data() + (t0 + t) * cols;
  for (int64_t g = 0; g < groups; ++g) {
    const auto at = [&](int t) { return static_cast<size_t>((t0 + t) * groups + g); };
    tt.act_sum[g] = _mm_setr_epi32(a.sums[at(0)], a.sums[at(1)], a.sums[at(2)], a.sums[at(3)]);
    tt.act_scale[g] = _mm_setr_ps(a.qa.scales[at(0)], a.qa.scales[at(1)], a.qa.scales[at(2)], a.qa.scales[at(3)]);
  }
}

void row_tokens4_groups(const uint8_t* row, const Tokens4Groups& tt, int64_t groups, const float* ws, float* y,
                        int64_t y_stride) {
  constexpr int64_t kGroup = 256;
  const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  __m128 out = _mm_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i s16[kTile];
    for (auto& v : s16) v = _mm256_setzero_si256();
    for (int64_t c = g * kGroup; c < (g + 1) * kGroup; c += 128) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c / 4));
      const __m256i c0 = _mm256_and_si256(_mm256_srli_epi16(v, 6), mask);
      const __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
      const __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(v, 2), mask);
      const __m256i c3 = _mm256_and_si256(v, mask);
#pragma GCC unroll 4
      for (int t = 0; t < kTile; ++t) s16[t] = _mm256_add_epi16(s16[t], block_sum16(c0, c1, c2, c3, tt.p[t] + c));
    }
    // per 128-bit half: words [t0 t0 t1 t1 t2 t2 t3 t3] after two levels, dwords [t0 t1 t2 t3] after the madd
    const __m256i h = _mm256_madd_epi16(
        _mm256_hadd_epi16(_mm256_hadd_epi16(s16[0], s16[1]), _mm256_hadd_epi16(s16[2], s16[3])), ones);
    const __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 f = _mm_cvtepi32_ps(_mm_sub_epi32(dots, tt.act_sum[g]));
    out = _mm_add_ps(out, _mm_mul_ps(f, _mm_mul_ps(_mm_set1_ps(ws[g]), tt.act_scale[g])));
  }
  alignas(16) float o[kTile];
  _mm_store_ps(o, out);
  for (int t = 0; t < kTile; ++t) y[t * y_stride] = o[t];
}
static_assert(2 * 3072 * 4 <= 32767, "row_tokens4_groups' 16-bit reduction would overflow");

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
  Tokens4Groups tt4;  // 8 KB, filled only for Q8_K-rule token tiles
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
      int64_t r = rb;
      if (nt == 1 && groups == 1 && a.qa.rule != quant::ActQuant::kQ8K) {
        for (; r + 4 <= re; r += 4)
          rows4_whole(w.row(r), w.row_bytes(), r + 12 <= w.rows ? w.row(r + 8) : nullptr, a.qa.q.data() + t0 * cols,
                      cols, full, a.sums[static_cast<size_t>(t0)], a.qa.scales[static_cast<size_t>(t0 * at_stride)],
                      w.scales.data() + r, y + t0 * y_stride + r);
      } else if (nt == 1 && a.qa.rule == quant::ActQuant::kQ8K && group == 256) {
        for (; r + 4 <= re; r += 4)
          rows4_groups(w.row(r), w.row_bytes(), r + 12 <= w.rows ? w.row(r + 8) : nullptr, a.qa.q.data() + t0 * cols,
                       a.sums.data() + t0 * groups, a.qa.scales.data() + t0 * at_stride, groups,
                       w.scales.data() + r * groups, y + t0 * y_stride + r);
      }
      if (nt == kTile && a.qa.rule == quant::ActQuant::kQ8K && group == 256 && full == cols) {
        tokens4_groups(a, t0, cols, groups, tt4);
        for (; r < re; ++r)
          row_tokens4_groups(w.row(r), tt4, groups, w.scales.data() + r * groups, y + t0 * y_stride + r, y_stride);
      }
      for (; r < re; ++r) {
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
constexpr int kPair = 2;            // rows in one register tile (with kTile tokens: 8 int16 sums)

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

// The 2 x 4 register tile over columns [c, ce) (a multiple of 64): rows w0p, w1p (decoded) times tokens p[0..3],
// added to the int32 sums acc[r * 4 + t]. Decoded byte j lines up with activation j; a 32-column step adds one
// maddubs pair (<= 768) to each of eight int16 lanes, which are widened into acc every kBlocks16 blocks, inside
// the loop. In assembly: from intrinsics GCC added register copies and spilled sums. Each activation vector is a
// memory operand of both its maddubs (the loads are cheap; on Zen 3 the vector ALU pipes are the limit: maddubs
// and its vpaddw share three of them), and two steps per iteration rotate six product registers. On one Zen 3
// core, L1-resident, medians of 40 alternating runs: 96 -> 118 GMAC/s against separate loads, one step a turn.
__attribute__((noinline)) void tile_2x4(const uint8_t* w0p, const uint8_t* w1p, const int8_t* const* p, int64_t c,
                                        int64_t ce, __m256i* acc) {
  if (c >= ce) return;
  int64_t seg;
#define BITNET_T2(off, r, a0, a1, t0, t1)                       \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm12, %%ymm" t0 "\n\t"   \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm13, %%ymm" t1 "\n\t"   \
  "vpaddw %%ymm" t0 ", %%ymm" a0 ", %%ymm" a0 "\n\t"           \
  "vpaddw %%ymm" t1 ", %%ymm" a1 ", %%ymm" a1 "\n\t"
#define BITNET_WIDEN(k, off)                          \
  "vpmaddwd %%ymm15, %%ymm" k ", %%ymm" k "\n\t"     \
  "vpaddd " off "(%[acc]), %%ymm" k ", %%ymm" k "\n\t" \
  "vmovdqu %%ymm" k ", " off "(%[acc])\n\t"
  asm volatile(
      "mov (%[p]), %%r8\n\t"
      "mov 8(%[p]), %%r9\n\t"
      "mov 16(%[p]), %%r10\n\t"
      "mov 24(%[p]), %%r11\n\t"
      "2:\n\t"  // a segment of at most kBlocks16 blocks: [c, seg)
      "lea 1024(%[c]), %[seg]\n\t"
      "cmp %[ce], %[seg]\n\t"
      "cmovg %[ce], %[seg]\n\t"
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
      "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
      "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
      "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
      "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
      "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
      "1:\n\t"
      "vmovdqa (%[w0p],%[c]), %%ymm12\n\t"
      "vmovdqa (%[w1p],%[c]), %%ymm13\n\t"
      BITNET_T2("", "%%r8", "0", "4", "8", "9")
      BITNET_T2("", "%%r9", "1", "5", "10", "11")
      BITNET_T2("", "%%r10", "2", "6", "14", "15")
      BITNET_T2("", "%%r11", "3", "7", "8", "9")
      "vmovdqa 32(%[w0p],%[c]), %%ymm12\n\t"
      "vmovdqa 32(%[w1p],%[c]), %%ymm13\n\t"
      BITNET_T2("32", "%%r8", "0", "4", "10", "11")
      BITNET_T2("32", "%%r9", "1", "5", "14", "15")
      BITNET_T2("32", "%%r10", "2", "6", "8", "9")
      BITNET_T2("32", "%%r11", "3", "7", "10", "11")
      "add $64, %[c]\n\t"
      "cmp %[seg], %[c]\n\t"
      "jl 1b\n\t"
      // widen: madd with 16-bit ones, add into acc[0..7]
      "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpsrlw $15, %%ymm15, %%ymm15\n\t"
      BITNET_WIDEN("0", "0") BITNET_WIDEN("1", "32") BITNET_WIDEN("2", "64") BITNET_WIDEN("3", "96")
      BITNET_WIDEN("4", "128") BITNET_WIDEN("5", "160") BITNET_WIDEN("6", "192") BITNET_WIDEN("7", "224")
      "cmp %[ce], %[c]\n\t"
      "jl 2b\n\t"
      : [c] "+r"(c), [seg] "=&r"(seg)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [p] "r"(p), [acc] "r"(acc)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12",
        "ymm13", "ymm14", "ymm15", "r8", "r9", "r10", "r11", "cc", "memory");
#undef BITNET_T2
#undef BITNET_WIDEN
}
static_assert(kBlocks16 * 128 == 1024, "tile_2x4's segment length is written into its assembly");

// tile_2x4 over one scale group of the Q8_K rule, columns [c, ce) with ce - c <= kGroupCols, its eight sums
// reduced in the same assembly and stored to sums[0..7] in lane 2t + j (row j, token t) order. A group's int16
// sums are <= 8 x 768 = 6144 a lane, so two levels of pairwise adds stay in 16 bits (<= 24576) before the
// widening madd; then the halves are added. Where tile_2x4 widened into memory, the caller reduced in int32
// (hadd trees) and scaled: about 37 vector operations a group against 23 here.
constexpr int64_t kGroupCols = 256;
static_assert(kGroupCols / 32 * 768 * 4 <= 32767, "tile_2x4_group's 16-bit reduction would overflow");

__attribute__((noinline)) void tile_2x4_group(const uint8_t* w0p, const uint8_t* w1p, const int8_t* const* p,
                                              int64_t c, int64_t ce, __m256i* sums) {
#define BITNET_T2(off, r, a0, a1, t0, t1)                       \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm12, %%ymm" t0 "\n\t"   \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm13, %%ymm" t1 "\n\t"   \
  "vpaddw %%ymm" t0 ", %%ymm" a0 ", %%ymm" a0 "\n\t"           \
  "vpaddw %%ymm" t1 ", %%ymm" a1 ", %%ymm" a1 "\n\t"
  asm volatile(
      "mov (%[p]), %%r8\n\t"
      "mov 8(%[p]), %%r9\n\t"
      "mov 16(%[p]), %%r10\n\t"
      "mov 24(%[p]), %%r11\n\t"
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
      "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
      "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
      "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
      "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
      "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
      "1:\n\t"
      "vmovdqa (%[w0p],%[c]), %%ymm12\n\t"
      "vmovdqa (%[w1p],%[c]), %%ymm13\n\t"
      BITNET_T2("", "%%r8", "0", "4", "8", "9")
      BITNET_T2("", "%%r9", "1", "5", "10", "11")
      BITNET_T2("", "%%r10", "2", "6", "14", "15")
      BITNET_T2("", "%%r11", "3", "7", "8", "9")
      "vmovdqa 32(%[w0p],%[c]), %%ymm12\n\t"
      "vmovdqa 32(%[w1p],%[c]), %%ymm13\n\t"
      BITNET_T2("32", "%%r8", "0", "4", "10", "11")
      BITNET_T2("32", "%%r9", "1", "5", "14", "15")
      BITNET_T2("32", "%%r10", "2", "6", "8", "9")
      BITNET_T2("32", "%%r11", "3", "7", "10", "11")
      "add $64, %[c]\n\t"
      "cmp %[ce], %[c]\n\t"
      "jl 1b\n\t"
      // ymm(t) is row 0, token t; ymm(4 + t) row 1, token t. Per 128-bit half: hadd(row 0, row 1) per token, then
      // hadd(token 0, token 1) and hadd(token 2, token 3): words [r0t0 r0t0 r1t0 r1t0 r0t1 r0t1 r1t1 r1t1].
      "vphaddw %%ymm4, %%ymm0, %%ymm0\n\t"
      "vphaddw %%ymm5, %%ymm1, %%ymm1\n\t"
      "vphaddw %%ymm6, %%ymm2, %%ymm2\n\t"
      "vphaddw %%ymm7, %%ymm3, %%ymm3\n\t"
      "vphaddw %%ymm1, %%ymm0, %%ymm0\n\t"
      "vphaddw %%ymm3, %%ymm2, %%ymm2\n\t"
      "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpsrlw $15, %%ymm15, %%ymm15\n\t"
      "vpmaddwd %%ymm15, %%ymm0, %%ymm0\n\t"  // dwords [r0t0 r1t0 r0t1 r1t1] per half
      "vpmaddwd %%ymm15, %%ymm2, %%ymm2\n\t"  // [r0t2 r1t2 r0t3 r1t3]
      "vperm2i128 $0x20, %%ymm2, %%ymm0, %%ymm1\n\t"
      "vperm2i128 $0x31, %%ymm2, %%ymm0, %%ymm3\n\t"
      "vpaddd %%ymm3, %%ymm1, %%ymm1\n\t"
      "vmovdqu %%ymm1, (%[sums])\n\t"
      : [c] "+r"(c)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [p] "r"(p), [sums] "r"(sums)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12",
        "ymm13", "ymm14", "ymm15", "r8", "r9", "r10", "r11", "cc", "memory");
#undef BITNET_T2
}

// What every whole-row-scale 2 x 4 tile of tokens t0..t0 + 3 shares: their activation pointers, and their code
// sums and scales in the epilogue's lane order (lane 2t + j: token t, row j), each pair of lanes one token.
struct TokenTile4 {
  const int8_t* p[kTile];
  __m256i act_sum;
  __m256 act_scale;
};

TokenTile4 token_tile4(const PreparedActs& a, int64_t t0, int64_t cols, int64_t at_stride) {
  TokenTile4 tt;
  for (int t = 0; t < kTile; ++t) tt.p[t] = a.qa.q.data() + (t0 + t) * cols;
  const int32_t* as = a.sums.data() + t0;  // one group: a token's code sum at index t
  const float* at = a.qa.scales.data() + t0 * at_stride;
  tt.act_sum = _mm256_setr_epi32(as[0], as[0], as[1], as[1], as[2], as[2], as[3], as[3]);
  tt.act_scale = _mm256_setr_ps(at[0], at[0], at[at_stride], at[at_stride], at[2 * at_stride], at[2 * at_stride],
                                at[3 * at_stride], at[3 * at_stride]);
  return tt;
}

// Whole-row-scale 2 x 4 tiles (one group, the per-token absmax rule: most of a prompt's matmuls) for up to
// kOutPairs consecutive row pairs (decoded rows from dec, a row every `cols` bytes), then their epilogues, each in
// one vector: the eight int32 sums reduced together (integer adds: any order is exact), then
// (float)(sum - act_sum) / act_scale * w_scale lane by lane, the reference's operations in its order. Lanes come
// out token by token, so each token's two outputs (rows r, r + 1, adjacent in y) are one 8-byte store. Ending a
// tile with its own epilogue left a chain of ~45 cycles (flush, reduce, divide) between tiles, on which the
// profile showed a sixth of the kernel's time; four epilogues after four tiles overlap one another.
constexpr int kOutPairs = 4;

// The eight int32 sums of a 2 x 4 tile (acc[j * 4 + t]: row j, token t) reduced into lane 2t + j (integer adds:
// any order is exact).
inline __m256i reduce_2x4(const __m256i* c) {
  const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(c[0], c[4]), _mm256_hadd_epi32(c[1], c[5]));
  const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(c[2], c[6]), _mm256_hadd_epi32(c[3], c[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}

// Lanes 2t + j of `out` to y[t * y_stride + j]: each token's two outputs, adjacent in y, as one 8-byte store.
inline void store_2x4(__m256 out, float* y, int64_t y_stride) {
  const __m128 lo = _mm256_castps256_ps128(out), hi = _mm256_extractf128_ps(out, 1);
  _mm_storel_pi(reinterpret_cast<__m64*>(y), lo);
  _mm_storeh_pi(reinterpret_cast<__m64*>(y + y_stride), lo);
  _mm_storel_pi(reinterpret_cast<__m64*>(y + 2 * y_stride), hi);
  _mm_storeh_pi(reinterpret_cast<__m64*>(y + 3 * y_stride), hi);
}

// Two floats as one 8-byte value broadcast to every pair of lanes: lane 2t + j gets v[j].
inline __m256 pair_lanes(float v0, float v1) {
  const __m128 p = _mm_unpacklo_ps(_mm_set_ss(v0), _mm_set_ss(v1));
  return _mm256_castpd_ps(_mm256_broadcastsd_pd(_mm_castps_pd(p)));
}

void tiles_2x4_out(const uint8_t* dec, int n_pairs, const TokenTile4& tt, int64_t cols, const float* ws, float* y,
                   int64_t y_stride) {
  alignas(32) __m256i acc[kOutPairs][kPair * kTile];
  for (int q = 0; q < n_pairs; ++q) {
    for (auto& v : acc[q]) v = _mm256_setzero_si256();
    tile_2x4(dec + 2 * q * cols, dec + (2 * q + 1) * cols, tt.p, 0, cols, acc[q]);
  }
  for (int q = 0; q < n_pairs; ++q) {
    const __m256i sums = reduce_2x4(acc[q]);
    const __m256 w_scale = pair_lanes(ws[2 * q], ws[2 * q + 1]);
    const __m256 out =
        _mm256_mul_ps(_mm256_div_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sums, tt.act_sum)), tt.act_scale), w_scale);
    store_2x4(out, y + 2 * q, y_stride);
  }
}

// The Q8_K rule's 2 x 4 tiles (llama.cpp's TQ1_0/TQ2_0: a weight and an activation scale per 256 columns): per
// group, the tile's eight sums reduced in one vector and added into the eight outputs as the reference does,
// (float)(sum - act_sum) * (w_scale * act_scale), group after group. Reducing and scaling each (row, token) on
// its own took as long as the tile's dots: prompts of TQ2_0 files ran at half the speed of I2_S ones.
struct TokenTileGroups {
  const int8_t* p[kTile];
  __m256i act_sum[kMaxGroups];  // per group, lane 2t + j: token t's sum of activation codes
  __m256 act_scale[kMaxGroups];
};

void token_tile_groups(const PreparedActs& a, int64_t t0, int64_t cols, int64_t groups, TokenTileGroups& tt) {
  for (int t = 0; t < kTile; ++t) tt.p[t] = a.qa.q.data() + (t0 + t) * cols;
  for (int64_t g = 0; g < groups; ++g) {
    int32_t s[kTile];
    float d[kTile];
    for (int t = 0; t < kTile; ++t) {
      s[t] = a.sums[static_cast<size_t>((t0 + t) * groups + g)];
      d[t] = a.qa.scales[static_cast<size_t>((t0 + t) * groups + g)];
    }
    tt.act_sum[g] = _mm256_setr_epi32(s[0], s[0], s[1], s[1], s[2], s[2], s[3], s[3]);
    tt.act_scale[g] = _mm256_setr_ps(d[0], d[0], d[1], d[1], d[2], d[2], d[3], d[3]);
  }
}

// Up to kOutPairs row pairs (decoded rows from dec, a row every `cols` bytes; their scales from ws, `groups` a row),
// group by group: a group's tiles first, then their epilogues, which overlap one another.
void tiles_2x4_groups(const uint8_t* dec, int n_pairs, const TokenTileGroups& tt, int64_t cols, int64_t group,
                      int64_t groups, const float* ws, float* y, int64_t y_stride) {
  __m256 out[kOutPairs];
  alignas(32) __m256i sums[kOutPairs];
  for (auto& v : out) v = _mm256_setzero_ps();  // all of them: over n_pairs, GCC zeroed with rep stos (slow to start)
  for (int64_t g = 0; g < groups; ++g) {
    for (int q = 0; q < n_pairs; ++q)
      tile_2x4_group(dec + 2 * q * cols, dec + (2 * q + 1) * cols, tt.p, g * group, (g + 1) * group, &sums[q]);
    for (int q = 0; q < n_pairs; ++q) {
      const __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums[q], tt.act_sum[g]));
      const __m256 w = pair_lanes(ws[2 * q * groups + g], ws[(2 * q + 1) * groups + g]);
      out[q] = _mm256_add_ps(out[q], _mm256_mul_ps(f, _mm256_mul_ps(w, tt.act_scale[g])));
    }
  }
  for (int q = 0; q < n_pairs; ++q) store_2x4(out[q], y + 2 * q, y_stride);
}

// Integer dots of R decoded rows (rows[0..R-1]) with tokens t0..t0 + T - 1, per group, into idot[r * T + t][g],
// in register tiles of R x T int16 sums: each 32-column step loads R weight and T activation vectors for R * T
// maddubs (a row at a time, every maddubs loaded its own activations). The 2 x 4 tile is tile_2x4; the edges of
// a batch (a last odd row, the tokens after the last whole 4) take this loop.
template <int R, int T>
void decoded_tile(const uint8_t* const* rows, const PreparedActs& a, int64_t t0, int64_t cols, int64_t group,
                  int64_t groups, int32_t (*idot)[kMaxGroups]) {
  const int8_t* p[T];
  for (int t = 0; t < T; ++t) p[t] = a.qa.q.data() + (t0 + t) * cols;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t g = 0; g < groups; ++g) {
    alignas(32) __m256i acc[R * T];
    for (int i = 0; i < R * T; ++i) acc[i] = _mm256_setzero_si256();
    if constexpr (R == 2 && T == 4) {
      tile_2x4(rows[0], rows[1], p, g * group, (g + 1) * group, acc);
    } else {
      for (int64_t c = g * group; c < (g + 1) * group;) {
        const int64_t ce = c + 128 * kBlocks16 < (g + 1) * group ? c + 128 * kBlocks16 : (g + 1) * group;
        __m256i s16[R * T];
        for (int i = 0; i < R * T; ++i) s16[i] = _mm256_setzero_si256();
        for (; c < ce; c += 32) {
          __m256i w[R];
          for (int r = 0; r < R; ++r) w[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows[r] + c));
          for (int t = 0; t < T; ++t) {
            const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[t] + c));
            for (int r = 0; r < R; ++r)
              s16[r * T + t] = _mm256_add_epi16(s16[r * T + t], _mm256_maddubs_epi16(w[r], x));
          }
        }
        for (int i = 0; i < R * T; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s16[i], ones));
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t)
        idot[r * T + t][g] = hsum_epi32(acc[r * T + t]) - a.sums[static_cast<size_t>((t0 + t) * groups + g)];
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
  int32_t idot[kPair * kTile][kMaxGroups];
  TokenTileGroups ttg;  // 16 KB, filled only for Q8_K-rule tiles
  for (int64_t rb = row_begin; rb < row_end; rb += kDecodeRows) {
    const int64_t re = rb + kDecodeRows < row_end ? rb + kDecodeRows : row_end;
    for (int64_t r = rb; r < re; ++r) decode_row(w.row(r), cols / 128, scratch + (r - rb) * cols);
    for (int64_t t0 = 0; t0 < n;) {
      const int nt = n - t0 >= kTile ? kTile : 1;
      const bool whole_rows = nt == kTile && groups == 1 && a.qa.rule != quant::ActQuant::kQ8K;
      const bool q8k_tiles = nt == kTile && a.qa.rule == quant::ActQuant::kQ8K && group == kGroupCols;
      TokenTile4 tt;
      if (whole_rows) tt = token_tile4(a, t0, cols, at_stride);
      int64_t r = rb;
      if (q8k_tiles) {
        token_tile_groups(a, t0, cols, groups, ttg);
        for (; r + kPair <= re; r += kPair * kOutPairs) {
          const int n_pairs = (re - r) / kPair < kOutPairs ? static_cast<int>((re - r) / kPair) : kOutPairs;
          tiles_2x4_groups(scratch + (r - rb) * cols, n_pairs, ttg, cols, group, groups, w.scales.data() + r * groups,
                           y + t0 * y_stride + r, y_stride);
        }
        r = rb + (re - rb) / kPair * kPair;
      }
      if (whole_rows) {
        for (; r + kPair <= re; r += kPair * kOutPairs) {
          const int n_pairs = (re - r) / kPair < kOutPairs ? static_cast<int>((re - r) / kPair) : kOutPairs;
          tiles_2x4_out(scratch + (r - rb) * cols, n_pairs, tt, cols, w.scales.data() + r, y + t0 * y_stride + r,
                        y_stride);
        }
        r = rb + (re - rb) / kPair * kPair;
      }
      for (; r < re; r += kPair) {
        const int nr = re - r >= kPair ? kPair : 1;
        const uint8_t* dec[kPair] = {scratch + (r - rb) * cols, scratch + (r - rb + nr - 1) * cols};
        if (nr == kPair) {
          if (nt == kTile) decoded_tile<kPair, kTile>(dec, a, t0, cols, group, groups, idot);
          else decoded_tile<kPair, 1>(dec, a, t0, cols, group, groups, idot);
        } else {
          if (nt == kTile) decoded_tile<1, kTile>(dec, a, t0, cols, group, groups, idot);
          else decoded_tile<1, 1>(dec, a, t0, cols, group, groups, idot);
        }
        for (int j = 0; j < nr; ++j) {
          const float* ws = w.scales.data() + (r + j) * groups;
          for (int i = 0; i < nt; ++i)
            y[(t0 + i) * y_stride + r + j] =
                ternary_epilogue(a.qa.rule, idot[j * nt + i], groups, ws, a.qa.scales.data() + (t0 + i) * at_stride);
        }
      }
      t0 += nt;
    }
  }
}

}  // namespace bitnet::kernels

#pragma GCC pop_options
#endif
