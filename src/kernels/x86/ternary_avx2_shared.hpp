// What the two AVX2 ternary matmul files share: ternary_avx2.cpp (prompt batches: rows decoded once, register tiles
// in assembly) and ternary_gemv_avx2.cpp (generation and batches under 8 tokens: codes decoded in registers). Each is
// compiled twice: in namespace avx2 as it is, and in avx2vnni with BITNET_TERNARY_AVXVNNI defined (x86/
// ternary_avx2_vnni.cpp, x86/ternary_gemv_avx2_vnni.cpp) for CPUs with AVX-VNNI, whose 256-bit vpdpbusd sums four
// u8 x s8 products into each int32 lane where AVX2 takes maddubs, an int16 add and a widening madd.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "core/target_region.hpp"
#include "kernels/ternary.hpp"

BITNET_TARGET_BEGIN("avx2,fma,f16c")

namespace bitnet::kernels::avx2 {

constexpr int kTile = 4;           // tokens sharing one decode of a weight block
constexpr int64_t kMaxGroups = 256;
constexpr int64_t kBlocks16 = 8;  // 128-column blocks summed in int16 (<= 3072 a lane each) before widening
static_assert(kBlocks16 * 3072 <= 32767, "int16 block sums would overflow");

// The sum of v's eight int32 lanes.
inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace bitnet::kernels::avx2

BITNET_TARGET_END

namespace bitnet::kernels::avx2 {

// Generation and batches under 8 tokens (and shapes the prompt path does not take), in ternary_gemv_avx2.cpp.
void matmul_rows(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end);

}  // namespace bitnet::kernels::avx2

namespace bitnet::kernels::avx2vnni {

using namespace avx2;  // the constants and helpers above

// matmul_rows with AVX-VNNI (ternary_gemv_avx2_vnni.cpp).
void matmul_rows(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride, int64_t row_begin,
                 int64_t row_end);

}  // namespace bitnet::kernels::avx2vnni
#endif
