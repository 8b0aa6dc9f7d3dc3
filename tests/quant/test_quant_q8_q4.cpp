// Q8_0 and Q4_0: hand-built blocks pin llama.cpp's layouts; round trips stay within the derived bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/quant.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

std::vector<float> dequantize_all(uint32_t type, const std::vector<uint8_t>& data, int64_t ne0, int64_t rows) {
  std::vector<float> out(static_cast<size_t>(ne0 * rows));
  EXPECT_TRUE(dequantize_rows(type, data.data(), ne0, rows, 0, rows, out.data()).ok());
  return out;
}

TEST(QuantQ8_0, HandBuiltBlock) {
  std::vector<uint8_t> b(34, 0);
  test::put_u16(b, 0, 0x3400);  // d = 0.25, then qs[i] = int8 of element i
  b[2 + 0] = 4;                 // 4 * 0.25
  b[2 + 5] = 0x7F;              // 127 * 0.25
  b[2 + 31] = 0x80;             // -128 * 0.25
  std::vector<float> want(32, 0.0f);
  want[0] = 1.0f, want[5] = 31.75f, want[31] = -32.0f;
  EXPECT_EQ(dequantize_all(kQ8_0, b, 32, 1), want);
}

TEST(QuantQ4_0, HandBuiltBlock) {
  std::vector<uint8_t> b(18, 0x88);  // nibble 8 -> 0
  test::put_u16(b, 0, 0x4000);       // d = 2
  b[2 + 0] = 0xF0;                   // element 0: (0 - 8) * 2 = -16; element 16: (15 - 8) * 2 = 14
  b[2 + 15] = 0x98;                  // element 15: (8 - 8) * 2 = 0; element 31: (9 - 8) * 2 = 2
  std::vector<float> want(32, 0.0f);
  want[0] = -16.0f, want[16] = 14.0f, want[31] = 2.0f;
  EXPECT_EQ(dequantize_all(kQ4_0, b, 32, 1), want);
  // llama.cpp's encoder: max = -16 (largest |x|, sign kept), d = max / -8 = 2, nibble = (int)(x/d + 8.5):
  // -16 -> 0, 14 -> 15, 2 -> 9, 0 -> 8: the same bytes.
  auto q = quantize_tensor(kQ4_0, want.data(), 32, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, b);
}

TEST(QuantQ8_0, IntegersWithMax127AreExact) {
  // max|x| = 127 gives d = 1 exactly (fp16-representable), so q = x.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 255 - 127);
  x[3] = 127.0f;
  auto q = quantize_tensor(kQ8_0, x.data(), 64, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(dequantize_all(kQ8_0, *q, 64, 1), x);
}

// Per block with A = max|x|:
//  Q8_0: d = A/127, q = round(x/d) with the unrounded d, so |x - q d| <= d/2; storing d as fp16 moves it by
//        at most d * 2^-11, times |q| <= 127: |x - y| <= d (1/2 + 127/2048) < 0.5621 d, plus f32 rounding.
//  Q4_0: |d| = A/8; in-range values round to the nearest step (error <= |d|/2), but the extreme opposite to
//        the max (x/d up to +8) clamps to nibble 15 (+7): error <= |d|; fp16 d adds <= 8 |d| 2^-11.
//        So |x - y| <= |d| (1 + 2^-8).
TEST(QuantQ8_0, RoundTripWithinBound) {
  test::Lcg rng(11);
  for (uint32_t type : {kQ8_0, kQ4_0})
    for (int64_t rows : {1, 2, 5}) {
      const int64_t ne0 = 96;
      std::vector<float> x(static_cast<size_t>(ne0 * rows));
      for (float& v : x) v = rng.uniform(-3.0f, 3.0f);
      auto q = quantize_tensor(type, x.data(), ne0, rows);
      ASSERT_TRUE(q.ok());
      const std::vector<float> y = dequantize_all(type, *q, ne0, rows);
      for (size_t blk = 0; blk < x.size() / 32; ++blk) {
        float amax = 0.0f;
        for (size_t i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(x[blk * 32 + i]));
        const float bound = type == kQ8_0 ? amax / 127.0f * 0.5621f : amax / 8.0f * (1.0f + 1.0f / 256.0f);
        for (size_t i = blk * 32; i < blk * 32 + 32; ++i)
          ASSERT_LE(std::fabs(x[i] - y[i]), bound * (1.0f + 1e-6f)) << type_name(type) << " element " << i;
      }
    }
}

TEST(QuantQ4_0, ZeroBlock) {
  const std::vector<float> x(32, 0.0f);
  auto q = quantize_tensor(kQ4_0, x.data(), 32, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(dequantize_all(kQ4_0, *q, 32, 1), x);
}

}  // namespace
}  // namespace bitnet::quant
