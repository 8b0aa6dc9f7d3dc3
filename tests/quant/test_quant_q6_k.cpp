// Q6_K: a hand-built super-block pins llama.cpp's element order; quantization stays within its error bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/half.hpp"
#include "quant/quant.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

TEST(QuantQ6K, HandBuiltBlock) {
  // Bytes: ql[0..127], qh[128..191], int8 scales[192..207], fp16 d[208..209]. Element e: code q (6 bits),
  // value d * sc[e/16] * (q - 32). For h = e/128, l = e%32 and k = (e%128)/32: the low nibble comes from
  // ql[64h + l + 32*(k&1)] (low nibble for k < 2, high nibble for k >= 2), the top 2 bits from qh[32h + l]
  // bits 2k+1..2k.
  std::vector<uint8_t> b(210, 0);
  test::put_u16(b, 208, 0x3800);  // d = 0.5
  auto sc = [&](int i, int v) { b[static_cast<size_t>(192 + i)] = static_cast<uint8_t>(static_cast<int8_t>(v)); };
  sc(0, 2), sc(2, -1), sc(4, 3), sc(6, 1), sc(9, 4), sc(13, -2);
  b[0] = 0x3A;         // ql[0]: low 0xA -> element 0, high 0x3 -> element 64
  b[32] = 0xF5;        // ql[32]: low 0x5 -> element 32, high 0xF -> element 96
  b[128] = 0xD8;       // qh[0] = 11 01 10 00: element 0 top 00, 32 top 10, 64 top 01, 96 top 11
  b[84] = 0x07;        // ql[64 + 20]: low 7 -> element 128 + 20 = 148, high 0 -> element 212
  b[128 + 52] = 0x03;  // qh[32 + 20]: element 148 top 11; 212 top 00
  // Everything else has q = 0 (value -32 * d * sc); sub-blocks with sc = 0 are 0.
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e)
    want[static_cast<size_t>(e)] = 0.5f * static_cast<float>(static_cast<int8_t>(b[192 + e / 16])) * -32.0f;
  want[0] = 0.5f * 2 * (0x0A - 32);              // q = 10        -> -22
  want[32] = 0.5f * -1 * ((0x5 | 2 << 4) - 32);  // q = 37        -> -2.5
  want[64] = 0.5f * 3 * ((0x3 | 1 << 4) - 32);   // q = 19        -> -19.5
  want[96] = 0.5f * 1 * ((0xF | 3 << 4) - 32);   // q = 63        -> 15.5
  want[148] = 0.5f * 4 * ((0x7 | 3 << 4) - 32);  // q = 55, sc[9] -> 46
  want[212] = 0.5f * -2 * (0 - 32);              // q = 0, sc[13] -> 32
  EXPECT_EQ(want[0], -22.0f);
  EXPECT_EQ(want[148], 46.0f);
  std::vector<float> y(256);
  ASSERT_TRUE(dequantize_rows(kQ6_K, b.data(), 256, 1, 0, 1, y.data()).ok());
  EXPECT_EQ(y, want);
}

TEST(QuantQ6K, ZeroBlockIsAllZeroBytes) {
  const std::vector<float> x(256, 0.0f);
  auto q = quantize_tensor(kQ6_K, x.data(), 256, 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, std::vector<uint8_t>(210, 0));
}

// Error bound. Given the stored super-scale d and sub-block scale sc_j, llama.cpp requantizes each value as
// q = clamp(nearest_int(x / s_j), -32, 31) with s_j = d * sc_j, so |x - q * s_j| <= |s_j| / 2 unless the value
// was clamped, and a clamped value sits beyond the last code (x/s_j > 31 or < -32) on the side it was clamped
// to. The dequantized float d * sc_j * q adds at most one f32 rounding (relative 2^-24). Independently of
// the scale search, |s_j| is at most about amax_j / 31 (make_qx_quants tries scales from max/32.9 to max/31.1,
// the int8 sc adds < 1/2 step of d = max_scale/128), so every error stays below A/32 for A = max|x| of the
// super-block; the test checks both.
TEST(QuantQ6K, RoundTripWithinBound) {
  test::Lcg rng(5);
  for (int64_t rows : {1, 2, 3}) {
    const int64_t ne0 = 512;
    std::vector<float> x(static_cast<size_t>(rows * ne0));
    for (size_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(-1.0f, 1.0f) * (i % 97 == 0 ? 8.0f : 1.0f);
    auto q = quantize_tensor(kQ6_K, x.data(), ne0, rows);
    ASSERT_TRUE(q.ok());
    std::vector<float> y(x.size());
    ASSERT_TRUE(dequantize_rows(kQ6_K, q->data(), ne0, rows, 0, rows, y.data()).ok());
    for (int64_t blk = 0; blk < rows * ne0 / 256; ++blk) {
      const uint8_t* block = q->data() + blk * 210;
      uint16_t dh;
      std::memcpy(&dh, block + 208, 2);
      const float d = fp16_to_float(dh);
      float amax = 0;
      for (int i = 0; i < 256; ++i) amax = std::fmax(amax, std::fabs(x[static_cast<size_t>(blk * 256 + i)]));
      for (int i = 0; i < 256; ++i) {
        const size_t at = static_cast<size_t>(blk * 256 + i);
        const float s = d * static_cast<float>(static_cast<int8_t>(block[192 + i / 16]));
        const float err = std::fabs(x[at] - y[at]);
        EXPECT_LE(err, amax / 32) << "element " << at;
        const float code = std::round(y[at] / s);
        const bool clamped = (code == 31.0f && x[at] / s > 31.0f) || (code == -32.0f && x[at] / s < -32.0f);
        if (!clamped) {
          EXPECT_LE(err, std::fabs(s) * (0.5f + 1e-5f)) << "element " << at;
        }
      }
    }
  }
}

}  // namespace
}  // namespace bitnet::quant
