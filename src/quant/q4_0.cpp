// Q4_0 reference pack/unpack, following llama.cpp's quantize_row_q4_0_ref / dequantize_row_q4_0
// (ggml/src/ggml-quants.c). Block (18 bytes): fp16 d, then qs[16]; byte j holds element j in its low nibble
// and element j + 16 in its high nibble; value = (nibble - 8) * d.
// Quantize: max = the value with the largest |x| (keeping its sign, first one on ties), d = max / -8 (fp16,
// round to nearest even), nibble = min(15, (int8_t)(x * (1/d) + 8.5f)) — truncation, i.e. round half up —
// using the f32 reciprocal of the unrounded d. The largest value maps to nibble 0 (-8); the opposite extreme
// +8 clamps to 15 (+7).
#include "quant/q4_0.hpp"

#include <algorithm>
#include <cmath>

#include "quant/block_util.hpp"

namespace bitnet::quant {

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_0BlockElems; ++b) {
    const uint8_t* block = src + b * kQ4_0BlockBytes;
    const float d = load_fp16(block);
    float* y = dst + b * kQ4_0BlockElems;
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((block[2 + j] & 0xF) - 8) * d;
      y[j + 16] = static_cast<float>((block[2 + j] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_0BlockElems; ++b) {
    const float* x = src + b * kQ4_0BlockElems;
    uint8_t* block = dst + b * kQ4_0BlockBytes;
    float amax = 0.0f, max = 0.0f;
    for (int64_t i = 0; i < kQ4_0BlockElems; ++i)
      if (amax < std::fabs(x[i])) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_fp16(block, d);
    auto nibble = [&](float v) {
      // x * id lies in [-8, 8], so v + 8.5 in [0.5, 16.5]; the clamp only keeps NaN/inf input defined.
      const float t = std::fmax(0.0f, std::fmin(16.5f, v * id + 8.5f));
      return static_cast<uint8_t>(std::min(15, static_cast<int>(t)));
    };
    for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(nibble(x[j]) | (nibble(x[j + 16]) << 4));
  }
}

}  // namespace bitnet::quant
