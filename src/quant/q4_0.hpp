// llama.cpp Q4_0: 32 4-bit weights per block with one fp16 scale.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kQ4_0BlockElems = 32;
inline constexpr int64_t kQ4_0BlockBytes = 18;  // fp16 d, qs[16]

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n);  // n a multiple of 32
void quantize_q4_0(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
