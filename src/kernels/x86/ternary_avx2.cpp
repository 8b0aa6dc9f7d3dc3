// AVX2 ternary matmul: 2-bit codes x int8 activations with maddubs (u8 x s8 -> s16 pairs), exact.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/ternary.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace bitnet::kernels {

// |code * q| <= 3 * 128, two products per s16 lane: <= 768; four sets summed: <= 3072 (no saturation).
#define BITNET_BLOCK_DOT(acc, c0, c1, c2, c3, a)                                      \
  do {                                                                                \
    const __m256i* ap_ = reinterpret_cast<const __m256i*>(a);                         \
    __m256i s_ = _mm256_maddubs_epi16(c0, _mm256_loadu_si256(ap_));                   \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c1, _mm256_loadu_si256(ap_ + 1))); \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c2, _mm256_loadu_si256(ap_ + 2))); \
    s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(c3, _mm256_loadu_si256(ap_ + 3))); \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s_, _mm256_set1_epi16(1)));         \
  } while (0)
// The same block's sum as int16 lanes (<= 3072 each), for the body to add up over several blocks before widening.
#define BITNET_BLOCK_SUM16(c0, c1, c2, c3, a)                                                          \
  _mm256_add_epi16(                                                                                  \
      _mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))), \
                       _mm256_maddubs_epi16(c1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 1))), \
      _mm256_add_epi16(_mm256_maddubs_epi16(c2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 2)), \
                       _mm256_maddubs_epi16(c3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + 3))))
#define BITNET_KERNEL_NAME ternary_matmul_avx2_rows
void ternary_matmul_avx2_rows(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end);
#include "kernels/x86/ternary_x86_body.inc"

// Prompt batches: each chunk of rows is decoded once to a byte per code, in L2, so the token tiles' inner loop is
// loads, maddubs and adds only (decoding per tile took a fifth of its vector operations).
namespace {

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
        for (int i = 0; i < T; ++i) s16[i] = _mm256_add_epi16(s16[i], BITNET_BLOCK_SUM16(c0, c1, c2, c3, p[i] + c));
      }
      for (int i = 0; i < T; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s16[i], _mm256_set1_epi16(1)));
    }
    for (int i = 0; i < T; ++i)
      idot[i][g] = hsum_epi32(acc[i]) - a.sums[static_cast<size_t>((t0 + i) * groups + g)];
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
