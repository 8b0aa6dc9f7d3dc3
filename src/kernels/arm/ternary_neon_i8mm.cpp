// NEON ternary matmul for prompt batches with the int8 matrix-multiply extension (FEAT_I8MM: Neoverse V1/N2/V2,
// Graviton 3 and 4, Apple M2 and later, Cortex-A510, A710 and later). smmla multiplies a 2 x 8 block of int8 by an
// 8 x 2 one into a 2 x 2 block of int32 sums: 32 products an instruction where sdot makes 16. Here the 2 x 8 block is
// two rows' codes for 8 columns and the 8 x 2 one two tokens' activations for the same columns, so one instruction
// covers two rows and two tokens, and each decoded code register feeds every token pair of the tile.
// Layout (quant/ternary.hpp): per 128-column block, byte i of a row's 32 holds columns i, 32 + i, 64 + i, 96 + i in
// its fields (bits 7-6, 5-4, 3-2, 1-0). Two rows' byte runs zipped 8 by 8 ([row a bytes 8m..8m+7 | row b's]) give,
// field j shifted down, the 2 x 8 block of columns 32j + 8m..+7; the activations come zipped the same way, written as
// they were quantized (PreparedActs::pairs: [token t columns 8k..8k+7 | token t+1's]). Codes are w + 1 (0..3), so each
// dot is sum(code x q) - sum(q), exact in int32; the scalar epilogue follows: bit-equal to the reference. Generation
// (one token) stays with sdot (ternary_neon.cpp), which reads each row once either way.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/dotprod.hpp"
#include "kernels/arm/i8mm.hpp"
#include "kernels/arm/tail_step.hpp"
#include "kernels/ternary.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kMaxGroups = 256;
constexpr int64_t kRowChunk = 32;  // rows sharing one pass over a token tile's activations
constexpr int kRows = 4;           // rows a tile: two row pairs
constexpr int kPairs = 4;          // token pairs a tile (8 tokens)
// A group's sum gains at most 3 x 128 per column: int32 holds 2^20 columns a group with room to spare.
constexpr int64_t kMaxGroupCols = int64_t{1} << 20;

// Field J (0..3, bits 7-6 down to 1-0) of every byte, as a code 0..3.
template <int J>
BITNET_I8MM inline int8x16_t field(uint8x16_t z) {
  if constexpr (J == 0) {
    return vreinterpretq_s8_u8(vshrq_n_u8(z, 6));
  } else if constexpr (J == 3) {
    return vreinterpretq_s8_u8(vandq_u8(z, vdupq_n_u8(3)));
  } else {
    return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(z, 6 - 2 * J), vdupq_n_u8(3)));
  }
}

// sum(code * q) over tail columns [c0, c1) of a row in the row layout (c0 and c1 multiples of 4), 16 columns an sdot
// (arm/tail_step.hpp; one code at a time, bitnet_b1_58-3B's 64-column tails were half of its ffn_down's time on x86).
BITNET_I8MM inline int32_t tail_dot(const uint8_t* row, const int8_t* q, int64_t c0, int64_t c1) {
  int32x4_t acc = vdupq_n_s32(0);
  for (int64_t c = c0; c < c1; c += 16) {
    int8x16_t codes, acts;
    tail_step(row, q, c, c1, codes, acts);
    acc = sdot(acc, codes, acts);
  }
  return vaddvq_s32(acc);
}

// Field J of a 128-column block starting at column c: its four 8-column runs, both row pairs (z) times P token pairs.
template <int J, int P>
BITNET_I8MM inline void field_runs(int32x4_t (&acc)[2][P], const uint8x16_t (&z)[2][4], const int8_t* const* acts,
                                   int64_t c) {
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    const int8x16_t w0 = field<J>(z[0][m]), w1 = field<J>(z[1][m]);
    const int64_t k = (c + 32 * J + 8 * m) * 2;  // this run's offset in a pair's zipped activations
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const int8x16_t x = vld1q_s8(acts[p] + k);
      acc[0][p] = smmla(acc[0][p], w0, x);
      acc[1][p] = smmla(acc[1][p], w1, x);
    }
  }
}

// Rows rows[0..3] (two pairs; a pair's second may repeat its first) against P token pairs (zipped activations at
// acts[p]), per group: idot[2p + i][r][g] is token 2p + i's integer dot with row r, group g, less the group's
// activation sum (sums[2p + i] points at that token's group sums; q[2p + i] at its activations, for the tail).
template <int P>
BITNET_I8MM void tile_dots(const uint8_t* const* rows, const int8_t* const* acts, const int8_t* const* q,
                           const int32_t* const* sums, int64_t group, int64_t groups, int64_t full,
                           int32_t (*idot)[kRows][kMaxGroups]) {
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group, ge_full = gb + group < full ? gb + group : full;
    int32x4_t acc[2][P];
    for (auto& r : acc)
      for (auto& v : r) v = vdupq_n_s32(0);
    for (int64_t c = gb; c < ge_full; c += 128) {
      uint8x16_t z[2][4];  // row pair rp's bytes 8m..8m+7, zipped
      for (int rp = 0; rp < 2; ++rp) {
        const uint8_t* ra = rows[2 * rp] + c / 4;
        const uint8_t* rb = rows[2 * rp + 1] + c / 4;
        const uint64x2_t a0 = vreinterpretq_u64_u8(vld1q_u8(ra)), a1 = vreinterpretq_u64_u8(vld1q_u8(ra + 16));
        const uint64x2_t b0 = vreinterpretq_u64_u8(vld1q_u8(rb)), b1 = vreinterpretq_u64_u8(vld1q_u8(rb + 16));
        z[rp][0] = vreinterpretq_u8_u64(vzip1q_u64(a0, b0));
        z[rp][1] = vreinterpretq_u8_u64(vzip2q_u64(a0, b0));
        z[rp][2] = vreinterpretq_u8_u64(vzip1q_u64(a1, b1));
        z[rp][3] = vreinterpretq_u8_u64(vzip2q_u64(a1, b1));
      }
      field_runs<0>(acc, z, acts, c);
      field_runs<1>(acc, z, acts, c);
      field_runs<2>(acc, z, acts, c);
      field_runs<3>(acc, z, acts, c);
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int rp = 0; rp < 2; ++rp)
      for (int p = 0; p < P; ++p) {
        int32_t lane[4];
        vst1q_s32(lane, acc[rp][p]);
        for (int i = 0; i < 2; ++i)      // row 2 rp + i
          for (int j = 0; j < 2; ++j) {  // token 2p + j
            int32_t s = lane[2 * i + j];
            if (tail_begin < gb + group) s += tail_dot(rows[2 * rp + i], q[2 * p + j], tail_begin, gb + group);
            idot[2 * p + j][2 * rp + i][g] = s - sums[2 * p + j][g];
          }
      }
  }
}

}  // namespace

BITNET_I8MM __attribute__((flatten)) void ternary_matmul_neon_i8mm(const quant::TernaryMatrix& w, const PreparedActs& a,
                                                                   float* y, int64_t y_stride, int64_t row_begin,
                                                                   int64_t row_end) {
  const int64_t cols = w.cols, group = a.qa.group, groups = cols / group, n = a.qa.n_tokens;
  const int64_t full = cols / 128 * 128, at_stride = cols / group;
  // Generation, its fallbacks, and activations prepared without their pairs (the CPU's i8mm hidden at preparation)
  if (n < 2 || w.panels || groups > kMaxGroups || group != w.group || group > kMaxGroupCols ||
      a.pairs.size() != static_cast<size_t>((n + 1) / 2 * full * 2)) {
    ternary_matmul_neon_dot(w, a, y, y_stride, row_begin, row_end);
    return;
  }
  const int8_t* zipped = a.pairs.data();
  static thread_local int32_t idot[2 * kPairs][kRows][kMaxGroups];
  for (int64_t rb = row_begin; rb < row_end; rb += kRowChunk) {
    const int64_t re = rb + kRowChunk < row_end ? rb + kRowChunk : row_end;
    for (int64_t t0 = 0; t0 < n;) {
      // 8 tokens a tile, the last one's 1-7 in as many pairs (the last pair's second token may repeat its first)
      const int64_t nt = n - t0 >= 2 * kPairs ? 2 * kPairs : n - t0;
      const int np = static_cast<int>((nt + 1) / 2);
      const int8_t* acts[kPairs];
      const int8_t* q[2 * kPairs];
      const int32_t* sums[2 * kPairs];
      for (int p = 0; p < np; ++p) acts[p] = zipped + (t0 / 2 + p) * full * 2;
      for (int i = 0; i < 2 * np; ++i) {
        const int64_t tok = t0 + (i < nt ? i : nt - 1);
        q[i] = a.qa.q.data() + tok * cols;
        sums[i] = a.sums.data() + tok * groups;
      }
      for (int64_t r = rb; r < re; r += kRows) {
        const int nr = static_cast<int>(re - r < kRows ? re - r : kRows);
        const uint8_t* rows[kRows];
        for (int i = 0; i < kRows; ++i) rows[i] = w.row(r + (i < nr ? i : nr - 1));
        switch (np) {
          case 4: tile_dots<4>(rows, acts, q, sums, group, groups, full, idot); break;
          case 3: tile_dots<3>(rows, acts, q, sums, group, groups, full, idot); break;
          case 2: tile_dots<2>(rows, acts, q, sums, group, groups, full, idot); break;
          default: tile_dots<1>(rows, acts, q, sums, group, groups, full, idot);
        }
        for (int64_t t = 0; t < nt; ++t)
          for (int i = 0; i < nr; ++i)
            y[(t0 + t) * y_stride + r + i] =
                ternary_epilogue(a.qa.rule, idot[t][i], groups, w.scales.data() + (r + i) * groups,
                                 a.qa.scales.data() + (t0 + t) * at_stride);
      }
      t0 += nt;
    }
  }
}

}  // namespace bitnet::kernels
#endif
