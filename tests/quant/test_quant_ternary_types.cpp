// TQ1_0, TQ2_0 and I2_S: hand-built blocks pin the layouts; ternary data round-trips exactly.
#include <gtest/gtest.h>

#include <vector>

#include "quant/quant.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

using test::put_f32;
using test::put_u16;
using test::ternary_data;

std::vector<float> dequantize_all(uint32_t type, const std::vector<uint8_t>& data, int64_t ne0, int64_t rows) {
  std::vector<float> out(static_cast<size_t>(ne0 * rows));
  const Status s = dequantize_rows(type, data.data(), ne0, rows, 0, rows, out.data());
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

TEST(QuantTQ1_0, HandBuiltBlock) {
  // A byte holds trits t0..t4 (t = w + 1, t0 most significant) as ceil(v * 256 / 243), v = sum t_k * 3^(4-k).
  std::vector<uint8_t> b(54, 128);              // 128: v = 121 = (1,1,1,1,1) -> five zeros
  for (int j = 0; j < 4; ++j) b[48 + j] = 127;  // qh zeros: v = (1,1,1,1,0) = 120 -> ceil(120*256/243) = 127
  // qs[0] holds elements 0, 32, 64, 96, 128 = (+1, 0, -1, +1, 0): t = (2,1,0,2,1), v = 162+27+0+6+1 = 196,
  // ceil(196 * 256 / 243) = 207.
  b[0] = 207;
  // qs[32+3] holds elements 163, 179, 195, 211, 227 = (-1, -1, +1, 0, +1): t = (0,0,2,1,2), v = 18+3+2 = 23 -> 25.
  b[35] = 25;
  // qh[1] holds elements 241, 245, 249, 253 = (-1, +1, 0, +1): t = (0,2,1,2) then a 0, v = 0+54+9+6+0 = 69 -> 73.
  b[49] = 73;
  put_u16(b, 52, 0x3800);  // d = 0.5
  std::vector<float> want(256, 0.0f);
  for (int e : {0, 96, 195, 227, 245, 253}) want[e] = 0.5f;
  for (int e : {64, 163, 179, 241}) want[e] = -0.5f;
  EXPECT_EQ(dequantize_all(kTQ1_0, b, 256, 1), want);
  // llama.cpp's encoder writes exactly these bytes for these values (d = max|x| = 0.5).
  auto q = quantize_tensor(kTQ1_0, want.data(), 256, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, b);
}

TEST(QuantTQ2_0, HandBuiltBlock) {
  // Byte m of 32-byte group g holds elements 128g + m + 32k in bits 2k+1..2k, code = w + 1.
  std::vector<uint8_t> b(66, 0x55);  // 0x55: four codes 1 -> zeros
  b[0] = 0x92;                       // 10 01 00 10: element 0 = +1, 32 = -1, 64 = 0, 96 = +1
  b[32 + 5] = 0x46;                  // 01 00 01 10: element 133 = +1, 165 = 0, 197 = -1, 229 = 0
  put_u16(b, 64, 0x4200);            // d = 3.0
  std::vector<float> want(256, 0.0f);
  want[0] = 3.0f, want[32] = -3.0f, want[96] = 3.0f, want[133] = 3.0f, want[197] = -3.0f;
  EXPECT_EQ(dequantize_all(kTQ2_0, b, 256, 1), want);
  auto q = quantize_tensor(kTQ2_0, want.data(), 256, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, b);
}

TEST(QuantTQ2_0, InvalidCodeDequantizesAsLlamaCpp) {
  std::vector<uint8_t> b(66, 0x55);
  b[1] = 0x57;             // element 1: code 3 -> (3 - 1) * d, as dequantize_row_tq2_0 computes
  put_u16(b, 64, 0x3c00);  // d = 1
  EXPECT_EQ(dequantize_all(kTQ2_0, b, 256, 1)[1], 2.0f);
}

TEST(QuantI2S, HandBuiltTensor) {
  // 2 rows x 128: two 128-element blocks of 32 bytes; byte k holds elements k, k+32, k+64, k+96 in bits
  // 7:6, 5:4, 3:2, 1:0 (code = w + 1); then the f32 scale at byte n/4 = 64, padded to 32 bytes.
  std::vector<uint8_t> b(96, 0x55);
  b[0] = 0x86;        // 10 00 01 10: element 0 = +1, 32 = -1, 64 = 0, 96 = +1
  b[32 + 31] = 0x24;  // 00 10 01 00: element 159 = -1, 191 = +1, 223 = 0, 255 = -1
  for (int i = 64; i < 96; ++i) b[static_cast<size_t>(i)] = 0;
  put_f32(b, 64, 0.25f);
  std::vector<float> want(256, 0.0f);
  want[0] = 0.25f, want[32] = -0.25f, want[96] = 0.25f, want[159] = -0.25f, want[191] = 0.25f, want[255] = -0.25f;
  EXPECT_EQ(dequantize_all(kI2_S, b, 128, 2), want);
  auto q = quantize_tensor(kI2_S, want.data(), 128, 2);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, b);
}

TEST(QuantI2S, QuantizeUsesBitnetCppSignRule) {
  // bitnet.cpp quantize_i2_s: scale = max|w|; |w| < 1e-6 -> 0, otherwise the sign (not round(w / scale)).
  std::vector<float> w(128, 0.0f);
  w[0] = 0.3f, w[1] = -0.01f, w[2] = 5e-7f, w[3] = -2.0f;
  auto q = quantize_tensor(kI2_S, w.data(), 128, 1);
  ASSERT_TRUE(q.ok());
  const std::vector<float> y = dequantize_all(kI2_S, *q, 128, 1);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[3], -2.0f);
}

TEST(QuantI2S, MiddleRowsMatchFullDequantize) {
  const int64_t ne0 = 256, rows = 5;
  std::vector<float> x = ternary_data(rows, ne0, ne0, 7);
  for (float& v : x) v *= 0.125f;
  auto q = quantize_tensor(kI2_S, x.data(), ne0, rows);
  ASSERT_TRUE(q.ok());
  const std::vector<float> full = dequantize_all(kI2_S, *q, ne0, rows);
  EXPECT_EQ(full, x);
  for (int64_t begin = 0; begin < rows; ++begin)
    for (int64_t count = 0; begin + count <= rows; ++count) {
      std::vector<float> part(static_cast<size_t>(count * ne0));
      ASSERT_TRUE(dequantize_rows(kI2_S, q->data(), ne0, rows, begin, count, part.data()).ok());
      EXPECT_TRUE(std::equal(part.begin(), part.end(), full.begin() + begin * ne0)) << begin << "+" << count;
    }
}

TEST(QuantTernary, RoundTripIsExact) {
  for (uint32_t type : {kTQ1_0, kTQ2_0, kI2_S})
    for (int64_t rows : {1, 3, 4}) {
      const int64_t ne0 = 512;
      const int64_t block = type == kI2_S ? ne0 : 256;
      const std::vector<float> x = ternary_data(rows, ne0, block, 100 + static_cast<uint64_t>(rows));
      auto q = quantize_tensor(type, x.data(), ne0, rows);
      ASSERT_TRUE(q.ok()) << q.status().to_string();
      auto size = tensor_bytes(type, {ne0, rows});
      ASSERT_TRUE(size.ok());
      EXPECT_EQ(q->size(), *size);
      EXPECT_EQ(dequantize_all(type, *q, ne0, rows), x) << type_name(type) << " rows " << rows;
    }
}

TEST(QuantTernary, ZeroTensorRoundTrips) {
  const std::vector<float> x(256 * 2, 0.0f);
  for (uint32_t type : {kTQ1_0, kTQ2_0, kI2_S}) {
    auto q = quantize_tensor(type, x.data(), 256, 2);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(dequantize_all(type, *q, 256, 2), x) << type_name(type);
  }
}

}  // namespace
}  // namespace bitnet::quant
