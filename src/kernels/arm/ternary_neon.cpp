// NEON ternary matmuls for aarch64 on the layout of quant/ternary.hpp (per 128-column block, the 32 code
// bytes shifted right by 6 - 2j line up with activations 32j..32j+31 in natural order). Plain NEON widens with
// vmull_s8 + vpadalq_s16; with the dotprod extension, sdot sums four products at a time. Exact integers,
// shared float epilogue: bit-equal to the scalar reference.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/ternary.hpp"

namespace bitnet::kernels {
namespace {

constexpr int kTile = 4;
constexpr int64_t kRowChunk = 32;  // rows sharing one pass over a token tile's activations
constexpr int64_t kMaxGroups = 256;

// sum(code * q) over one 16-byte half of a block: codes in c (0..3, as s8), activations at a.
inline int32x4_t dot16_neon(int32x4_t acc, int8x16_t c, const int8_t* a) {
  const int8x16_t q = vld1q_s8(a);
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(c), vget_low_s8(q)));
  return vpadalq_s16(acc, vmull_high_s8(c, q));
}

__attribute__((target("arch=armv8.2-a+dotprod"))) inline int32x4_t dot16_sdot(int32x4_t acc, int8x16_t c,
                                                                              const int8_t* a) {
  return vdotq_s32(acc, c, vld1q_s8(a));
}

// One 128-column block for one token: v0/v1 hold its 32 code bytes.
template <bool kDot>
inline int32x4_t block_dot(int32x4_t acc, uint8x16_t v0, uint8x16_t v1, const int8_t* a) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  for (int j = 0; j < 4; ++j) {
    const int8x16_t c0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(v0, vdupq_n_s8(static_cast<int8_t>(2 * j - 6))), m3));
    const int8x16_t c1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(v1, vdupq_n_s8(static_cast<int8_t>(2 * j - 6))), m3));
    if constexpr (kDot) {
      acc = dot16_sdot(acc, c0, a + 32 * j);
      acc = dot16_sdot(acc, c1, a + 32 * j + 16);
    } else {
      acc = dot16_neon(acc, c0, a + 32 * j);
      acc = dot16_neon(acc, c1, a + 32 * j + 16);
    }
  }
  return acc;
}

inline int32_t tail_code_dot(const uint8_t* row, const int8_t* q, int64_t c0, int64_t c1) {
  int32_t s = 0;
  for (int64_t c = c0; c < c1; ++c) s += static_cast<int32_t>((row[c / 4] >> (2 * (c % 4))) & 3) * q[c];
  return s;
}

template <bool kDot>
void matmul(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride, int64_t row_begin,
            int64_t row_end) {
  const int64_t cols = w.cols, group = a.qa.group, groups = cols / group;
  if (groups > kMaxGroups || group != w.group) {
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
      for (int64_t r = rb; r < re; ++r) {
        const uint8_t* row = w.row(r);
        const float* ws = w.scales.data() + r * groups;
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t gb = g * group, ge_full = gb + group < full ? gb + group : full;
          int32x4_t acc[kTile] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
          for (int64_t c = gb; c < ge_full; c += 128) {
            const uint8x16_t v0 = vld1q_u8(row + c / 4), v1 = vld1q_u8(row + c / 4 + 16);
            for (int i = 0; i < nt; ++i) acc[i] = block_dot<kDot>(acc[i], v0, v1, p[i] + c);
          }
          const int64_t tail_begin = gb > full ? gb : full;
          for (int i = 0; i < nt; ++i) {
            int32_t s = vaddvq_s32(acc[i]);
            if (tail_begin < gb + group) s += tail_code_dot(row, p[i], tail_begin, gb + group);
            idot[i][g] = s - a.sums[static_cast<size_t>(tok[i] * groups + g)];
          }
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

__attribute__((target("arch=armv8.2-a+dotprod"))) void ternary_matmul_neon_dot(const quant::TernaryMatrix& w,
                                                                               const PreparedActs& a, float* y,
                                                                               int64_t y_stride, int64_t row_begin,
                                                                               int64_t row_end) {
  matmul<true>(w, a, y, y_stride, row_begin, row_end);
}

}  // namespace bitnet::kernels
#endif
