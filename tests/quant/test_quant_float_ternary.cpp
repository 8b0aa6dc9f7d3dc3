// float_to_ternary: float weights holding one magnitude times {-1, 0, +1} become the same weights in the ternary row
// layout (full blocks and tails); anything else is a clear error naming an element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.hpp"
#include "quant/quant.hpp"
#include "quant/ternary.hpp"

namespace bitnet::quant {
namespace {

// A [rows][cols] tensor of `type` holding w * mag, w in {-1, 0, +1} (-0.0 for some zeros), and the weights.
struct FloatTernary {
  std::vector<uint8_t> bytes;
  std::vector<int> w;
};

void put(uint32_t type, std::vector<uint8_t>& b, int64_t i, float v) {
  if (type == kF32) {
    std::memcpy(b.data() + 4 * i, &v, 4);
  } else {
    const uint16_t h = type == kF16 ? float_to_fp16(v) : float_to_bf16(v);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
}

FloatTernary make(uint32_t type, int64_t rows, int64_t cols, float mag, uint64_t seed) {
  std::mt19937_64 rng(seed);
  FloatTernary t;
  t.bytes.resize(static_cast<size_t>(rows * cols * (type == kF32 ? 4 : 2)));
  t.w.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const int w = static_cast<int>(rng() % 3) - 1;
    t.w[static_cast<size_t>(i)] = w;
    put(type, t.bytes, i, w == 0 ? (rng() % 2 ? -0.0f : 0.0f) : static_cast<float>(w) * mag);
  }
  return t;
}

TEST(QuantFloatTernary, SameWeightsInTheRowLayout) {
  // Shapes of whole 128-column blocks, blocks and a tail, and a tail alone; odd and even row counts.
  for (uint32_t type : {uint32_t{kF32}, uint32_t{kF16}, uint32_t{kBF16}})
    for (int64_t cols : {4, 132, 256, 644})
      for (int64_t rows : {1, 7, 16}) {
        const float mag = type == kF32 ? 0.0371f : 0.0625f;  // exact in every type
        const uint64_t seed = static_cast<uint64_t>(type * 1000 + cols + rows);
        const FloatTernary t = make(type, rows, cols, mag, seed);
        for (bool given : {false, true}) {
          std::vector<uint8_t> dst(static_cast<size_t>(rows * cols / 4), 0xEE);
          auto m = float_to_ternary(type, t.bytes.data(), cols, rows, given ? dst.data() : nullptr);
          ASSERT_TRUE(m.ok()) << m.status().to_string();
          EXPECT_EQ(m->rows, rows);
          EXPECT_EQ(m->cols, cols);
          EXPECT_EQ(m->group, cols);
          EXPECT_EQ(m->act_quant, ActQuant::kPerTokenAbsmax);
          EXPECT_EQ(m->codes(), given ? dst.data() : m->owned.data());
          ASSERT_EQ(m->scales.size(), static_cast<size_t>(rows));
          for (float s : m->scales) ASSERT_EQ(s, mag);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
              ASSERT_EQ(m->weight(r, c), t.w[static_cast<size_t>(r * cols + c)])
                  << type_name(type) << " " << rows << " x " << cols << " (" << r << ", " << c << ") seed " << seed;
        }
      }
}

// 2048 x 4096 (8 M weights): encoded on two threads where there are two (quant/row_ranges.hpp); an element off in a
// late row stops them with an error naming it.
TEST(QuantFloatTernary, LargeOnThreads) {
  const int64_t rows = 2048, cols = 4096;
  FloatTernary t = make(kF16, rows, cols, 0.125f, 5);
  auto m = float_to_ternary(kF16, t.bytes.data(), cols, rows);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  for (int64_t r = 0; r < rows; r += 7)
    for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(m->weight(r, c), t.w[static_cast<size_t>(r * cols + c)]);
  for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(m->weight(rows - 1, c), t.w[static_cast<size_t>((rows - 1) * cols + c)]);
  put(kF16, t.bytes, 2000 * cols + 4095, 0.5f);
  auto bad = float_to_ternary(kF16, t.bytes.data(), cols, rows);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("row 2000, column 4095"), std::string::npos) << bad.status().message();
}

TEST(QuantFloatTernary, AllZeroIsTernary) {
  std::vector<uint8_t> b(2 * 8 * 128, 0);
  auto m = float_to_ternary(kF16, b.data(), 128, 8);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t c = 0; c < 128; ++c) ASSERT_EQ(m->weight(r, c), 0);
}

// One element off, anywhere (in a full block, in the tail, in a later row than a thread's first): a format error
// naming it. A second magnitude, an infinity, a NaN: the same.
TEST(QuantFloatTernary, AnythingElseIsAnErrorNamingTheElement) {
  const int64_t rows = 9, cols = 260;
  for (uint32_t type : {uint32_t{kF32}, uint32_t{kF16}, uint32_t{kBF16}})
    for (int64_t at : {int64_t{3}, int64_t{129}, int64_t{258}, 5 * cols + 100, rows * cols - 1}) {
      FloatTernary t = make(type, rows, cols, 0.25f, 77);
      const int64_t first_nonzero = [&] {
        int64_t i = 0;
        while (t.w[static_cast<size_t>(i)] == 0) ++i;
        return i;
      }();
      if (at <= first_nonzero) continue;  // the first nonzero element sets the magnitude
      for (float bad : {0.5f, -0.125f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
        FloatTernary u = t;
        put(type, u.bytes, at, bad);
        auto m = float_to_ternary(type, u.bytes.data(), cols, rows);
        ASSERT_FALSE(m.ok()) << type_name(type) << " element " << at << " = " << bad;
        EXPECT_EQ(m.status().code(), StatusCode::kFormatError);
        EXPECT_NE(
            m.status().message().find("row " + std::to_string(at / cols) + ", column " + std::to_string(at % cols)),
            std::string::npos)
            << m.status().message();
      }
    }
  // The first nonzero element an infinity: no magnitude to find.
  std::vector<uint8_t> b(4 * 4, 0);
  put(kF32, b, 1, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(float_to_ternary(kF32, b.data(), 4, 1).status().code(), StatusCode::kFormatError);
}

TEST(QuantFloatTernary, ShapeAndTypeErrors) {
  std::vector<uint8_t> b(4 * 64, 0);
  EXPECT_EQ(float_to_ternary(kF32, b.data(), 6, 2).status().code(), StatusCode::kFormatError);  // 6 % 4 != 0
  EXPECT_EQ(float_to_ternary(kF32, b.data(), 0, 2).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(float_to_ternary(kQ8_0, b.data(), 32, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(float_to_ternary(kI2_S, b.data(), 128, 1).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bitnet::quant
