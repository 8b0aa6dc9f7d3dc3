// bitnet.cpp I2_S (GGUF type 36): ternary weights, 2 bits each, one f32 scale for the whole tensor.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kI2sBlockElems = 128;  // x86 layout (QK_I2_S = 128)
inline constexpr int64_t kI2sBlockBytes = 32;
inline constexpr int64_t kI2sTrailerBytes = 32;  // the f32 scale, padded to 32 bytes

// Code (w + 1, 0..3) of element e of a tensor whose packed codes start at `codes`.
inline uint8_t i2_s_code(const uint8_t* codes, int64_t e) {
  const int64_t pos = e % kI2sBlockElems;
  const uint8_t byte = codes[(e / kI2sBlockElems) * kI2sBlockBytes + pos % 32];
  return static_cast<uint8_t>((byte >> (6 - 2 * (pos / 32))) & 3);
}
// The tensor scale of an n-element tensor (it follows the n/4 code bytes).
float i2_s_scale(const uint8_t* tensor, int64_t n);

// Elements [e_begin, e_end) of an n-element tensor (the tensor's whole data): (code - 1) * scale; the invalid
// code 3 gives 2 * scale, as bitnet.cpp's kernels (which multiply by the raw code) would.
void dequantize_i2_s_range(const uint8_t* tensor, int64_t n, int64_t e_begin, int64_t e_end, float* dst);

// Table entries: n is the WHOLE tensor (a multiple of 128); src/dst hold n/4 + 32 bytes.
void dequantize_i2_s(const uint8_t* src, float* dst, int64_t n);
void quantize_i2_s(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
