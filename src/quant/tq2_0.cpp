// TQ2_0 reference pack/unpack, following llama.cpp's quantize_row_tq2_0_ref / dequantize_row_tq2_0
// (ggml/src/ggml-quants.c). Block (66 bytes, 256 elements):
//   qs[64]: two 32-byte groups g = 0, 1; byte m of group g holds elements 128*g + m + 32*k (k = 0..3) in bits
//           2k+1..2k, code = w + 1 (0 -> -1, 1 -> 0, 2 -> +1)
//   d: fp16 scale, value = (code - 1) * d
// Quantize (llama.cpp): d = max|x| over the block (stored as fp16, rounded to nearest even), codes =
// lround(x / d) + 1 using the f32 reciprocal of the unrounded max; lround rounds halves away from zero.
#include "quant/tq2_0.hpp"

#include <cmath>

#include "quant/block_util.hpp"

namespace bitnet::quant {

void tq2_0_unpack_codes(const uint8_t* block, uint8_t* codes) {
  for (int g = 0; g < 2; ++g)
    for (int k = 0; k < 4; ++k)
      for (int m = 0; m < 32; ++m) codes[128 * g + 32 * k + m] = (block[32 * g + m] >> (2 * k)) & 3;
}

float tq2_0_scale(const uint8_t* block) { return load_fp16(block + 64); }

void dequantize_tq2_0(const uint8_t* src, float* dst, int64_t n) {
  uint8_t codes[kTq2_0BlockElems];
  for (int64_t b = 0; b < n / kTq2_0BlockElems; ++b) {
    const uint8_t* block = src + b * kTq2_0BlockBytes;
    const float d = tq2_0_scale(block);
    tq2_0_unpack_codes(block, codes);
    for (int64_t i = 0; i < kTq2_0BlockElems; ++i)
      dst[b * kTq2_0BlockElems + i] = static_cast<float>(static_cast<int>(codes[i]) - 1) * d;
  }
}

void quantize_tq2_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTq2_0BlockElems; ++b) {
    const float* x = src + b * kTq2_0BlockElems;
    uint8_t* block = dst + b * kTq2_0BlockBytes;
    float amax = 0.0f;
    for (int64_t i = 0; i < kTq2_0BlockElems; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (int g = 0; g < 2; ++g)
      for (int m = 0; m < 32; ++m) {
        uint8_t byte = 0;
        for (int k = 0; k < 4; ++k) {
          // Clamped so that non-finite or out-of-range input cannot reach the other codes' bits.
          const long q = std::lround(std::fmax(-1.0f, std::fmin(1.0f, x[128 * g + 32 * k + m] * id))) + 1;
          byte = static_cast<uint8_t>(byte | (q << (2 * k)));
        }
        block[32 * g + m] = byte;
      }
    store_fp16(block + 64, amax);
  }
}

}  // namespace bitnet::quant
