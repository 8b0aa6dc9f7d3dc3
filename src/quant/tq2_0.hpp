// llama.cpp TQ2_0: ternary weights, 2 bits each, 256 per block with one fp16 scale.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kTq2_0BlockElems = 256;
inline constexpr int64_t kTq2_0BlockBytes = 66;  // qs[64] then fp16 d

// The 256 2-bit codes of one block in element order (code = w + 1; 3 is invalid, never written by llama.cpp).
void tq2_0_unpack_codes(const uint8_t* block, uint8_t* codes);
float tq2_0_scale(const uint8_t* block);

// n elements (a multiple of 256). Dequantize gives (code - 1) * d, also for the invalid code 3 (2 * d), as
// llama.cpp's dequantize_row_tq2_0 does; to_ternary rejects code 3.
void dequantize_tq2_0(const uint8_t* src, float* dst, int64_t n);
void quantize_tq2_0(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
