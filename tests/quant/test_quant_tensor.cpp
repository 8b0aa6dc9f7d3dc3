// tensor_bytes and the tensor-level helpers: sizes, shape validation, row ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.hpp"
#include "quant/float_types.hpp"
#include "quant/quant.hpp"

namespace bitnet::quant {
namespace {

uint64_t bytes_of(uint32_t type, std::vector<int64_t> ne) {
  auto r = tensor_bytes(type, ne);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : 0;
}

TEST(QuantTensorBytes, BlockTypes) {
  EXPECT_EQ(bytes_of(kF32, {7}), 28u);
  EXPECT_EQ(bytes_of(kF16, {3, 5}), 30u);
  EXPECT_EQ(bytes_of(kQ8_0, {64, 3}), 2u * 3 * 34);
  EXPECT_EQ(bytes_of(kQ4_0, {32, 2}), 36u);
  EXPECT_EQ(bytes_of(kQ6_K, {512, 1}), 420u);
  EXPECT_EQ(bytes_of(kQ8_K, {256, 2}), 584u);
  EXPECT_EQ(bytes_of(kTQ1_0, {256, 3}), 162u);
  EXPECT_EQ(bytes_of(kTQ2_0, {768, 2}), 396u);
  EXPECT_EQ(bytes_of(kTQ2_0, {256, 0}), 0u);
}

TEST(QuantTensorBytes, I2SIsQuarterBytesPlusScaleTrailer) {
  EXPECT_EQ(bytes_of(kI2_S, {128, 3}), 128u * 3 / 4 + 32);
  EXPECT_EQ(bytes_of(kI2_S, {2560, 6912}), 2560u * 6912 / 4 + 32);
  EXPECT_EQ(bytes_of(kI2_S, {256, 2, 3}), 256u * 6 / 4 + 32);
}

TEST(QuantTensorBytes, RowNotAMultipleOfTheBlock) {
  EXPECT_EQ(tensor_bytes(kTQ2_0, {255, 1}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kTQ1_0, {384, 1}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kQ8_0, {48}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kI2_S, {64, 2}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kQ6_K, {128, 2}).status().code(), StatusCode::kFormatError);
}

TEST(QuantTensorBytes, BadShapesAndTypes) {
  EXPECT_EQ(tensor_bytes(kF32, {}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kF32, {4, -1}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kF64, {int64_t{1} << 40, int64_t{1} << 21}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(kF32, {int64_t{1} << 62, 4}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(tensor_bytes(1234, {4}).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(tensor_bytes(kTL2, {4}).status().code(), StatusCode::kFormatError);  // TL2 needs K >= 256
}

TEST(QuantTensorBytes, DequantizeRowsChecksItsArguments) {
  std::vector<uint8_t> data(66 * 2, 0x55);
  std::vector<float> out(512);
  EXPECT_EQ(dequantize_rows(kTQ2_0, data.data(), 256, 2, 1, 2, out.data()).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(dequantize_rows(kTQ2_0, data.data(), 256, 2, -1, 1, out.data()).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(dequantize_rows(kTQ2_0, data.data(), 200, 2, 0, 1, out.data()).code(), StatusCode::kFormatError);
  EXPECT_EQ(dequantize_rows(kQ5_0, data.data(), 32, 1, 0, 1, out.data()).code(), StatusCode::kUnsupported);
  EXPECT_EQ(quantize_tensor(kQ5_0, out.data(), 32, 1).status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(dequantize_rows(kTQ2_0, data.data(), 256, 2, 2, 0, out.data()).ok());
}

TEST(QuantTensorBytes, SupportedTypes) {
  for (uint32_t type : {kF32, kF16, kBF16, kQ4_0, kQ8_0, kQ6_K, kQ8_K, kTQ1_0, kTQ2_0, kI2_S, kTL1, kTL2})
    EXPECT_TRUE(is_supported(type)) << type;
  EXPECT_FALSE(is_supported(kQ5_0));
  EXPECT_EQ(type_name(kI2_S), "I2_S");
  EXPECT_EQ(type_name(777), "type 777");
}

}  // namespace
}  // namespace bitnet::quant

#if defined(__x86_64__)
// The F16C row converter against the scalar one, bit for bit, on odd and even lengths: random values across the
// whole float range (normal, subnormal and overflowing in f16), ties, zeros of both signs and infinities; NaN
// must stay NaN (its payload may differ).
TEST(QuantF16, F16cMatchesReference) {
  if (static_cast<int>(bitnet::max_supported_isa()) < static_cast<int>(bitnet::IsaLevel::kAvx2))
    GTEST_SKIP() << "no F16C here";
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  for (int64_t n : {1, 7, 8, 9, 31, 128, 1537}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) {
      const int kind = static_cast<int>(rng() % 8);
      if (kind == 0) {
        v = std::ldexp(1.0f + static_cast<float>(rng() % 2048) / 2048.0f + 1.0f / 4096.0f,
                       static_cast<int>(rng() % 40) - 26);  // exactly halfway between two f16 values
      } else {
        v = std::ldexp(static_cast<float>(rng() % 1000000) / 1000000.0f, static_cast<int>(rng() % 60) - 30);
      }
      if (rng() % 2) v = -v;
    }
    x[0] = n > 1 ? -0.0f : x[0];
    if (n > 3) {
      x[1] = INFINITY;
      x[2] = -INFINITY;
      x[3] = std::nanf("");
    }
    std::vector<uint8_t> want(static_cast<size_t>(2 * n)), got(want.size());
    bitnet::quant::quantize_f16_ref(x.data(), want.data(), n);
    bitnet::quant::quantize_f16_f16c(x.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      uint16_t a, b;
      std::memcpy(&a, want.data() + 2 * i, 2);
      std::memcpy(&b, got.data() + 2 * i, 2);
      if (std::isnan(x[static_cast<size_t>(i)])) {
        EXPECT_TRUE((a & 0x7c00u) == 0x7c00u && (a & 0x3ffu) != 0 && (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu) != 0);
      } else {
        ASSERT_EQ(a, b) << "n " << n << " index " << i << " value " << x[static_cast<size_t>(i)] << " seed " << seed;
      }
    }
  }
}
#endif
