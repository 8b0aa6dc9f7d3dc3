// The dense panel layout (quant/ternary.hpp: five weights a byte): made from rows, it reads back every code, every
// byte value the encoding can make decodes, and a code 3 in a super-block leaves the matrix in rows.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "quant/ternary.hpp"

namespace bitnet::quant {
namespace {

// rows x cols codes in the row layout, uniform over 0..2 (and 3 where `threes` says, 1 in 8).
TernaryMatrix random_rows(int64_t rows, int64_t cols, std::mt19937& rng, bool (*threes)(int64_t c) = nullptr) {
  TernaryMatrix m;
  m.rows = rows;
  m.cols = m.group = cols;
  m.owned.assign(static_cast<size_t>(rows * cols / 4), 0);
  m.scales.assign(static_cast<size_t>(rows), 1.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const bool three = threes != nullptr && threes(c) && rng() % 8 == 0;
      put_ternary_code(m.owned.data() + r * m.row_bytes(), cols, c, three ? 3 : static_cast<uint8_t>(rng() % 3));
    }
  return m;
}

TEST(QuantDense, ReadsBackEveryCode) {
  const unsigned seed = std::random_device{}();  // fresh data each run
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  // one super-block; several; super-blocks and a tail of 1, 2 or 4 blocks (2B-4T's 6912 columns); enough weights for
  // the encoding to run on two threads or more (one per 4 M weights)
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
           {16, 640}, {48, 1280}, {32, 768}, {16, 1536}, {64, 2560}, {16, 6912}, {4096, 2560}}) {
    const TernaryMatrix src = random_rows(rows, cols, rng);
    TernaryMatrix m = src;
    ASSERT_TRUE(dense_fit(m));
    std::vector<uint8_t> codes(static_cast<size_t>(rows * m.dense_row_bytes()));
    ASSERT_TRUE(to_dense_panels(m, src.codes(), codes.data()));
    m.owned.clear();
    m.view = codes.data();
    ASSERT_TRUE(m.panels && m.dense);
    EXPECT_EQ(m.stored_row_bytes(), cols / 640 * 128 + cols % 640 / 4);
    std::vector<uint8_t> row(static_cast<size_t>(m.row_bytes()));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(m.code(r, c), src.code(r, c)) << rows << "x" << cols << " row " << r << " column " << c;
      row_codes(m, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), src.row(r), row.size())) << rows << "x" << cols << " row " << r;
    }
  }
}

TEST(QuantDense, EveryCombinationHasOneByte) {
  // 243 combinations of five codes, 243 byte values: each decodes to the codes it was made from (ReadsBackEveryCode
  // on random data), and a large random matrix uses every one of them.
  const unsigned seed = std::random_device{}();  // fresh data each run
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const TernaryMatrix src = random_rows(64, 3200, rng);
  TernaryMatrix m = src;
  std::vector<uint8_t> codes(static_cast<size_t>(m.rows * m.dense_row_bytes()));
  ASSERT_TRUE(to_dense_panels(m, src.codes(), codes.data()));
  const std::set<uint8_t> seen(codes.begin(), codes.end());
  EXPECT_EQ(seen.size(), 243u);
  for (uint8_t b : seen) EXPECT_TRUE((b & 0x7f) <= 121 && b != 0x80) << int{b};
  for (int u = 0; u < 243; ++u) {  // the decoding of each: the base-3 digits of u, by the encoding's rule
    const uint8_t b = static_cast<uint8_t>(u >= 121 ? u - 121 : 0x80 | (121 - u));
    for (int s = 0, d = u; s < 5; ++s, d /= 3) EXPECT_EQ(dense_code(b, s), d % 3) << "u " << u << " digit " << s;
  }
}

TEST(QuantDense, CodeThreeInASuperBlockIsRefused) {
  const unsigned seed = std::random_device{}();  // fresh data each run
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  // a 3 in a super-block: refused, the matrix left in rows
  const TernaryMatrix bad = random_rows(32, 1280, rng, [](int64_t) { return true; });
  TernaryMatrix m = bad;
  std::vector<uint8_t> codes(static_cast<size_t>(m.rows * m.dense_row_bytes()));
  EXPECT_FALSE(to_dense_panels(m, bad.codes(), codes.data()));
  EXPECT_FALSE(m.panels || m.dense);
  // one 3 in the last row of a matrix encoded on several threads: the thread that meets it stops the others' result
  TernaryMatrix big = random_rows(4096, 2560, rng);
  put_ternary_code(big.owned.data() + 4095 * big.row_bytes(), big.cols, 1000, 3);
  m = big;
  codes.assign(static_cast<size_t>(m.rows * m.dense_row_bytes()), 0);
  EXPECT_FALSE(to_dense_panels(m, big.codes(), codes.data()));
  EXPECT_FALSE(m.panels || m.dense);
  // threes only in the tail blocks (past 640 columns of 768), which keep the panel layout: read back as 3
  const TernaryMatrix tail = random_rows(16, 768, rng, [](int64_t c) { return c >= 640; });
  m = tail;
  codes.assign(static_cast<size_t>(m.rows * m.dense_row_bytes()), 0);
  ASSERT_TRUE(to_dense_panels(m, tail.codes(), codes.data()));
  m.owned.clear();
  m.view = codes.data();
  int threes = 0;
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      ASSERT_EQ(m.code(r, c), tail.code(r, c)) << "row " << r << " column " << c;
      threes += m.code(r, c) == 3;
    }
  EXPECT_GT(threes, 0);
}

// The encoder of each ISA level (AVX2 from the AVX2 level up) against the scalar one, byte for byte, and in what it
// refuses: odd and even panel counts, one to eleven super-blocks, with and without whole blocks after them, and
// codes 3 inside super-blocks (refused; also where only fifth weights hold them) and past them (kept).
TEST(QuantDense, EveryLevelEncodesAsTheScalarEncoder) {
  const unsigned seed = std::random_device{}();  // fresh data each run
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const IsaLevel before = active_isa();
  struct Shape {
    int64_t rows, cols;
    bool (*threes)(int64_t c);
  };
  const Shape shapes[] = {{16, 640, nullptr},
                          {48, 768, nullptr},
                          {32, 1280, nullptr},
                          {80, 6912, nullptr},
                          {16, 7040, nullptr},
                          {4096, 2560, nullptr},
                          {48, 896, [](int64_t c) { return c >= 640; }},
                          {32, 1408, [](int64_t c) { return c >= 1280; }},
                          {16, 1280, [](int64_t c) { return c == 700 || c == 1100; }},
                          {64, 640, [](int64_t c) { return c % 97 == 5; }},
                          // only in the fifth weights (block 4 of a super-block): refused too
                          {32, 1280, [](int64_t c) { return c >= 1152; }},
                          {16, 768, [](int64_t c) { return c >= 512 && c < 640; }}};
  for (const Shape& sh : shapes) {
    const TernaryMatrix src = random_rows(sh.rows, sh.cols, rng, sh.threes);
    const auto encode = [&](IsaLevel level, bool* ok) {
      set_active_isa(level);
      TernaryMatrix m = src;
      std::vector<uint8_t> codes(static_cast<size_t>(m.rows * m.dense_row_bytes()), 0xa5);
      *ok = to_dense_panels(m, src.codes(), codes.data());
      EXPECT_EQ(m.dense, *ok);
      return codes;
    };
    bool ref_ok = false;
    const std::vector<uint8_t> ref = encode(IsaLevel::kScalar, &ref_ok);
    for (int l = 1; l <= static_cast<int>(max_supported_isa()); ++l) {
      bool ok = false;
      const std::vector<uint8_t> got = encode(static_cast<IsaLevel>(l), &ok);
      const std::string what = std::string(isa_name(static_cast<IsaLevel>(l))) + " " + std::to_string(sh.rows) + "x" +
                               std::to_string(sh.cols);
      EXPECT_EQ(ok, ref_ok) << what;
      if (ok && ref_ok) {
        EXPECT_TRUE(got == ref) << what;
      }
    }
  }
  set_active_isa(before);
}

TEST(QuantDense, FitsOnlyWithOneScaleARowAndASuperBlock) {
  TernaryMatrix m;
  m.rows = 16;
  m.cols = m.group = 640;
  EXPECT_TRUE(dense_fit(m));
  m.cols = m.group = 512;  // no super-block
  EXPECT_FALSE(dense_fit(m));
  m.cols = 1280;
  m.group = 256;  // TQ's scale per 256 columns
  EXPECT_FALSE(dense_fit(m));
  m.group = 1280;
  m.rows = 24;  // not whole panels
  EXPECT_FALSE(dense_fit(m));
}

}  // namespace
}  // namespace bitnet::quant
