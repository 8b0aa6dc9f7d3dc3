// Q8_K activation quantization: llama.cpp's exact rule, including ggml's round-half-to-even.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "quant/q8_k.hpp"
#include "quant/quant.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

TEST(QuantQ8K, NegativeMaxAndTiesToEven) {
  // The largest |x| is -127 (the later +127 ties and does not replace it): iscale = -127 / -127 = 1, d = 1.
  std::vector<float> x(256, 0.0f);
  x[0] = -127.0f, x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f, x[4] = 0.5f, x[5] = 1.5f, x[6] = 127.0f;
  std::vector<int8_t> q(256, 99);
  float d = 99.0f;
  quantize_q8_k(x.data(), 256, q.data(), &d);
  EXPECT_EQ(d, 1.0f);
  // x * iscale exactly k + 0.5: ggml's nearest_int goes to the even neighbour (std::round would give 3, 4, -3, 1, 2).
  EXPECT_EQ(std::vector<int8_t>(q.begin(), q.begin() + 7), (std::vector<int8_t>{-127, 2, 4, -2, 0, 2, 127}));
}

TEST(QuantQ8K, PositiveMaxGivesNegativeScale) {
  // max = +254 (first of the +-254 tie): iscale = -127/254 = -0.5, d = 1/iscale = -2; q(max) = -127.
  std::vector<float> x(256, 0.0f);
  x[0] = 5.0f, x[1] = 7.0f, x[2] = 254.0f, x[3] = -254.0f, x[4] = -9.0f;
  std::vector<int8_t> q(256);
  float d = 0.0f;
  std::vector<int16_t> bsums(16, 99);
  quantize_q8_k(x.data(), 256, q.data(), &d, bsums.data());
  EXPECT_EQ(d, -2.0f);
  // 5 * -0.5 = -2.5 -> -2 (even), 7 * -0.5 = -3.5 -> -4 (even), -9 * -0.5 = 4.5 -> 4.
  EXPECT_EQ(std::vector<int8_t>(q.begin(), q.begin() + 5), (std::vector<int8_t>{-2, -4, -127, 127, 4}));
  EXPECT_EQ(bsums[0], -2 - 4 - 127 + 127 + 4);
  for (int g = 1; g < 16; ++g) EXPECT_EQ(bsums[static_cast<size_t>(g)], 0);
}

TEST(QuantQ8K, NanIsNeverTheMax) {
  // The reference compares |x| > max, which a NaN never is: the max is the first -4, iscale 127 / 4 = 31.75.
  std::vector<float> x(256, 1.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  x[0] = nan, x[1] = -4.0f, x[2] = 4.0f, x[3] = -nan;
  std::vector<int8_t> q(256);
  float d = 0.0f;
  quantize_q8_k(x.data(), 256, q.data(), &d);
  EXPECT_EQ(d, 1.0f / 31.75f);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 127);
  EXPECT_EQ(q[4], 32);  // 31.75 -> 32
}

TEST(QuantQ8K, AllZeroBlock) {
  const std::vector<float> x(512, 0.0f);
  std::vector<int8_t> q(512, 7);
  std::vector<float> d(2, 7.0f);
  std::vector<int16_t> bsums(32, 7);
  quantize_q8_k(x.data(), 512, q.data(), d.data(), bsums.data());
  EXPECT_EQ(q, std::vector<int8_t>(512, 0));
  EXPECT_EQ(d, std::vector<float>(2, 0.0f));
  EXPECT_EQ(bsums, std::vector<int16_t>(32, 0));
}

TEST(QuantQ8K, BlocksAreIndependentAndPartialTailIsPadded) {
  std::vector<float> x(300, 1.0f);
  x[10] = -4.0f;  // block 0: max = -4, iscale = 31.75, d = 1/31.75
  x[260] = 8.0f;  // block 1 (44 values): max = 8, iscale = -15.875
  std::vector<int8_t> q(300);
  std::vector<float> d(2);
  quantize_q8_k(x.data(), 300, q.data(), d.data());
  EXPECT_EQ(d[0], 1.0f / 31.75f);
  EXPECT_EQ(d[1], 1.0f / -15.875f);
  EXPECT_EQ(q[0], 32);  // 31.75 -> 32
  EXPECT_EQ(q[10], -127);
  EXPECT_EQ(q[256], -16);  // -15.875 -> -16
  EXPECT_EQ(q[260], -127);
}

TEST(QuantQ8K, HandBuiltBlockDequantizes) {
  // 292 bytes: f32 d, int8 qs[256], int16 bsums[16]; value = qs[i] * d.
  std::vector<uint8_t> b(292, 0);
  test::put_f32(b, 0, 0.5f);
  b[4 + 0] = static_cast<uint8_t>(-3);
  b[4 + 255] = 127;
  std::vector<float> y(256);
  ASSERT_TRUE(dequantize_rows(kQ8_K, b.data(), 256, 1, 0, 1, y.data()).ok());
  std::vector<float> want(256, 0.0f);
  want[0] = -1.5f, want[255] = 63.5f;
  EXPECT_EQ(y, want);
}

TEST(QuantQ8K, BlockFormatMatchesArrays) {
  test::Lcg rng(3);
  std::vector<float> x(512);
  for (float& v : x) v = rng.uniform(-2.0f, 2.0f);
  auto blocks = quantize_tensor(kQ8_K, x.data(), 256, 2);
  ASSERT_TRUE(blocks.ok());
  std::vector<int8_t> q(512);
  std::vector<float> d(2);
  std::vector<int16_t> bsums(32);
  quantize_q8_k(x.data(), 512, q.data(), d.data(), bsums.data());
  std::vector<float> y(512);
  ASSERT_TRUE(dequantize_rows(kQ8_K, blocks->data(), 256, 2, 0, 2, y.data()).ok());
  for (size_t i = 0; i < 512; ++i) ASSERT_EQ(y[i], d[i / 256] * static_cast<float>(q[i])) << i;
  for (size_t b = 0; b < 2; ++b) {
    int16_t stored[16];
    std::memcpy(stored, blocks->data() + b * 292 + 4 + 256, sizeof stored);
    for (size_t g = 0; g < 16; ++g) EXPECT_EQ(stored[g], bsums[b * 16 + g]);
  }
}

}  // namespace
}  // namespace bitnet::quant
