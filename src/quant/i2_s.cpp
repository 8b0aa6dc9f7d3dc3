// I2_S reference pack/unpack, following bitnet.cpp's quantize_i2_s (microsoft/BitNet src/ggml-bitnet-mad.cpp,
// x86 build, QK_I2_S = 128) and its AVX2 ggml_vec_dot_i2_i8_s, which reads the same layout:
//   the tensor's n elements are cut in blocks of 128; byte k (0..31) of a block holds elements k, k+32, k+64,
//   k+96 in bits 7:6, 5:4, 3:2, 1:0; code = w + 1 (0 -> -1, 1 -> 0, 2 -> +1). After the n/4 code bytes comes
//   ONE f32 scale for the whole tensor, padded to 32 bytes: the tensor takes n/4 + 32 bytes.
// Quantize (bitnet.cpp): scale = max|w| over the whole tensor (computed in double, stored as f32); the code is
// the SIGN of w: |w| < 1e-6 -> 0, else w > 0 -> +1, w < 0 -> -1 (not round(w / scale): a weight of 0.3*scale
// becomes +1). For tensors that are already ternary times one scale both rules agree, and the result is exact.
// Note: bitnet.cpp built for ARM uses 64-element blocks (QK_I2_S = 64), and its newer x86 kernels without
// ACT_PARALLEL interleave 4 rows; files from those builds carry the same type id. This is the x86 128-block
// layout of the published I2_S GGUF files.
#include "quant/i2_s.hpp"

#include <cmath>
#include <cstring>

#include "quant/block_util.hpp"

namespace bitnet::quant {

float i2_s_scale(const uint8_t* tensor, int64_t n) { return load_f32(tensor + n / 4); }

void dequantize_i2_s_range(const uint8_t* tensor, int64_t n, int64_t e_begin, int64_t e_end, float* dst) {
  const float scale = i2_s_scale(tensor, n);
  for (int64_t e = e_begin; e < e_end; ++e)
    dst[e - e_begin] = static_cast<float>(static_cast<int>(i2_s_code(tensor, e)) - 1) * scale;
}

void dequantize_i2_s(const uint8_t* src, float* dst, int64_t n) { dequantize_i2_s_range(src, n, 0, n, dst); }

void quantize_i2_s(const float* src, uint8_t* dst, int64_t n) {
  double amax = 0.0;
  // A comparison, not std::fmax: same result (NaN ignored either way), and aarch64 GCC 12's vectoriser
  // crashes on the fmax reduction (internal compiler error in vect_transform_reduction).
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(src[i]));
    if (a > amax) amax = a;
  }
  std::memset(dst, 0, static_cast<size_t>(n / 4 + kI2sTrailerBytes));
  for (int64_t e = 0; e < n; ++e) {
    const double w = src[e];
    const uint8_t code = std::fabs(w) < 1e-6 ? 1 : (w > 0 ? 2 : 0);
    const int64_t pos = e % kI2sBlockElems;
    dst[(e / kI2sBlockElems) * kI2sBlockBytes + pos % 32] |= static_cast<uint8_t>(code << (6 - 2 * (pos / 32)));
  }
  store_f32(dst + n / 4, static_cast<float>(amax));
}

}  // namespace bitnet::quant
