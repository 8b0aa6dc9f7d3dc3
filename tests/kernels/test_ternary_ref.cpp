// The reference ternary kernels against an independent, obviously-correct computation on random data of
// odd and even shapes: integer parts bit-equal, float results within the bound of their few roundings.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/ref/ternary_ref.hpp"

namespace bitnet::kernels {
namespace {

quant::TernaryMatrix random_matrix(int64_t rows, int64_t cols, int64_t group, std::mt19937& rng) {
  quant::TernaryMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = group;
  m.owned.assign(static_cast<size_t>(rows * cols / 4), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      quant::put_ternary_code(m.owned.data() + r * m.row_bytes(), cols, c, static_cast<uint8_t>(rng() % 3));
  std::uniform_real_distribution<float> s(0.5f, 2.0f);
  for (int64_t i = 0; i < rows * (cols / group); ++i) m.scales.push_back(s(rng));
  return m;
}

TEST(KernelRef, AbsmaxQuantizationRule) {
  // max |x| = 2 -> s = 63.5; 1.0 * 63.5 = 63.5 rounds half away from zero to 64; -2 -> -127.
  const float x[4] = {1.0f, -2.0f, 0.0f, -1.0f};
  int8_t q[4];
  const float s = quantize_row_absmax_ref(x, 4, q);
  EXPECT_FLOAT_EQ(s, 63.5f);
  EXPECT_EQ(q[0], 64);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 0);
  EXPECT_EQ(q[3], -64);
  // all zeros: the 1e-5 floor keeps s finite and q zero
  const float z[3] = {0, 0, 0};
  int8_t qz[3];
  EXPECT_FLOAT_EQ(quantize_row_absmax_ref(z, 3, qz), static_cast<float>(127.0 / 0.00001));
  EXPECT_EQ(qz[0], 0);
}

TEST(KernelRef, TernaryMatmulMatchesDirectComputation) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto [rows, cols, tokens] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 4, 1}, {3, 12, 2}, {7, 128, 3}, {16, 260, 5}, {5, 1000, 1}}) {
    auto w = random_matrix(rows, cols, cols, rng);
    std::vector<float> x(static_cast<size_t>(tokens * cols));
    for (auto& v : x) v = nd(rng);
    QuantizedActs a;
    quantize_acts_ref(quant::ActQuant::kPerTokenAbsmax, x.data(), tokens, cols, a);
    std::vector<float> y(static_cast<size_t>(tokens * rows));
    ternary_matmul_ref(w, a, y.data(), rows, 0, rows);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t idot = 0;  // independent integer dot via the accessor
        for (int64_t c = 0; c < cols; ++c) idot += w.weight(r, c) * a.q[static_cast<size_t>(t * cols + c)];
        const double want =
            static_cast<double>(idot) / a.scales[static_cast<size_t>(t)] * w.scales[static_cast<size_t>(r)];
        const float got = y[static_cast<size_t>(t * rows + r)];
        // two float roundings (divide, multiply) after an exact integer: relative error <= 2^-23
        EXPECT_NEAR(got, want, std::fabs(want) * 2.4e-7 + 1e-30) << rows << "x" << cols << " t" << t << " r" << r;
        EXPECT_EQ(ternary_dot_ref(w.row(r), cols, a.q.data() + t * cols, 0, cols), idot);
      }
  }
}

}  // namespace
}  // namespace bitnet::kernels
