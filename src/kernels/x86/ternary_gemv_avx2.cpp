// AVX2 ternary matmul for generation and batches under 8 tokens: 2-bit codes x int8 activations with maddubs (u8 x
// s8 -> s16 pairs), exact, each code vector decoded in registers: 4 rows a step for one token, one row for a tile
// of 4 tokens. Nothing from the standard library is instantiated here (these functions carry the AVX2 target).
// Compiled twice (x86/ternary_avx2_shared.hpp): with BITNET_TERNARY_AVXVNNI defined, generation's four-row step sums
// each field's products into int32 lanes with vpdpbusd.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "core/target_region.hpp"
#include "kernels/ternary.hpp"
#include "kernels/x86/ternary_avx2_shared.hpp"

#if defined(BITNET_TERNARY_AVXVNNI)
BITNET_TARGET_BEGIN("avx2,fma,f16c,avxvnni")
#define BITNET_AVX2_NS avx2vnni
#else
BITNET_TARGET_BEGIN("avx2,fma,f16c")
#define BITNET_AVX2_NS avx2
#endif

namespace bitnet::kernels::BITNET_AVX2_NS {
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

// sum(code * q) over tail columns [c0, c1) of a row in the row layout (column c in byte c / 4 at shift 2 (c % 4);
// c0 and c1 multiples of 4), 32 columns a step: each 128-bit lane takes 16 columns, its 4 code bytes copied to its 4
// dwords and dword k shifted right by 2k, so that byte j of dword k holds column 4j + k's code; the lane's
// activations shuffled to the same order; maddubs (|code * q| <= 384: no saturation). A last partial step reads
// through zeroed copies (code 0 times activation 0). Summed one code at a time, the 64-column tail of
// bitnet_b1_58-3B's ffn_down was about half of that matrix's generation time (perf, in the AVX-512 kernel).
inline int32_t tail_dot(const uint8_t* row, const int8_t* q, int64_t c0, int64_t c1) {
  const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  const __m256i by_k = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m256i threes = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int64_t c = c0; c < c1; c += 32) {
    const int64_t n = c1 - c < 32 ? c1 - c : 32;
    alignas(32) int8_t x[32] = {};
    uint64_t bytes = 0;
    std::memcpy(&bytes, row + c / 4, static_cast<size_t>(n / 4));
    std::memcpy(x, q + c, static_cast<size_t>(n));
    const __m256i codes = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_permutevar8x32_epi32(
                              _mm256_castsi128_si256(_mm_cvtsi64_si128(static_cast<long long>(bytes))), spread),
                          shifts),
        threes);
    const __m256i xs = _mm256_shuffle_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(x)), by_k);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(codes, xs), ones));
  }
  return hsum_epi32(acc);
}

constexpr int64_t kRowChunk = 32;  // rows sharing one pass over a token tile's activations

// s16[t] (int16 lanes) = sum over columns [c, ce) (at most kBlocks16 whole blocks) of code * q for one row and T
// tokens (activations p[0..T-1]): each block decoded once for the T tokens.
template <int T>
inline void tokens_blocks(const uint8_t* row, const int8_t* const* p, int64_t c, int64_t ce, __m256i* s16) {
  const __m256i mask = _mm256_set1_epi8(3);
  for (int t = 0; t < T; ++t) s16[t] = _mm256_setzero_si256();
  for (; c < ce; c += 128) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c / 4));
    const __m256i c0 = _mm256_and_si256(_mm256_srli_epi16(v, 6), mask);
    const __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    const __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(v, 2), mask);
    const __m256i c3 = _mm256_and_si256(v, mask);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) s16[t] = _mm256_add_epi16(s16[t], block_sum16(c0, c1, c2, c3, p[t] + c));
  }
}

// Integer dots of one row with T tokens (pointers p[0..T-1] into the activations), per group, into
// idot[t][g]: each weight block is decoded once and used for all T tokens.
template <int T>
inline void row_dots(const uint8_t* row, const PreparedActs& a, const int64_t* tok, int64_t cols, int64_t group,
                     int64_t groups, int64_t full, int32_t (*idot)[kMaxGroups]) {
  const int8_t* p[T];
  for (int i = 0; i < T; ++i) p[i] = a.qa.q.data() + tok[i] * cols;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group;
    const int64_t ge_full = gb + group < full ? gb + group : full;
    __m256i acc[T];
    for (int i = 0; i < T; ++i) acc[i] = _mm256_setzero_si256();
    // int16 sums over up to kBlocks16 blocks (each adds at most 3072 to a lane), widened to int32 once.
    for (int64_t c = gb; c < ge_full; c += 128 * kBlocks16) {
      __m256i s16[T];
      tokens_blocks<T>(row, p, c, c + 128 * kBlocks16 < ge_full ? c + 128 * kBlocks16 : ge_full, s16);
      for (int i = 0; i < T; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s16[i], _mm256_set1_epi16(1)));
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int i = 0; i < T; ++i) {
      int32_t s = hsum_epi32(acc[i]);
      if (tail_begin < gb + group) s += tail_dot(row, a.qa.q.data() + tok[i] * cols, tail_begin, gb + group);
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

// t[r] (summed over its lanes) = sum over columns [c, se) (at most kSeg4 whole blocks) of code * q for rows
// row0 + r * stride: s1 + (s4 >> 2), in int16 lanes. In the AVX-VNNI build, vpdpbusd sums each field's products
// into int32 lanes instead (every lane of s4 still a sum of multiples of 4), and t[r] is in int32 lanes: 9 vector
// operations per 32 code bytes against 13.
inline void rows4_segment(const uint8_t* row0, int64_t stride, const uint8_t* next, const int8_t* q, int64_t c,
                          int64_t se, __m256i* t) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  __m256i s1[4], s4[4];
  for (int r = 0; r < 4; ++r) s1[r] = s4[r] = _mm256_setzero_si256();
  for (; c < se; c += 128) {
    // unaligned: loaded with loadu, which GCC folds into each maddubs as a memory operand (loaded once into
    // registers for the four rows, they spilled sums: 3-5% slower)
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
#if defined(BITNET_TERNARY_AVXVNNI)
      s1[r] = _mm256_dpbusd_avx_epi32(s1[r], _mm256_and_si256(h, m3), _mm256_loadu_si256(ap + 1));
      s4[r] = _mm256_dpbusd_avx_epi32(s4[r], _mm256_and_si256(h, m12), _mm256_loadu_si256(ap));
      s1[r] = _mm256_dpbusd_avx_epi32(s1[r], _mm256_and_si256(v, m3), _mm256_loadu_si256(ap + 3));
      s4[r] = _mm256_dpbusd_avx_epi32(s4[r], _mm256_and_si256(v, m12), _mm256_loadu_si256(ap + 2));
#else
      const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(h, m3), _mm256_loadu_si256(ap + 1));
      const __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(v, m3), _mm256_loadu_si256(ap + 3));
      const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(h, m12), _mm256_loadu_si256(ap));
      const __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(v, m12), _mm256_loadu_si256(ap + 2));
      s1[r] = _mm256_add_epi16(s1[r], _mm256_add_epi16(p1, p3));
      s4[r] = _mm256_add_epi16(s4[r], _mm256_add_epi16(p0, p2));
#endif
    }
  }
#if defined(BITNET_TERNARY_AVXVNNI)
  for (int r = 0; r < 4; ++r) t[r] = _mm256_add_epi32(s1[r], _mm256_srai_epi32(s4[r], 2));
#else
  for (int r = 0; r < 4; ++r) t[r] = _mm256_add_epi16(s1[r], _mm256_srai_epi16(s4[r], 2));
#endif
}

// acc[r] (int32 lanes, summed over) = sum over columns [c, ce) (whole blocks) of code * q for rows row0 + r * stride.
inline void rows4_blocks(const uint8_t* row0, int64_t stride, const uint8_t* next, const int8_t* q, int64_t c,
                         int64_t ce, __m256i* acc) {
  [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_si256();
  for (; c < ce; c += 128 * kSeg4) {
    __m256i t[4];
    rows4_segment(row0, stride, next, q, c, c + 128 * kSeg4 < ce ? c + 128 * kSeg4 : ce, t);
#if defined(BITNET_TERNARY_AVXVNNI)
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_add_epi32(acc[r], t[r]);
#else
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(t[r], ones));
#endif
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
    for (int r = 0; r < 4; ++r) tail[r] = tail_dot(row0 + r * stride, q, full, end);
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
  static_assert(kGroup / 128 <= kSeg4, "a group is one segment");
  [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);
  __m128 out = _mm_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i t[4];
    rows4_segment(row0, stride, next, q, g * kGroup, (g + 1) * kGroup, t);
    // per 128-bit half: rows 0..3's sums of 8 lanes each, then the halves added
#if defined(BITNET_TERNARY_AVXVNNI)
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
#else
    const __m256i h = _mm256_madd_epi16(
        _mm256_hadd_epi16(_mm256_hadd_epi16(t[0], t[1]), _mm256_hadd_epi16(t[2], t[3])), ones);
#endif
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
  const __m256i ones = _mm256_set1_epi16(1);
  __m128 out = _mm_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i s16[kTile];
    tokens_blocks<kTile>(row, tt.p, g * kGroup, (g + 1) * kGroup, s16);
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

}  // namespace

// Generation and batches under 8 tokens (and shapes the prompt path does not take): each weight block
// decoded in registers for a tile of up to 4 tokens.
void matmul_rows(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end) {
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

}  // namespace bitnet::kernels::BITNET_AVX2_NS

#undef BITNET_AVX2_NS
BITNET_TARGET_END
#endif
