// Parity of the fast float/block-quantized row dots with the scalar path (dequantize, then dot in double),
// at every ISA level this machine has, odd and even lengths. Bound: any summation order of n products
// errs by at most gamma_n * sum |w_i x_i| with gamma_n = n u / (1 - n u), u = 2^-24 (Higham, Thm 3.1);
// the widening of the stored weights to float is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/float_rows.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {
namespace {

TEST(KernelParity, FloatRowDots) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (uint32_t type : {quant::kF32, quant::kF16, quant::kBF16}) {
    const quant::TypeTraits* tt = quant::find_type(type);
    for (int64_t blocks : {1, 2, 3, 7, 10}) {
      const int64_t n = blocks * (tt->block_elems == 1 ? 19 : tt->block_elems);
      const int64_t rows = 3;
      std::vector<float> w(static_cast<size_t>(n * rows)), x(static_cast<size_t>(n));
      for (auto& v : w) v = nd(rng);
      for (auto& v : x) v = nd(rng);
      auto packed = quant::quantize_tensor(type, w.data(), n, rows);
      ASSERT_TRUE(packed.ok()) << packed.status().to_string();
      std::vector<float> deq(static_cast<size_t>(n * rows));
      ASSERT_TRUE(quant::dequantize_rows(type, packed->data(), n, rows, 0, rows, deq.data()).ok());
      const uint64_t row_bytes = quant::tensor_bytes(type, {n, 1}).value();
      for (IsaLevel level : {IsaLevel::kAvx2, IsaLevel::kAvx512}) {
        if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
        RowDotFn dot = float_row_dot(type, level);
#if defined(__x86_64__) || defined(__aarch64__)
        ASSERT_NE(dot, nullptr) << quant::type_name(type);  // AVX2 (and at AVX-512), NEON (and at dotprod)
#else
        if (dot == nullptr) continue;  // no fast row dots on this platform: the scalar path is used
#endif
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0, mag = 0;
          for (int64_t i = 0; i < n; ++i) {
            exact += static_cast<double>(deq[static_cast<size_t>(r * n + i)]) * x[static_cast<size_t>(i)];
            mag += std::fabs(static_cast<double>(deq[static_cast<size_t>(r * n + i)]) * x[static_cast<size_t>(i)]);
          }
          const double u = std::ldexp(1.0, -24), gamma = n * u / (1 - n * u);
          const float got = dot(packed->data() + r * row_bytes, x.data(), n);
          ASSERT_NEAR(got, exact, gamma * mag + 1e-30)
              << quant::type_name(type) << " n=" << n << " row " << r << " " << isa_name(level) << " seed " << seed;
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no fast row dots for this CPU: only the scalar path exists";
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace bitnet::kernels
