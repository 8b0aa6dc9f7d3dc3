// to_ternary: the compute layout agrees with dequantize for every ternary type; bad input is a clear error.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "quant/quant.hpp"
#include "quant/ternary.hpp"
#include "quant/tq1_0.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

using test::put_f32;
using test::put_u16;

TEST(QuantTernary, ToTernaryAgreesWithDequantize) {
  struct Case {
    uint32_t type;
    int64_t ne0;
  };
  for (Case k : {Case{kTQ1_0, 768}, Case{kTQ2_0, 768}, Case{kTQ2_0, 256}, Case{kI2_S, 768}, Case{kI2_S, 384}})
    for (int64_t rows : {2, 4, 6}) {
      const uint32_t type = k.type;
      const int64_t ne0 = k.ne0;
      const std::vector<float> x = test::ternary_data(rows, ne0, type == kI2_S ? ne0 : 256, 40 + rows);
      auto q = quantize_tensor(type, x.data(), ne0, rows);
      ASSERT_TRUE(q.ok()) << q.status().to_string();
      std::vector<float> y(x.size());
      ASSERT_TRUE(dequantize_rows(type, q->data(), ne0, rows, 0, rows, y.data()).ok());
      auto m = to_ternary(type, q->data(), ne0, rows);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      EXPECT_EQ(m->rows, rows);
      EXPECT_EQ(m->cols, ne0);
      EXPECT_EQ(m->group, type == kI2_S ? ne0 : 256);
      EXPECT_EQ(m->act_quant, find_type(type)->act_quant);
      if (type == kI2_S) {
        EXPECT_EQ(m->codes(), q->data()) << "I2_S is used in place";
        EXPECT_TRUE(m->owned.empty());
      } else {
        EXPECT_EQ(m->view, nullptr);
        EXPECT_EQ(m->owned.size(), static_cast<size_t>(rows * ne0 / 4));
      }
      ASSERT_EQ(m->scales.size(), static_cast<size_t>(rows * m->groups_per_row()));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < ne0; ++c) {
          const float scale = m->scales[static_cast<size_t>(r * m->groups_per_row() + c / m->group)];
          ASSERT_EQ(static_cast<float>(m->weight(r, c)) * scale, y[static_cast<size_t>(r * ne0 + c)])
              << type_name(type) << " (" << r << ", " << c << ")";
        }
    }
}

// With a destination, the repacked codes go there (the matrix views them) and are the bytes it would own.
TEST(QuantTernary, RepacksIntoAGivenBuffer) {
  for (uint32_t type : {uint32_t{kTQ1_0}, uint32_t{kTQ2_0}}) {
    const int64_t ne0 = 768, rows = 5;
    const std::vector<float> x = test::ternary_data(rows, ne0, 256, 9);
    auto q = quantize_tensor(type, x.data(), ne0, rows);
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    auto own = to_ternary(type, q->data(), ne0, rows);
    ASSERT_TRUE(own.ok()) << own.status().to_string();
    std::vector<uint8_t> dst(static_cast<size_t>(rows * ne0 / 4) + 2, 0xEE);
    auto in = to_ternary(type, q->data(), ne0, rows, dst.data() + 1);
    ASSERT_TRUE(in.ok()) << in.status().to_string();
    EXPECT_EQ(in->view, dst.data() + 1);
    EXPECT_TRUE(in->owned.empty());
    EXPECT_EQ(std::vector<uint8_t>(dst.begin() + 1, dst.end() - 1),
              std::vector<uint8_t>(own->owned.begin(), own->owned.end()))
        << type_name(type);
    EXPECT_EQ(dst.front(), 0xEE);
    EXPECT_EQ(dst.back(), 0xEE);
    EXPECT_EQ(in->scales, own->scales);
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
}

// I2_S is used in place, unscanned: code 3 reads as +2, as in dequantize_i2_s and bitnet.cpp's kernels.
TEST(QuantTernary, I2sCodeThreeReadsAsPlusTwo) {
  std::vector<uint8_t> i2(3 * 128 / 4 + 32, 0x55);
  put_f32(i2, 3 * 32, 0.5f);
  i2[32 + 5] = 0xd5;  // second 128-block = row 1, bits 7:6 = 11: element 5 of that row
  auto n = to_ternary(kI2_S, i2.data(), 128, 3);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(n->weight(1, 5), 2);
  EXPECT_EQ(n->weight(1, 4), 0);
  std::vector<float> y(3 * 128);
  ASSERT_TRUE(dequantize_rows(kI2_S, i2.data(), 128, 3, 0, 3, y.data()).ok());
  EXPECT_EQ(y[128 + 5], 1.0f);
}

// The compute layout, pinned by hand: full 128-blocks as I2_S (column 32j + k in byte k at shift 6 - 2j), the
// tail LSB-first (column c in byte c / 4 at shift 2 * (c % 4)).
TEST(QuantTernary, ComputeLayoutIsPinned) {
  const int64_t cols = 136;
  std::vector<uint8_t> row(cols / 4, 0);
  put_ternary_code(row.data(), cols, 0, 2);    // byte 0, bits 7:6
  put_ternary_code(row.data(), cols, 33, 1);   // byte 1, bits 5:4
  put_ternary_code(row.data(), cols, 127, 3);  // byte 31, bits 1:0
  put_ternary_code(row.data(), cols, 129, 2);  // tail: byte 32, bits 3:2
  put_ternary_code(row.data(), cols, 135, 1);  // tail: byte 33, bits 7:6
  EXPECT_EQ(row[0], 0x80);
  EXPECT_EQ(row[1], 0x10);
  EXPECT_EQ(row[31], 0x03);
  EXPECT_EQ(row[32], 0x08);
  EXPECT_EQ(row[33], 0x40);
  EXPECT_EQ(ternary_code(row.data(), cols, 129), 2);
  EXPECT_EQ(ternary_code(row.data(), cols, 128), 0);
}

// TQ1_0 is repacked from tables of each byte's trits: held to the format's own decoding on every byte value, those
// a quantizer never writes (243..255) included.
TEST(QuantTernary, Tq1RepackAgreesWithUnpackOnEveryByte) {
  const int64_t rows = 3, ne0 = 512, blocks = rows * ne0 / 256;
  std::vector<uint8_t> data(static_cast<size_t>(blocks * kTq1_0BlockBytes));
  std::mt19937 rng(7);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* block = data.data() + b * kTq1_0BlockBytes;
    for (int i = 0; i < 52; ++i)  // the first block: bytes 0..51, then 52..103 in the second, ...; the rest random
      block[i] = static_cast<uint8_t>(b < 5 ? b * 52 + i : static_cast<int>(rng() % 256));
    put_u16(data, static_cast<size_t>(b * kTq1_0BlockBytes + 52), static_cast<uint16_t>(0x3800 + b));  // 0.5, ...
  }
  auto m = to_ternary(kTQ1_0, data.data(), ne0, rows);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  uint8_t codes[256];
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = data.data() + b * kTq1_0BlockBytes;
    tq1_0_unpack_codes(block, codes);
    const int64_t r = b / (ne0 / 256), c0 = b % (ne0 / 256) * 256;
    EXPECT_EQ(m->scales[static_cast<size_t>(b)], tq1_0_scale(block));
    for (int64_t i = 0; i < 256; ++i)
      ASSERT_EQ(m->weight(r, c0 + i) + 1, codes[i]) << "block " << b << ", element " << i;
  }
}

TEST(QuantTernary, RejectsBadShapes) {
  const std::vector<uint8_t> data(1024, 0x55);
  EXPECT_EQ(to_ternary(kTQ2_0, data.data(), 100, 1).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(to_ternary(kI2_S, data.data(), 64, 1).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(to_ternary(kTQ1_0, data.data(), 256, -1).status().code(), StatusCode::kFormatError);
  // I2_S rows must be whole 128-blocks (the file's blocks then never straddle rows, so it is used in place)
  EXPECT_EQ(to_ternary(kI2_S, data.data(), 192, 2).status().code(), StatusCode::kFormatError);
}

// The panel layout holds the same weights and scales as the row layout, byte for byte where its comment says.
TEST(QuantTernary, PanelsHoldTheSameWeights) {
  std::mt19937 rng(std::random_device{}());
  struct Shape {
    int64_t rows, cols, group;
  };
  for (const Shape& sh : {Shape{16, 128, 128}, Shape{48, 384, 384}, Shape{32, 1536, 256}, Shape{64, 768, 256}}) {
    TernaryMatrix m;
    m.rows = sh.rows;
    m.cols = sh.cols;
    m.group = sh.group;
    m.owned.resize(static_cast<size_t>(sh.rows * sh.cols / 4));
    for (uint8_t& b : m.owned) b = static_cast<uint8_t>(rng());
    std::uniform_real_distribution<float> s(0.5f, 2.0f);
    for (int64_t i = 0; i < sh.rows * (sh.cols / sh.group); ++i) m.scales.push_back(s(rng));
    ASSERT_TRUE(panels_fit(m));
    TernaryMatrix rows;
    rows.rows = m.rows;
    rows.cols = m.cols;
    rows.group = m.group;
    rows.owned = m.owned;
    rows.scales = m.scales;
    to_panels(m, m.owned.data());
    ASSERT_TRUE(m.panels);
    EXPECT_FALSE(panels_fit(m));  // not twice
    EXPECT_NE(m.owned, rows.owned);
    std::vector<uint8_t> row(static_cast<size_t>(m.row_bytes()));
    for (int64_t r = 0; r < m.rows; ++r) {
      row_codes(m, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), rows.row(r), row.size())) << "row " << r;
      for (int64_t c = 0; c < m.cols; ++c) ASSERT_EQ(m.code(r, c), rows.code(r, c)) << r << ", " << c;
      for (int64_t g = 0; g < m.groups_per_row(); ++g) {
        ASSERT_EQ(m.scale(r, g), rows.scale(r, g)) << r << ", " << g;
        const int64_t groups = m.groups_per_row();
        const size_t at = static_cast<size_t>(groups > 1 ? (r / 16 * groups + g) * 16 + r % 16 : r);
        ASSERT_EQ(m.scales[at], rows.scales[static_cast<size_t>(r * groups + g)]) << r << ", " << g;
      }
    }
    // Row 16p + i's dword j of block b at p * 16 * row_bytes + 512 b + 64 j + 4 i.
    const int64_t r = sh.rows - 3, b = sh.cols / 128 - 1, j = 5;
    EXPECT_EQ(0, std::memcmp(m.codes() + r / 16 * 16 * m.row_bytes() + 512 * b + 64 * j + 4 * (r % 16),
                             rows.row(r) + 32 * b + 4 * j, 4));
    // From the rows into another buffer (the loader's copy of I2_S): the same bytes and scales as in place.
    TernaryMatrix copy;
    copy.rows = rows.rows;
    copy.cols = rows.cols;
    copy.group = rows.group;
    copy.scales = rows.scales;
    std::vector<uint8_t> dst(rows.owned.size(), 0xEE);
    to_panels(copy, rows.owned.data(), dst.data());
    ASSERT_TRUE(copy.panels);
    EXPECT_EQ(0, std::memcmp(dst.data(), m.codes(), dst.size()));
    EXPECT_EQ(copy.scales, m.scales);
  }
  TernaryMatrix odd;
  odd.rows = 17;  // not whole panels
  odd.cols = 128;
  odd.group = 128;
  EXPECT_FALSE(panels_fit(odd));
  odd.rows = 16;
  odd.cols = 132;  // a tail past the blocks
  odd.group = 132;
  EXPECT_FALSE(panels_fit(odd));
}

}  // namespace
}  // namespace bitnet::quant
