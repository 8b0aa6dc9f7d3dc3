// NEON ternary matmuls for aarch64 on the layout of quant/ternary.hpp (per 128-column block, the 32 code
// bytes shifted right by 6 - 2j line up with activations 32j..32j+31 in natural order). Plain NEON widens with
// vmull_s8 + vpadalq_s16; with the dotprod extension, sdot sums four products at a time. Exact integers,
// shared float epilogue: bit-equal to the scalar reference.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/arm/dotprod.hpp"
#include "kernels/arm/tail_step.hpp"
#include "kernels/ternary.hpp"

namespace bitnet::kernels {
namespace {

constexpr int kTile = 4;
constexpr int64_t kRowChunk = 32;  // rows sharing one pass over a token tile's activations
constexpr int64_t kMaxGroups = 256;
// The x16 sum of a group gains at most 16 x 3 x 128 per 4 columns: int32 up to 2^20 columns a group (1.6e9).
constexpr int64_t kMaxGroupCols = int64_t{1} << 20;

// sum(code * q) over 16 bytes: codes in c (0..3 as s8, or 4x or 16x code), activations q.
inline int32x4_t dot16_neon(int32x4_t acc, int8x16_t c, int8x16_t q) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(c), vget_low_s8(q)));
  return vpadalq_s16(acc, vmull_high_s8(c, q));
}

BITNET_DOTPROD inline int32x4_t dot16_sdot(int32x4_t acc, int8x16_t c, int8x16_t q) { return sdot(acc, c, q); }

// One 128-column block's codes, decoded once for every token of the tile: field j of each code byte (bits 7-6,
// 5-4, 3-2, 1-0) pairs with activations 32j..32j+31. Two fields come out as codes (v >> 6, v & 3), the other two
// masked in place, as 16 x code (v & 0x30) and 4 x code (v & 0x0c): 4 operations per 16 bytes, where shifting each
// field down took 8. Their products go to three sums (x1, x4, x16), divided out exactly at the end (every product
// in the x4 and x16 sums is a multiple of 4 or 16): 16 x 3 x 128 keeps a vmull_s8 product within int16.
struct BlockCodes {
  int8x16_t c1[4];   // fields 0 and 3 of bytes 0-15 and 16-31: activations 0, 16, 96, 112
  int8x16_t c16[2];  // field 1: activations 32, 48
  int8x16_t c4[2];   // field 2: activations 64, 80
};

inline BlockCodes decode_block(const uint8_t* codes) {
  const uint8x16_t v0 = vld1q_u8(codes), v1 = vld1q_u8(codes + 16);
  const uint8x16_t m3 = vdupq_n_u8(3), m30 = vdupq_n_u8(0x30), m0c = vdupq_n_u8(0x0c);
  BlockCodes b;
  b.c1[0] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 6));
  b.c1[1] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 6));
  b.c1[2] = vreinterpretq_s8_u8(vandq_u8(v0, m3));
  b.c1[3] = vreinterpretq_s8_u8(vandq_u8(v1, m3));
  b.c16[0] = vreinterpretq_s8_u8(vandq_u8(v0, m30));
  b.c16[1] = vreinterpretq_s8_u8(vandq_u8(v1, m30));
  b.c4[0] = vreinterpretq_s8_u8(vandq_u8(v0, m0c));
  b.c4[1] = vreinterpretq_s8_u8(vandq_u8(v1, m0c));
  return b;
}

// sum(c * q) over 16 bytes, by sdot or by the plain NEON widening.
template <bool kDot>
inline int32x4_t dot16(int32x4_t acc, int8x16_t c, int8x16_t q) {
  if constexpr (kDot) {
    return dot16_sdot(acc, c, q);
  } else {
    return dot16_neon(acc, c, q);
  }
}
template <bool kDot>
inline int32x4_t dot16(int32x4_t acc, int8x16_t c, const int8_t* a) {
  return dot16<kDot>(acc, c, vld1q_s8(a));
}
// sum(code * q) over tail columns [c0, c1) of a row in the row layout (c0 and c1 multiples of 4), 16 columns a step
// (arm/tail_step.hpp). As on x86, where one code at a time the 64-column tail of bitnet_b1_58-3B's ffn_down took half
// of that matrix's generation time (not timed on ARM).
template <bool kDot>
inline int32_t tail_dot(const uint8_t* row, const int8_t* q, int64_t c0, int64_t c1) {
  int32x4_t acc = vdupq_n_s32(0);
  for (int64_t c = c0; c < c1; c += 16) {
    int8x16_t codes, acts;
    tail_step(row, q, c, c1, codes, acts);
    acc = dot16<kDot>(acc, codes, acts);
  }
  return vaddvq_s32(acc);
}

// One token's products with a decoded block (activations at a) into its three sums: acc[0] x1, acc[1] x4, acc[2] x16.
template <bool kDot>
inline void block_dot(int32x4_t* acc, const BlockCodes& b, const int8_t* a) {
  acc[0] = dot16<kDot>(acc[0], b.c1[0], a);
  acc[0] = dot16<kDot>(acc[0], b.c1[1], a + 16);
  acc[0] = dot16<kDot>(acc[0], b.c1[2], a + 96);
  acc[0] = dot16<kDot>(acc[0], b.c1[3], a + 112);
  acc[2] = dot16<kDot>(acc[2], b.c16[0], a + 32);
  acc[2] = dot16<kDot>(acc[2], b.c16[1], a + 48);
  acc[1] = dot16<kDot>(acc[1], b.c4[0], a + 64);
  acc[1] = dot16<kDot>(acc[1], b.c4[1], a + 80);
}

// One token against four rows (generation), per group into idot[r][g]: each block's eight activation vectors are
// loaded once for the four rows, and the four rows' twelve sums are independent. One row at a time, its x1 sum took
// four dependent dots a block, so on cores with several vector pipes the dot latency, not the pipes, set the pace
// (4 x 3 cycles a block where the pipes need about 4); here each of the four chains waits on one dot a block.
template <bool kDot>
void rows4_dots(const uint8_t* const* rows, const PreparedActs& a, int64_t t, int64_t cols, int64_t group,
                int64_t groups, int64_t full, int32_t (*idot)[kMaxGroups]) {
  const int8_t* p = a.qa.q.data() + t * cols;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group, ge_full = gb + group < full ? gb + group : full;
    int32x4_t acc[4][3];
    for (auto& r : acc)
      for (auto& v : r) v = vdupq_n_s32(0);
    for (int64_t c = gb; c < ge_full; c += 128) {
      int8x16_t q[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) q[k] = vld1q_s8(p + c + 16 * k);
#pragma GCC unroll 4  // the twelve sums stay in registers only when every index is a constant
      for (int r = 0; r < 4; ++r) {
        const BlockCodes b = decode_block(rows[r] + c / 4);
        acc[r][0] = dot16<kDot>(acc[r][0], b.c1[0], q[0]);
        acc[r][2] = dot16<kDot>(acc[r][2], b.c16[0], q[2]);
        acc[r][1] = dot16<kDot>(acc[r][1], b.c4[0], q[4]);
        acc[r][0] = dot16<kDot>(acc[r][0], b.c1[1], q[1]);
        acc[r][2] = dot16<kDot>(acc[r][2], b.c16[1], q[3]);
        acc[r][1] = dot16<kDot>(acc[r][1], b.c4[1], q[5]);
        acc[r][0] = dot16<kDot>(acc[r][0], b.c1[2], q[6]);
        acc[r][0] = dot16<kDot>(acc[r][0], b.c1[3], q[7]);
      }
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int r = 0; r < 4; ++r) {
      int32_t s = vaddvq_s32(acc[r][0]) + vaddvq_s32(acc[r][1]) / 4 + vaddvq_s32(acc[r][2]) / 16;  // exact
      if (tail_begin < gb + group) s += tail_dot<kDot>(rows[r], p, tail_begin, gb + group);
      idot[r][g] = s - a.sums[static_cast<size_t>(t * groups + g)];
    }
  }
}

// One row against T tokens (activations p[i], token indices tok[i]), per group into idot[i][g]: each block decoded
// once for the T tokens. T is a constant so that the T x 3 sums live in registers (with a run-time token count they
// were stored and reloaded around every dot).
template <bool kDot, int T>
void row_dots(const uint8_t* row, const int8_t* const* p, const int64_t* tok, const PreparedActs& a, int64_t group,
              int64_t groups, int64_t full, int32_t (*idot)[kMaxGroups]) {
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t gb = g * group, ge_full = gb + group < full ? gb + group : full;
    int32x4_t acc[T][3];
    for (auto& t : acc)
      for (auto& v : t) v = vdupq_n_s32(0);
    for (int64_t c = gb; c < ge_full; c += 128) {
      const BlockCodes codes = decode_block(row + c / 4);
#pragma GCC unroll 4
      for (int i = 0; i < T; ++i) block_dot<kDot>(acc[i], codes, p[i] + c);
    }
    const int64_t tail_begin = gb > full ? gb : full;
    for (int i = 0; i < T; ++i) {
      // exact: the x4 and x16 sums are multiples of 4 and 16
      int32_t s = vaddvq_s32(acc[i][0]) + vaddvq_s32(acc[i][1]) / 4 + vaddvq_s32(acc[i][2]) / 16;
      if (tail_begin < gb + group) s += tail_dot<kDot>(row, p[i], tail_begin, gb + group);
      idot[i][g] = s - a.sums[static_cast<size_t>(tok[i] * groups + g)];
    }
  }
}

template <bool kDot>
void matmul(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride, int64_t row_begin,
            int64_t row_end) {
  const int64_t cols = w.cols, group = a.qa.group, groups = cols / group;
  // (Panels are an x86 AVX-512 layout; the reference reads them should a matrix in panels come here.)
  if (w.panels || groups > kMaxGroups || group != w.group || group > kMaxGroupCols) {
    ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
    return;
  }
  const int64_t full = cols / 128 * 128, n = a.qa.n_tokens, at_stride = cols / a.qa.group;
  int32_t idot[kTile][kMaxGroups];
  // Rows in chunks with token tiles inside, so a tile's activations stay in L1 across the chunk's rows (as the
  // x86 kernels do; walking every token per row streams all activations from L2 once per row).
  for (int64_t rb = row_begin; rb < row_end; rb += kRowChunk) {
    const int64_t re = rb + kRowChunk < row_end ? rb + kRowChunk : row_end;
    for (int64_t t0 = 0; t0 < n;) {
      // tiles of kTile tokens; the remainder (and generation's single token) one token at a time
      const int nt = n - t0 >= kTile ? kTile : 1;
      int64_t tok[kTile];
      const int8_t* p[kTile];
      for (int i = 0; i < nt; ++i) {
        tok[i] = t0 + i;
        p[i] = a.qa.q.data() + tok[i] * cols;
      }
      int64_t r = rb;
      if (nt == 1) {
        int32_t idot4[4][kMaxGroups];
        for (; r + 4 <= re; r += 4) {
          const uint8_t* rows[4] = {w.row(r), w.row(r + 1), w.row(r + 2), w.row(r + 3)};
          rows4_dots<kDot>(rows, a, t0, cols, group, groups, full, idot4);
          for (int i = 0; i < 4; ++i)
            y[t0 * y_stride + r + i] = ternary_epilogue(a.qa.rule, idot4[i], groups, w.scales.data() + (r + i) * groups,
                                                        a.qa.scales.data() + t0 * at_stride);
        }
      }
      for (; r < re; ++r) {
        const uint8_t* row = w.row(r);
        const float* ws = w.scales.data() + r * groups;
        if (nt == kTile) {
          row_dots<kDot, kTile>(row, p, tok, a, group, groups, full, idot);
        } else {
          row_dots<kDot, 1>(row, p, tok, a, group, groups, full, idot);
        }
        for (int i = 0; i < nt; ++i)
          y[(t0 + i) * y_stride + r] =
              ternary_epilogue(a.qa.rule, idot[i], groups, ws, a.qa.scales.data() + (t0 + i) * at_stride);
      }
      t0 += nt;
    }
  }
}

}  // namespace

void ternary_matmul_neon(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                         int64_t row_begin, int64_t row_end) {
  matmul<false>(w, a, y, y_stride, row_begin, row_end);
}

// flatten: the whole call tree inlined here, under this function's dotprod target. A helper with the target
// attribute is not inlined into one without it (matmul<true>, block_dot), so every sdot had been a call.
BITNET_DOTPROD __attribute__((flatten)) void ternary_matmul_neon_dot(const quant::TernaryMatrix& w,
                                                                     const PreparedActs& a, float* y, int64_t y_stride,
                                                                     int64_t row_begin, int64_t row_end) {
  matmul<true>(w, a, y, y_stride, row_begin, row_end);
}

}  // namespace bitnet::kernels
#endif
