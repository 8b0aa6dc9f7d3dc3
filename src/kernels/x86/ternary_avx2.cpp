// AVX2 ternary matmul: 2-bit codes x int8 activations with maddubs (u8 x s8 -> s16 pairs), exact. Prompt batches
// (8 tokens and more) decode each chunk of rows once, to a byte per code, and run 2-row x 4-token register tiles
// over it (the inner loop in inline assembly); generation and smaller batches go to ternary_gemv_avx2.cpp.
// Nothing from the standard library is instantiated here (these functions carry the AVX2 target).
// Compiled twice (x86/ternary_avx2_shared.hpp): with BITNET_TERNARY_AVXVNNI defined (ternary_matmul_avx2_vnni), the
// tiles' sums are int32 from the start, one vpdpbusd per 32 columns where maddubs and an add made int16 sums.
#if defined(__x86_64__)
#include <immintrin.h>

#include "core/target_region.hpp"
#include "kernels/ternary.hpp"
#include "kernels/x86/ternary_avx2_shared.hpp"

#if defined(BITNET_TERNARY_AVXVNNI)
BITNET_TARGET_BEGIN("avx2,fma,f16c,avxvnni")
#define BITNET_AVX2_NS avx2vnni
#define BITNET_TERNARY_AVX2_ENTRY ternary_matmul_avx2_vnni
#else
BITNET_TARGET_BEGIN("avx2,fma,f16c")
#define BITNET_AVX2_NS avx2
#define BITNET_TERNARY_AVX2_ENTRY ternary_matmul_avx2
#endif

namespace bitnet::kernels::BITNET_AVX2_NS {
namespace {

// Prompt batches: each chunk of rows is decoded once to a byte per code, in L2, so the token tiles' inner loop is
// loads, maddubs and adds only (decoding per tile took a fifth of its vector operations).
constexpr int64_t kDecodeMinTokens = 8;
constexpr int64_t kDecodeRows = 32;  // 32 rows of 6912 columns: 221 KB of decoded codes
constexpr int kPair = 2;            // rows in one register tile (with kTile tokens: 8 int16 sums)

// One block's 32 code bytes v as bytes: shifted by 6, 4, 2 and 0, so decoded byte 32s + k of the block (at out)
// lines up with activation 128b + 32s + k.
inline void decode_block(__m256i v, uint8_t* out) {
  const __m256i mask = _mm256_set1_epi8(3);
  __m256i* o = reinterpret_cast<__m256i*>(out);
  _mm256_store_si256(o, _mm256_and_si256(_mm256_srli_epi16(v, 6), mask));
  _mm256_store_si256(o + 1, _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
  _mm256_store_si256(o + 2, _mm256_and_si256(_mm256_srli_epi16(v, 2), mask));
  _mm256_store_si256(o + 3, _mm256_and_si256(v, mask));
}

// One row's codes as bytes in column order: block by block (128 bytes a block), then a tail's codes one by one
// (quant/ternary.hpp's row layout; 64 a row of bitnet_b1_58-3B's ffn_down).
void decode_row(const uint8_t* row, int64_t cols, uint8_t* out) {
  const int64_t blocks = cols / quant::kTernaryBlock;
  for (int64_t b = 0; b < blocks; ++b)
    decode_block(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * b)), out + 128 * b);
  for (int64_t c = blocks * quant::kTernaryBlock; c < cols; ++c) out[c] = quant::ternary_code(row, cols, c);
}

// The 8 rows of half h (rows 8h .. 8h + 7) of panel p of a matrix in panels, as bytes, rows `cols` apart at out: line
// j of a block holds dword j of the panel's 16 rows, so an 8 x 8 transpose of dwords (interleaved by dwords, then by
// qwords, then the 128-bit halves exchanged) gives each row's 32 code bytes of the block. 24 shuffles per block of 8
// rows where a gather per row took 8 loads (slow on AMD before Zen 4).
void decode_panel_half(const quant::TernaryMatrix& w, int64_t p, int h, int64_t cols, uint8_t* out) {
  const uint8_t* base = w.codes() + p * quant::kPanelRows * w.row_bytes() + 32 * h;
  for (int64_t b = 0; b < cols / quant::kTernaryBlock; ++b) {
    __m256i r[8], t[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + 512 * b + 64 * j));
    for (int j = 0; j < 8; j += 2) {
      t[j] = _mm256_unpacklo_epi32(r[j], r[j + 1]);      // rows 0, 1 | 4, 5: dwords j, j + 1
      t[j + 1] = _mm256_unpackhi_epi32(r[j], r[j + 1]);  // rows 2, 3 | 6, 7
    }
    for (int j = 0; j < 8; j += 4)
      for (int k = 0; k < 2; ++k) {
        r[j + 2 * k] = _mm256_unpacklo_epi64(t[j + k], t[j + 2 + k]);      // row 2k | 2k + 4: dwords j .. j + 3
        r[j + 2 * k + 1] = _mm256_unpackhi_epi64(t[j + k], t[j + 2 + k]);  // row 2k + 1 | 2k + 5
      }
    for (int k = 0; k < 4; ++k) {
      decode_block(_mm256_permute2x128_si256(r[k], r[k + 4], 0x20), out + k * cols + 128 * b);
      decode_block(_mm256_permute2x128_si256(r[k], r[k + 4], 0x31), out + (k + 4) * cols + 128 * b);
    }
  }
}

// Row r of a matrix in panels alone: each block's 8 dwords, 64 bytes apart in its panel, gathered.
void decode_panel_row(const quant::TernaryMatrix& w, int64_t r, uint8_t* out) {
  const uint8_t* p =
      w.codes() + r / quant::kPanelRows * quant::kPanelRows * w.row_bytes() + 4 * (r % quant::kPanelRows);
  const __m256i idx = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);  // dwords
  for (int64_t b = 0; b < w.cols / quant::kTernaryBlock; ++b)
    decode_block(_mm256_i32gather_epi32(reinterpret_cast<const int*>(p + 512 * b), idx, 4), out + 128 * b);
}

// The assembly both 2 x 4 tiles share: the four activation pointers into r8-r11; eight zeroed int16 sums (ymm0-3:
// row 0, tokens 0-3; ymm4-7: row 1); one loop iteration, two 32-column steps through which six product registers
// rotate.
#define BITNET_T2(off, r, a0, a1, t0, t1)                       \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm12, %%ymm" t0 "\n\t"   \
  "vpmaddubsw " off "(" r ",%[c]), %%ymm13, %%ymm" t1 "\n\t"   \
  "vpaddw %%ymm" t0 ", %%ymm" a0 ", %%ymm" a0 "\n\t"           \
  "vpaddw %%ymm" t1 ", %%ymm" a1 ", %%ymm" a1 "\n\t"
#define BITNET_TILE_PTRS    \
  "mov (%[p]), %%r8\n\t"    \
  "mov 8(%[p]), %%r9\n\t"   \
  "mov 16(%[p]), %%r10\n\t" \
  "mov 24(%[p]), %%r11\n\t"
#define BITNET_TILE_ZERO             \
  "vpxor %%ymm0, %%ymm0, %%ymm0\n\t" \
  "vpxor %%ymm1, %%ymm1, %%ymm1\n\t" \
  "vpxor %%ymm2, %%ymm2, %%ymm2\n\t" \
  "vpxor %%ymm3, %%ymm3, %%ymm3\n\t" \
  "vpxor %%ymm4, %%ymm4, %%ymm4\n\t" \
  "vpxor %%ymm5, %%ymm5, %%ymm5\n\t" \
  "vpxor %%ymm6, %%ymm6, %%ymm6\n\t" \
  "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
// The group tiles' last step: ymm0 = [r0t0 r1t0 r0t1 r1t1] and ymm2 = [r0t2 r1t2 r0t3 r1t3] per 128-bit half, as
// int32; their halves added into lane 2t + j and stored to sums.
#define BITNET_TILE_HALVES_OUT                   \
  "vperm2i128 $0x20, %%ymm2, %%ymm0, %%ymm1\n\t" \
  "vperm2i128 $0x31, %%ymm2, %%ymm0, %%ymm3\n\t" \
  "vpaddd %%ymm3, %%ymm1, %%ymm1\n\t"            \
  "vmovdqu %%ymm1, (%[sums])\n\t"
#define BITNET_TILE_STEPS                        \
  "vmovdqa (%[w0p],%[c]), %%ymm12\n\t"           \
  "vmovdqa (%[w1p],%[c]), %%ymm13\n\t"           \
  BITNET_T2("", "%%r8", "0", "4", "8", "9")      \
  BITNET_T2("", "%%r9", "1", "5", "10", "11")    \
  BITNET_T2("", "%%r10", "2", "6", "14", "15")   \
  BITNET_T2("", "%%r11", "3", "7", "8", "9")     \
  "vmovdqa 32(%[w0p],%[c]), %%ymm12\n\t"         \
  "vmovdqa 32(%[w1p],%[c]), %%ymm13\n\t"         \
  BITNET_T2("32", "%%r8", "0", "4", "10", "11")  \
  BITNET_T2("32", "%%r9", "1", "5", "14", "15")  \
  BITNET_T2("32", "%%r10", "2", "6", "8", "9")   \
  BITNET_T2("32", "%%r11", "3", "7", "10", "11") \
  "add $64, %[c]\n\t"

constexpr int64_t kGroupCols = 256;  // the Q8_K rule's scale group, which tile_2x4_group takes

// clang-format off
#if defined(BITNET_TERNARY_AVXVNNI)
// With AVX-VNNI: one {vex} vpdpbusd per row, token and 32 columns (decoded codes u8 x activations s8, four products
// summed into each int32 lane), so the sums need no int16 segments and no widening; eight int32 sums in ymm0-7.
#define BITNET_V2(off, r, a0, a1)                                  \
  "%{vex%} vpdpbusd " off "(" r ",%[c]), %%ymm12, %%ymm" a0 "\n\t" \
  "%{vex%} vpdpbusd " off "(" r ",%[c]), %%ymm13, %%ymm" a1 "\n\t"
#define BITNET_VNNI_STEPS                \
  "vmovdqa (%[w0p],%[c]), %%ymm12\n\t"   \
  "vmovdqa (%[w1p],%[c]), %%ymm13\n\t"   \
  BITNET_V2("", "%%r8", "0", "4")        \
  BITNET_V2("", "%%r9", "1", "5")        \
  BITNET_V2("", "%%r10", "2", "6")       \
  BITNET_V2("", "%%r11", "3", "7")       \
  "vmovdqa 32(%[w0p],%[c]), %%ymm12\n\t" \
  "vmovdqa 32(%[w1p],%[c]), %%ymm13\n\t" \
  BITNET_V2("32", "%%r8", "0", "4")      \
  BITNET_V2("32", "%%r9", "1", "5")      \
  BITNET_V2("32", "%%r10", "2", "6")     \
  BITNET_V2("32", "%%r11", "3", "7")     \
  "add $64, %[c]\n\t"
// Both tiles' sums over columns [c, ce), from zero.
#define BITNET_VNNI_LOOP \
  BITNET_TILE_PTRS       \
  BITNET_TILE_ZERO       \
  "1:\n\t"               \
  BITNET_VNNI_STEPS      \
  "cmp %[ce], %[c]\n\t"  \
  "jl 1b\n\t"

// tile_2x4 (below, the AVX2 build's) with AVX-VNNI: the same tile, its int32 sums added into acc once at the end.
__attribute__((noinline)) void tile_2x4(const uint8_t* w0p, const uint8_t* w1p, const int8_t* const* p, int64_t c,
                                        int64_t ce, __m256i* acc) {
  if (c >= ce) return;
#define BITNET_ADD_OUT(k, off)                         \
  "vpaddd " off "(%[acc]), %%ymm" k ", %%ymm" k "\n\t" \
  "vmovdqu %%ymm" k ", " off "(%[acc])\n\t"
  asm volatile(
      BITNET_VNNI_LOOP
      BITNET_ADD_OUT("0", "0") BITNET_ADD_OUT("1", "32") BITNET_ADD_OUT("2", "64") BITNET_ADD_OUT("3", "96")
      BITNET_ADD_OUT("4", "128") BITNET_ADD_OUT("5", "160") BITNET_ADD_OUT("6", "192") BITNET_ADD_OUT("7", "224")
      : [c] "+r"(c)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [p] "r"(p), [acc] "r"(acc)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm12", "ymm13", "r8", "r9", "r10", "r11",
        "cc", "memory");
#undef BITNET_ADD_OUT
}

// tile_2x4_group (below) with AVX-VNNI: the eight int32 sums reduced with two levels of hadd (row 0 with row 1, then
// token pairs) and the halves added, to lane 2t + j (row j, token t).
__attribute__((noinline)) void tile_2x4_group(const uint8_t* w0p, const uint8_t* w1p, const int8_t* const* p,
                                              int64_t c, int64_t ce, __m256i* sums) {
  asm volatile(
      BITNET_VNNI_LOOP
      "vphaddd %%ymm4, %%ymm0, %%ymm0\n\t"
      "vphaddd %%ymm5, %%ymm1, %%ymm1\n\t"
      "vphaddd %%ymm6, %%ymm2, %%ymm2\n\t"
      "vphaddd %%ymm7, %%ymm3, %%ymm3\n\t"
      "vphaddd %%ymm1, %%ymm0, %%ymm0\n\t"  // per half: [r0t0 r1t0 r0t1 r1t1]
      "vphaddd %%ymm3, %%ymm2, %%ymm2\n\t"  // [r0t2 r1t2 r0t3 r1t3]
      BITNET_TILE_HALVES_OUT
      : [c] "+r"(c)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [p] "r"(p), [sums] "r"(sums)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm12", "ymm13", "r8", "r9", "r10", "r11",
        "cc", "memory");
}
// The 3 x 4 tile: twelve int32 sums (ymm(4j + t): row j, token t), so that a vpdpbusd's result is not needed again
// for 6 cycles, past its latency (5 on Golden Cove: the eight sums of a 2 x 4 tile keep at most 8 of its 10 in
// flight); rows w[0..2] in ymm12-14, each activation vector a memory operand of its three vpdpbusd. Adds its sums
// into acc[0..11].
#define BITNET_V3(off, r, a0, a1, a2)                              \
  "%{vex%} vpdpbusd " off "(" r ",%[c]), %%ymm12, %%ymm" a0 "\n\t" \
  "%{vex%} vpdpbusd " off "(" r ",%[c]), %%ymm13, %%ymm" a1 "\n\t" \
  "%{vex%} vpdpbusd " off "(" r ",%[c]), %%ymm14, %%ymm" a2 "\n\t"
#define BITNET_V3_STEP(off)                          \
  "vmovdqa " off "(%[w0p],%[c]), %%ymm12\n\t"        \
  "vmovdqa " off "(%[w1p],%[c]), %%ymm13\n\t"        \
  "vmovdqa " off "(%[w2p],%[c]), %%ymm14\n\t"        \
  BITNET_V3(off, "%%r8", "0", "4", "8")              \
  BITNET_V3(off, "%%r9", "1", "5", "9")              \
  BITNET_V3(off, "%%r10", "2", "6", "10")            \
  BITNET_V3(off, "%%r11", "3", "7", "11")
#define BITNET_ADD_OUT(k, off)                         \
  "vpaddd " off "(%[acc]), %%ymm" k ", %%ymm" k "\n\t" \
  "vmovdqu %%ymm" k ", " off "(%[acc])\n\t"
__attribute__((noinline)) void tile_3x4(const uint8_t* w0p, const uint8_t* w1p, const uint8_t* w2p,
                                        const int8_t* const* p, int64_t c, int64_t ce, __m256i* acc) {
  if (c >= ce) return;
  asm volatile(
      BITNET_TILE_PTRS
      BITNET_TILE_ZERO
      "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"
      "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
      "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
      "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
      "1:\n\t"
      BITNET_V3_STEP("")
      BITNET_V3_STEP("32")
      "add $64, %[c]\n\t"
      "cmp %[ce], %[c]\n\t"
      "jl 1b\n\t"
      BITNET_ADD_OUT("0", "0") BITNET_ADD_OUT("1", "32") BITNET_ADD_OUT("2", "64") BITNET_ADD_OUT("3", "96")
      BITNET_ADD_OUT("4", "128") BITNET_ADD_OUT("5", "160") BITNET_ADD_OUT("6", "192") BITNET_ADD_OUT("7", "224")
      BITNET_ADD_OUT("8", "256") BITNET_ADD_OUT("9", "288") BITNET_ADD_OUT("10", "320") BITNET_ADD_OUT("11", "352")
      : [c] "+r"(c)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [w2p] "r"(w2p), [p] "r"(p), [acc] "r"(acc)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12",
        "ymm13", "ymm14", "r8", "r9", "r10", "r11", "cc", "memory");
}
#undef BITNET_ADD_OUT
#undef BITNET_V3_STEP
#undef BITNET_V3
#undef BITNET_VNNI_LOOP
#undef BITNET_VNNI_STEPS
#undef BITNET_V2
// clang-format on
#else
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
#define BITNET_WIDEN(k, off)                          \
  "vpmaddwd %%ymm15, %%ymm" k ", %%ymm" k "\n\t"     \
  "vpaddd " off "(%[acc]), %%ymm" k ", %%ymm" k "\n\t" \
  "vmovdqu %%ymm" k ", " off "(%[acc])\n\t"
  asm volatile(
      BITNET_TILE_PTRS
      "2:\n\t"  // a segment of at most kBlocks16 blocks: [c, seg)
      "lea 1024(%[c]), %[seg]\n\t"
      "cmp %[ce], %[seg]\n\t"
      "cmovg %[ce], %[seg]\n\t"
      BITNET_TILE_ZERO
      "1:\n\t"
      BITNET_TILE_STEPS
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
#undef BITNET_WIDEN
}
static_assert(kBlocks16 * 128 == 1024, "tile_2x4's segment length is written into its assembly");

// tile_2x4 over one scale group of the Q8_K rule, columns [c, ce) with ce - c <= kGroupCols, its eight sums
// reduced in the same assembly and stored to sums[0..7] in lane 2t + j (row j, token t) order. A group's int16
// sums are <= 8 x 768 = 6144 a lane, so two levels of pairwise adds stay in 16 bits (<= 24576) before the
// widening madd; then the halves are added. Where tile_2x4 widened into memory, the caller reduced in int32
// (hadd trees) and scaled: about 37 vector operations a group against 23 here.
static_assert(kGroupCols / 32 * 768 * 4 <= 32767, "tile_2x4_group's 16-bit reduction would overflow");

__attribute__((noinline)) void tile_2x4_group(const uint8_t* w0p, const uint8_t* w1p, const int8_t* const* p,
                                              int64_t c, int64_t ce, __m256i* sums) {
  asm volatile(
      BITNET_TILE_PTRS
      BITNET_TILE_ZERO
      "1:\n\t"
      BITNET_TILE_STEPS
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
      BITNET_TILE_HALVES_OUT
      : [c] "+r"(c)
      : [ce] "r"(ce), [w0p] "r"(w0p), [w1p] "r"(w1p), [p] "r"(p), [sums] "r"(sums)
      : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12",
        "ymm13", "ymm14", "ymm15", "r8", "r9", "r10", "r11", "cc", "memory");
}
#endif
#undef BITNET_TILE_PTRS
#undef BITNET_TILE_ZERO
#undef BITNET_TILE_STEPS
#undef BITNET_TILE_HALVES_OUT
#undef BITNET_T2

// What every whole-row-scale 2 x 4 tile of tokens t0..t0 + 3 shares: their activation pointers, and their code
// sums and scales in the epilogue's lane order (lane 2t + j: token t, row j), each pair of lanes one token.
struct TokenTile4 {
  const int8_t* p[kTile];
  __m256i act_sum;
  __m256 act_scale;
  __m128i act_sum4;  // the same, lane t: token t (a 3 x 4 tile's third row)
  __m128 act_scale4;
};

TokenTile4 token_tile4(const PreparedActs& a, int64_t t0, int64_t cols, int64_t at_stride) {
  TokenTile4 tt;
  for (int t = 0; t < kTile; ++t) tt.p[t] = a.qa.q.data() + (t0 + t) * cols;
  const int32_t* as = a.sums.data() + t0;  // one group: a token's code sum at index t
  const float* at = a.qa.scales.data() + t0 * at_stride;
  tt.act_sum = _mm256_setr_epi32(as[0], as[0], as[1], as[1], as[2], as[2], as[3], as[3]);
  tt.act_scale = _mm256_setr_ps(at[0], at[0], at[at_stride], at[at_stride], at[2 * at_stride], at[2 * at_stride],
                                at[3 * at_stride], at[3 * at_stride]);
  tt.act_sum4 = _mm_setr_epi32(as[0], as[1], as[2], as[3]);
  tt.act_scale4 = _mm_setr_ps(at[0], at[at_stride], at[2 * at_stride], at[3 * at_stride]);
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

// The epilogue of a 2 x 4 tile's sums acc[0..7] (rows with scales ws[0], ws[1]): outputs y[t * y_stride + j].
inline void epilogue_2x4(const __m256i* acc, const TokenTile4& tt, const float* ws, float* y, int64_t y_stride) {
  const __m256i sums = reduce_2x4(acc);
  const __m256 w_scale = pair_lanes(ws[0], ws[1]);
  const __m256 out =
      _mm256_mul_ps(_mm256_div_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sums, tt.act_sum)), tt.act_scale), w_scale);
  store_2x4(out, y, y_stride);
}

void tiles_2x4_out(const uint8_t* dec, int n_pairs, const TokenTile4& tt, int64_t cols, const float* ws, float* y,
                   int64_t y_stride) {
  alignas(32) __m256i acc[kOutPairs][kPair * kTile];
  for (int q = 0; q < n_pairs; ++q) {
    for (auto& v : acc[q]) v = _mm256_setzero_si256();
    tile_2x4(dec + 2 * q * cols, dec + (2 * q + 1) * cols, tt.p, 0, cols, acc[q]);
  }
  for (int q = 0; q < n_pairs; ++q) epilogue_2x4(acc[q], tt, ws + 2 * q, y + 2 * q, y_stride);
}

#if defined(BITNET_TERNARY_AVXVNNI)
// tiles_2x4_out for up to kOutTriples row triples with tile_3x4: rows 0 and 1 of a triple as a 2 x 4 tile's
// epilogue, row 2's four sums (one per token) in four lanes, each output stored on its own.
constexpr int kOutTriples = 2;
void tiles_3x4_out(const uint8_t* dec, int n_triples, const TokenTile4& tt, int64_t cols, const float* ws, float* y,
                   int64_t y_stride) {
  alignas(32) __m256i acc[kOutTriples][3 * kTile];
  for (int q = 0; q < n_triples; ++q) {
    for (auto& v : acc[q]) v = _mm256_setzero_si256();
    tile_3x4(dec + 3 * q * cols, dec + (3 * q + 1) * cols, dec + (3 * q + 2) * cols, tt.p, 0, cols, acc[q]);
  }
  for (int q = 0; q < n_triples; ++q) {
    epilogue_2x4(acc[q], tt, ws + 3 * q, y + 3 * q, y_stride);
    const __m256i* c = acc[q] + 2 * kTile;  // row 2, tokens 0..3
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(c[0], c[1]), _mm256_hadd_epi32(c[2], c[3]));
    const __m128i s2 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 o2 = _mm_mul_ps(_mm_div_ps(_mm_cvtepi32_ps(_mm_sub_epi32(s2, tt.act_sum4)), tt.act_scale4),
                                 _mm_set1_ps(ws[3 * q + 2]));
    alignas(16) float o[kTile];
    _mm_store_ps(o, o2);
    for (int t = 0; t < kTile; ++t) y[t * y_stride + 3 * q + 2] = o[t];
  }
}
#endif

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
  [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t g = 0; g < groups; ++g) {
    alignas(32) __m256i acc[R * T];
    for (int i = 0; i < R * T; ++i) acc[i] = _mm256_setzero_si256();
    if constexpr (R == 2 && T == 4) {
      tile_2x4(rows[0], rows[1], p, g * group, (g + 1) * group, acc);
    } else {
#if defined(BITNET_TERNARY_AVXVNNI)
      for (int64_t c = g * group; c < (g + 1) * group; c += 32) {
        __m256i w[R];
        for (int r = 0; r < R; ++r) w[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows[r] + c));
        for (int t = 0; t < T; ++t) {
          const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[t] + c));
          for (int r = 0; r < R; ++r) acc[r * T + t] = _mm256_dpbusd_avx_epi32(acc[r * T + t], w[r], x);
        }
      }
#else
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
#endif
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t)
        idot[r * T + t][g] = hsum_epi32(acc[r * T + t]) - a.sums[static_cast<size_t>((t0 + t) * groups + g)];
  }
}

}  // namespace
}  // namespace bitnet::kernels::BITNET_AVX2_NS

namespace bitnet::kernels {

using namespace BITNET_AVX2_NS;  // this file's tiles and the shared constants

void BITNET_TERNARY_AVX2_ENTRY(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                               int64_t row_begin, int64_t row_end) {
  const int64_t cols = w.cols, group = a.qa.group, groups = cols / group, n = a.qa.n_tokens;
  // Panels are made at load where AVX-512 runs, and where the AVX2 level does, for matrices with one scale a
  // row or TQ's scale per 256 columns (ternary_wants_panels). This build reads those: fewer than 8 tokens with the
  // panel kernel, prompts by decoding each row (and its scales) from its panel. Any other matrix in panels (a level
  // forced lower after load) goes to the reference.
  const bool read_panels = !w.dense && group == w.group &&
                           ((groups == 1 && a.qa.rule == quant::ActQuant::kPerTokenAbsmax) ||
                            (a.qa.rule == quant::ActQuant::kQ8K && group == kGroupCols && groups <= kMaxGroups));
  if (w.panels && !read_panels) return ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
  if (w.panels && n < kDecodeMinTokens) {
    const auto [pb, pe] = whole_panel_rows(row_begin, row_end);
    if (row_begin < pb) ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, pb);
    if (pe < row_end) ternary_matmul_ref(w, a.qa, y, y_stride, pe, row_end);
#if defined(BITNET_TERNARY_AVXVNNI)
    if (pb < pe) ternary_gemv_panels_avxvnni(w, a, y, y_stride, pb, pe);
#else
    if (pb < pe) ternary_gemv_panels_avx2(w, a, y, y_stride, pb, pe);
#endif
    return;
  }
  // Decoded rows are read 64 columns a step: whole blocks and groups, or (rows, one group a row) a tail of whole 64s
  // after the blocks (bitnet_b1_58-3B's ffn_down, 8640 columns; the row kernels had taken it, at a third of the speed).
  const bool decodes = (cols % 128 == 0 && group % 128 == 0) || (cols % 64 == 0 && group == cols && !w.panels);
  if (n < kDecodeMinTokens || !decodes || group != w.group || groups > kMaxGroups)
    return BITNET_AVX2_NS::matmul_rows(w, a, y, y_stride, row_begin, row_end);
  // the chunk's decoded rows, then (for a matrix in panels) their weight scales in the row layout
  uint8_t* scratch = kernel_scratch(static_cast<size_t>(kDecodeRows * cols + kDecodeRows * groups * 4));
  float* panel_ws = reinterpret_cast<float*>(scratch + kDecodeRows * cols);
  const int64_t at_stride = cols / a.qa.group;
  int32_t idot[kPair * kTile][kMaxGroups];
  TokenTileGroups ttg;  // 16 KB, filled only for Q8_K-rule tiles
  for (int64_t rb = row_begin; rb < row_end; rb += kDecodeRows) {
    const int64_t re = rb + kDecodeRows < row_end ? rb + kDecodeRows : row_end;
    // the chunk's weight scales, rows (r - rb) * groups apart
    const float* chunk_ws = w.scales.data() + rb * groups;
    if (w.panels && groups > 1) {  // group g of row r at ((r / 16) * groups + g) * 16 + r % 16
      for (int64_t r = rb; r < re; ++r)
        for (int64_t g = 0; g < groups; ++g)
          panel_ws[(r - rb) * groups + g] =
              w.scales.data()[((r / quant::kPanelRows) * groups + g) * quant::kPanelRows + r % quant::kPanelRows];
      chunk_ws = panel_ws;
    }
    for (int64_t r = rb; r < re; ++r) {
      if (w.panels && r % 8 == 0 && r + 8 <= re) {
        decode_panel_half(w, r / quant::kPanelRows, static_cast<int>(r % quant::kPanelRows / 8), cols,
                          scratch + (r - rb) * cols);
        r += 7;
      } else if (w.panels) {
        decode_panel_row(w, r, scratch + (r - rb) * cols);
      } else {
        decode_row(w.row(r), cols, scratch + (r - rb) * cols);
      }
    }
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
          tiles_2x4_groups(scratch + (r - rb) * cols, n_pairs, ttg, cols, group, groups, chunk_ws + (r - rb) * groups,
                           y + t0 * y_stride + r, y_stride);
        }
        r = rb + (re - rb) / kPair * kPair;
      }
      if (whole_rows) {
#if defined(BITNET_TERNARY_AVXVNNI)
        for (; r + 3 <= re; r += 3 * kOutTriples) {
          const int n_triples = (re - r) / 3 < kOutTriples ? static_cast<int>((re - r) / 3) : kOutTriples;
          tiles_3x4_out(scratch + (r - rb) * cols, n_triples, tt, cols, chunk_ws + (r - rb), y + t0 * y_stride + r,
                        y_stride);
        }
        r = rb + (re - rb) / 3 * 3;
#endif
        const int64_t rp = r;
        for (; r + kPair <= re; r += kPair * kOutPairs) {
          const int n_pairs = (re - r) / kPair < kOutPairs ? static_cast<int>((re - r) / kPair) : kOutPairs;
          tiles_2x4_out(scratch + (r - rb) * cols, n_pairs, tt, cols, chunk_ws + (r - rb), y + t0 * y_stride + r,
                        y_stride);
        }
        r = rp + (re - rp) / kPair * kPair;
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
          const float* ws = chunk_ws + (r - rb + j) * groups;
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

#undef BITNET_AVX2_NS
#undef BITNET_TERNARY_AVX2_ENTRY
BITNET_TARGET_END
#endif
