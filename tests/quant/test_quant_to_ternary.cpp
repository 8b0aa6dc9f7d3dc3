// to_ternary: the compute layout agrees with dequantize for every ternary type; bad input is a clear error.
#include <gtest/gtest.h>

#include <vector>

#include "quant/quant.hpp"
#include "quant/ternary.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

using test::put_f32;
using test::put_u16;

TEST(QuantTernary, ToTernaryAgreesWithDequantize) {
  for (uint32_t type : {kTQ1_0, kTQ2_0, kI2_S})
    for (int64_t rows : {1, 3, 4}) {
      const int64_t ne0 = 768;
      const std::vector<float> x = test::ternary_data(rows, ne0, type == kI2_S ? ne0 : 256, 40 + rows);
      auto q = quantize_tensor(type, x.data(), ne0, rows);
      ASSERT_TRUE(q.ok());
      std::vector<float> y(x.size());
      ASSERT_TRUE(dequantize_rows(type, q->data(), ne0, rows, 0, rows, y.data()).ok());
      auto m = to_ternary(type, q->data(), ne0, rows);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      EXPECT_EQ(m->rows, rows);
      EXPECT_EQ(m->cols, ne0);
      EXPECT_EQ(m->group, type == kI2_S ? ne0 : 256);
      EXPECT_EQ(m->act_quant, find_type(type)->act_quant);
      EXPECT_EQ(m->codes.size(), static_cast<size_t>(rows * ne0 / 4));
      ASSERT_EQ(m->scales.size(), static_cast<size_t>(rows * m->groups_per_row()));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < ne0; ++c) {
          const float scale = m->scales[static_cast<size_t>(r * m->groups_per_row() + c / m->group)];
          ASSERT_EQ(static_cast<float>(m->weight(r, c)) * scale, y[static_cast<size_t>(r * ne0 + c)])
              << type_name(type) << " (" << r << ", " << c << ")";
        }
    }
}

TEST(QuantTernary, ActQuantFollowsTheFormat) {
  std::vector<uint8_t> tq(66, 0x55), i2(256 / 4 + 32, 0x55);
  put_u16(tq, 64, 0x3c00);
  put_f32(i2, 64, 1.0f);
  auto a = to_ternary(kTQ2_0, tq.data(), 256, 1);
  auto b = to_ternary(kI2_S, i2.data(), 128, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->act_quant, ActQuant::kQ8K);             // llama.cpp TQ*: activations as Q8_K
  EXPECT_EQ(b->act_quant, ActQuant::kPerTokenAbsmax);  // bitnet.cpp I2_S: per-token absmax int8
  EXPECT_EQ(b->scales, (std::vector<float>{1.0f, 1.0f}));
}

TEST(QuantTernary, RejectsNonTernaryTypes) {
  const std::vector<uint8_t> data(1024, 0);
  for (uint32_t type : {uint32_t{kF32}, uint32_t{kQ8_0}, uint32_t{kQ6_K}, uint32_t{kTL1}, 9999u}) {
    auto m = to_ternary(type, data.data(), 256, 1);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << type;
  }
}

TEST(QuantTernary, RejectsCodeThreeNamingTheRow) {
  std::vector<uint8_t> tq(66 * 3, 0x55);
  tq[66 * 2 + 10] = 0x5d;  // row 2, byte 10: bits 3:2 = 11 -> element 42 has code 3
  auto m = to_ternary(kTQ2_0, tq.data(), 256, 3);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFormatError);
  EXPECT_NE(m.status().message().find("row 2"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("column 42"), std::string::npos) << m.status().message();

  std::vector<uint8_t> i2(3 * 128 / 4 + 32, 0x55);
  i2[32 + 5] = 0xd5;  // second 128-block = row 1, bits 7:6 = 11: element 5 of that row
  auto n = to_ternary(kI2_S, i2.data(), 128, 3);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("row 1"), std::string::npos) << n.status().message();
}

TEST(QuantTernary, RejectsBadShapes) {
  const std::vector<uint8_t> data(1024, 0x55);
  EXPECT_EQ(to_ternary(kTQ2_0, data.data(), 100, 1).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(to_ternary(kI2_S, data.data(), 64, 1).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(to_ternary(kTQ1_0, data.data(), 256, -1).status().code(), StatusCode::kFormatError);
}

}  // namespace
}  // namespace bitnet::quant
